// The leader's read lease is judged on the clock, not on how many tick callbacks ran: a leader
// whose process was frozen (CPU starvation, a long synchronous stretch) sees one late timer
// callback at most, and if it counted callbacks it would think its lease younger than it is and
// serve a read that a newer leader's writes have already made stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom, type Clock } from '../../src/common/index.ts';
import { RaftNode } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { Role, type NodeId } from '../../src/raft/index.ts';
import { KvStateMachine, encodeKv } from '../helpers/raft-kv.ts';
import { ManualTime } from '../helpers/manual-time.ts';

const G = 1;

test('a leader frozen past its lease does not serve a lease read when it wakes up cut off', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-lease-clock-'));
  const time = new ManualTime();
  const net = new LocalNetwork();
  const frozen = new Map<NodeId, number>(); // how far a node's clock is ahead of the shared time
  const nodes = new Map<NodeId, RaftNode>();
  try {
    for (const id of [1, 2, 3]) {
      const clock: Clock = { now: () => time.now() + (frozen.get(id) ?? 0), wallTime: () => time.wallTime() };
      const node = new RaftNode({
        id,
        dataDir: join(dir, `n${id}`),
        transport: net.transport(id),
        clock,
        timer: time,
        random: new SeededRandom(id),
        tickMs: 100,
        electionTick: 10,
        raft: { readOnlyOption: 'lease', checkQuorum: true, preVote: true },
      });
      nodes.set(id, node);
      await node.addGroup(G, [1, 2, 3], new KvStateMachine());
    }
    // Simulated time moves only while every node is idle: their disks are real, and time that
    // ran ahead of an fdatasync would expire election timers and requests meanwhile.
    const idle = () => Promise.all([...nodes.values()].map((n) => n.idle()));
    const leaderId = async (): Promise<NodeId | undefined> => {
      for (let i = 0; i < 600; i++) {
        const l = [...nodes].find(([, n]) => n.status(G).role === Role.Leader);
        if (l) return l[0];
        await idle();
        await time.advance(100);
      }
      return undefined;
    };
    const settle = async <T>(p: Promise<T>): Promise<T> => {
      let done = false;
      void p.then(
        () => (done = true),
        () => (done = true),
      );
      for (let i = 0; i < 600 && !done; i++) {
        await idle();
        if (!done) await time.advance(100);
      }
      return p;
    };
    const l = await leaderId();
    assert.ok(l !== undefined, 'no leader');
    const leader = nodes.get(l)!;
    await settle(leader.propose(G, encodeKv({ op: 'put', key: 'k', value: 'v1' })));
    // Healthy: a read on the leader is served.
    await settle(leader.read(G));

    // The leader is cut off and its process "wakes up" 3 s later (three times the election
    // timeout): by then the others may have elected a new leader and taken writes. Its tick
    // timer has not run in between; the read is the first thing it does.
    for (const id of [1, 2, 3]) if (id !== l) net.setLink(l, id, false);
    frozen.set(l, 3000);
    const outcome = leader.read(G, { timeoutMs: 1000 }).then(
      () => 'served',
      (e: unknown) => `refused: ${String(e)}`,
    );
    await time.advance(1500);
    const got = await outcome;
    assert.match(got, /^refused/, 'a read was served on a lease that had expired by the clock');
  } finally {
    for (const n of nodes.values()) await n.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
