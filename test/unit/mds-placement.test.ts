// Replica placement and the recovery planner/coordinator: pure functions, seeded randomness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededRandom } from '../../src/common/index.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { chooseReplicas, copysetsByLoad, type PlacementCandidate } from '../../src/mds/topology/placement.ts';
import { coordinate, planRecovery, type CopysetView, type MetaserverView, type Operator } from '../../src/mds/schedule/recovery.ts';

const ms = (id: number, serverId: number, zoneId: number, copysets = 0): PlacementCandidate => ({ id, serverId, zoneId, copysets });

test('replicas go to distinct zones when there are enough zones', () => {
  const c = [ms(1, 1, 1), ms(2, 1, 1), ms(3, 2, 2), ms(4, 3, 3), ms(5, 3, 3)];
  const r = chooseReplicas(c, 3, new SeededRandom(1))!;
  assert.equal(r.spread, 'zone');
  assert.equal(new Set(r.ids.map((id) => c.find((x) => x.id === id)!.zoneId)).size, 3);
});

test('with fewer zones than replicas, distinct servers; with one machine, distinct processes', () => {
  const twoZones = [ms(1, 1, 1), ms(2, 2, 1), ms(3, 3, 2)];
  assert.equal(chooseReplicas(twoZones, 3, new SeededRandom(1))!.spread, 'server');
  const oneHost = [ms(1, 1, 1), ms(2, 1, 1), ms(3, 1, 1), ms(4, 1, 1)];
  const r = chooseReplicas(oneHost, 3, new SeededRandom(1))!;
  assert.equal(r.spread, 'metaserver');
  assert.equal(new Set(r.ids).size, 3);
  assert.equal(chooseReplicas(oneHost.slice(0, 2), 3, new SeededRandom(1)), undefined);
});

test('the least loaded metaservers are chosen', () => {
  const c = [ms(1, 1, 1, 5), ms(2, 2, 2, 0), ms(3, 3, 3, 1), ms(4, 4, 4, 9)];
  assert.deepEqual(chooseReplicas(c, 2, new SeededRandom(7))!.ids.sort(), [2, 3]);
});

test('a replacement avoids the zones (then servers) of the members that stay', () => {
  const existing = [ms(1, 1, 1), ms(2, 2, 2)];
  const cands = [ms(3, 1, 1), ms(4, 2, 2), ms(5, 3, 3, 50)];
  assert.deepEqual(chooseReplicas(cands, 1, new SeededRandom(1), existing)!.ids, [5]);
});

test('property: chosen replicas are distinct, never existing members, at the best spread possible', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ serverId: fc.integer({ min: 1, max: 5 }), zoneId: fc.integer({ min: 1, max: 4 }), copysets: fc.integer({ min: 0, max: 10 }) }), { minLength: 0, maxLength: 12 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer(),
      (raw, n, seed) => {
        const cands = raw.map((r, i) => ({ id: i + 1, ...r }));
        const r = chooseReplicas(cands, n, new SeededRandom(seed));
        if (cands.length < n) return r === undefined;
        if (!r) return false;
        if (new Set(r.ids).size !== n) return false;
        const zones = new Set(cands.map((c) => c.zoneId)).size;
        const servers = new Set(cands.map((c) => c.serverId)).size;
        const expected = zones >= n ? 'zone' : servers >= n ? 'server' : 'metaserver';
        return r.spread === expected;
      },
    ),
  );
});

test('copysets with room are ordered by fewest partitions', () => {
  const list = [
    { copysetId: 1, partitions: 5 },
    { copysetId: 2, partitions: 1 },
    { copysetId: 3, partitions: 128 },
    { copysetId: 4, partitions: 1 },
  ];
  assert.deepEqual(copysetsByLoad(list, 128).map((c) => c.copysetId), [2, 4, 1]);
});

const view = (id: number, zoneId: number, state = OnlineState.ONLINE, copysets = 1): MetaserverView => ({ id, serverId: id, zoneId, poolId: 1, copysets, state });
const cs = (copysetId: number, members: number[], epoch = 1, replicaNum = 3): CopysetView => ({ poolId: 1, copysetId, epoch, members, replicaNum });

test('an offline member is replaced on a live metaserver outside the copyset', () => {
  const msv = [view(1, 1), view(2, 2), view(3, 3, OnlineState.OFFLINE), view(4, 3, OnlineState.ONLINE, 0), view(5, 1, OnlineState.ONLINE, 0)];
  const ops = planRecovery([cs(10, [1, 2, 3])], msv, [], 1000, new SeededRandom(1));
  assert.equal(ops.length, 1);
  assert.deepEqual([ops[0]!.type, ops[0]!.oldPeer, ops[0]!.newPeer, ops[0]!.startEpoch, ops[0]!.prepared], ['change_peer', 3, 4, 1, false]);
});

test('a member whose replica is broken (cannot open) is replaced like an offline one, though its metaserver is online', () => {
  const msv = [view(1, 1), view(2, 2), view(3, 3), view(4, 3, OnlineState.ONLINE, 0)];
  const ops = planRecovery([{ ...cs(10, [1, 2, 3]), broken: [2] }], msv, [], 1000, new SeededRandom(1));
  assert.deepEqual(ops.map((o) => [o.type, o.oldPeer, o.newPeer]), [['change_peer', 2, 4]]);
  // A broken member and an offline one leave no majority: nothing to do.
  const down = [view(1, 1), view(2, 2), view(3, 3, OnlineState.OFFLINE), view(4, 4)];
  assert.deepEqual(planRecovery([{ ...cs(10, [1, 2, 3]), broken: [2] }], down, [], 0, new SeededRandom(1)), []);
});

test('no change without a live majority, for unstable members, or while an operator runs', () => {
  const msv = [view(1, 1), view(2, 2, OnlineState.OFFLINE), view(3, 3, OnlineState.OFFLINE), view(4, 4)];
  assert.deepEqual(planRecovery([cs(10, [1, 2, 3])], msv, [], 0, new SeededRandom(1)), []);
  const unstable = [view(1, 1), view(2, 2), view(3, 3, OnlineState.UNSTABLE), view(4, 4)];
  assert.deepEqual(planRecovery([cs(10, [1, 2, 3])], unstable, [], 0, new SeededRandom(1)), []);
  const offline = [view(1, 1), view(2, 2), view(3, 3, OnlineState.OFFLINE), view(4, 4)];
  const running = planRecovery([cs(10, [1, 2, 3])], offline, [], 0, new SeededRandom(1));
  assert.deepEqual(planRecovery([cs(10, [1, 2, 3])], offline, running, 0, new SeededRandom(1)), []);
});

test('an over-replicated copyset drops its offline member instead', () => {
  const msv = [view(1, 1), view(2, 2), view(3, 3), view(4, 4, OnlineState.OFFLINE)];
  const ops = planRecovery([cs(10, [1, 2, 3, 4])], msv, [], 0, new SeededRandom(1));
  assert.deepEqual([ops[0]!.type, ops[0]!.oldPeer], ['remove_peer', 4]);
});

test('one target takes at most one new replica at a time', () => {
  const msv = [view(1, 1), view(2, 2), view(3, 3, OnlineState.OFFLINE), view(4, 4, OnlineState.ONLINE, 0)];
  const ops = planRecovery([cs(10, [1, 2, 3]), cs(11, [1, 2, 3])], msv, [], 0, new SeededRandom(1));
  assert.equal(ops.length, 1);
});

test('the coordinator instructs once prepared, waits while the change runs, and ends it', () => {
  const op: Operator = { poolId: 1, copysetId: 10, type: 'change_peer', oldPeer: 3, newPeer: 4, startEpoch: 1, createdAt: 0, deadline: 100, prepared: false };
  assert.equal(coordinate(op, { epoch: 1, members: [1, 2, 3] }, 10).kind, 'wait');
  op.prepared = true;
  assert.equal(coordinate(op, { epoch: 1, members: [1, 2, 3] }, 10).kind, 'instruct');
  assert.equal(coordinate(op, { epoch: 1, members: [1, 2, 3], change: { peer: 4, finished: false } }, 10).kind, 'wait');
  // An old attempt's error (before we instructed) or a change about another peer does not count.
  assert.equal(coordinate(op, { epoch: 1, members: [1, 2, 3], change: { peer: 4, finished: true, error: 'old' } }, 10).kind, 'instruct');
  assert.equal(coordinate(op, { epoch: 1, members: [1, 2, 3], change: { peer: 9, finished: false } }, 10).kind, 'instruct');
  op.instructed = true;
  assert.equal(coordinate(op, { epoch: 1, members: [1, 2, 3], change: { peer: 4, finished: true, error: 'boom' } }, 10).kind, 'failed');
  assert.equal(coordinate(op, { epoch: 2, members: [1, 2, 4] }, 10).kind, 'done');
  assert.equal(coordinate(op, { epoch: 2, members: [1, 2, 5] }, 10).kind, 'failed');
  assert.equal(coordinate(op, { epoch: 1, members: [1, 2, 3] }, 101).kind, 'failed');
});
