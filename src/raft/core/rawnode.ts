// RawNode: the driver's handle on one Raft replica (after etcd-io/raft rawnode.go). The driver
// feeds it time (tick), messages (step) and requests; it answers with Ready batches. Between
// ready() and advance() the driver may keep calling tick/step/propose: advance() acknowledges
// exactly what that Ready handed out.
import { CurveError, StatusCode } from '../../common/index.ts';
import type { RaftConfig } from './config.ts';
import type { ConfChange } from './confchange.ts';
import { cloneConf } from './log.ts';
import { ProgressState } from './progress.ts';
import { Raft } from './raft.ts';
import {
  Role,
  type ConfState,
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
    const log = this.raft.log;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) log.snapshotDone(rd.snapshot.meta.index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index);
    // What this Ready persisted may count now: our own vote, our own copy of the log.
    this.raft.persisted(rd.hardState);
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
