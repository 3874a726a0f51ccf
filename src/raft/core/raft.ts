// The Raft state machine (after etcd-io/raft raft.go): pure, driven by tick(), step() and the
// proposal methods; its outputs are `msgs`, `readStates` and the log, which RawNode packs into
// Ready batches. See docs/raft.md for the design and the safety arguments.
import { CurveError, StatusCode } from '../../common/index.ts';
import { resolveConfig, voteLeaseTicks, type RaftConfig, type ResolvedRaftConfig } from './config.ts';
import { applyConfChange, encodeConfChangeEntry, type ConfChange } from './confchange.ts';
import { RaftInvariantError, RaftLog, cloneConf, entrySize } from './log.ts';
import { Progress, ProgressState } from './progress.ts';
import { ReadOnlyQueue } from './readonly.ts';
import {
  EntryType,
  isLeaderTraffic,
  MessageType,
  Role,
  type ConfState,
  type Entry,
  type NodeId,
  type RaftMessage,
  type ReadState,
  type RestartState,
  type Snapshot,
  type SnapshotMeta,
} from './types.ts';

/** Thrown by propose / readIndex / membership calls on a replica that cannot serve them. */
export class NotLeaderError extends CurveError {
  /** The leader this replica knows of (or the transfer target), 0 if none. */
  readonly leaderId: NodeId;
  constructor(leaderId: NodeId, detail: string) {
    super(StatusCode.NOT_LEADER, detail, leaderId ? String(leaderId) : undefined);
    this.name = 'NotLeaderError';
    this.leaderId = leaderId;
  }
}

/** Context of (Pre)Vote messages of a campaign started by TimeoutNow: bypasses the lease check. */
export const CAMPAIGN_TRANSFER = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "transfer"

const EMPTY = new Uint8Array(0);

type Campaign = 'pre' | 'election' | 'transfer';

function isTransfer(ctx: Uint8Array | undefined): boolean {
  if (!ctx || ctx.length !== CAMPAIGN_TRANSFER.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false;
  return true;
}

function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

type MsgInit = Partial<RaftMessage> & { to: NodeId; type: MessageType };

export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;
  term = 0;
  vote: NodeId = 0;
  lead: NodeId = 0;
  role: Role = Role.Follower;
  /** Membership: the latest configuration in the log (committed or not). */
  conf: ConfState;
  /** Leader only: one Progress per member, in configuration order. */
  prs = new Map<NodeId, Progress>();
  msgs: RaftMessage[] = [];
  readStates: ReadState[] = [];
  leadTransferee: NodeId = 0;
  /** Latest snapshot the driver holds (sent to followers behind the compaction point). */
  latestSnapshot: SnapshotMeta;
  /** Ticks since this replica started; the clock of the read lease. */
  ticks = 0;
  /** Messages dropped because their sender is not a member of this group (see acceptFrom). */
  droppedFromNonMembers = 0;

  private votes = new Map<NodeId, boolean>();
  private readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its own term. */
  private pendingReads: Uint8Array[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Index of the latest membership change this leader appended. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /** Scratch space of quorumMatch. */
  private readonly matchScratch: number[] = [];
  /** Proposals appended since the last broadcast (appends are sent once per Ready, batched). */
  private appendsPending = false;
  /**
   * Ticks since this replica last accepted a message from a leader (any term): the clock of its
   * vote lease. Kept apart from `lead` and `electionElapsed` on purpose: a follower that adopts a
   * higher term from something other than a leader (a late vote answer) forgets its leader, but
   * the leader it acknowledged may still be answering lease reads on the strength of that
   * acknowledgement, so the promise not to vote must outlive the term change. With the read
   * lease, a restarted replica starts at 0: it may have acknowledged a heartbeat just before it
   * crashed.
   */
  private sinceLeader: number;
  /**
   * This leader sent TimeoutNow in its term: the target's forced campaign ignores followers'
   * leases (and a delayed or duplicated TimeoutNow may arrive after the transfer was abandoned),
   * so the read lease is void until the term ends.
   */
  private timeoutNowSent = false;
  /**
   * Quiesced (docs/raft.md "Quiescence"): a leader sends no heartbeats and does no check-quorum;
   * a follower's election timer and vote-lease counter stand still. Only `ticks` moves, so a
   * leader's read lease keeps ageing. Any accepted message, any request and `wake()` end it.
   */
  quiesced = false;

  constructor(config: RaftConfig, start: RestartState) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    const hs = start.hardState;
    for (const [k, v] of Object.entries(hs)) {
      if (!Number.isSafeInteger(v) || v < 0) throw new CurveError(StatusCode.PARAM_ERROR, `hard state ${k} = ${v}`);
    }
    this.log = new RaftLog(start);
    this.term = hs.term;
    this.vote = hs.vote;
    this.conf = this.log.lastConf();
    this.latestSnapshot = { ...start.snapshotMeta, conf: cloneConf(start.snapshotMeta.conf) };
    this.sinceLeader = this.cfg.readOnlyOption === 'lease' && hs.term > 0 ? 0 : Infinity;
    this.becomeFollower(this.term, 0);
  }

  // ---- public entry points -------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    // A quiesced replica's timers stand still: a follower neither campaigns nor lets its vote
    // lease run out (the leader's read lease only ages, since `ticks` moves: safe both ways).
    if (this.quiesced) return;
    this.sinceLeader++;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
    this.afterEvent();
  }

  step(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id || m.from <= 0) return;
    if (!this.acceptFrom(m)) {
      this.droppedFromNonMembers++;
      return;
    }
    if (this.quiesced && m.type !== MessageType.Quiesce) {
      // Our leader talking again needs no answer; anything else (a proposal's append elsewhere,
      // a vote request, an acknowledgement) means the group is busy: resume, and wake the leader.
      if (m.from === this.lead && m.term === this.term && isLeaderTraffic(m.type)) this.quiesced = false;
      else this.wake();
    }
    this.stepInner(m);
    this.afterEvent();
  }

  /**
   * Only members talk to a group (issue [L]): a message from a node that is neither a voter nor
   * a learner of this replica's latest configuration — nor of the one before it, so that a
   * leader whose removal is still uncommitted keeps leading and can hand over with TimeoutNow
   * right after it commits — is dropped before its term is looked at, so a stranger can neither
   * depose a leader nor push a term up. Two cases must still hear from nodes their log does not
   * name yet, and take leader traffic (Append, Heartbeat, Snapshot) and vote requests from them:
   *  - a replica that is not a member of its own latest configuration: one joining with an empty
   *    configuration, one replaying a log older than the entry that added it, one removed;
   *  - a replica that has heard no leader for a vote lease (and leads nothing): one that lagged
   *    behind membership changes and whose current leader (or a candidate) joined after the
   *    last change it holds — without this it could never catch up, and a new voter could not
   *    win the vote the dissertation (§4.1) says it must get.
   * Once it follows such a leader, it keeps taking that leader's traffic in the same term.
   * A healthy group's members are all in their lease (or lead), so there a forger is ignored;
   * a leaderless or joining replica can still be misled until the transport authenticates.
   * Heartbeats count as leader traffic: a leader unpauses its probe of a new member only on a
   * heartbeat answer. Finally, a learner's message never raises our term: learners do not vote,
   * a higher term only a learner reports proves nothing, and check-quorum deposes a leader that
   * really is stale — otherwise a forger's term could reach the leader through a learner.
   */
  /**
   * Whether `step(m)` would look at `m` at all (addressed to us, from a node allowed to talk to
   * this group now), without stepping it: the driver asks before it stores the first chunk of a
   * snapshot transfer, so a stranger's transfer writes nothing.
   */
  wouldAccept(m: RaftMessage): boolean {
    return m.to === this.id && m.from !== this.id && m.from > 0 && this.acceptFrom(m);
  }

  private acceptFrom(m: RaftMessage): boolean {
    const c = this.conf;
    const isVoter = c.voters.includes(m.from);
    if (isVoter) return true;
    if (c.learners.includes(m.from)) return m.term <= this.term;
    const ci = this.log.lastConfIndex();
    if (ci > this.log.firstIndex() - 1) {
      const prev = this.log.confAt(ci - 1);
      if (prev.voters.includes(m.from) || prev.learners.includes(m.from)) return true;
    }
    const leaderTraffic = m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot;
    if (!c.voters.includes(this.id) && !c.learners.includes(this.id)) return leaderTraffic;
    // The leader we already follow (accepted under the rule below) until our log names it.
    if (leaderTraffic && m.from === this.lead && m.term === this.term) return true;
    const voteReq = m.type === MessageType.Vote || m.type === MessageType.PreVote;
    return (leaderTraffic || voteReq) && this.role !== Role.Leader && this.sinceLeader >= voteLeaseTicks(this.cfg);
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.wake();
    this.hup(this.cfg.preVote ? 'pre' : 'election');
    this.afterEvent();
  }

  propose(data: Uint8Array): number {
    this.wake();
    this.checkCanPropose();
    if (data.byteLength === 0) throw new CurveError(StatusCode.PARAM_ERROR, 'empty proposal (reserved for the leader no-op)');
    const size = data.byteLength;
    const max = this.cfg.maxUncommittedBytes;
    if (max > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + size > max) {
      throw new CurveError(StatusCode.OVERLOAD, `${this.uncommittedBytes} uncommitted bytes`);
    }
    const idx = this.appendEntry([{ index: 0, term: 0, type: EntryType.Normal, data }]);
    this.afterEvent();
    return idx;
  }

  proposeConfChange(cc: ConfChange): number {
    this.wake();
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.committed) {
      throw new CurveError(
        StatusCode.BUSY,
        `membership change at index ${this.pendingConfIndex} not committed yet (commit ${this.log.committed})`,
      );
    }
    const conf = applyConfChange(this.conf, cc);
    const change: ConfChange = { type: cc.type, nodeId: cc.nodeId };
    if (cc.context && cc.context.length > 0) change.context = cc.context.slice();
    const data = encodeConfChangeEntry({ change, conf });
    const idx = this.appendEntry([{ index: 0, term: 0, type: EntryType.ConfChange, data }]);
    this.pendingConfIndex = idx;
    this.afterEvent();
    return idx;
  }

  transferLeader(to: NodeId): void {
    this.wake();
    if (this.role !== Role.Leader) throw new NotLeaderError(this.lead, 'transfer must be asked of the leader');
    if (!Number.isSafeInteger(to) || to <= 0) throw new CurveError(StatusCode.PARAM_ERROR, `invalid node id ${to}`);
    if (to === this.id) {
      this.leadTransferee = 0;
      return;
    }
    if (!this.conf.voters.includes(to)) throw new CurveError(StatusCode.PARAM_ERROR, `node ${to} is not a voter`);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout, or it is abandoned.
    this.electionElapsed = 0;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send({ to, type: MessageType.TimeoutNow });
    else this.sendAppend(to);
    this.afterEvent();
  }

  readIndex(ctx: Uint8Array): void {
    // A request to a quiesced follower wakes it too: if its leader is gone it will campaign.
    this.wake();
    if (this.role !== Role.Leader) throw new NotLeaderError(this.lead, 'reads are served by the leader');
    if (!this.committedEntryInCurrentTerm()) {
      // The commit index is only known to be current once this term's no-op commits.
      this.pendingReads.push(ctx);
      return;
    }
    this.doReadIndex(ctx);
    this.afterEvent();
  }

  /**
   * Ends quiescence: a leader resumes heartbeats (at once, so its followers hear it before their
   * timers, frozen near zero, run out) and check-quorum from a clean slate; a follower resumes
   * its timers and tells its leader, which would otherwise stay silent while we time out and
   * campaign against it. The driver calls this when peer liveness says the leader's process is
   * gone; the core calls it on any request and any accepted message.
   */
  wake(): void {
    if (!this.quiesced) return;
    this.quiesced = false;
    if (this.role === Role.Leader) {
      this.electionElapsed = 0;
      this.heartbeatElapsed = 0;
      // Check-quorum must see fresh answers, not ones from before the pause.
      for (const pr of this.prs.values()) if (pr.id !== this.id) pr.recentActive = false;
      this.bcastHeartbeat(undefined);
    } else if (this.lead) {
      this.send({ to: this.lead, type: MessageType.Wake });
    }
  }

  reportUnreachable(to: NodeId): void {
    if (this.role !== Role.Leader) return;
    const pr = this.prs.get(to);
    if (pr && pr.state === ProgressState.Replicate) pr.becomeProbe();
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.role !== Role.Leader) return;
    const pr = this.prs.get(to);
    if (!pr || pr.state !== ProgressState.Snapshot) return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the next heartbeat answer before probing, as etcd does.
    pr.probeSent = true;
  }

  /** Sends the appends batched since the last call (RawNode calls this before building a Ready). */
  flushAppends(): void {
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.role !== Role.Leader) return;
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      while (this.sendAppend(id, false)) {
        /* pipeline while the window allows */
      }
    }
  }

  compact(snapshotIndex: number, compactTo: number): void {
    if (compactTo > snapshotIndex) {
      throw new CurveError(StatusCode.PARAM_ERROR, `compact to ${compactTo} beyond snapshot ${snapshotIndex}`);
    }
    const meta = this.log.snapshotMetaAt(snapshotIndex);
    if (meta.index > this.latestSnapshot.index) this.latestSnapshot = meta;
    // Never past what the driver's disk holds: with asynchronous writes a leader applies (and may
    // snapshot) entries its own write has not made durable yet, and those must stay to be written.
    this.log.compact(Math.min(compactTo, this.log.stableIndex));
  }

  /**
   * May this replica campaign? A voter of the latest configuration may; so may a replica that an
   * uncommitted entry removes (dissertation §4.2.2): its log may be the only one that can still
   * win, and it must be able to lead until the removal commits. Its own vote never counts.
   */
  promotable(): boolean {
    if (this.log.pendingSnapshot) return false;
    if (this.conf.voters.includes(this.id)) return true;
    const ci = this.log.lastConfIndex();
    return ci > this.log.committed && this.log.confAt(ci - 1).voters.includes(this.id);
  }

  /**
   * The driver made durable what a Ready handed out: its hard state (`hs`, if it had one) and
   * its entries (the log's stable index moved). Counts our own vote (a candidate) and our own
   * copy of the log (a leader), which may win an election or commit entries.
   */
  persisted(hs: { term: number; vote: NodeId } | undefined): void {
    if (hs && this.role === Role.Candidate && hs.term === this.term && hs.vote === this.id && !this.votes.has(this.id)) {
      this.votes.set(this.id, true);
      switch (this.voteResult()) {
        case 'won':
          this.becomeLeader();
          this.bcastAppend();
          break;
        case 'lost':
          this.becomeFollower(this.term, 0);
          break;
        default:
      }
    }
    if (this.role === Role.Leader) {
      const self = this.prs.get(this.id);
      if (self && self.maybeUpdate(this.durableLastIndex()) && this.maybeCommit()) this.bcastAppend();
    }
    this.afterEvent();
  }

  /** The last index known durable in the driver's storage (entries handed out and advanced). */
  private durableLastIndex(): number {
    return Math.min(this.log.stableIndex, this.log.lastIndex());
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  // ---- roles ---------------------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const e = this.cfg.electionTick;
    this.randomizedElectionTimeout = e + this.cfg.random.int(0, e);
    this.leadTransferee = 0;
    this.votes = new Map();
    this.readOnly = new ReadOnlyQueue();
    this.pendingReads = [];
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.appendsPending = false;
    this.prs = new Map();
    this.timeoutNowSent = false;
    this.quiesced = false;
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomePreCandidate(): void {
    if (this.role === Role.Leader) throw new RaftInvariantError('leader cannot become pre-candidate');
    // A pre-candidate changes neither term nor vote.
    this.votes = new Map();
    this.lead = 0;
    this.role = Role.PreCandidate;
  }

  private becomeCandidate(): void {
    if (this.role === Role.Leader) throw new RaftInvariantError('leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    if (this.role === Role.Follower) throw new RaftInvariantError('follower cannot become leader directly');
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    this.rebuildProgress(new Map());
    const self = this.prs.get(this.id);
    if (self) {
      self.match = this.durableLastIndex();
      self.becomeReplicate();
      self.recentActive = true;
    }
    // The no-op of the new term: commits everything before it (§5.4.2) and, until it is
    // committed, blocks membership changes (the fix to the single-server change bug).
    this.appendEntry([{ index: 0, term: 0, type: EntryType.Normal, data: EMPTY }]);
    this.pendingConfIndex = this.log.lastIndex();
  }

  /** Rebuilds leader progress for the current configuration, reusing what is known. */
  private rebuildProgress(old: Map<NodeId, Progress>): void {
    const next = new Map<NodeId, Progress>();
    const add = (id: NodeId, learner: boolean) => {
      let pr = old.get(id);
      if (pr) {
        pr.isLearner = learner;
      } else {
        pr = new Progress(id, this.log.lastIndex() + 1, learner, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
        if (id === this.id) pr.match = this.durableLastIndex();
        // A member that was just added gets the benefit of the doubt for check-quorum.
        pr.recentActive = old.size > 0;
      }
      next.set(id, pr);
    };
    for (const v of this.conf.voters) add(v, false);
    for (const l of this.conf.learners) add(l, true);
    this.prs = next;
  }

  /** Call after every log mutation: the configuration is the latest one in the log. */
  private syncConf(): void {
    const c = this.log.lastConf();
    if (c === this.conf) return;
    this.conf = c;
    if (this.role === Role.Leader) {
      this.rebuildProgress(this.prs);
      if (this.leadTransferee && !c.voters.includes(this.leadTransferee)) this.leadTransferee = 0;
    }
  }

  // ---- ticks ---------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.cfg.preVote ? 'pre' : 'election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, 0);
        return;
      }
      this.leadTransferee = 0; // a transfer not done within an election timeout is abandoned
    }
    for (const pr of this.prs.values()) {
      if (pr.state === ProgressState.Snapshot && ++pr.snapshotTicks >= this.cfg.snapshotStallTicks) pr.becomeProbe();
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      if (this.canQuiesce()) this.quiesce();
      else this.bcastHeartbeat(this.readOnly.lastPendingCtx());
    }
  }

  /**
   * A leader may fall silent when nothing can change without a request: its whole log is
   * committed, in its term, durable here, and held by every member (voters and learners), each
   * of which answered the last heartbeat round; no read, proposal or transfer is pending. A
   * member that is down or behind keeps the group awake (CockroachDB's rule, simplified).
   */
  private canQuiesce(): boolean {
    if (!this.cfg.quiesce || this.leadTransferee || this.appendsPending) return false;
    if (this.pendingReads.length > 0 || this.readOnly.size > 0) return false;
    const li = this.log.lastIndex();
    if (this.log.committed !== li || this.log.term(li) !== this.term || this.durableLastIndex() !== li) return false;
    if (!this.conf.voters.includes(this.id)) return false;
    for (const pr of this.prs.values()) {
      if (pr.id === this.id) continue;
      if (pr.match !== li || pr.state !== ProgressState.Replicate) return false;
      if (pr.heartbeatAckTick < this.ticks - this.cfg.heartbeatTick) return false;
    }
    return true;
  }

  /** Tells every member to stop its election timer; carries what it needs to check and commit. */
  private quiesce(): void {
    this.quiesced = true;
    const li = this.log.lastIndex();
    const lt = this.log.lastTerm();
    for (const pr of this.prs.values()) {
      if (pr.id === this.id) continue;
      this.send({ to: pr.id, type: MessageType.Quiesce, index: li, logTerm: lt, commit: this.log.committed });
    }
  }

  /**
   * A follower quiesces on its leader's word only if its log holds the leader's last entry (log
   * matching: then it holds the leader's whole log, and the commit index is safe to take).
   * Otherwise it stays awake and wakes the leader, whose heartbeats then keep it from campaigning.
   */
  private handleQuiesce(m: RaftMessage): void {
    if (m.term !== this.term || this.role !== Role.Follower) return;
    this.heardLeader(m.from);
    if (this.log.matchTerm(m.index, m.logTerm)) {
      this.log.commitTo(Math.min(m.commit, m.index));
      this.quiesced = true;
    } else {
      this.send({ to: m.from, type: MessageType.Wake });
    }
  }

  /** Check-quorum: did a quorum of voters talk to us since the last check? Resets the marks. */
  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) {
      if (v === this.id || this.prs.get(v)?.recentActive) active++;
    }
    for (const pr of this.prs.values()) if (pr.id !== this.id) pr.recentActive = false;
    return active >= majority(this.conf.voters.length);
  }

  // ---- elections -----------------------------------------------------------------------------

  private hup(t: Campaign): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) return;
    this.campaign0(t);
  }

  private campaign0(t: Campaign): void {
    let type: MessageType;
    let term: number;
    if (t === 'pre') {
      this.becomePreCandidate();
      type = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = MessageType.Vote;
      term = this.term;
    }
    // A pre-vote changes nothing durable: our own counts at once. A real vote counts only once
    // the new term and the vote for ourselves are durable (persisted(), after the driver wrote
    // the hard state): a single voter would otherwise win and send messages of a term that a
    // crash could forget — and win again, with another log.
    if (t === 'pre') {
      this.votes.set(this.id, true);
      if (this.voteResult() === 'won') {
        this.campaign0('election');
        return;
      }
    }
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      const m: MsgInit = { to: v, type, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm() };
      if (t === 'transfer') m.context = CAMPAIGN_TRANSFER;
      this.send(m);
    }
  }

  private voteResult(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const v of this.conf.voters) {
      const g = this.votes.get(v);
      if (g === true) granted++;
      else if (g === false) rejected++;
    }
    const q = majority(this.conf.voters.length);
    if (granted >= q) return 'won';
    if (rejected > this.conf.voters.length - q) return 'lost';
    return 'pending';
  }

  /**
   * Check-quorum's vote lease: a follower that heard from a leader less than voteLeaseTicks ago
   * ignores (pre-)votes of higher terms. The bound sits two ticks below the smallest randomized
   * election timeout, so the follower whose timer fires first is not refused by a peer that heard
   * the same leader message (tick phases differ) or one a tick later — before, such a refusal
   * cost a whole second election timeout. A leader is always in lease: check-quorum, not a
   * candidate, deposes it.
   */
  private inLease(): boolean {
    if (!this.cfg.checkQuorum) return false;
    if (this.role === Role.Leader) return true;
    return this.sinceLeader < voteLeaseTicks(this.cfg);
  }

  // ---- message handling ----------------------------------------------------------------------

  private stepInner(m: RaftMessage): void {
    // Quiescence traffic never changes a term: it only makes sense within the sender's term.
    if (m.type === MessageType.Quiesce) {
      this.handleQuiesce(m);
      return;
    }
    if (m.type === MessageType.Wake) return; // step() already woke us
    if (m.term > this.term) {
      const fromLeader = m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot;
      const voteReq = m.type === MessageType.Vote || m.type === MessageType.PreVote;
      if (voteReq && !isTransfer(m.context) && this.inLease()) {
        return; // ignore: we have a live leader (this is what stops a rejoining node disrupting)
      }
      if (!fromLeader && !voteReq && this.role === Role.Follower && this.inLease()) {
        // A late answer to an old campaign (or any other non-leader message) of a higher term:
        // a follower in its vote lease stays with its leader. A leader of that term, if there
        // is one, will make itself known with an append or heartbeat.
        return;
      }
      if (m.type === MessageType.PreVote) {
        // never change term for a pre-vote
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // a granted pre-vote carries the term we would campaign in
      } else if (m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.Append)) {
        // A stale leader (or one cut off while we moved on): our higher term makes it step down.
        this.send({ to: m.from, type: MessageType.AppendResp });
      } else if (m.type === MessageType.PreVote) {
        this.send({ to: m.from, type: MessageType.PreVoteResp, reject: true });
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      default:
        this.stepFollower(m);
    }
  }

  private handleVote(m: RaftMessage): void {
    const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
    const canVote =
      this.vote === m.from ||
      (this.vote === 0 && this.lead === 0) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    // In its vote lease a replica grants nothing new, whatever the term: a replica that adopted
    // a term without hearing its leader (a candidate answered with a higher term) has no vote in
    // it, but the leader it acknowledged a moment ago may be serving lease reads.
    const leaseBlocks = this.vote !== m.from && !isTransfer(m.context) && this.inLease();
    if (canVote && !leaseBlocks && this.log.isUpToDate(m.index, m.logTerm) && !this.preVoteTieLost(m)) {
      this.send({ to: m.from, type: respType, term: m.term });
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ to: m.from, type: respType, reject: true });
    }
  }

  /**
   * Two survivors whose timers fired together (within a message delay) would each grant the
   * other's pre-vote, both stand for the same term and split the vote, costing another election
   * timeout — the slowest failovers on a busy machine. A pre-candidate therefore refuses the
   * concurrent pre-vote of a peer with exactly its own log and a higher id, for the term it is
   * itself pre-campaigning for; that peer grants ours, and our Vote then makes it a follower.
   * Pre-votes change no term or vote, so this touches liveness only; the refusal lasts while we
   * are a pre-candidate, and a peer whose grant we never hear could not lead us either.
   */
  private preVoteTieLost(m: RaftMessage): boolean {
    return (
      m.type === MessageType.PreVote &&
      this.role === Role.PreCandidate &&
      m.term === this.term + 1 &&
      m.from > this.id &&
      m.index === this.log.lastIndex() &&
      m.logTerm === this.log.lastTerm()
    );
  }

  private stepLeader(m: RaftMessage): void {
    switch (m.type) {
      case MessageType.AppendResp:
        this.handleAppendResp(m);
        break;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResp(m);
        break;
      default:
        // Append/Heartbeat/Snapshot of our own term cannot come from another leader; votes
        // answers of a finished election and TimeoutNow are ignored.
        break;
    }
  }

  private stepCandidate(m: RaftMessage): void {
    const myResp = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Append:
        this.becomeFollower(m.term, m.from);
        this.heardLeader(m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.heardLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snapshot:
        this.becomeFollower(m.term, m.from);
        this.heardLeader(m.from);
        this.handleSnapshot(m);
        return;
      default:
        if (m.type !== myResp) return;
        if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject);
        switch (this.voteResult()) {
          case 'won':
            if (this.role === Role.PreCandidate) {
              this.campaign0('election');
            } else {
              this.becomeLeader();
              this.bcastAppend();
            }
            break;
          case 'lost':
            this.becomeFollower(this.term, 0);
            break;
          default:
        }
    }
  }

  private stepFollower(m: RaftMessage): void {
    switch (m.type) {
      case MessageType.Append:
        this.heardLeader(m.from);
        this.handleAppend(m);
        break;
      case MessageType.Heartbeat:
        this.heardLeader(m.from);
        this.handleHeartbeat(m);
        break;
      case MessageType.Snapshot:
        this.heardLeader(m.from);
        this.handleSnapshot(m);
        break;
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign at once, without pre-vote, past the followers' lease.
        this.hup('transfer');
        break;
      default:
    }
  }

  private heardLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.sinceLeader = 0;
    this.lead = from;
  }

  private handleAppend(m: RaftMessage): void {
    if (m.index < this.log.committed) {
      this.send({ to: m.from, type: MessageType.AppendResp, index: this.log.committed });
      return;
    }
    const last = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== undefined) {
      this.syncConf();
      this.send({ to: m.from, type: MessageType.AppendResp, index: last });
      return;
    }
    // Reject, with a hint that lets the leader skip a whole conflicting term per round trip.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      to: m.from,
      type: MessageType.AppendResp,
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      logTerm: hintTerm,
    });
  }

  private handleHeartbeat(m: RaftMessage): void {
    this.log.commitTo(m.commit);
    const resp: MsgInit = { to: m.from, type: MessageType.HeartbeatResp, index: m.index };
    if (m.context && m.context.length > 0) resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: RaftMessage): void {
    const s = m.snapshot;
    if (!s) return;
    if (this.restore(s)) {
      this.send({ to: m.from, type: MessageType.AppendResp, index: this.log.lastIndex() });
    } else {
      this.send({ to: m.from, type: MessageType.AppendResp, index: this.log.committed });
    }
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already hold the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.latestSnapshot = { ...s.meta, conf: cloneConf(s.meta.conf) };
    this.syncConf();
    return true;
  }

  private handleAppendResp(m: RaftMessage): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
      if (pr.state === ProgressState.Probe) {
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Replicate) {
        pr.inflights.freeLE(m.index);
      }
      if (this.maybeCommit()) this.bcastAppend();
      else if (oldPaused) this.sendAppend(m.from);
      while (this.sendAppend(m.from, false)) {
        /* keep the pipeline full */
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
        this.send({ to: m.from, type: MessageType.TimeoutNow });
      }
    }
  }

  private handleHeartbeatResp(m: RaftMessage): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (m.index > pr.heartbeatAckTick && m.index <= this.ticks) pr.heartbeatAckTick = m.index;
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (!m.context || m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks || !this.hasQuorum(acks)) return;
    for (const rs of this.readOnly.advance(m.context)) this.readStates.push(rs);
  }

  // ---- replication ---------------------------------------------------------------------------

  /** Leader: appends entries of the current term; returns the last index. */
  private appendEntry(ents: Entry[]): number {
    let li = this.log.lastIndex();
    for (const e of ents) {
      e.term = this.term;
      e.index = ++li;
      this.uncommittedBytes += e.data.byteLength;
    }
    this.log.append(ents);
    this.syncConf();
    // The leader's own copy counts toward a commit only once the driver reports it durable
    // (persisted(), from RawNode.advance): the driver sends appends — carrying the commit index
    // — while its own write runs, so a commit counted on an unsynced copy could reach a learner
    // or follower and then vanish with a crash (etcd-io/raft acks its own append the same way,
    // through a storage append response).
    this.appendsPending = true;
    return li;
  }

  /** The highest index stored by a quorum of voters (0 without voters). */
  private quorumMatch(): number {
    const voters = this.conf.voters;
    const n = voters.length;
    if (n === 0) return 0;
    // Called for every acknowledgement and every proposal: sorted in place in a reused array
    // (insertion sort, descending; groups have 3 or 5 voters).
    const m = this.matchScratch;
    m.length = n;
    for (let i = 0; i < n; i++) {
      const x = this.prs.get(voters[i]!)?.match ?? 0;
      let j = i - 1;
      while (j >= 0 && m[j]! < x) {
        m[j + 1] = m[j]!;
        j--;
      }
      m[j + 1] = x;
    }
    return m[majority(n) - 1]!;
  }

  /** Commit the highest index a quorum of voters holds, if it is of the current term (§5.4.2). */
  private maybeCommit(): boolean {
    if (this.conf.voters.length === 0) return false;
    const idx = this.quorumMatch();
    if (idx <= this.log.committed || this.log.term(idx) !== this.term) return false;
    const old = this.log.committed;
    this.log.commitTo(idx);
    for (let i = old + 1; i <= idx; i++) {
      const e = this.log.entry(i);
      if (e && e.term === this.term) this.uncommittedBytes -= e.data.byteLength;
    }
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
    if (this.pendingReads.length > 0) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const ctx of reads) this.doReadIndex(ctx);
    }
    return true;
  }

  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.prs.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxSizePerMsg);
    if (prevIndex > this.log.lastIndex()) throw new RaftInvariantError(`progress ${to} next ${pr.next} beyond log`);
    if (prevTerm === undefined || ents === undefined) {
      // The follower needs entries we compacted: send the latest snapshot (the driver attaches
      // the state-machine bytes, see RawNode docs).
      if (!pr.recentActive) return false;
      const meta = this.latestSnapshot;
      this.send({
        to,
        type: MessageType.Snapshot,
        snapshot: { meta: { ...meta, conf: cloneConf(meta.conf) }, data: EMPTY },
      });
      pr.becomeSnapshot(meta.index);
      return true;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ to, type: MessageType.Append, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    if (ents.length > 0) {
      if (pr.state === ProgressState.Replicate) {
        const last = ents[ents.length - 1]!.index;
        let bytes = 0;
        for (const e of ents) bytes += entrySize(e);
        pr.optimisticUpdate(last);
        pr.inflights.add(last, bytes);
      } else if (pr.state === ProgressState.Probe) {
        pr.probeSent = true;
      }
    }
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(ctx: Uint8Array | undefined): void {
    for (const pr of this.prs.values()) {
      if (pr.id === this.id) continue;
      const m: MsgInit = {
        to: pr.id,
        type: MessageType.Heartbeat,
        // Never tell a follower a commit index beyond what it is known to hold.
        commit: Math.min(pr.match, this.log.committed),
        // The leader's tick at send time, echoed back: the basis of the read lease.
        index: this.ticks,
      };
      if (ctx) m.context = ctx;
      this.send(m);
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  private doReadIndex(ctx: Uint8Array): void {
    const voters = this.conf.voters;
    if (voters.length === 1 && voters[0] === this.id) {
      this.readStates.push({ index: this.log.committed, requestCtx: ctx });
      return;
    }
    if (this.cfg.readOnlyOption === 'lease' && this.leaseValid()) {
      this.readStates.push({ index: this.log.committed, requestCtx: ctx });
      return;
    }
    if (!this.readOnly.add(this.log.committed, ctx)) return;
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeat(ctx);
  }

  /**
   * The lease holds while a quorum acknowledged heartbeats sent at most voteLeaseTicks − 2 ticks
   * ago (electionTick − 4): each such follower refuses votes until voteLeaseTicks of its own
   * ticks after receipt, which is at least voteLeaseTicks − 1 tick periods; a heartbeat sent
   * during leader tick s is less than k + 1 periods old at leader tick s + k.
   */
  leaseValid(): boolean {
    if (this.role !== Role.Leader || this.leadTransferee || this.timeoutNowSent) return false;
    const voters = this.conf.voters;
    const sent = voters
      .map((v) => (v === this.id ? this.ticks : (this.prs.get(v)?.heartbeatAckTick ?? -Infinity)))
      .sort((a, b) => b - a);
    const s = sent[majority(voters.length) - 1]!;
    return this.ticks - s <= voteLeaseTicks(this.cfg) - 2;
  }

  private hasQuorum(ids: Set<NodeId>): boolean {
    let n = 0;
    for (const v of this.conf.voters) if (ids.has(v)) n++;
    return n >= majority(this.conf.voters.length);
  }

  // ---- helpers -------------------------------------------------------------------------------

  private checkCanPropose(): void {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.lead, `replica ${this.id} is not the leader`);
    if (this.leadTransferee) throw new NotLeaderError(this.leadTransferee, 'leadership transfer in progress');
  }

  private send(m: MsgInit): void {
    if (m.type === MessageType.TimeoutNow) this.timeoutNowSent = true;
    this.msgs.push({
      from: this.id,
      term: this.term,
      index: 0,
      logTerm: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      ...m,
    });
  }

  /** A leader that committed its own removal hands over and steps down. */
  private afterEvent(): void {
    if (
      this.role === Role.Leader &&
      !this.conf.voters.includes(this.id) &&
      this.log.lastConfIndex() <= this.log.committed
    ) {
      this.flushAppends();
      this.bcastAppend(); // let the others learn the commit index
      let best = 0;
      let bestMatch = -1;
      for (const v of this.conf.voters) {
        const m = this.prs.get(v)?.match ?? 0;
        if (m > bestMatch) {
          best = v;
          bestMatch = m;
        }
      }
      if (best && bestMatch === this.log.lastIndex()) this.send({ to: best, type: MessageType.TimeoutNow });
      this.becomeFollower(this.term, 0);
    }
  }
}
