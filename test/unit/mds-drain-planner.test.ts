// Draining a metaserver (`curvefs metaserver drain`) in the recovery planner: a draining member
// is replaced like an offline one but after it, never chosen as a target, and (being alive) not
// counted against the live majority; a change that would remove the copyset's leader first moves
// the leadership to a member that stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/common/index.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { coordinate, planRecovery, type CopysetView, type MetaserverView, type Operator } from '../../src/mds/schedule/recovery.ts';

const ms = (id: number, extra: Partial<MetaserverView> = {}): MetaserverView => ({ id, serverId: id, zoneId: id, poolId: 1, copysets: 0, state: OnlineState.ONLINE, ...extra });
const cs = (copysetId: number, members: number[]): CopysetView => ({ poolId: 1, copysetId, epoch: 3, members, replicaNum: 3 });

test('each copyset of a draining metaserver gets a CHANGE_PEER off it, onto a metaserver that is not draining', () => {
  const servers = [ms(1), ms(2), ms(3, { draining: true }), ms(4), ms(5, { draining: true })];
  const ops = planRecovery([cs(1, [1, 2, 3]), cs(2, [2, 4, 1])], servers, [], 0, new SeededRandom(1), { healDelayMs: 0, changePeerTimeoutMs: 1000, removePeerTimeoutMs: 1000, maxOpsPerMetaserver: 5 });
  assert.equal(ops.length, 1, 'copyset 2 has no draining member');
  assert.deepEqual([ops[0]!.copysetId, ops[0]!.type, ops[0]!.oldPeer, ops[0]!.newPeer], [1, 'change_peer', 3, 4]);
});

test('an offline member is replaced before a draining one; draining ones do not block the majority', () => {
  const servers = [ms(1, { state: OnlineState.OFFLINE }), ms(2, { draining: true }), ms(3), ms(4)];
  const ops = planRecovery([cs(1, [1, 2, 3])], servers, [], 0, new SeededRandom(1));
  assert.deepEqual([ops[0]!.oldPeer, ops[0]!.newPeer], [1, 4]);
});

test('no target left (every other metaserver is a member or draining): nothing is planned', () => {
  const ops = planRecovery([cs(1, [1, 2, 3])], [ms(1), ms(2), ms(3, { draining: true }), ms(4, { draining: true })], [], 0, new SeededRandom(1));
  assert.deepEqual(ops, []);
});

test('the leader leaving: TRANSFER_LEADER to a member that stays, then the change once another leads', () => {
  const op: Operator = { poolId: 1, copysetId: 1, type: 'change_peer', oldPeer: 3, newPeer: 4, startEpoch: 3, createdAt: 0, deadline: 1000, prepared: true };
  assert.deepEqual(coordinate(op, { epoch: 3, members: [3, 1, 2], leaderId: 3 }, 10), { kind: 'transfer', to: 1 });
  assert.deepEqual(coordinate(op, { epoch: 3, members: [3, 1, 2], leaderId: 1 }, 10), { kind: 'instruct' });
  // Unknown leader (older callers): as before.
  assert.deepEqual(coordinate(op, { epoch: 3, members: [3, 1, 2] }, 10), { kind: 'instruct' });
});
