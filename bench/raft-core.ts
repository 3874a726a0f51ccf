// CPU cost of the pure Raft core: 3 replicas in one process, messages delivered synchronously, no
// I/O. Proposes 100-byte entries in batches and reports committed (leader-applied) entries/s.
//   npx tsx bench/raft-core.ts
import { SeededRandom } from '../src/common/index.ts';
import { RawNode, Role, type RaftMessage, type RestartState } from '../src/raft/index.ts';

function start(voters: number[]): RestartState {
  return {
    hardState: { term: 0, vote: 0, commit: 0 },
    snapshotMeta: { index: 0, term: 0, conf: { voters, learners: [] } },
    entries: [],
    applied: 0,
  };
}

function run(batch: number, total: number): number {
  const ids = [1, 2, 3];
  const nodes = new Map(ids.map((id) => [id, new RawNode({ id, random: new SeededRandom(id) }, start(ids))]));
  let queue: RaftMessage[] = [];
  let applied = 0;
  const pump = () => {
    for (;;) {
      let moved = false;
      for (const [id, n] of nodes) {
        while (n.hasReady()) {
          moved = true;
          const rd = n.ready();
          queue.push(...rd.messages);
          if (id === 1) applied += rd.committedEntries.length;
          n.advance();
        }
      }
      const q = queue;
      queue = [];
      for (const m of q) {
        moved = true;
        nodes.get(m.to)!.step(m);
      }
      if (!moved) return;
    }
  };
  const leader = nodes.get(1)!;
  leader.campaign();
  pump();
  if (leader.role !== Role.Leader) throw new Error('no leader');
  applied = 0;
  const data = new Uint8Array(100).fill(7);
  const t0 = performance.now();
  let proposed = 0;
  while (proposed < total) {
    for (let i = 0; i < batch; i++) leader.propose(data);
    proposed += batch;
    pump();
  }
  const secs = (performance.now() - t0) / 1000;
  if (applied < total) throw new Error(`applied ${applied} of ${total}`);
  return total / secs;
}

for (const batch of [1, 64, 1024]) {
  run(batch, 20_000); // warm-up
  const rate = run(batch, batch === 1 ? 50_000 : 400_000);
  console.log(`batch ${String(batch).padStart(4)}: ${Math.round(rate).toLocaleString('en-US')} entries/s committed (core only, 3 replicas, 100 B)`);
}
