// RawNode: the driver's handle on one Raft replica (after etcd-io/raft rawnode.go). The driver
// feeds it time (tick), messages (step) and requests; it answers with Ready batches. Between
// ready() and advance() the driver may keep calling tick/step/propose: advance() acknowledges
// exactly what that Ready handed out.
//
// Asynchronous storage writes (after etcd-io/raft's, docs/raft.md "The Ready contract"): a
// driver may acknowledge a Ready before its write is durable (advanceWriting) and report the
// write later (written). Meanwhile ready() hands out only what needs no disk — leader traffic,
// committed entries, read states — so a leader commits from its followers' acknowledgements and
// answers its clients while its own write runs; its own copy counts from written().
import { CurveError, StatusCode } from '../../common/index.ts';
import type { RaftConfig } from './config.ts';
import type { ConfChange } from './confchange.ts';
import { cloneConf } from './log.ts';
import { ProgressState } from './progress.ts';
import { Raft } from './raft.ts';
import {
  Role,
  isLeaderTraffic,
  type ConfState,
  type Entry,
  type HardState,
  type NodeId,
  type RaftMessage,
  type Ready,
  type RestartState,
  type SnapshotMeta,
  type SoftState,
} from './types.ts';

export interface ProgressStatus {
  id: NodeId;
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  recentActive: boolean;
  isLearner: boolean;
}

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  role: Role;
  leader: NodeId;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  conf: ConfState;
  leadTransferee: NodeId;
  /** Messages dropped because their sender is not a member of the group (see docs/raft.md). */
  droppedFromNonMembers: number;
  /** Quiescent: no heartbeats (leader) or no election timer (follower) until woken. */
  quiesced: boolean;
  /** Leader only: one per member, in configuration order. */
  progress?: ProgressStatus[];
}

const STATE_NAMES = ['probe', 'replicate', 'snapshot'] as const;

export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inFlight: Ready | undefined;
  /** A Ready acknowledged by advanceWriting whose write is not durable yet (written() ends it). */
  private writing: Ready | undefined;

  /**
   * A fresh group: `start` = { hardState: {0,0,0}, snapshotMeta: {index 0, term 0, conf: initial
   * voters}, entries: [], applied: 0 } on every initial member. A replica joining an existing
   * group starts the same way with an empty conf: it stays passive until the leader's log or
   * snapshot tells it the membership.
   */
  constructor(cfg: RaftConfig, start: RestartState) {
    this.raft = new Raft(cfg, start);
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /** Current term (e.g. to remember which term a proposal was appended in). */
  get term(): number {
    return this.raft.term;
  }

  get role(): Role {
    return this.raft.role;
  }

  get leader(): NodeId {
    return this.raft.lead;
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: RaftMessage): void {
    this.raft.step(m);
  }

  /**
   * Appends a command on the leader; returns its index. The entry is ours iff the entry applied
   * at that index has the term this replica had when proposing (`term`). Throws NotLeaderError
   * (NOT_LEADER, leaderId = known leader or 0) elsewhere or during a transfer, PARAM_ERROR for
   * empty data, OVERLOAD beyond maxUncommittedBytes.
   */
  propose(data: Uint8Array): number {
    return this.raft.propose(data);
  }

  /**
   * Appends a membership change; it takes effect on each replica as soon as the entry is in its
   * log. Throws BUSY while a previous change (or this leader's first entry) is uncommitted,
   * PARAM_ERROR for an invalid change, NotLeaderError on a non-leader.
   */
  proposeConfChange(cc: ConfChange): number {
    return this.raft.proposeConfChange(cc);
  }

  transferLeader(to: NodeId): void {
    this.raft.transferLeader(to);
  }

  /** Leader only (NotLeaderError otherwise); the answer appears in a later Ready's readStates. */
  readIndex(ctx: Uint8Array): void {
    this.raft.readIndex(ctx);
  }

  campaign(): void {
    this.raft.campaign();
  }

  reportUnreachable(to: NodeId): void {
    this.raft.reportUnreachable(to);
  }

  /**
   * Ends quiescence (no-op otherwise). Call it when the leader's process is known to be gone
   * (peer liveness): a quiesced follower's election timer stands still and would never fire.
   */
  wake(): void {
    this.raft.wake();
  }

  /** The latest configuration (a live reference: do not modify); cheap. */
  get conf(): Readonly<ConfState> {
    return this.raft.conf;
  }

    /** Quiescent (docs/raft.md "Quiescence"); cheap. */
  get quiesced(): boolean {
    return this.raft.quiesced;
  }

  /** Outcome of sending a Snapshot message to `to` (the transport knows; Raft does not). */
  reportSnapshot(to: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(to, ok);
  }

  /** Messages dropped because their sender is not a member (cheap; also in status()). */
  get droppedFromNonMembers(): number {
    return this.raft.droppedFromNonMembers;
  }

  /** Whether stepping `m` would reach the core (see Raft.wouldAccept); counts nothing. */
  wouldAccept(m: RaftMessage): boolean {
    return this.raft.wouldAccept(m);
  }

  /** Notes a message the driver dropped because wouldAccept said no (counted like the core's own). */
  noteDroppedFromNonMember(): void {
    this.raft.droppedFromNonMembers++;
  }

  /** The snapshot received from the leader that the next Ready will ask to install, if any. */
  pendingSnapshotMeta(): SnapshotMeta | undefined {
    return this.raft.log.pendingSnapshot?.meta;
  }

  /** Meta (term and membership) of the state at `index` ≤ commit, for a snapshot taken there. */
  snapshotMetaAt(index: number): SnapshotMeta {
    return this.raft.log.snapshotMetaAt(index);
  }

  /**
   * The driver durably stored a snapshot at `snapshotIndex` (≤ applied): drop entries ≤
   * `compactTo` (default: the snapshot index; keep a margin for slow followers by passing less).
   * Followers that need dropped entries are then sent this snapshot.
   */
  compact(snapshotIndex: number, compactTo: number = snapshotIndex): void {
    this.raft.compact(snapshotIndex, compactTo);
  }

  hasReady(): boolean {
    if (this.inFlight) return false;
    const r = this.raft;
    r.flushAppends();
    if (this.writing) {
      // Only what needs no disk (see readyWhileWriting).
      if (r.readStates.length > 0 || r.msgs.some((m) => isLeaderTraffic(m.type))) return true;
      if (r.log.committed > r.log.applied && this.committedWhileWriting(1).length > 0) return true;
      return r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role;
    }
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.pendingSnapshot) return true;
    if (r.log.stableIndex < r.log.lastIndex()) return true;
    if (r.log.committed > r.log.applied && r.log.nextCommittedEntries(1).length > 0) return true;
    // Compared field by field, not through hardState()/softState(): the driver asks every group
    // every tick, and a thousand idle groups must not allocate.
    const h = this.prevHard;
    if (r.term !== h.term || r.vote !== h.vote || r.log.committed !== h.commit) return true;
    return r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role;
  }

  ready(): Ready {
    if (this.inFlight) throw new CurveError(StatusCode.BUSY, 'advance() the previous Ready first');
    if (this.writing) return this.readyWhileWriting();
    const r = this.raft;
    r.flushAppends();
    const hs = this.hardState();
    const ss = this.softState();
    const rd: Ready = {
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommittedEntries(r.cfg.maxCommittedSizePerReady),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
    };
    r.msgs = [];
    r.readStates = [];
    if (!sameSoft(ss, this.prevSoft)) rd.softState = ss;
    if (!sameHard(hs, this.prevHard)) rd.hardState = hs;
    if (r.log.pendingSnapshot) rd.snapshot = r.log.pendingSnapshot;
    rd.mustSync =
      rd.entries.length > 0 || rd.snapshot !== undefined || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote;
    this.inFlight = rd;
    return rd;
  }

  advance(): void {
    const rd = this.inFlight;
    if (!rd) return;
    this.inFlight = undefined;
    this.handedOut(rd);
    if (rd.snapshot) this.raft.log.snapshotDone(rd.snapshot.meta.index);
    this.durable(rd);
  }

  /**
   * Acknowledges the last Ready whose messages that need no disk were sent and whose committed
   * entries were applied, while its write (entries, hard state) still runs; `written()` reports
   * the write durable. Until then ready() hands out only what needs no disk: messages that are
   * leader traffic, committed entries (on a follower only those already durable here), read
   * states and role changes — no entries, no hard state, no acknowledgement or vote (those stay
   * queued and leave with a later Ready, after its write). A Ready carrying a snapshot must be
   * advanced with advance() (it is installed, then applied). No-op without a Ready.
   */
  advanceWriting(): void {
    const rd = this.inFlight;
    if (!rd) return;
    if (rd.snapshot) throw new CurveError(StatusCode.PARAM_ERROR, 'a Ready with a snapshot is advanced with advance()');
    if (this.writing) throw new CurveError(StatusCode.BUSY, 'a write is already in flight: call written() first');
    this.inFlight = undefined;
    this.handedOut(rd);
    this.writing = rd;
  }

  /** The write of the Ready acknowledged by advanceWriting() is durable: our own copy and vote count now. */
  written(): void {
    const rd = this.writing;
    if (!rd) return;
    this.writing = undefined;
    this.durable(rd);
  }

  /** A write acknowledged by advanceWriting() has not been reported durable yet. */
  get writeInFlight(): boolean {
    return this.writing !== undefined;
  }

  /** What the driver was handed: the role and hard state it knows, the entries it applied. */
  private handedOut(rd: Ready): void {
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.committedEntries.length > 0) this.raft.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index);
  }

  /** What `rd` persisted may count now: our own vote, our own copy of the log. */
  private durable(rd: Ready): void {
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      this.raft.log.stableTo(last.index, last.term);
    }
    this.raft.persisted(rd.hardState);
  }

  /**
   * A Ready while a write is in flight: nothing that needs the disk. Entries committed here are
   * held by a quorum's disks whatever this replica's own write does (a leader counts its own copy
   * only from written()), so a leader applies them at once; a follower applies only what its own
   * disk already holds, as it always does before acknowledging.
   */
  private readyWhileWriting(): Ready {
    const r = this.raft;
    r.flushAppends();
    const messages: RaftMessage[] = [];
    const held: RaftMessage[] = [];
    for (const m of r.msgs) (isLeaderTraffic(m.type) ? messages : held).push(m);
    r.msgs = held;
    const rd: Ready = { entries: [], committedEntries: this.committedWhileWriting(r.cfg.maxCommittedSizePerReady), messages, readStates: r.readStates, mustSync: false };
    r.readStates = [];
    const ss = this.softState();
    if (!sameSoft(ss, this.prevSoft)) rd.softState = ss;
    this.inFlight = rd;
    return rd;
  }

  private committedWhileWriting(maxBytes: number): Entry[] {
    const r = this.raft;
    const ents = r.log.nextCommittedEntries(maxBytes);
    if (r.role === Role.Leader) return ents;
    const stable = r.log.stableIndex;
    let n = ents.length;
    while (n > 0 && ents[n - 1]!.index > stable) n--;
    return n === ents.length ? ents : ents.slice(0, n);
  }

  status(): RaftStatus {
    const r = this.raft;
    const s: RaftStatus = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      role: r.role,
      leader: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      conf: cloneConf(r.conf),
      leadTransferee: r.leadTransferee,
      droppedFromNonMembers: r.droppedFromNonMembers,
      quiesced: r.quiesced,
    };
    if (r.role === Role.Leader) {
      s.progress = [...r.prs.values()].map((p) => ({
        id: p.id,
        match: p.match,
        next: p.next,
        state: STATE_NAMES[p.state as ProgressState],
        recentActive: p.recentActive,
        isLearner: p.isLearner,
      }));
    }
    return s;
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}
