// The messages of one commit (issue [G], the commit path): at one proposal in flight each
// follower acknowledges each entry once. Time is a ManualTime that the test does not move while
// it counts, so no tick sends anything in between: what is counted is what the commits cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '../../src/common/index.ts';
import { RaftNode } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { MessageType, Role, type NodeId } from '../../src/raft/index.ts';
import type { RaftTransport } from '../../src/raft/transport.ts';
import { KvStateMachine, encodeKv } from '../helpers/raft-kv.ts';
import { ManualTime } from '../helpers/manual-time.ts';

const G = 1;

/** Counts the messages of each type that `inner` delivers to its node. */
function countingTransport(inner: RaftTransport, counts: Map<MessageType, number>): RaftTransport {
  return {
    ...inner,
    listen: (h) =>
      inner.listen({
        onMessages: (batch, from) => {
          for (const { msg } of batch) counts.set(msg.type, (counts.get(msg.type) ?? 0) + 1);
          h.onMessages(batch, from);
        },
        onSnapshotChunk: (c) => h.onSnapshotChunk(c),
      }),
  };
}

test('one proposal in flight: each follower acknowledges each commit once, and receives one Append', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-commit-path-'));
  const time = new ManualTime();
  const net = new LocalNetwork();
  const counts = new Map<NodeId, Map<MessageType, number>>();
  const nodes = new Map<NodeId, RaftNode>();
  try {
    for (const id of [1, 2, 3]) {
      const c = new Map<MessageType, number>();
      counts.set(id, c);
      const n = new RaftNode({ id, dataDir: join(dir, `n${id}`), transport: countingTransport(net.transport(id), c), clock: time, timer: time, random: new SeededRandom(id), tickMs: 100, electionTick: 10 });
      nodes.set(id, n);
      await n.addGroup(G, [1, 2, 3], new KvStateMachine());
    }
    const leader = async (): Promise<NodeId> => {
      for (let t = 0; t < 100; t++) {
        for (const [id, n] of nodes) if (n.status(G).role === Role.Leader && n.status(G).commit === n.status(G).lastIndex) return id;
        await Promise.all([...nodes.values()].map((n) => n.idle()));
        await time.advance(100);
      }
      throw new Error('no leader');
    };
    const l = await leader();
    await nodes.get(l)!.propose(G, encodeKv({ op: 'put', key: 'warm', value: '' }));
    for (const c of counts.values()) c.clear();

    const N = 20;
    for (let i = 0; i < N; i++) await nodes.get(l)!.propose(G, encodeKv({ op: 'put', key: `k${i}`, value: 'v' }));

    const toLeader = counts.get(l)!;
    // Two followers, one acknowledgement each per entry (before: the commit index of the
    // previous entry, held back, rode in front of each Append and was acknowledged as well).
    assert.equal(toLeader.get(MessageType.AppendResp) ?? 0, 2 * N, `acknowledgements for ${N} commits: ${JSON.stringify([...toLeader])}`);
    for (const [id, c] of counts) if (id !== l) assert.equal(c.get(MessageType.Append) ?? 0, N, `appends received by follower ${id}: ${JSON.stringify([...c])}`);
  } finally {
    for (const n of nodes.values()) await n.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
