// Safety of the core against what a real driver does (issue [G], scenarios 1 and 2; issue [L],
// finding 1): RaftNode sends a leader's traffic while that leader's own log write is still in
// flight, messages arrive late and out of order, and anyone on the network can send a message.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, MessageType, Role, type RaftMessage } from '../../src/raft/index.ts';
import { Cluster, bytes, type TestNode } from './raft-harness.ts';

/** Messages a leader sends before its own write is durable (what RaftNode sends "early"). */
const isLeaderTraffic = (m: RaftMessage) =>
  m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot || m.type === MessageType.TimeoutNow;

/** A single voter (1) with a caught-up learner (2). */
function voterAndLearner(): Cluster {
  const c = new Cluster([1]);
  const l = c.elect(1);
  c.add(2);
  l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 2 });
  c.tickAll(2);
  l.raw.propose(bytes('before'));
  c.tickAll(2);
  assert.deepEqual(c.node(2).applied, ['before']);
  return c;
}

/** Steps leader traffic of `rd` into its targets and lets them (not the sender) process it. */
function sendEarly(c: Cluster, msgs: RaftMessage[]): void {
  for (const m of msgs) if (isLeaderTraffic(m)) c.node(m.to).raw.step(m);
  c.settle();
}

describe("scenario 1: a commit counts the leader's own copy only once it is durable", () => {
  it('single voter + learner: the learner never applies an entry the leader has not made durable', () => {
    const c = voterAndLearner();
    const l = c.node(1);
    const idx = l.raw.propose(bytes('x'));
    // The driver takes the Ready and sends the leader's appends while its fdatasync runs ...
    const rd = l.raw.ready();
    sendEarly(c, rd.messages);
    assert.deepEqual(c.node(2).applied, ['before'], 'the learner applied x before the leader had it on disk');
    assert.ok(c.node(2).raw.status().commit < idx, `the learner learnt commit ${c.node(2).raw.status().commit} >= ${idx}`);
    // The leader crashes before its sync: x is gone; it restarts and writes y in a new term.
    c.crash(1);
    c.restart(1);
    c.elect(1);
    c.node(1).raw.propose(bytes('y'));
    c.tickAll(3);
    assert.deepEqual(c.node(1).applied, ['before', 'y']);
    assert.deepEqual(c.node(2).applied, ['before', 'y'], 'the learner diverged from the leader');
  });

  it('a voter pair: the follower alone acknowledging does not commit while the leader is not durable', () => {
    const c = new Cluster([1, 2]);
    const l = c.elect(1);
    c.settle();
    const idx = l.raw.propose(bytes('x'));
    const rd = l.raw.ready();
    sendEarly(c, rd.messages); // 2 stores x and acknowledges it; the ack is stepped into 1
    assert.ok(l.raw.status().commit < idx, `committed ${l.raw.status().commit} with only one durable copy of 2`);
    // The sync completes: now two of two hold x.
    persistAndAdvance(l, rd);
    assert.equal(l.raw.status().commit, idx);
  });

  it('a new term and its vote are durable before any message of that term leaves', () => {
    const c = voterAndLearner();
    c.crash(1);
    c.restart(1);
    c.settle(); // replays its committed log
    const n = c.node(1);
    const durableTerm = n.store.hardState.term;
    n.raw.campaign();
    // Every Ready until the leader's hard state reaches the disk: nothing of the new term may
    // be sent early (a crash would restart it in the old term, free to win the new one again
    // with a different log).
    const rd = n.raw.ready();
    for (const m of rd.messages) {
      if (isLeaderTraffic(m)) assert.ok(m.term <= durableTerm, `a ${m.type} of term ${m.term} left before term ${m.term} was durable (disk: ${durableTerm})`);
    }
    persistAndAdvance(n, rd);
    c.settle();
    assert.equal(n.raw.role, Role.Leader);
    assert.ok(n.store.hardState.term > durableTerm);
  });
});

function persistAndAdvance(n: TestNode, rd: ReturnType<TestNode['raw']['ready']>): void {
  persistOnly(n, rd);
  n.raw.advance();
}

describe('scenario 2: no lease read is stale with equal tick rates', () => {
  it('a follower in its vote lease keeps it through a delayed higher-term pre-vote rejection', () => {
    // 1 leads term 1 with a lease: 2 just acknowledged its heartbeat. 3 is cut off and at a
    // higher term (it campaigned alone earlier). A pre-vote rejection 3 sent 2 long ago — 3's
    // answer to a pre-vote of 2 before 1 was elected — arrives now.
    const c = new Cluster([1, 2, 3], { readOnlyOption: 'lease' });
    const l = c.elect(1);
    c.tickAll(1);
    // 3, as up to date as 2, is cut off and restarts at the term of an election it lost.
    const n3 = c.node(3);
    c.isolate(3);
    c.crash(3);
    n3.store.hardState = { ...n3.store.hardState, term: 2 };
    c.restart(3);
    c.tickAll(1); // an acknowledged heartbeat round (2 answers): 1's lease starts
    c.cutLink(1, 2); // 1 is now cut off from both; zero ticks pass from here on
    c.node(2).raw.step({
      type: MessageType.PreVoteResp,
      from: 3,
      to: 2,
      term: 2,
      reject: true,
      index: 0,
      logTerm: 0,
      entries: [],
      commit: 0,
      rejectHint: 0,
    });
    c.settle();
    // 3 campaigns (as if its timer fired) and, if it wins with 2, commits a write W.
    c.heal();
    c.cutLink(1, 2);
    c.cutLink(1, 3);
    n3.raw.campaign();
    c.settle();
    let wIndex = 0;
    if (n3.raw.role === Role.Leader) {
      wIndex = n3.raw.propose(bytes('W'));
      c.settle();
      assert.ok(n3.raw.status().commit >= wIndex, 'W should have committed with 2');
    }
    // The old leader, zero ticks later, is asked for a read.
    l.raw.readIndex(bytes('r'));
    c.settle();
    for (const rs of l.readStates) {
      assert.ok(rs.index >= wIndex, `lease read served at index ${rs.index} although W committed at ${wIndex} in term ${n3.raw.term}`);
    }
    assert.equal(c.node(2).raw.term, 1, 'the follower adopted a term from a non-leader message inside its lease');
  });

  it('a follower in its vote lease refuses a vote even at a term it already adopted', () => {
    // 2 follows 1 (term 1) and, as a pre-candidate started by hand, learns term 2 from a
    // rejection: it has no vote and no leader in term 2, but 1's lease still counts on it.
    const c = new Cluster([1, 2, 3], { readOnlyOption: 'lease' });
    c.elect(1);
    c.tickAll(1);
    c.isolate(2);
    const n2 = c.node(2);
    n2.raw.campaign();
    c.settle();
    n2.raw.step({ type: MessageType.PreVoteResp, from: 3, to: 2, term: 2, reject: true, index: 0, logTerm: 0, entries: [], commit: 0, rejectHint: 0 });
    c.settle();
    n2.raw.step({ type: MessageType.Vote, from: 3, to: 2, term: n2.raw.term, index: 99, logTerm: 99, entries: [], commit: 0, reject: false, rejectHint: 0 });
    const rd = n2.raw.ready();
    const grant = rd.messages.find((m) => m.type === MessageType.VoteResp && !m.reject);
    assert.equal(grant, undefined, `granted a vote in term ${n2.raw.term} inside the old leader's lease`);
  });
});

describe('[L] finding 1: messages only from members', () => {
  it('a forged Heartbeat from an unknown node with a huge term changes no term and deposes no leader', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.tickAll(1);
    const terms = [1, 2, 3].map((id) => c.node(id).raw.term);
    const huge = Number.MAX_SAFE_INTEGER;
    for (const to of [1, 2, 3]) {
      c.node(to).raw.step({ type: MessageType.Heartbeat, from: 99, to, term: huge, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
      c.node(to).raw.step({ type: MessageType.Append, from: 99, to, term: huge, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
      c.node(to).raw.step({ type: MessageType.Vote, from: 99, to, term: huge, index: huge, logTerm: huge, entries: [], commit: 0, reject: false, rejectHint: 0 });
    }
    c.settle();
    assert.deepEqual([1, 2, 3].map((id) => c.node(id).raw.term), terms);
    assert.equal(l.raw.role, Role.Leader);
    assert.equal(c.node(2).raw.leader, 1);
    assert.ok(c.node(1).raw.status().droppedFromNonMembers >= 3);
    assert.ok(!c.delivered.some((m) => m.to === 99), 'answered a non-member');
  });

  it('a member that lagged behind membership changes follows a leader its log does not name yet', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.add(4);
    c.isolate(3);
    l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 });
    c.tickAll(2);
    l.raw.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 4 });
    c.tickAll(2);
    l.raw.transferLeader(4);
    c.tickAll(2);
    const n4 = c.node(4);
    assert.equal(n4.raw.role, Role.Leader);
    n4.raw.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 });
    c.tickAll(2);
    n4.raw.propose(bytes('late'));
    c.tickAll(2);
    assert.deepEqual(n4.raw.status().conf, { voters: [2, 3, 4], learners: [] });
    // 3 knows only {1, 2, 3}: 4 is a stranger to it, but 3 has heard no leader for a long time.
    assert.deepEqual(c.node(3).raw.status().conf.voters, [1, 2, 3]);
    c.heal();
    c.isolate(1);
    c.tickAll(12);
    assert.deepEqual(c.node(3).applied, c.node(4).applied);
    assert.ok(c.node(3).applied.includes('late'));
  });

  it('a replica joining with an empty configuration accepts the leader, then only members', () => {
    const c = new Cluster([1]);
    const l = c.elect(1);
    c.add(2);
    l.raw.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 2 });
    l.raw.propose(bytes('a'));
    c.tickAll(3);
    assert.deepEqual(c.node(2).applied, ['a']);
    const t = c.node(2).raw.term;
    c.node(2).raw.step({ type: MessageType.Heartbeat, from: 99, to: 2, term: t + 5, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    assert.equal(c.node(2).raw.term, t);
  });
});

/** Writes what `rd` handed out into `n`'s store (what the driver's write makes durable). */
function persistOnly(n: TestNode, rd: ReturnType<TestNode['raw']['ready']>): void {
  const s = n.store;
  if (rd.entries.length > 0) {
    const first = rd.entries[0]!.index;
    s.entries = s.entries.filter((e) => e.index < first).concat(rd.entries);
  }
  if (rd.hardState) s.hardState = { ...rd.hardState };
}

describe("asynchronous storage writes (advanceWriting / written): the leader's write runs while the next Readies are handed out", () => {
  it('three voters: the followers commit x while the leader writes; the leader applies it, counts its own copy only from written(), and a crash before that loses nothing', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.settle();
    const idx = l.raw.propose(bytes('x'));
    const rd = l.raw.ready();
    assert.equal(rd.entries.at(-1)?.index, idx);
    l.raw.advanceWriting(); // its write of x runs from here on
    sendEarly(c, rd.messages); // the followers store x and acknowledge; the leader's Readies meanwhile are handled by the harness
    assert.equal(l.raw.status().commit, idx, 'the two followers did not commit x while the leader wrote');
    assert.deepEqual(l.applied, ['x'], 'the leader did not apply x while its write ran');
    const self = l.raw.status().progress!.find((p) => p.id === 1)!;
    assert.ok(self.match < idx, `the leader counted its own copy of x (match ${self.match}) before written()`);
    assert.ok(!l.store.entries.some((e) => e.index === idx), 'the harness wrote x for the leader');
    // The leader dies before its write is durable: the followers elect one of them, x survives.
    c.crash(1);
    c.tickAll(30); // their vote leases run out; one of them wins
    c.leader().raw.propose(bytes('y'));
    c.settle();
    for (const id of [2, 3]) assert.deepEqual(c.node(id).applied, ['x', 'y'], `node ${id}`);
    c.restart(1);
    c.tickAll(3);
    assert.deepEqual(c.node(1).applied.slice(-2), ['x', 'y'], 'the restarted leader did not get x back');
  });

  it('while a write runs, a Ready holds no entries, no hard state and no acknowledgement: those leave after written()', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.settle();
    const l = c.node(1);
    const f = c.node(2);
    c.filter = (m) => m.to !== 2; // the test delivers to 2 by hand
    l.raw.propose(bytes('a'));
    c.settle();
    // 2 receives a's Append, hands out its write, and starts it without finishing.
    const appendA = l.raw.status().lastIndex;
    f.raw.step({ type: MessageType.Append, from: 1, to: 2, term: l.raw.term, index: appendA - 1, logTerm: l.raw.term, entries: [c.node(3).store.entries.find((e) => e.index === appendA)!], commit: l.raw.status().commit, reject: false, rejectHint: 0 });
    const rd1 = f.raw.ready();
    assert.equal(rd1.entries.length, 1);
    assert.ok(rd1.messages.some((m) => m.type === MessageType.AppendResp), 'the acknowledgement is in the Ready that writes');
    f.raw.advanceWriting();
    // A heartbeat arrives while the write runs: its answer waits for the disk as well.
    f.raw.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: l.raw.term, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    assert.ok(!f.raw.hasReady(), 'a Ready for a follower answer while its write runs');
    persistOnly(f, rd1);
    f.raw.written();
    assert.ok(f.raw.hasReady());
    const rd2 = f.raw.ready();
    assert.ok(rd2.messages.some((m) => m.type === MessageType.HeartbeatResp), 'the held answer leaves after the write');
    f.raw.advance();
  });

  it('single voter + learner: nothing commits while its write runs, and no append carries a commit beyond the disk', () => {
    const c = voterAndLearner();
    const l = c.node(1);
    const idx = l.raw.propose(bytes('x'));
    const rd = l.raw.ready();
    l.raw.advanceWriting();
    sendEarly(c, rd.messages);
    c.tickAll(3); // heartbeats while the write runs
    assert.ok(l.raw.status().commit < idx, 'committed x with its only voter not durable');
    for (const m of c.delivered) if (m.to === 2) assert.ok(m.commit < idx, `a ${m.type} told the learner commit ${m.commit}`);
    assert.deepEqual(c.node(2).applied, ['before']);
    persistOnly(l, rd);
    l.raw.written();
    c.settle();
    assert.equal(l.raw.status().commit, idx);
    assert.deepEqual(c.node(2).applied, ['before', 'x']);
  });
});
