// The Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm"),
// section by section, against the pure core driven by the in-memory harness.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isCurveError, StatusCode } from '../../src/common/index.ts';
import { MessageType, NotLeaderError, Role, type NodeId, type RaftMessage, type RestartState } from '../../src/raft/index.ts';
import { Cluster, bytes, logStart } from './raft-harness.ts';

const noPreVote = { preVote: false, checkQuorum: false };

function msg(m: Partial<RaftMessage> & { type: MessageType; from: NodeId; to: NodeId; term: number }): RaftMessage {
  return { index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m };
}

describe('§5.2 leader election', () => {
  it('a follower that hears nothing becomes candidate, wins, and the others follow', () => {
    const c = new Cluster([1, 2, 3]);
    c.tickAll(25);
    const l = c.leader();
    for (const n of c.nodes.values()) {
      assert.equal(n.raw.status().term, l.raw.status().term);
      assert.equal(n.raw.leader, l.id);
    }
  });

  it('election timeouts are randomized within [electionTick, 2*electionTick)', () => {
    const c = new Cluster([1], { electionTick: 10 });
    let ticks = 0;
    while (c.node(1).raw.role !== Role.Leader) {
      c.tick(1);
      ticks++;
    }
    assert.ok(ticks >= 10 && ticks < 20, `single node elected after ${ticks} ticks`);
  });

  it('election safety: a voter grants at most one vote per term', () => {
    const c = new Cluster([1, 2, 3], noPreVote);
    const n = c.node(3).raw;
    n.step(msg({ type: MessageType.Vote, from: 1, to: 3, term: 5 }));
    n.step(msg({ type: MessageType.Vote, from: 2, to: 3, term: 5 }));
    const rd = n.ready();
    const resps = rd.messages.filter((m) => m.type === MessageType.VoteResp);
    assert.deepEqual(
      resps.map((m) => [m.to, m.reject]),
      [
        [1, false],
        [2, true],
      ],
    );
    assert.equal(rd.hardState?.vote, 1);
    assert.equal(rd.mustSync, true);
  });

  it('a candidate steps down when a leader of its term appears', () => {
    const c = new Cluster([1, 2, 3], noPreVote);
    c.isolate(1);
    c.elect(1);
    assert.equal(c.node(1).raw.role, Role.Candidate);
    const t = c.node(1).raw.term;
    c.node(1).raw.step(msg({ type: MessageType.Heartbeat, from: 2, to: 1, term: t }));
    assert.equal(c.node(1).raw.role, Role.Follower);
    assert.equal(c.node(1).raw.leader, 2);
  });

  it('split votes lead to a new election in a higher term', () => {
    const c = new Cluster([1, 2, 3, 4], noPreVote);
    c.cutLink(1, 3);
    c.cutLink(1, 4);
    c.cutLink(2, 3);
    c.cutLink(2, 4);
    // 1 and 2 vote for 1; 3 and 4 vote for 3: nobody reaches 3 of 4.
    c.node(1).raw.campaign();
    c.node(3).raw.campaign();
    c.settle();
    assert.equal(c.leaders().length, 0);
    c.heal();
    c.tickAll(40);
    assert.equal(c.leaders().length, 1);
    assert.ok(c.leader().raw.term >= 2);
  });
});

describe('§5.3 log replication', () => {
  it('commits a proposal once a majority stores it, and every node applies it in order', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    for (let i = 0; i < 5; i++) l.raw.propose(bytes(`cmd${i}`));
    c.settle();
    for (const n of c.nodes.values()) assert.deepEqual(n.applied, ['cmd0', 'cmd1', 'cmd2', 'cmd3', 'cmd4']);
  });

  it('commits with a minority down, not with a majority down', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    const idx = l.raw.propose(bytes('a'));
    c.settle();
    assert.equal(l.raw.status().commit, idx);
    c.isolate(2);
    const idx2 = l.raw.propose(bytes('b'));
    c.settle();
    assert.equal(l.raw.status().commit, idx);
    c.heal();
    c.tickAll(2);
    assert.equal(l.raw.status().commit, idx2);
    for (const n of c.nodes.values()) assert.deepEqual(n.applied, ['a', 'b']);
  });

  it('leader append-only: a leader never overwrites or deletes its entries', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    l.raw.propose(bytes('x'));
    c.settle();
    const before = l.logTerms();
    const t = l.raw.term;
    l.raw.step(
      msg({
        type: MessageType.Append,
        from: 2,
        to: 1,
        term: t,
        index: 0,
        logTerm: 0,
        entries: [{ index: 1, term: t, type: 0, data: bytes('evil') }],
      }),
    );
    c.settle();
    assert.equal(l.logTerms(), before);
    assert.equal(l.raw.role, Role.Leader);
  });

  it('log matching (figure 7): every follower ends with exactly the leader log', () => {
    // Figure 7: leader for term 8; followers (a)-(f) with missing and extraneous entries.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6], // a
      [1, 1, 1, 4], // b
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // c
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // d
      [1, 1, 1, 4, 4, 4, 4], // e
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // f
    ];
    for (const f of followers) {
      const starts = new Map<NodeId, RestartState>([
        [1, logStart([1, 2, 3], leaderLog, 7)],
        [2, logStart([1, 2, 3], f, 7)],
        [3, logStart([1, 2, 3], leaderLog, 7)],
      ]);
      const c = new Cluster([1, 2, 3], noPreVote, starts);
      c.cutLink(1, 2); // 1 wins with 3's vote only, whatever 2's log holds
      c.elect(1);
      assert.equal(c.node(1).raw.role, Role.Leader);
      assert.equal(c.node(1).raw.term, 8);
      c.heal();
      c.node(1).raw.propose(bytes('p'));
      c.tickAll(2); // the heartbeat answer resumes the probe the cut link swallowed
      assert.equal(c.node(2).logTerms(), c.node(1).logTerms(), `follower ${JSON.stringify(f)}`);
      assert.equal(c.node(2).raw.status().commit, 12);
    }
  });

  it('a follower rejects an append whose previous entry does not match', () => {
    const c = new Cluster([1, 2], noPreVote, new Map([[2, logStart([1, 2], [1, 1], 2)]]));
    const n = c.node(2).raw;
    n.step(msg({ type: MessageType.Append, from: 1, to: 2, term: 2, index: 2, logTerm: 2, entries: [] }));
    const resp = n.ready().messages.find((m) => m.type === MessageType.AppendResp)!;
    assert.equal(resp.reject, true);
    assert.equal(resp.index, 2);
    assert.equal(resp.rejectHint, 2);
    assert.equal(resp.logTerm, 1);
  });
});

describe('§5.4 safety', () => {
  it('leader completeness: a candidate with a stale log cannot win (§5.4.1)', () => {
    const starts = new Map<NodeId, RestartState>([
      [1, logStart([1, 2, 3], [1], 2)],
      [2, logStart([1, 2, 3], [1, 2], 2)],
      [3, logStart([1, 2, 3], [1, 2], 2)],
    ]);
    const c = new Cluster([1, 2, 3], noPreVote, starts);
    c.elect(1);
    assert.notEqual(c.node(1).raw.role, Role.Leader);
    c.elect(2);
    assert.equal(c.node(2).raw.role, Role.Leader);
  });

  it('figure 8: a leader does not commit an old-term entry by counting replicas (§5.4.2)', () => {
    // S1 led term 2 and stored entry 2 (term 2) on S1, S2; S5 led term 3 and stored entry 2
    // (term 3) on itself only. S1 now wins term 4 with S2, S3.
    const voters = [1, 2, 3, 4, 5];
    const starts = new Map<NodeId, RestartState>([
      [1, logStart(voters, [1, 2], 3, 1)],
      [2, logStart(voters, [1, 2], 3, 1)],
      [3, logStart(voters, [1], 3, 1)],
      [4, logStart(voters, [1], 3, 1)],
      [5, logStart(voters, [1, 3], 3, 1)],
    ]);
    // One entry per message, so entry 2 and the term-4 no-op travel separately.
    const c = new Cluster(voters, { ...noPreVote, maxSizePerMsg: 1 }, starts);
    c.isolate(4);
    c.isolate(5);
    // Strip the term-4 no-op from every append for now.
    c.filter = (m) => {
      if (m.type === MessageType.Append) m.entries = m.entries.filter((e) => e.term !== 4);
      return true;
    };
    c.elect(1);
    const l = c.node(1);
    assert.equal(l.raw.role, Role.Leader);
    assert.equal(l.raw.term, 4);
    assert.equal(c.node(3).logTerms(), '1:1 2:2');
    // Entry 2 is on S1, S2, S3: a majority of 5, but of term 2. It must stay uncommitted.
    assert.equal(l.raw.status().commit, 1);
    // S1 crashes now: S5 (last term 3) may still win with S2, S3, S4 and overwrite entry 2.
    // Had S1 committed entry 2, that would lose a committed entry.
    c.crash(1);
    c.heal();
    c.filter = undefined;
    c.elect(5); // term 4: S2 and S3 already voted for S1
    c.elect(5); // term 5: S2, S3, S4 vote for S5, whose last log term (3) beats theirs (2)
    assert.equal(c.node(5).raw.role, Role.Leader);
    c.settle();
    assert.equal(c.node(3).logTerms().split(' ')[1], '2:3');
    for (const n of [2, 3, 4, 5]) assert.equal(c.node(n).appliedEntries.get(2)?.term, 3);
  });

  it('figure 8: once an entry of the current term commits, earlier entries commit with it', () => {
    const voters = [1, 2, 3, 4, 5];
    const starts = new Map<NodeId, RestartState>([
      [1, logStart(voters, [1, 2], 3, 1)],
      [2, logStart(voters, [1, 2], 3, 1)],
      [3, logStart(voters, [1], 3, 1)],
      [4, logStart(voters, [1], 3, 1)],
      [5, logStart(voters, [1, 3], 3, 1)],
    ]);
    const c = new Cluster(voters, noPreVote, starts);
    c.isolate(4);
    c.isolate(5);
    c.elect(1);
    c.settle();
    assert.equal(c.node(1).raw.status().commit, 3); // entry 2 (term 2) and the term-4 no-op
  });

  it('state machine safety: every node applies the same entry at each index', () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    let l = c.elect(1);
    for (let i = 0; i < 10; i++) l.raw.propose(bytes(`a${i}`));
    c.settle();
    c.isolate(1);
    l.raw.propose(bytes('lost'));
    c.settle();
    c.tickAll(30);
    l = c.leaders().find((n) => n.id !== 1)!;
    for (let i = 0; i < 5; i++) l.raw.propose(bytes(`b${i}`));
    c.settle();
    c.heal();
    c.tickAll(30);
    const ref = c.node(2).appliedEntries;
    for (const n of c.nodes.values()) {
      for (const [idx, e] of n.appliedEntries) {
        assert.equal(e.term, ref.get(idx)!.term, `node ${n.id} index ${idx}`);
        assert.deepEqual(e.data, ref.get(idx)!.data);
      }
    }
    assert.ok(!c.node(1).applied.includes('lost'));
    assert.deepEqual(c.node(1).applied, c.node(2).applied);
  });
});

describe('pre-vote and check-quorum (§9.6)', () => {
  it('a partitioned node rejoining does not disrupt the leader (pre-vote)', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    const term = l.raw.term;
    c.isolate(3);
    c.tickAll(100);
    assert.equal(c.node(3).raw.term, term, 'pre-vote keeps the isolated node at its term');
    c.heal();
    c.tickAll(20);
    assert.equal(c.leader().id, 1);
    assert.equal(c.leader().raw.term, term);
  });

  it('without pre-vote the rejoining node inflates its term and forces an election', () => {
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    const l = c.elect(1);
    const term = l.raw.term;
    c.isolate(3);
    c.tickAll(100);
    assert.ok(c.node(3).raw.term > term);
    c.heal();
    c.tickAll(30);
    assert.ok(c.leader().raw.term > term);
  });

  it('check-quorum: a leader cut off from the majority steps down', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(1);
    c.tick(1, 10);
    assert.equal(l.raw.role, Role.Leader, 'contact in the first window still counts');
    c.tick(1, 10);
    assert.equal(l.raw.role, Role.Follower);
    assert.throws(() => l.raw.propose(bytes('x')), NotLeaderError);
  });

  describe('vote lease vs. the first randomized timeout (failover without a lost round)', () => {
    // Every replica draws the smallest randomized timeout, electionTick (10) ticks.
    const lowest = { random: { next: () => 0, int: (lo: number) => lo } };

    /**
     * Leader 1 sends its last heartbeat to 2 and 3 and dies. 2's timer fires after 10 of its own
     * ticks; by then 3 has counted `peerTicks` ticks since its last leader message (tick phases
     * differ between processes, and 3's last message may have arrived a tick after 2's).
     */
    function failover(peerTicks: number): Cluster {
      const c = new Cluster([1, 2, 3], lowest);
      const l = c.elect(1);
      c.tickAll(1);
      assert.equal(l.raw.role, Role.Leader);
      c.crash(1);
      c.tick(3, peerTicks);
      c.tick(2, 9);
      assert.equal(c.node(2).raw.role, Role.Follower, 'timer not fired yet');
      c.tick(2, 1);
      return c;
    }

    it('a peer that heard the same heartbeat grants the pre-vote of the first to time out (phase one tick behind)', () => {
      const c = failover(9);
      assert.equal(c.node(2).raw.role, Role.Leader, 'elected on its first timeout');
      assert.equal(c.node(3).raw.leader, 2);
    });

    it('a peer whose last leader message arrived a tick later grants it too', () => {
      const c = failover(8);
      assert.equal(c.node(2).raw.role, Role.Leader, 'elected on its first timeout');
      assert.equal(c.node(3).raw.leader, 2);
    });

    it('a peer that heard the leader three ticks later is still in lease and ignores it', () => {
      const c = failover(7);
      assert.equal(c.node(2).raw.role, Role.PreCandidate, 'refused: the lease still protects a live leader');
      assert.equal(c.node(3).raw.leader, 1);
    });
  });

  it('two survivors whose timers fire together do not split the vote: the lower id wins in one round', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    const term = l.raw.term;
    c.tickAll(1);
    c.crash(1);
    // Their vote leases (electionTick − 2 ticks since the leader's last message) run out; a
    // replica inside its lease refuses pre-votes even while pre-campaigning itself.
    c.tickAll(8);
    // Both pre-campaign before either hears the other (same tick, same log).
    c.node(2).raw.campaign();
    c.node(3).raw.campaign();
    c.settle();
    assert.equal(c.node(2).raw.role, Role.Leader);
    assert.equal(c.node(2).raw.term, term + 1, 'one election, no split vote');
    assert.equal(c.node(3).raw.leader, 2);
  });

  it('a pre-candidate still grants the pre-vote of a peer with a longer log', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    const term = l.raw.term;
    c.cutLink(1, 2);
    l.raw.propose(bytes('only-on-3'));
    c.settle();
    c.crash(1);
    c.tickAll(8); // past the vote lease, as when their timers fire
    c.node(2).raw.campaign();
    c.node(3).raw.campaign();
    c.settle();
    assert.equal(c.node(3).raw.role, Role.Leader, 'the longer log wins');
    assert.equal(c.node(3).raw.term, term + 1);
  });

  it('check-quorum: followers in lease ignore a disruptive vote request', () => {
    const c = new Cluster([1, 2, 3], { preVote: false });
    const l = c.elect(1);
    const term = l.raw.term;
    c.node(2).raw.step(msg({ type: MessageType.Vote, from: 3, to: 2, term: term + 5, index: 100, logTerm: 100 }));
    c.settle();
    assert.equal(c.node(2).raw.term, term);
    assert.equal(c.node(2).raw.leader, 1);
  });
});

describe('client interaction', () => {
  it('propose on a follower throws NOT_LEADER with the leader id', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(2);
    try {
      c.node(1).raw.propose(bytes('x'));
      assert.fail('expected NOT_LEADER');
    } catch (e) {
      assert.ok(e instanceof NotLeaderError);
      assert.ok(isCurveError(e, StatusCode.NOT_LEADER));
      assert.equal(e.leaderId, 2);
      assert.equal(e.leaderHint, '2');
    }
  });

  it('an empty proposal is refused (empty entries are leader no-ops)', () => {
    const c = new Cluster([1]);
    c.elect(1);
    assert.throws(() => c.node(1).raw.propose(new Uint8Array(0)), (e) => isCurveError(e, StatusCode.PARAM_ERROR));
  });

  it('maxUncommittedBytes bounds what a leader accepts', () => {
    const c = new Cluster([1, 2, 3], { maxUncommittedBytes: 10 });
    const l = c.elect(1);
    c.isolate(1);
    l.raw.propose(bytes('12345678'));
    assert.throws(() => l.raw.propose(bytes('12345678')), (e) => isCurveError(e, StatusCode.OVERLOAD));
    c.heal();
    c.tickAll(1);
    l.raw.propose(bytes('12345678'));
  });
});

describe('restart (§5.x persistence)', () => {
  it('a node restarted from its storage rejoins and catches up', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    l.raw.propose(bytes('a'));
    c.settle();
    c.crash(3);
    l.raw.propose(bytes('b'));
    c.settle();
    c.restart(3);
    assert.deepEqual(c.node(3).applied, []);
    c.tickAll(3);
    assert.deepEqual(c.node(3).applied, ['a', 'b']);
  });

  it('a whole cluster restarted keeps its committed entries and elects again', () => {
    const c = new Cluster([1, 2, 3]);
    const l = c.elect(1);
    for (const s of ['a', 'b', 'c']) l.raw.propose(bytes(s));
    c.settle();
    for (const id of [1, 2, 3]) {
      c.crash(id);
      c.restart(id);
    }
    c.tickAll(40);
    c.leader().raw.propose(bytes('d'));
    c.settle();
    for (const n of c.nodes.values()) assert.deepEqual(n.applied, ['a', 'b', 'c', 'd']);
  });
});
