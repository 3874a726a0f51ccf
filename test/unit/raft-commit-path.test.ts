// The commit path (issue [G]): at one proposal in flight each follower acknowledges each entry
// once, and a lone small log write skips the threadpool. Time is a ManualTime that the tests do
// not move while they count, so no tick sends or writes anything in between.
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
import { nodeStorage, type RaftStorage, type StorageFile } from '../../src/raft/storage.ts';
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

/**
 * Three RaftNodes of group G on a LocalNetwork and a ManualTime (each node's transport and state
 * machine from the callers' factories); resolves once a leader committed its first entry and one
 * warm-up proposal.
 */
async function startThree(
  dir: string,
  time: ManualTime,
  transportFor: (id: NodeId, inner: RaftTransport) => RaftTransport,
  smFor: (id: NodeId) => KvStateMachine = () => new KvStateMachine(),
): Promise<{ nodes: Map<NodeId, RaftNode>; leader: NodeId }> {
  const net = new LocalNetwork();
  const nodes = new Map<NodeId, RaftNode>();
  for (const id of [1, 2, 3]) {
    const n = new RaftNode({ id, dataDir: join(dir, `n${id}`), transport: transportFor(id, net.transport(id)), clock: time, timer: time, random: new SeededRandom(id), tickMs: 100, electionTick: 10 });
    nodes.set(id, n);
    await n.addGroup(G, [1, 2, 3], smFor(id));
  }
  for (let t = 0; t < 100; t++) {
    for (const [id, n] of nodes) {
      if (n.status(G).role !== Role.Leader || n.status(G).commit !== n.status(G).lastIndex) continue;
      await n.propose(G, encodeKv({ op: 'put', key: 'warm', value: '' }));
      await allAcknowledged(nodes, id);
      return { nodes, leader: id };
    }
    await Promise.all([...nodes.values()].map((n) => n.idle()));
    await time.advance(100);
  }
  for (const n of nodes.values()) await n.stop();
  throw new Error('no leader');
}

/**
 * Waits (time standing still) until the leader has every follower's acknowledgement of its last
 * entry: a proposal is answered once a quorum acknowledged it, and with the leader's own write
 * behind the rounds that quorum may be its two followers, the slower one's answer still on its way.
 */
async function allAcknowledged(nodes: Map<NodeId, RaftNode>, leader: NodeId): Promise<void> {
  const done = () => {
    const s = nodes.get(leader)!.status(G);
    return s.progress!.every((p) => p.match === s.lastIndex);
  };
  for (let i = 0; i < 1000 && !done(); i++) {
    await Promise.all([...nodes.values()].map((n) => n.idle()));
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(done(), `not every follower acknowledged: ${JSON.stringify(nodes.get(leader)!.status(G).progress)}`);
}

test('one proposal in flight: each follower acknowledges each commit once, and receives one Append', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-commit-path-'));
  const time = new ManualTime();
  const counts = new Map<NodeId, Map<MessageType, number>>();
  let nodes = new Map<NodeId, RaftNode>();
  try {
    let l: NodeId;
    ({ nodes, leader: l } = await startThree(dir, time, (id, inner) => {
      const c = new Map<MessageType, number>();
      counts.set(id, c);
      return countingTransport(inner, c);
    }));
    for (const c of counts.values()) c.clear();

    const N = 20;
    for (let i = 0; i < N; i++) await nodes.get(l)!.propose(G, encodeKv({ op: 'put', key: `k${i}`, value: 'v' }));
    await allAcknowledged(nodes, l);

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

test("a follower's acknowledgement of a lone entry leaves before it applies the entry committed with it", async () => {
  // At one proposal in flight a follower learns that entry i committed from the Append of entry
  // i+1, so one Ready holds both: write i+1 and acknowledge it, apply i. The write of a lone
  // entry stands the thread still (inline O_DSYNC), and the apply — which nobody waits for on a
  // follower — used to run before it, delaying the acknowledgement, the commit's own path.
  const dir = await mkdtemp(join(tmpdir(), 'raft-commit-ack-first-'));
  const time = new ManualTime();
  const events = new Map<NodeId, string[]>();
  let nodes = new Map<NodeId, RaftNode>();
  try {
    let l: NodeId;
    const log = (id: NodeId): string[] => {
      if (!events.has(id)) events.set(id, []);
      return events.get(id)!;
    };
    ({ nodes, leader: l } = await startThree(
      dir,
      time,
      (id, inner) => ({
        ...inner,
        send: (to, batch) => {
          for (const { msg } of batch) if (msg.type === MessageType.AppendResp && !msg.reject) log(id).push(`ack ${msg.index}`);
          return inner.send(to, batch);
        },
      }),
      (id) => {
        const sm = new KvStateMachine();
        const apply = sm.apply.bind(sm);
        sm.apply = (e) => {
          log(id).push(`apply ${e.index}`);
          return apply(e);
        };
        return sm;
      },
    ));
    const first = nodes.get(l)!.status(G).lastIndex + 1;
    for (const ev of events.values()) ev.length = 0;
    const N = 10;
    for (let i = 0; i < N; i++) await nodes.get(l)!.propose(G, encodeKv({ op: 'put', key: `k${i}`, value: 'v' }));
    await Promise.all([...nodes.values()].map((n) => n.idle()));
    for (const [id, ev] of events) {
      if (id === l) continue;
      for (let i = first; i < first + N - 1; i++) {
        const ack = ev.indexOf(`ack ${i + 1}`);
        const applied = ev.indexOf(`apply ${i}`);
        assert.ok(ack >= 0 && applied >= 0, `follower ${id}: ${ev.join(', ')}`);
        assert.ok(ack < applied, `follower ${id} applied ${i} before acknowledging ${i + 1}: ${ev.join(', ')}`);
      }
    }
  } finally {
    for (const n of nodes.values()) await n.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a lone small entry is written on the main thread; several entries, or several groups' writes in one round, go to the threadpool", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-commit-inline-'));
  const time = new ManualTime();
  // The real disk, counting how log segments are written.
  const calls = { sync: 0, async: 0 };
  const storage: RaftStorage = {
    ...nodeStorage,
    async open(path, mode, opts) {
      const f = await nodeStorage.open(path, mode, opts);
      if (!path.endsWith('.seg')) return f;
      return {
        ...bindAll(f),
        write: (d, o, l, p) => (calls.async++, f.write(d, o, l, p)),
        writeSync: (d, o, l, p) => (calls.sync++, f.writeSync!(d, o, l, p)),
      };
    },
  };
  const n = new RaftNode({ id: 1, dataDir: dir, transport: new LocalNetwork().transport(1), clock: time, timer: time, random: new SeededRandom(1), tickMs: 100, electionTick: 10, storage });
  try {
    for (const g of [1, 2]) await n.addGroup(g, [1], new KvStateMachine());
    for (let t = 0; t < 100 && ![1, 2].every((g) => n.status(g).role === Role.Leader && n.status(g).commit === n.status(g).lastIndex); t++) {
      await n.idle();
      await time.advance(100);
    }
    await n.idle();
    const value = encodeKv({ op: 'put', key: 'k', value: 'v' });
    calls.sync = calls.async = 0;
    await n.propose(1, value);
    assert.deepEqual(calls, { sync: 1, async: 0 }, 'one group, one small entry: written inline');
    calls.sync = calls.async = 0;
    await Promise.all([n.propose(1, value), n.propose(2, value)]); // one round, two logs
    assert.deepEqual(calls, { sync: 0, async: 2 }, 'two logs in one round: both to the threadpool');
    calls.sync = calls.async = 0;
    await Promise.all([n.propose(1, value), n.propose(1, value)]); // one round, two entries
    assert.deepEqual(calls, { sync: 0, async: 1 }, 'two entries in one write: to the threadpool');
    calls.sync = calls.async = 0;
    await n.propose(1, encodeKv({ op: 'put', key: 'big', value: 'v'.repeat(4096) }));
    assert.deepEqual(calls, { sync: 0, async: 1 }, 'a batch over inlineBytes: to the threadpool');
  } finally {
    await n.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

/** The methods of `f` bound to it, as a plain object that can be spread. */
function bindAll(f: StorageFile): StorageFile {
  return {
    read: f.read.bind(f),
    write: f.write.bind(f),
    size: f.size.bind(f),
    allocated: f.allocated.bind(f),
    truncate: f.truncate.bind(f),
    datasync: f.datasync.bind(f),
    sync: f.sync.bind(f),
    close: f.close.bind(f),
  };
}
