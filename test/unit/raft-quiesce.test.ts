// Quiescence of the core (issue [G]): an idle group stops sending and ticking, and anything that
// needs it — a proposal, a read, a message, the driver's word that the leader's process is gone —
// wakes it. Deterministic: the synchronous harness, seeded randomness.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, NotLeaderError, Role, type RaftConfig } from '../../src/raft/index.ts';
import { Cluster, bytes } from './raft-harness.ts';

const ELECTION = 10;

/** Three voters, 1 leading, idle long enough to quiesce. */
function quiescedCluster(cfg: Partial<RaftConfig> = {}): Cluster {
  const c = new Cluster([1, 2, 3], { quiesce: true, electionTick: ELECTION, ...cfg });
  c.elect(1);
  c.node(1).raw.propose(bytes('x'));
  c.tickAll(3);
  for (const id of [1, 2, 3]) assert.equal(c.node(id).raw.quiesced, true, `node ${id} quiesced`);
  return c;
}

function allQuiesced(c: Cluster): boolean {
  return [...c.nodes.values()].every((n) => !n.up || n.raw.quiesced);
}

describe('raft quiescence', () => {
  it('a quiesced group sends no message per tick, and nobody campaigns', () => {
    const c = quiescedCluster();
    const sent = c.delivered.length;
    const term = c.node(1).raw.term;
    c.tickAll(20 * ELECTION);
    assert.equal(c.delivered.length, sent);
    assert.equal(c.node(1).raw.role, Role.Leader);
    for (const id of [1, 2, 3]) assert.equal(c.node(id).raw.term, term);
  });

  it('without quiescence the same group heartbeats every tick (the baseline)', () => {
    const c = new Cluster([1, 2, 3], { electionTick: ELECTION });
    c.elect(1);
    c.tickAll(3);
    const sent = c.delivered.length;
    c.tickAll(10);
    assert.equal(c.delivered.length - sent, 10 * 4); // 2 heartbeats + 2 answers per tick
    assert.equal(c.node(1).raw.quiesced, false);
  });

  it('a proposal wakes the group and commits; the group quiesces again once idle', () => {
    const c = quiescedCluster();
    c.node(1).raw.propose(bytes('y'));
    c.settle();
    for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).applied, ['x', 'y']);
    assert.equal(c.node(1).raw.quiesced, false);
    c.tickAll(3);
    assert.ok(allQuiesced(c));
  });

  it('a member that is behind keeps the group awake', () => {
    const c = quiescedCluster();
    c.cutLink(1, 3);
    c.node(1).raw.propose(bytes('y'));
    c.tickAll(3 * ELECTION);
    assert.equal(c.node(1).raw.quiesced, false);
    c.heal();
    c.tickAll(3 * ELECTION);
    assert.ok(allQuiesced(c));
    assert.deepEqual(c.node(3).applied, ['x', 'y']);
  });

  it('the quiesced leader dies: woken followers elect a new leader within bounded ticks', () => {
    const c = quiescedCluster();
    c.crash(1);
    // Asleep, nobody notices: this is why the driver watches peer liveness.
    c.tickAll(10 * ELECTION);
    assert.equal(c.leaders().length, 0);
    assert.ok(c.node(2).raw.quiesced && c.node(3).raw.quiesced);
    // The driver's peer liveness reports the leader's process gone.
    c.node(2).raw.wake();
    c.node(3).raw.wake();
    let ticks = 0;
    while (c.leaders().length === 0) {
      c.tickAll(1);
      ticks++;
      // The first timeout fires within 2 × electionTick; a refused pre-vote (a peer still in
      // its vote lease) costs at most one more randomized timeout.
      assert.ok(ticks <= 4 * ELECTION, `no leader after ${ticks} ticks`);
    }
    const l = c.leader();
    l.raw.propose(bytes('after'));
    c.settle();
    assert.deepEqual(c.node(2).applied, ['x', 'after']);
    assert.deepEqual(c.node(3).applied, ['x', 'after']);
  });

  it('one woken follower alone elects a new leader (its pre-vote wakes the other)', () => {
    const c = quiescedCluster();
    c.crash(1);
    c.node(2).raw.wake();
    let ticks = 0;
    while (c.leaders().length === 0) {
      c.tickAll(1);
      ticks++;
      assert.ok(ticks <= 5 * ELECTION, `no leader after ${ticks} ticks`);
    }
  });

  it('a request to a quiesced follower wakes it and its leader; the live leader stays', () => {
    const c = quiescedCluster();
    const term = c.node(1).raw.term;
    assert.throws(() => c.node(2).raw.propose(bytes('z')), NotLeaderError);
    c.settle();
    assert.ok(c.delivered.some((m) => m.type === MessageType.Wake && m.from === 2 && m.to === 1));
    assert.equal(c.node(1).raw.quiesced, false);
    c.tickAll(5 * ELECTION);
    assert.equal(c.node(1).raw.role, Role.Leader);
    assert.equal(c.node(2).raw.term, term);
    assert.ok(allQuiesced(c));
  });

  it('a campaign against a live quiesced leader is refused and wakes the leader', () => {
    const c = quiescedCluster();
    const term = c.node(1).raw.term;
    c.tickAll(10 * ELECTION); // long asleep: a running vote lease would have expired by now
    c.node(3).raw.campaign();
    c.settle();
    assert.equal(c.node(1).raw.role, Role.Leader);
    assert.equal(c.node(2).raw.term, term);
    c.tickAll(5 * ELECTION);
    assert.equal(c.node(1).raw.role, Role.Leader);
    assert.equal(c.node(1).raw.term, term);
  });

  it('a lease read on a long-quiesced leader goes through a heartbeat round (ReadIndex)', () => {
    const c = quiescedCluster({ readOnlyOption: 'lease' });
    c.tickAll(ELECTION); // the last acknowledged heartbeat is older than the read lease
    const l = c.node(1);
    l.raw.readIndex(bytes('r'));
    assert.equal(l.raw.hasReady(), true);
    const rd = l.raw.ready();
    assert.equal(rd.readStates.length, 0, 'not answered from an unrenewed lease');
    assert.ok(rd.messages.some((m) => m.type === MessageType.Heartbeat && m.context && m.context.length > 0));
    l.raw.advance();
    // Hand the messages over through the harness: re-queue by stepping them directly.
    for (const m of rd.messages) c.node(m.to).raw.step(m);
    c.settle();
    assert.equal(l.readStates.length, 1);
  });

  it('a quiesced follower ignores a stranger, keeps its vote lease and sleeps on', () => {
    const c = quiescedCluster();
    c.tickAll(10 * ELECTION);
    const f = c.node(2);
    f.raw.step({
      type: MessageType.Heartbeat, from: 9, to: 2, term: 2 ** 40, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0,
    });
    assert.equal(f.raw.droppedFromNonMembers, 1);
    assert.equal(f.raw.quiesced, true);
    assert.equal(f.raw.term, c.node(1).raw.term);
  });
});
