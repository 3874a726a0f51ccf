// Quiescence in the driver (RaftNode, issue [G]): idle groups send nothing but a liveness batch
// per peer every few ticks, a proposal wakes a group, and the death of a quiesced leader's process is
// noticed through peer liveness. Time is a ManualTime: ticks happen only when the test moves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom, type Clock } from '../../src/common/index.ts';
import { RaftNode, type RaftNodeOptions } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { Role, type NodeId } from '../../src/raft/index.ts';
import { MessageType } from '../../src/raft/core/types.ts';
import type { GroupMessage, RaftTransport } from '../../src/raft/transport.ts';
import { KvStateMachine, encodeKv } from '../helpers/raft-kv.ts';
import { ManualTime } from '../helpers/manual-time.ts';

const GROUPS = [1, 2, 3, 4, 5];
const IDS = [1, 2, 3];
const TICK_MS = 100;
const ELECTION_TICK = 10;
const put = (key: string, value: string) => encodeKv({ op: 'put', key, value });

/** Counts what a node sends: batches, and the Raft messages inside them. */
interface Counter {
  batches: number;
  msgs: number;
  /** Batches of nothing but appends without entries (commit-index news). */
  emptyAppendsOnly: number;
}

/** Counts what node `from` sends; drops (as if delivered) what goes over a link in `silent` ("a>b"). */
function counting(inner: RaftTransport, from: NodeId, c: Counter, silent: Set<string>): RaftTransport {
  return {
    ...inner,
    send: (to: NodeId, batch: GroupMessage[]) => {
      c.batches++;
      c.msgs += batch.length;
      if (batch.length > 0 && batch.every(({ msg }) => msg.type === MessageType.Append && msg.entries.length === 0)) c.emptyAppendsOnly++;
      if (silent.has(`${from}>${to}`)) return Promise.resolve();
      return inner.send(to, batch);
    },
  };
}

class Harness {
  readonly time = new ManualTime();
  readonly net = new LocalNetwork();
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly sent = new Map<NodeId, Counter>();
  /** Links that lose every batch without an error ("a>b"). */
  readonly silent = new Set<string>();
  constructor(readonly dir: string) {}

  start(id: NodeId, extra: Partial<RaftNodeOptions> = {}): RaftNode {
    const clock: Clock = { now: () => this.time.now(), wallTime: () => this.time.wallTime() };
    const c: Counter = { batches: 0, msgs: 0, emptyAppendsOnly: 0 };
    this.sent.set(id, c);
    const n = new RaftNode({
      id,
      dataDir: join(this.dir, `n${id}`),
      transport: counting(this.net.transport(id), id, c, this.silent),
      clock,
      timer: this.time,
      random: new SeededRandom(id),
      tickMs: TICK_MS,
      electionTick: ELECTION_TICK,
      raft: { readOnlyOption: 'lease' },
      ...extra,
    });
    this.nodes.set(id, n);
    return n;
  }

  /** Waits until no node runs a round (their disks are real), twice with a turn between. */
  async idle(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      await Promise.all([...this.nodes.values()].map((n) => n.idle()));
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Moves time tick by tick, each once the nodes are idle, until `pred` (at most `ticks`). */
  async until(pred: () => boolean, what: string, ticks = 600): Promise<number> {
    for (let t = 0; ; t++) {
      await this.idle();
      if (pred()) return t;
      if (t >= ticks) throw new Error(`not reached within ${ticks} ticks: ${what}`);
      await this.time.advance(TICK_MS);
    }
  }

  async settle<T>(p: Promise<T>, what: string): Promise<T> {
    let done = false;
    const q = p.finally(() => (done = true));
    q.catch(() => undefined);
    await this.until(() => done, what);
    return q;
  }

  /** The replica that leads `g` in the highest term (a cut-off one may not know it was replaced yet). */
  leaderOf(g: number): NodeId | undefined {
    let best: NodeId | undefined;
    let term = -1;
    for (const [id, n] of this.nodes) {
      if (!n.hasGroup(g)) continue;
      const s = n.status(g);
      if (s.role === Role.Leader && s.term > term) [best, term] = [id, s.term];
    }
    return best;
  }

  allQuiesced(): boolean {
    for (const n of this.nodes.values()) for (const g of GROUPS) if (!n.status(g).quiesced) return false;
    return true;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) await n.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function quiescedCluster(): Promise<Harness> {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-quiesce-')));
  for (const id of IDS) h.start(id);
  for (const id of IDS) for (const g of GROUPS) await h.nodes.get(id)!.addGroup(g, IDS, new KvStateMachine());
  await h.until(() => GROUPS.every((g) => h.leaderOf(g) !== undefined), 'every group has a leader');
  await h.until(() => h.allQuiesced(), 'every replica quiesced');
  return h;
}

test('quiesced groups send no Raft message: at most one liveness batch per peer per tick', async () => {
  const h = await quiescedCluster();
  try {
    for (const c of h.sent.values()) c.batches = c.msgs = 0;
    const TICKS = 5 * ELECTION_TICK;
    for (let t = 0; t < TICKS; t++) {
      await h.idle();
      await h.time.advance(TICK_MS);
    }
    await h.idle();
    for (const [id, c] of h.sent) {
      assert.equal(c.msgs, 0, `node ${id} sent Raft messages while quiesced`);
      assert.ok(c.batches <= (TICKS + 1) * (IDS.length - 1), `node ${id}: ${c.batches} batches in ${TICKS} ticks`);
    }
    assert.ok(h.allQuiesced());
  } finally {
    await h.stop();
  }
});

test('a proposal wakes a quiesced group and commits', async () => {
  const h = await quiescedCluster();
  try {
    const g = GROUPS[2]!;
    const l = h.nodes.get(h.leaderOf(g)!)!;
    await h.settle(l.propose(g, put('k', 'v')), 'the proposal commits');
    await h.until(() => [...h.nodes.values()].every((n) => n.status(g).applied === l.status(g).applied), 'every replica applied it');
    await h.until(() => h.allQuiesced(), 'quiesced again');
  } finally {
    await h.stop();
  }
});

test('commit-index appends wait for the next batch or tick: a lone commit sends no batch of them alone; followers apply it one tick later', async () => {
  const h = await quiescedCluster();
  try {
    const g = GROUPS[1]!;
    const l = h.nodes.get(h.leaderOf(g)!)!;
    for (const c of h.sent.values()) c.emptyAppendsOnly = 0;
    // No tick while the proposal commits: what the leader sends now is what a commit costs.
    let done = false;
    const p = l.propose(g, put('k', 'v')).finally(() => (done = true));
    for (let i = 0; i < 100 && !done; i++) await h.idle();
    await p;
    await h.idle();
    for (const [id, c] of h.sent) assert.equal(c.emptyAppendsOnly, 0, `node ${id} sent a batch of commit-index appends alone`);
    await h.time.advance(TICK_MS);
    await h.idle();
    const applied = l.status(g).applied;
    for (const [id, n] of h.nodes) assert.equal(n.status(g).applied, applied, `node ${id} applied the entry after one tick`);
  } finally {
    await h.stop();
  }
});

test("a quiesced leader's process dies: its groups elect new leaders within bounded ticks", async () => {
  const h = await quiescedCluster();
  try {
    const dead = h.leaderOf(GROUPS[0]!)!;
    const led = GROUPS.filter((g) => h.leaderOf(g) === dead);
    await h.nodes.get(dead)!.stop();
    h.net.detach(dead);
    h.nodes.delete(dead);
    // A refused send says "gone" at the next tick; then an election timeout (< 2 × electionTick)
    // and at most one more for a pre-vote refused inside a peer's vote lease.
    const ticks = await h.until(
      () => led.every((g) => { const l = h.leaderOf(g); return l !== undefined && l !== dead; }),
      'new leaders',
      5 * ELECTION_TICK,
    );
    assert.ok(ticks <= 5 * ELECTION_TICK);
    for (const g of led) {
      const l = h.nodes.get(h.leaderOf(g)!)!;
      await h.settle(l.propose(g, put('after', String(g))), `group ${g} commits under its new leader`);
    }
  } finally {
    await h.stop();
  }
});

test('a quiesced leader cut off from its followers is replaced, and steps down', async () => {
  const h = await quiescedCluster();
  try {
    const g = GROUPS[0]!;
    const old = h.leaderOf(g)!;
    // LocalNetwork refuses sends over a cut link: both sides learn at once that the other is gone.
    for (const id of IDS) if (id !== old) h.net.setLink(old, id, false);
    await h.until(() => { const l = h.leaderOf(g); return l !== undefined && l !== old; }, 'a new leader among the others', 6 * ELECTION_TICK);
    // The old leader, told its members are gone, wakes and check-quorum deposes it.
    await h.until(() => h.nodes.get(old)!.status(g).role !== Role.Leader, 'the cut-off leader steps down', 3 * ELECTION_TICK);
  } finally {
    await h.stop();
  }
});

test('a leader lost to a silent partition is noticed by silence alone', async () => {
  const h = await quiescedCluster();
  try {
    const g = GROUPS[0]!;
    const old = h.leaderOf(g)!;
    // Every batch to and from the leader vanishes without an error: only silence tells.
    for (const id of IDS) {
      if (id === old) continue;
      h.silent.add(`${old}>${id}`);
      h.silent.add(`${id}>${old}`);
    }
    await h.until(() => { const l = h.leaderOf(g); return l !== undefined && l !== old; }, 'a new leader among the others', 6 * ELECTION_TICK);
    await h.until(() => h.nodes.get(old)!.status(g).role !== Role.Leader, 'the cut-off leader steps down', 3 * ELECTION_TICK);
  } finally {
    await h.stop();
  }
});
