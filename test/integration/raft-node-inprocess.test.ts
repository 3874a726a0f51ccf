// The Raft driver (RaftNode) with real files and an in-process network: several nodes, several
// groups, failures by stopping nodes and cutting links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode, type RaftNodeOptions } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { AddressBook } from '../../src/raft/address-book.ts';
import { ConfChangeType, Role, type NodeId } from '../../src/raft/index.ts';
import { StatusCode, isCurveError } from '../../src/common/index.ts';
import { KvStateMachine, encodeKv, waitFor } from '../helpers/raft-kv.ts';

const put = (key: string, value: string) => encodeKv({ op: 'put', key, value });

class Cluster {
  readonly net = new LocalNetwork();
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly sms = new Map<string, KvStateMachine>();
  readonly addresses = new AddressBook();
  constructor(
    readonly dir: string,
    readonly extra: Partial<RaftNodeOptions> = {},
  ) {}

  start(id: NodeId): RaftNode {
    this.addresses.set(id, `node-${id}.test:${7000 + id}`);
    const n = new RaftNode({
      id,
      dataDir: join(this.dir, `n${id}`),
      transport: this.net.transport(id),
      addresses: this.addresses,
      tickMs: 30,
      ...this.extra,
    });
    this.nodes.set(id, n);
    return n;
  }

  async addGroup(id: NodeId, group: number, peers: NodeId[]): Promise<KvStateMachine> {
    const sm = new KvStateMachine();
    this.sms.set(`${id}/${group}`, sm);
    await this.nodes.get(id)!.addGroup(group, peers, sm);
    return sm;
  }

  sm(id: NodeId, group: number): KvStateMachine {
    return this.sms.get(`${id}/${group}`)!;
  }

  async stop(id: NodeId): Promise<void> {
    this.net.detach(id);
    await this.nodes.get(id)!.stop();
    this.nodes.delete(id);
  }

  leaderOf(group: number): NodeId {
    for (const [id, n] of this.nodes) {
      if (n.hasGroup(group) && n.status(group).role === Role.Leader) return id;
    }
    return 0;
  }

  async waitLeader(group: number): Promise<NodeId> {
    await waitFor(() => this.leaderOf(group) !== 0, 20_000, `a leader of group ${group}`);
    return this.leaderOf(group);
  }

  /** Proposes through whichever replica leads, retrying when leadership moves (tests run on busy machines). */
  async propose(group: number, data: Uint8Array): Promise<unknown> {
    for (;;) {
      const leader = await this.waitLeader(group);
      try {
        return await this.nodes.get(leader)!.propose(group, data);
      } catch (e) {
        if (!isCurveError(e, StatusCode.NOT_LEADER)) throw e;
      }
    }
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
  }
}

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'raft-node-'));
}

test('three replicas elect a leader, commit proposals and converge; followers answer NOT_LEADER with the address', async () => {
  const c = new Cluster(await tmp());
  for (const id of [1, 2, 3]) c.start(id);
  for (const id of [1, 2, 3]) await c.addGroup(id, 7, [1, 2, 3]);
  const leader = await c.waitLeader(7);
  const ln = c.nodes.get(leader)!;
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => ln.propose(7, put(`k${i % 50}`, `v${i}`))));
  // Each put returns the previous value: the 4th round of keys saw the 3rd round's values.
  assert.equal(results[150], 'v100');
  const follower = [1, 2, 3].find((x) => x !== leader)!;
  await assert.rejects(c.nodes.get(follower)!.propose(7, put('x', 'y')), (e: unknown) => {
    assert.ok(isCurveError(e, StatusCode.NOT_LEADER));
    assert.equal(e.leaderHint, c.addresses.get(leader));
    return true;
  });
  const last = ln.status(7).commit;
  await waitFor(() => [1, 2, 3].every((id) => c.nodes.get(id)!.status(7).applied >= last), 20_000, 'followers to apply');
  for (const id of [1, 2, 3]) assert.deepEqual([...c.sm(id, 7).data], [...c.sm(leader, 7).data]);
  await c.stopAll();
  await rm(c.dir, { recursive: true });
});

test('read() waits for a linearizable read point on the leader; followers refuse', async () => {
  const c = new Cluster(await tmp());
  for (const id of [1, 2, 3]) c.start(id);
  for (const id of [1, 2, 3]) await c.addGroup(id, 1, [1, 2, 3]);
  const leader = await c.waitLeader(1);
  const ln = c.nodes.get(leader)!;
  await ln.propose(1, put('a', '1'));
  await Promise.all([ln.read(1), ln.read(1), ln.read(1)]);
  assert.equal(c.sm(leader, 1).data.get('a'), '1');
  const follower = [1, 2, 3].find((x) => x !== leader)!;
  await assert.rejects(c.nodes.get(follower)!.read(1), /NOT_LEADER/);
  await c.stopAll();
  await rm(c.dir, { recursive: true });
});

test('a stopped leader is replaced; it restarts from its files and catches up', async () => {
  const c = new Cluster(await tmp());
  for (const id of [1, 2, 3]) c.start(id);
  for (const id of [1, 2, 3]) await c.addGroup(id, 3, [1, 2, 3]);
  let first = await c.waitLeader(3);
  for (let i = 0; i < 20; i++) await c.propose(3, put(`a${i}`, 'x'));
  first = c.leaderOf(3);
  await c.stop(first);
  const second = await c.waitLeader(3);
  assert.notEqual(second, first);
  for (let i = 0; i < 20; i++) await c.propose(3, put(`b${i}`, 'y'));
  c.start(first);
  const sm = await c.addGroup(first, 3, [1, 2, 3]);
  await waitFor(() => sm.data.size === 40, 20_000, 'restarted node to catch up');
  assert.equal(sm.data.size, 40);
  await c.stopAll();
  await rm(c.dir, { recursive: true });
});

test('snapshots compact the log, and a follower far behind is caught up by a streamed snapshot', async () => {
  const c = new Cluster(await tmp(), { snapshotEntries: 50, snapshotKeepEntries: 0, log: { segmentBytes: 4096 } });
  for (const id of [1, 2, 3]) c.start(id);
  for (const id of [1, 2, 3]) await c.addGroup(id, 9, [1, 2, 3]);
  const leader = await c.waitLeader(9);
  const lagging = [1, 2, 3].find((x) => x !== leader)!;
  for (const id of [1, 2, 3]) if (id !== lagging) c.net.setLink(lagging, id, false);
  for (let i = 0; i < 300; i++) await c.propose(9, put(`k${i}`, 'v'.repeat(50)));
  const ln = c.nodes.get(c.leaderOf(9))!;
  await waitFor(() => ln.status(9).snapshotIndex >= 250 && ln.status(9).firstIndex > 200, 20_000, 'leader snapshot and compaction');
  const segs = (await readdir(join(c.dir, `n${c.leaderOf(9)}`, 'group-9', 'log'))).filter((n) => n.endsWith('.seg'));
  assert.ok(segs.length < 10, `compaction keeps few segments (${segs.length})`);
  for (const id of [1, 2, 3]) if (id !== lagging) c.net.setLink(lagging, id, true);
  const commit = ln.status(9).commit;
  await waitFor(() => c.nodes.get(lagging)!.status(9).applied >= commit, 20_000, 'lagging follower to catch up');
  assert.ok(c.sm(lagging, 9).restores >= 1, 'caught up through a snapshot');
  assert.deepEqual([...c.sm(lagging, 9).data].sort(), [...c.sm(c.leaderOf(9), 9).data].sort());
  // And it restarts from the snapshot it received.
  await c.stop(lagging);
  c.start(lagging);
  const sm = await c.addGroup(lagging, 9, [1, 2, 3]);
  assert.equal(sm.restores, 1);
  await waitFor(() => sm.data.size === 300, 20_000, 'restart from received snapshot');
  await c.stopAll();
  await rm(c.dir, { recursive: true });
});

test('membership: add a learner, promote it, remove a voter', async () => {
  const c = new Cluster(await tmp());
  for (const id of [1, 2, 3, 4]) c.start(id);
  for (const id of [1, 2, 3]) await c.addGroup(id, 5, [1, 2, 3]);
  await c.addGroup(4, 5, []);
  const leader = await c.waitLeader(5);
  const ln = c.nodes.get(leader)!;
  for (let i = 0; i < 10; i++) await ln.propose(5, put(`k${i}`, 'v'));
  let conf = await ln.changeMembership(5, { type: ConfChangeType.AddLearner, nodeId: 4, address: 'node-4.new:1' });
  assert.deepEqual(conf, { voters: [1, 2, 3], learners: [4] });
  assert.equal(ln.addresses.get(4), 'node-4.new:1');
  await waitFor(() => c.sm(4, 5).data.size === 10, 20_000, 'learner to catch up');
  conf = await ln.changeMembership(5, { type: ConfChangeType.AddVoter, nodeId: 4 });
  assert.deepEqual(conf, { voters: [1, 2, 3, 4], learners: [] });
  const victim = [1, 2, 3].find((x) => x !== leader)!;
  conf = await ln.changeMembership(5, { type: ConfChangeType.RemoveNode, nodeId: victim });
  assert.deepEqual(conf.voters, [1, 2, 3, 4].filter((x) => x !== victim));
  await c.nodes.get(victim)!.removeGroup(5, { destroy: true });
  await ln.propose(5, put('after', 'change'));
  await waitFor(() => c.sm(4, 5).data.get('after') === 'change', 20_000, 'new voter to apply');
  await c.stopAll();
  await rm(c.dir, { recursive: true });
});

test('many groups share ticks and batches; leadership transfer; errors for removed groups and timeouts', async () => {
  const c = new Cluster(await tmp(), { requestTimeoutMs: 300 });
  for (const id of [1, 2, 3]) c.start(id);
  const groups = [11, 12, 13, 14, 15];
  for (const g of groups) for (const id of [1, 2, 3]) await c.addGroup(id, g, [1, 2, 3]);
  for (const g of groups) c.nodes.get(1)!.campaign(g);
  for (const g of groups) await c.waitLeader(g);
  await Promise.all(groups.flatMap((g) => Array.from({ length: 30 }, (_, i) => c.propose(g, put(`g${g}k${i}`, 'v')))));
  for (const g of groups) await waitFor(() => [1, 2, 3].every((id) => c.sm(id, g).data.size === 30), 20_000, `group ${g} on every replica`);

  const l = await c.waitLeader(11);
  const to = [1, 2, 3].find((x) => x !== l)!;
  c.nodes.get(l)!.transferLeader(11, to);
  await waitFor(() => c.leaderOf(11) === to, 20_000, 'leadership transfer');

  // A proposal that cannot commit (the other two replicas are gone) times out.
  const ldr = await c.waitLeader(12);
  const others = [1, 2, 3].filter((x) => x !== ldr);
  for (const o of others) c.net.setLink(ldr, o, false);
  await assert.rejects(c.nodes.get(ldr)!.propose(12, put('lost', 'x')), (e: unknown) => isCurveError(e, StatusCode.TIMEOUT) || isCurveError(e, StatusCode.NOT_LEADER));
  for (const o of others) c.net.setLink(ldr, o, true);

  // Removing a group fails what waits on it.
  const ldr13 = await c.waitLeader(13);
  for (const o of [1, 2, 3].filter((x) => x !== ldr13)) c.net.setLink(ldr13, o, false);
  const pending = assert.rejects(c.nodes.get(ldr13)!.propose(13, put('p', 'q'), { timeoutMs: 60_000 }), (e: unknown) =>
    isCurveError(e, StatusCode.GROUP_REMOVED),
  );
  await c.nodes.get(ldr13)!.removeGroup(13);
  await pending;
  await assert.rejects(c.nodes.get(ldr13)!.propose(13, put('p', 'q')), (e: unknown) => isCurveError(e, StatusCode.COPYSET_NOTEXIST));
  await c.stopAll();
  await rm(c.dir, { recursive: true });
});
