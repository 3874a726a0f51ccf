// The balancer's decisions (schedule/balance.ts), from injected views and time: leaders spread
// by TRANSFER_LEADER, replicas move toward an empty metaserver one CHANGE_PEER per copyset with
// bounded concurrency, spread by zone is kept, copysets short of members or with a member down
// are left to recovery, and a whole simulated run converges without ever dropping a copyset below
// three members. Also the drain's refusal check (drainBlockers) and the leadership coordinator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { DEFAULT_BALANCE_OPTIONS, planBalance, type BalanceCopysetView, type BalanceOptions } from '../../src/mds/schedule/balance.ts';
import { coordinate, drainBlockers, type MetaserverView, type Operator } from '../../src/mds/schedule/recovery.ts';

const ms = (id: number, extra: Partial<MetaserverView> = {}): MetaserverView => ({ id, serverId: id, zoneId: id, poolId: 1, copysets: 0, state: OnlineState.ONLINE, ...extra });
const cs = (copysetId: number, members: number[], leaderId = members[0]!): BalanceCopysetView => ({ poolId: 1, copysetId, epoch: 3, members, replicaNum: 3, leaderId });
const opts = (over: Partial<BalanceOptions> = {}): BalanceOptions => ({ ...DEFAULT_BALANCE_OPTIONS, ...over });
const summary = (ops: Operator[]) => ops.map((o) => [o.copysetId, o.type, o.oldPeer, o.newPeer]);

test('leaders all on one metaserver: transfers to the members that lead least, until within one', () => {
  const copysets = [cs(1, [1, 2, 3]), cs(2, [1, 2, 3]), cs(3, [1, 2, 3])];
  const ops = planBalance(copysets, [ms(1), ms(2), ms(3)], [], 0, opts({ maxReplicaMoves: 0 }));
  assert.deepEqual(summary(ops), [
    [1, 'transfer_leader', 1, 2],
    [2, 'transfer_leader', 1, 3],
  ]);
  assert.ok(ops.every((o) => o.balance && o.prepared && o.deadline === DEFAULT_BALANCE_OPTIONS.transferTimeoutMs));
  // Balanced within one: nothing to do.
  assert.deepEqual(planBalance([cs(1, [1, 2, 3], 1), cs(2, [1, 2, 3], 2), cs(3, [1, 2, 3], 3), cs(4, [1, 2, 3], 1)], [ms(1), ms(2), ms(3)], [], 0), []);
});

test('a transfer in flight counts as done: the next round does not plan it twice or overshoot', () => {
  const copysets = [cs(1, [1, 2, 3]), cs(2, [1, 2, 3]), cs(3, [1, 2, 3])];
  const first = planBalance(copysets, [ms(1), ms(2), ms(3)], [], 0, opts({ maxLeaderTransfers: 1, maxReplicaMoves: 0 }));
  assert.deepEqual(summary(first), [[1, 'transfer_leader', 1, 2]]);
  assert.deepEqual(planBalance(copysets, [ms(1), ms(2), ms(3)], first, 1, opts({ maxLeaderTransfers: 1, maxReplicaMoves: 0 })), [], 'the limit is reached');
  assert.deepEqual(summary(planBalance(copysets, [ms(1), ms(2), ms(3)], first, 1, opts({ maxLeaderTransfers: 2, maxReplicaMoves: 0 }))), [[2, 'transfer_leader', 1, 3]]);
});

test('a new empty metaserver gets replicas one CHANGE_PEER per copyset, at most maxReplicaMoves at once', () => {
  const copysets = [1, 2, 3, 4, 5, 6].map((i) => cs(i, [1, 2, 3], 1 + (i % 3)));
  const servers = [ms(1), ms(2), ms(3), ms(4)];
  const ops = planBalance(copysets, servers, [], 0, opts({ maxReplicaMoves: 2, maxLeaderTransfers: 0 }));
  assert.equal(ops.length, 2);
  assert.ok(ops.every((o) => o.type === 'change_peer' && o.newPeer === 4 && !o.prepared && o.balance));
  assert.equal(new Set(ops.map((o) => o.copysetId)).size, 2, 'one change per copyset');
  assert.equal(new Set(ops.map((o) => o.oldPeer)).size, 2, 'taken from different metaservers');
  // With both running, nothing more is planned (the bound holds across rounds).
  assert.deepEqual(planBalance(copysets, servers, ops, 1, opts({ maxReplicaMoves: 2, maxLeaderTransfers: 0 })), []);
});

test('replica moves keep the spread: no move that puts two members in one zone', () => {
  // Metaserver 4 is empty but in the zone of metaserver 1: moving 2 or 3 onto it would put two
  // replicas in zone 1; only a replica of 1 itself may move there.
  const copysets = [cs(1, [1, 2, 3]), cs(2, [1, 2, 3]), cs(3, [1, 2, 3])];
  const ops = planBalance(copysets, [ms(1), ms(2), ms(3), ms(4, { zoneId: 1 })], [], 0, opts({ maxReplicaMoves: 5, maxLeaderTransfers: 0 }));
  assert.ok(ops.length > 0);
  for (const o of ops) assert.equal(o.oldPeer, 1, `copyset ${o.copysetId} moves off metaserver 1 only`);
});

test('recovery comes first: no replica move while a recovery change runs, none on a copyset with a member down or short of members', () => {
  const copysets = [cs(1, [1, 2, 3]), cs(2, [1, 2, 3]), cs(3, [1, 2, 3])];
  const recovery: Operator = { poolId: 1, copysetId: 9, type: 'change_peer', oldPeer: 5, newPeer: 6, startEpoch: 1, createdAt: 0, deadline: 10, prepared: true };
  assert.deepEqual(planBalance(copysets, [ms(1), ms(2), ms(3), ms(4)], [recovery], 0, opts({ maxLeaderTransfers: 0 })), []);
  // A member UNSTABLE: that copyset is left alone (leaders and replicas).
  assert.deepEqual(planBalance([cs(1, [1, 2, 3])], [ms(1), ms(2), ms(3, { state: OnlineState.UNSTABLE }), ms(4)], [], 0), []);
  // Two members only (a heal in progress): no move may take it lower.
  assert.deepEqual(planBalance([cs(1, [1, 2]), cs(2, [1, 2])], [ms(1), ms(2), ms(3)], [], 0), []);
  // Draining or offline metaservers are neither sources nor targets.
  const ops = planBalance(copysets, [ms(1), ms(2), ms(3), ms(4, { draining: true }), ms(5, { state: OnlineState.OFFLINE })], [], 0, opts({ maxLeaderTransfers: 0 }));
  assert.deepEqual(ops, []);
});

test('turned off (intervalMs 0): nothing is planned', () => {
  const copysets = [cs(1, [1, 2, 3]), cs(2, [1, 2, 3]), cs(3, [1, 2, 3])];
  assert.deepEqual(planBalance(copysets, [ms(1), ms(2), ms(3), ms(4)], [], 0, opts({ intervalMs: 0 })), []);
});

test('a simulated cluster converges: 12 copysets on 3 metaservers, a 4th added, never below three members', () => {
  let copysets = Array.from({ length: 12 }, (_, i) => cs(i + 1, [1, 2, 3], 1));
  const servers = [ms(1), ms(2), ms(3), ms(4)];
  let rounds = 0;
  for (;;) {
    const ops = planBalance(copysets, servers, [], rounds, opts({ maxReplicaMoves: 2, maxLeaderTransfers: 4 }));
    if (ops.length === 0) break;
    assert.ok(ops.filter((o) => o.type === 'change_peer').length <= 2);
    // Apply each operator as a copyset leader would (CHANGE_PEER replaces; the leader that
    // leaves hands over first, as the coordinator makes it).
    copysets = copysets.map((c) => {
      const op = ops.find((o) => o.copysetId === c.copysetId);
      if (!op) return c;
      if (op.type === 'transfer_leader') return { ...c, leaderId: op.newPeer };
      const members = c.members.filter((id) => id !== op.oldPeer).concat(op.newPeer);
      return { ...c, members, epoch: c.epoch + 1, leaderId: c.leaderId === op.oldPeer ? members[0]! : c.leaderId };
    });
    for (const c of copysets) assert.equal(c.members.length, 3);
    assert.ok(++rounds < 100, 'converges');
  }
  const count = (f: (c: BalanceCopysetView) => number[]) => servers.map((m) => copysets.filter((c) => f(c).includes(m.id)).length);
  const replicas = count((c) => c.members);
  const leaders = count((c) => [c.leaderId]);
  assert.deepEqual(replicas, [9, 9, 9, 9], `replicas per metaserver ${replicas}`);
  assert.ok(Math.max(...leaders) - Math.min(...leaders) <= 1, `leaders per metaserver ${leaders}`);
});

test('the leadership coordinator: transfer until the target leads, dropped when the copyset moved on', () => {
  const op: Operator = { poolId: 1, copysetId: 1, type: 'transfer_leader', oldPeer: 1, newPeer: 2, startEpoch: 3, createdAt: 0, deadline: 100, prepared: true, balance: true };
  assert.deepEqual(coordinate(op, { epoch: 3, members: [1, 2, 3], leaderId: 1 }, 10), { kind: 'transfer', to: 2 });
  assert.deepEqual(coordinate(op, { epoch: 3, members: [1, 2, 3], leaderId: 2 }, 10), { kind: 'done' });
  assert.equal(coordinate(op, { epoch: 3, members: [1, 2, 3], leaderId: 3 }, 10).kind, 'failed');
  assert.equal(coordinate(op, { epoch: 4, members: [1, 3, 4], leaderId: 1 }, 10).kind, 'failed');
  assert.equal(coordinate(op, { epoch: 3, members: [1, 2, 3], leaderId: 1 }, 101).kind, 'failed');
});

test('drain blockers: a copyset with no metaserver left to move to blocks a drain (decommission is refused)', () => {
  const copysets = [cs(1, [1, 2, 3]), cs(2, [1, 2, 4])];
  // Only 3 and 4 besides: copyset 1 can go to 4, copyset 2 to 3.
  assert.deepEqual(drainBlockers(1, copysets, [ms(1), ms(2), ms(3), ms(4)]), []);
  // 4 offline: copyset 1 has nowhere to go.
  assert.deepEqual(drainBlockers(1, copysets, [ms(1), ms(2), ms(3), ms(4, { state: OnlineState.OFFLINE })]).map((c) => c.copysetId), [1]);
  // 4 draining too: same.
  assert.deepEqual(drainBlockers(1, copysets, [ms(1), ms(2), ms(3), ms(4, { draining: true })]).map((c) => c.copysetId), [1]);
  // Three metaservers in all: nowhere to go for any copyset.
  assert.deepEqual(drainBlockers(1, [cs(1, [1, 2, 3])], [ms(1), ms(2), ms(3)]).map((c) => c.copysetId), [1]);
  // A copyset above its replica count just loses the member.
  assert.deepEqual(drainBlockers(1, [cs(1, [1, 2, 3, 5])], [ms(1), ms(2), ms(3), ms(5)]), []);
});
