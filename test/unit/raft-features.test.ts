// Membership change, leadership transfer, ReadIndex / lease reads, snapshots and flow control.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isCurveError, StatusCode } from '../../src/common/index.ts';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NotLeaderError,
  Role,
  decodeConfChangeEntry,
  encodeConfChangeEntry,
  type NodeId,
  type RestartState,
} from '../../src/raft/index.ts';
import { Cluster, bytes, logStart } from './raft-harness.ts';

describe('membership change (single-server, effective on append)', () => {
  it('adds a learner, promotes it, and the new voter counts toward quorum', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    l.raw.propose(bytes('before'));
    c.settle();
    c.add(4);
    l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 });
    c.tickAll(2);
    assert.deepEqual(l.raw.status().conf, { voters: [1, 2, 3], learners: [4] });
    assert.deepEqual(c.node(4).applied, ['before']);
    assert.equal(c.node(4).raw.role, Role.Follower);
    l.raw.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 4 });
    c.settle();
    assert.deepEqual(c.node(4).raw.status().conf, { voters: [1, 2, 3, 4], learners: [] });
    // With 4 voters the quorum is 3: leader + 4 + one more.
    c.isolate(2);
    c.isolate(3);
    const idx = l.raw.propose(bytes('needs3'));
    c.settle();
    assert.ok(l.raw.status().commit < idx);
    c.heal();
    c.tickAll(2);
    assert.ok(l.raw.status().commit >= idx);
  });

  it('a learner never campaigns', () => {
    const c = new Cluster([1, 2]);
    const l = c.elect(1);
    c.add(3);
    l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 3 });
    c.tickAll(2);
    c.isolate(3);
    c.tickAll(100);
    assert.equal(c.node(3).raw.role, Role.Follower);
  });

  it('refuses a second change while one is uncommitted (BUSY), and before the no-op commits', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(2);
    c.isolate(3);
    l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 });
    assert.throws(
      () => l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 5 }),
      (e) => isCurveError(e, StatusCode.BUSY),
    );
    // A new leader may not change membership until its no-op commits.
    const c2 = new Cluster([1, 2, 3]);
    c2.filter = (m) => m.type !== MessageType.AppendResp;
    c2.elect(1);
    assert.throws(
      () => c2.node(1).raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 }),
      (e) => isCurveError(e, StatusCode.BUSY),
    );
  });

  it('rejects invalid changes with PARAM_ERROR and changes nothing', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    const last = l.raw.status().lastIndex;
    for (const cc of [
      { type: ConfChangeType.AddVoter, nodeId: 2 },
      { type: ConfChangeType.RemoveNode, nodeId: 9 },
      { type: ConfChangeType.AddLearner, nodeId: 3 },
      { type: ConfChangeType.AddVoter, nodeId: 0 },
      { type: ConfChangeType.AddVoter, nodeId: 1.5 },
    ]) {
      assert.throws(() => l.raw.proposeConfChange(cc), (e) => isCurveError(e, StatusCode.PARAM_ERROR));
    }
    assert.equal(l.raw.status().lastIndex, last);
    const single = new Cluster([1]);
    single.elect(1);
    assert.throws(
      () => single.node(1).raw.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 }),
      (e) => isCurveError(e, StatusCode.PARAM_ERROR),
    );
  });

  it('removes a follower; the rest keep committing without it', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    l.raw.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 3 });
    c.settle();
    c.crash(3);
    assert.deepEqual(l.raw.status().conf.voters, [1, 2]);
    l.raw.propose(bytes('x'));
    c.settle();
    assert.deepEqual(c.node(2).applied, ['x']);
  });

  it('removes the leader: it hands over and steps down once the removal commits', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    l.raw.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 });
    c.settle();
    assert.equal(l.raw.role, Role.Follower);
    c.tickAll(30);
    const nl = c.leader();
    assert.notEqual(nl.id, 1);
    assert.deepEqual(nl.raw.status().conf.voters, [2, 3]);
    nl.raw.propose(bytes('after'));
    c.settle();
    assert.deepEqual(c.node(2).applied, ['after']);
    assert.deepEqual(c.node(3).applied, ['after']);
  });

  it('a leader removed by an uncommitted entry can still campaign and finish the change', () => {
    // 1 appends its own removal, loses contact and steps down (check-quorum). 2 alone cannot win:
    // under the old configuration it needs 1's vote, and 1's log is longer. 1 is out of its
    // latest configuration but must still campaign (dissertation §4.2.2), not counting itself.
    const c = new Cluster([1, 2]);
    const l = c.elect(1);
    c.isolate(2);
    l.raw.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 });
    c.tick(1, 20);
    assert.equal(l.raw.role, Role.Follower);
    c.heal();
    c.tickAll(60);
    assert.equal(c.leader().id, 2);
    assert.deepEqual(c.node(2).raw.status().conf, { voters: [2], learners: [] });
  });

  it('replaces a member: add learner, promote, remove the old one', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.add(4);
    for (const cc of [
      { type: ConfChangeType.AddLearner, nodeId: 4 },
      { type: ConfChangeType.AddVoter, nodeId: 4 },
      { type: ConfChangeType.RemoveNode, nodeId: 3 },
    ]) {
      l.raw.proposeConfChange(cc);
      c.tickAll(2);
    }
    for (const id of [1, 2, 4]) assert.deepEqual(c.node(id).raw.status().conf, { voters: [1, 2, 4], learners: [] });
  });

  it('an uncommitted membership change is reverted when its entry is truncated', () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    const l = c.elect(1);
    for (const id of [3, 4, 5]) c.cutLink(1, id);
    l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 6 });
    c.settle();
    assert.deepEqual(c.node(2).raw.status().conf.learners, [6], 'effective on append, before commit');
    assert.ok(l.raw.status().commit < l.raw.status().lastIndex);
    // 3, 4, 5 elect a leader without the entry; 2 then truncates it and reverts.
    c.isolate(1);
    c.isolate(2);
    c.tickAll(40);
    const nl = c.leader();
    assert.ok([3, 4, 5].includes(nl.id));
    c.heal();
    c.isolate(1);
    nl.raw.propose(bytes('y'));
    c.tickAll(2);
    assert.deepEqual(c.node(2).raw.status().conf, { voters: [1, 2, 3, 4, 5], learners: [] });
    assert.deepEqual(c.node(2).applied, ['y']);
  });

  it('conf change entries round-trip and malformed ones are refused', () => {
    const e = {
      change: { type: ConfChangeType.AddVoter, nodeId: 2 ** 40, context: bytes('10.0.0.1:8200') },
      conf: { voters: [1, 2 ** 40], learners: [7] },
    };
    const data = encodeConfChangeEntry(e);
    assert.deepEqual(decodeConfChangeEntry(data), e);
    for (const bad of [data.slice(0, data.length - 1), new Uint8Array([...data, 0]), new Uint8Array([2, ...data.slice(1)]), new Uint8Array(0)]) {
      assert.throws(() => decodeConfChangeEntry(bad), (err) => isCurveError(err, StatusCode.PARAM_ERROR));
    }
  });

  it('a joining node learns the membership from the log even with an empty start conf', () => {
    const c = new Cluster([1]);
    const l = c.elect(1);
    c.add(2);
    l.raw.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 2 });
    c.tickAll(3);
    assert.deepEqual(c.node(2).raw.status().conf.voters, [1, 2]);
    const ccEntry = [...c.node(2).appliedEntries.values()].find((x) => x.type === EntryType.ConfChange)!;
    assert.equal(decodeConfChangeEntry(ccEntry.data).change.nodeId, 2);
  });
});

describe('leadership transfer (§3.10 of the dissertation)', () => {
  it('transfers to an up-to-date follower with TimeoutNow', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    const t = l.raw.term;
    l.raw.transferLeader(2);
    c.settle();
    assert.equal(c.leader().id, 2);
    assert.equal(c.node(2).raw.term, t + 1);
  });

  it('catches a lagging target up first, and refuses proposals meanwhile', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) l.raw.propose(bytes(`p${i}`));
    c.settle();
    l.raw.transferLeader(3);
    assert.throws(
      () => l.raw.propose(bytes('during')),
      (e) => e instanceof NotLeaderError && e.leaderId === 3,
    );
    c.heal();
    c.tickAll(1);
    assert.equal(c.leader().id, 3);
    assert.deepEqual(c.node(3).applied, ['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('abandons a transfer that does not finish within an election timeout', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    l.raw.transferLeader(3);
    c.tick(1, 10);
    assert.equal(l.raw.status().leadTransferee, 0);
    l.raw.propose(bytes('ok'));
  });

  it('refuses a non-voter target', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    assert.throws(() => l.raw.transferLeader(9), (e) => isCurveError(e, StatusCode.PARAM_ERROR));
    assert.throws(() => c.node(2).raw.transferLeader(3), NotLeaderError);
  });
});

describe('ReadIndex (§6.4 of the dissertation)', () => {
  it('safe: the read is released after a quorum answers the heartbeat, at the commit index', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    l.raw.propose(bytes('w'));
    c.settle();
    const commit = l.raw.status().commit;
    c.delivered = [];
    l.raw.readIndex(bytes('r1'));
    c.settle();
    assert.deepEqual(l.readStates, [{ index: commit, requestCtx: bytes('r1') }]);
    assert.ok(c.delivered.some((m) => m.type === MessageType.HeartbeatResp && m.context?.length));
  });

  it('safe: a leader cut off from the quorum never answers', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(1);
    l.raw.readIndex(bytes('r'));
    c.settle();
    assert.equal(l.readStates.length, 0);
  });

  it('waits for the no-op of the term to commit before answering', () => {
    const c = new Cluster([1, 2, 3]);
    c.filter = (m) => m.type !== MessageType.AppendResp;
    const l = c.elect(1);
    l.raw.readIndex(bytes('early'));
    c.settle();
    assert.equal(l.readStates.length, 0);
    c.filter = undefined;
    c.tickAll(2);
    assert.equal(l.readStates.length, 1);
    assert.equal(l.readStates[0]!.index, l.raw.status().commit);
  });

  it('lease: answers at once while the lease holds, with a heartbeat round once it lapses', () => {
    const c = new Cluster([1, 2, 3], { readOnlyOption: 'lease' });
    const l = c.elect(1);
    c.tickAll(1); // one acknowledged heartbeat round starts the lease
    c.delivered = [];
    l.raw.readIndex(bytes('fast'));
    c.settle();
    assert.equal(l.readStates.length, 1);
    assert.ok(!c.delivered.some((m) => m.type === MessageType.Heartbeat));
    // The last acknowledged heartbeat was sent at tick 1; the lease covers electionTick − 4 ticks
    // (followers' vote lease, electionTick − 2, less two ticks of phase and delivery).
    c.isolate(1);
    c.tick(1, 6);
    l.raw.readIndex(bytes('edge'));
    c.settle();
    assert.equal(l.readStates.length, 2, 'still within the lease');
    c.tick(1, 1);
    l.raw.readIndex(bytes('slow'));
    c.settle();
    assert.equal(l.readStates.length, 2, 'lease lapsed: the read waits for a quorum');
  });

  it('lease: a restarted replica refuses votes for one election timeout', () => {
    // It may have acknowledged the leader's heartbeat just before crashing: the leader's lease
    // counts on that promise.
    const c = new Cluster([1, 2, 3], { readOnlyOption: 'lease' });
    c.elect(1);
    c.tickAll(1);
    c.isolate(1);
    c.crash(2);
    c.restart(2);
    c.elect(3);
    assert.equal(c.leaders().filter((n) => n.id !== 1).length, 0, 'no vote from the restarted replica');
    c.tick(2, 8); // one vote lease: electionTick − 2
    c.elect(3);
    assert.equal(c.node(3).raw.role, Role.Leader);
  });

  it('lease: void for the rest of the term once TimeoutNow was sent', () => {
    const c = new Cluster([1, 2, 3], { readOnlyOption: 'lease' });
    const l = c.elect(1);
    c.tickAll(1);
    c.cutLink(1, 2);
    l.raw.transferLeader(2); // TimeoutNow lost
    c.tick(1, 10); // transfer abandoned
    assert.equal(l.raw.status().leadTransferee, 0);
    c.heal();
    c.tickAll(1);
    c.delivered = [];
    l.raw.readIndex(bytes('after-transfer'));
    c.settle();
    assert.equal(l.readStates.length, 1);
    assert.ok(c.delivered.some((m) => m.type === MessageType.Heartbeat && m.context?.length), 'confirmed by a quorum');
  });

  it('a follower refuses reads with NOT_LEADER', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    assert.throws(() => c.node(2).raw.readIndex(bytes('x')), (e) => e instanceof NotLeaderError && e.leaderId === 1);
  });

  it('lease requires check-quorum', () => {
    assert.throws(() => new Cluster([1], { readOnlyOption: 'lease', checkQuorum: false }), (e) =>
      isCurveError(e, StatusCode.PARAM_ERROR),
    );
  });

  it('the vote lease (electionTick − 2) must outlast the heartbeat interval, the read lease a tick', () => {
    const bad = (e: unknown) => isCurveError(e, StatusCode.PARAM_ERROR);
    assert.throws(() => new Cluster([1], { electionTick: 4, heartbeatTick: 2 }), bad);
    assert.doesNotThrow(() => new Cluster([1], { electionTick: 5, heartbeatTick: 2 }));
    assert.throws(() => new Cluster([1], { electionTick: 4, readOnlyOption: 'lease' }), bad);
    assert.doesNotThrow(() => new Cluster([1], { electionTick: 5, readOnlyOption: 'lease' }));
  });
});

describe('snapshots and compaction', () => {
  it('a follower behind the compaction point receives the snapshot and catches up', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) l.raw.propose(bytes(`s${i}`));
    c.settle();
    l.takeSnapshot();
    assert.equal(l.raw.status().firstIndex, l.raw.status().commit + 1);
    c.heal();
    c.delivered = [];
    c.tickAll(3);
    assert.ok(c.delivered.some((m) => m.type === MessageType.Snapshot));
    l.raw.propose(bytes('after'));
    c.settle();
    assert.deepEqual(c.node(3).applied, [...Array.from({ length: 10 }, (_, i) => `s${i}`), 'after']);
    assert.equal(c.node(3).store.snapshot.meta.index, l.store.snapshot.meta.index);
  });

  it('a failed snapshot send is retried', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 3; i++) l.raw.propose(bytes(`s${i}`));
    c.settle();
    l.takeSnapshot();
    c.heal();
    let drop = true;
    c.filter = (m) => {
      if (m.type === MessageType.Snapshot && drop) {
        drop = false;
        l.raw.reportSnapshot(m.to, false);
        return false;
      }
      return true;
    };
    c.tickAll(4);
    assert.deepEqual(c.node(3).applied, ['s0', 's1', 's2']);
  });

  it('compact keeps a margin of entries when asked', () => {
    const c = new Cluster([1]);
    const l = c.elect(1);
    for (let i = 0; i < 10; i++) l.raw.propose(bytes(`x${i}`));
    c.settle();
    const applied = l.appliedIndex;
    l.takeSnapshot(applied - 4);
    assert.equal(l.raw.status().firstIndex, applied - 3);
    assert.throws(() => l.raw.compact(applied + 1), (e) => isCurveError(e, StatusCode.PARAM_ERROR));
  });

  it('a restart from a snapshot plus log resumes where it stopped', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    for (let i = 0; i < 5; i++) l.raw.propose(bytes(`a${i}`));
    c.settle();
    c.node(2).takeSnapshot();
    l.raw.propose(bytes('b'));
    c.settle();
    c.crash(2);
    c.restart(2);
    c.settle();
    assert.deepEqual(c.node(2).applied, ['a0', 'a1', 'a2', 'a3', 'a4', 'b']);
  });
});

describe('flow control', () => {
  it('bounds appends in flight per follower by count', () => {
    const c = new Cluster([1, 2], { maxInflightMsgs: 2, maxSizePerMsg: 1 });
    const l = c.elect(1);
    c.settle();
    c.filter = (m) => m.type !== MessageType.AppendResp;
    c.delivered = [];
    for (let i = 0; i < 10; i++) l.raw.propose(bytes(`f${i}`));
    c.settle();
    const appends = c.delivered.filter((m) => m.type === MessageType.Append && m.entries.length > 0);
    assert.equal(appends.length, 2);
    c.filter = undefined;
    c.tickAll(12);
    assert.equal(c.node(2).applied.length, 10);
  });

  it('bounds appends in flight per follower by bytes', () => {
    const c = new Cluster([1, 2], { maxInflightBytes: 200, maxSizePerMsg: 1 });
    const l = c.elect(1);
    c.settle();
    c.filter = (m) => m.type !== MessageType.AppendResp;
    c.delivered = [];
    for (let i = 0; i < 10; i++) l.raw.propose(new Uint8Array(100).fill(i + 1));
    c.settle();
    const appends = c.delivered.filter((m) => m.type === MessageType.Append && m.entries.length > 0);
    assert.equal(appends.length, 2);
  });

  it('batches proposals made between two Readies into one append per follower', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.delivered = [];
    for (let i = 0; i < 50; i++) l.raw.propose(bytes(`b${i}`));
    c.settle();
    const appends = c.delivered.filter((m) => m.type === MessageType.Append && m.entries.length > 0);
    assert.equal(appends.length, 2);
    assert.equal(appends[0]!.entries.length, 50);
  });

  it('a restart state with a gap is refused with PARAM_ERROR', () => {
    const s: RestartState = logStart([1], [1, 1, 1], 1);
    s.entries.splice(1, 1);
    assert.throws(() => new Cluster([1], {}, new Map<NodeId, RestartState>([[1, s]])), (e) =>
      isCurveError(e, StatusCode.PARAM_ERROR),
    );
  });
});
