// The coordinator while a CHANGE_PEER runs as several committed steps on the leader (learner,
// promotion, removal): each step raises the copyset's epoch, which must not fail the operator
// while the leader reports the change as running; once it stops running, a higher epoch without
// the planned membership means the change went another way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coordinate, type Operator } from '../../src/mds/schedule/recovery.ts';

const op = (): Operator => ({ poolId: 1, copysetId: 7, type: 'change_peer', oldPeer: 3, newPeer: 4, startEpoch: 5, createdAt: 0, deadline: 1000, prepared: true, instructed: true });

test('epochs raised by the running change itself keep the operator waiting', () => {
  const o = op();
  // Learner added (epoch 6), promoted (epoch 7): voters still hold the dead member.
  assert.equal(coordinate(o, { epoch: 6, members: [1, 2, 3], change: { peer: 4, finished: false } }, 10).kind, 'wait');
  assert.equal(coordinate(o, { epoch: 7, members: [1, 2, 3, 4], change: { peer: 4, finished: false } }, 10).kind, 'wait');
  // Dead member removed (epoch 8): done, whatever the change report says.
  assert.equal(coordinate(o, { epoch: 8, members: [1, 2, 4], change: { peer: 4, finished: false } }, 10).kind, 'done');
  assert.equal(coordinate(o, { epoch: 8, members: [1, 2, 4], change: { peer: 4, finished: true } }, 10).kind, 'done');
});

test('a raised epoch fails the operator once no change of ours runs', () => {
  const o = op();
  // The change stopped half-way (learner added, then an error): the planner starts over.
  assert.equal(coordinate(o, { epoch: 6, members: [1, 2, 3], change: { peer: 4, finished: true, error: 'TIMEOUT' } }, 10).kind, 'failed');
  // A new leader that knows nothing of the change.
  assert.equal(coordinate(o, { epoch: 6, members: [1, 2, 3] }, 10).kind, 'failed');
  // A change about another peer does not hold the operator.
  assert.equal(coordinate(o, { epoch: 6, members: [1, 2, 3], change: { peer: 9, finished: false } }, 10).kind, 'failed');
  // Past the time limit even a running change fails.
  assert.equal(coordinate(o, { epoch: 6, members: [1, 2, 3], change: { peer: 4, finished: false } }, 1001).kind, 'failed');
});
