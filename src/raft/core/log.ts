// The core's view of the replicated log. Every entry after the compaction point is kept in
// memory (stable and unstable alike); `stableIndex` separates what the driver has persisted
// from what the next Ready must hand out. The latest configuration is tracked here too,
// because under the dissertation's membership scheme it is a function of the log.
import { CurveError, StatusCode } from '../../common/index.ts';
import { decodeConfChangeEntry } from './confchange.ts';
import { EntryType, type ConfState, type Entry, type RestartState, type Snapshot, type SnapshotMeta } from './types.ts';

/** A bug or a corrupt input that Raft cannot continue from (like etcd's panics). */
export class RaftInvariantError extends Error {
  constructor(msg: string) {
    super(`raft invariant violated: ${msg}`);
    this.name = 'RaftInvariantError';
  }
}

export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}

interface ConfPoint {
  index: number;
  conf: ConfState;
}

export class RaftLog {
  /** Index and term of the entry just before `ents[0]` (the compaction point). */
  private offsetIndex: number;
  private offsetTerm: number;
  private ents: Entry[] = [];
  committed: number;
  applied: number;
  /** Entries at or below this index are durable in the driver's storage. */
  stableIndex: number;
  /** A snapshot received from the leader, not yet persisted and applied by the driver. */
  pendingSnapshot: Snapshot | undefined;
  /** Configuration at offsetIndex, and every ConfChange entry after it. */
  private baseConf: ConfState;
  private confs: ConfPoint[] = [];

  constructor(start: RestartState) {
    const snap = start.snapshotMeta;
    this.offsetIndex = snap.index;
    this.offsetTerm = snap.term;
    this.baseConf = normConf(snap.conf);
    let prevTerm = snap.term;
    let expect = snap.index + 1;
    for (const e of start.entries) {
      if (e.index <= snap.index) continue; // covered by the snapshot
      if (e.index !== expect) {
        throw new CurveError(StatusCode.PARAM_ERROR, `restart entries not contiguous: ${e.index} after ${expect - 1}`);
      }
      if (e.term < prevTerm) {
        throw new CurveError(StatusCode.PARAM_ERROR, `restart entry ${e.index} term ${e.term} below ${prevTerm}`);
      }
      prevTerm = e.term;
      expect++;
      this.pushEntry(e);
    }
    this.stableIndex = this.lastIndex();
    this.applied = Math.max(start.applied, snap.index);
    // Entries the state machine already applied were committed even if the commit index in the
    // hard state was not synced.
    this.committed = Math.max(start.hardState.commit, snap.index, this.applied);
    if (this.committed > this.lastIndex()) {
      throw new CurveError(
        StatusCode.PARAM_ERROR,
        `commit/applied ${this.committed} beyond last log index ${this.lastIndex()}`,
      );
    }
  }

  firstIndex(): number {
    return this.offsetIndex + 1;
  }

  lastIndex(): number {
    return this.offsetIndex + this.ents.length;
  }

  /** Term of entry `i`; undefined when compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.offsetIndex) return this.offsetTerm;
    if (i < this.offsetIndex || i > this.lastIndex()) return undefined;
    return this.ents[i - this.offsetIndex - 1]!.term;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Raft §5.4.1: is a log ending at (index, term) at least as up to date as ours? */
  isUpToDate(index: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && index >= this.lastIndex());
  }

  entry(i: number): Entry | undefined {
    if (i <= this.offsetIndex || i > this.lastIndex()) return undefined;
    return this.ents[i - this.offsetIndex - 1];
  }

  /** Entries [lo, hi), at most maxBytes (but at least one); undefined if lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    if (lo <= this.offsetIndex) return undefined;
    hi = Math.min(hi, this.lastIndex() + 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.offsetIndex - 1]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Follower side of AppendEntries. Returns the last index the leader's message proves we hold,
   * or undefined when (prevIndex, prevTerm) does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftInvariantError(`entry ${ci} conflicts with committed entry (commit ${this.committed})`);
      }
      this.append(ents.slice(ci - ents[0]!.index));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** First index among `ents` that is new or disagrees with our log; 0 if all are present. */
  private findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (e.index <= this.offsetIndex) continue; // compacted: committed, hence matching
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term` (and that term) — used to skip a whole
   * term of conflicting entries per round trip when a follower rejects an append.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.offsetIndex; i--) {
      const t = this.term(i)!;
      if (t <= term) return [i, t];
    }
    return [i, this.term(i) ?? 0];
  }

  /** Appends entries, truncating any suffix from ents[0].index. */
  append(ents: Entry[]): void {
    if (ents.length === 0) return;
    const first = ents[0]!.index;
    if (first <= this.committed) throw new RaftInvariantError(`append at ${first} overwrites commit ${this.committed}`);
    if (first > this.lastIndex() + 1) throw new RaftInvariantError(`append at ${first} leaves a gap after ${this.lastIndex()}`);
    if (first <= this.lastIndex()) {
      this.ents.length = first - this.offsetIndex - 1;
      while (this.confs.length > 0 && this.confs[this.confs.length - 1]!.index >= first) this.confs.pop();
      this.stableIndex = Math.min(this.stableIndex, first - 1);
    }
    for (const e of ents) this.pushEntry(e);
  }

  private pushEntry(e: Entry): void {
    this.ents.push(e);
    if (e.type === EntryType.ConfChange) {
      this.confs.push({ index: e.index, conf: normConf(decodeConfChangeEntry(e.data).conf) });
    }
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) throw new RaftInvariantError(`commit ${i} beyond last index ${this.lastIndex()}`);
    this.committed = i;
  }

  appliedTo(i: number): void {
    if (i <= this.applied) return;
    if (i > this.committed) throw new RaftInvariantError(`applied ${i} beyond commit ${this.committed}`);
    this.applied = i;
  }

  /** The driver persisted entries up to (i, term); ignored if the log changed under it. */
  stableTo(i: number, term: number): void {
    if (this.matchTerm(i, term) && i > this.stableIndex) this.stableIndex = i;
  }

  unstableEntries(): Entry[] {
    return this.ents.slice(this.stableIndex - this.offsetIndex);
  }

  /** Committed entries not yet applied, at most maxBytes (at least one). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.pendingSnapshot) return [];
    const lo = Math.max(this.applied, this.offsetIndex) + 1;
    if (lo > this.committed) return [];
    return this.slice(lo, this.committed + 1, maxBytes) ?? [];
  }

  /** Replaces the whole log with a snapshot from the leader. */
  restore(s: Snapshot): void {
    this.offsetIndex = s.meta.index;
    this.offsetTerm = s.meta.term;
    this.ents = [];
    this.confs = [];
    this.baseConf = normConf(s.meta.conf);
    this.committed = s.meta.index;
    this.stableIndex = s.meta.index;
    this.pendingSnapshot = s;
  }

  /** The driver persisted and applied the pending snapshot at `index`. */
  snapshotDone(index: number): void {
    if (this.pendingSnapshot?.meta.index !== index) return;
    this.pendingSnapshot = undefined;
    if (index > this.applied) this.applied = index;
  }

  /** Drops entries ≤ index (which must already be applied). */
  compact(index: number): void {
    if (index <= this.offsetIndex) return;
    if (index > this.applied) throw new CurveError(StatusCode.PARAM_ERROR, `compact ${index} beyond applied ${this.applied}`);
    const term = this.term(index)!;
    this.baseConf = this.confAt(index);
    this.confs = this.confs.filter((c) => c.index > index);
    this.ents = this.ents.slice(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = term;
  }

  /** Membership in effect at `index` (≥ the compaction point). */
  confAt(index: number): ConfState {
    for (let i = this.confs.length - 1; i >= 0; i--) if (this.confs[i]!.index <= index) return this.confs[i]!.conf;
    return this.baseConf;
  }

  lastConf(): ConfState {
    return this.confs.length > 0 ? this.confs[this.confs.length - 1]!.conf : this.baseConf;
  }

  /** Index of the entry that set the latest configuration (the compaction point if compacted). */
  lastConfIndex(): number {
    return this.confs.length > 0 ? this.confs[this.confs.length - 1]!.index : this.offsetIndex;
  }

  snapshotMetaAt(index: number): SnapshotMeta {
    const term = this.term(index);
    if (term === undefined || index > this.committed) {
      throw new CurveError(
        StatusCode.PARAM_ERROR,
        `no snapshot meta at ${index}: log holds [${this.offsetIndex}, ${this.lastIndex()}], commit ${this.committed}`,
      );
    }
    return { index, term, conf: cloneConf(this.confAt(index)) };
  }
}

export function cloneConf(c: ConfState): ConfState {
  return { voters: c.voters.slice(), learners: c.learners.slice() };
}

function normConf(c: ConfState): ConfState {
  return {
    voters: [...new Set(c.voters)].sort((a, b) => a - b),
    learners: [...new Set(c.learners)].filter((x) => !c.voters.includes(x)).sort((a, b) => a - b),
  };
}
