// The client's view of its fs's space: capacity and usage as the MDS last answered them (from
// the partitions' heartbeat reports), plus the growth of file lengths this client admitted since.
// It answers statfs and refuses a write that would take the fs past its capacity (ENOSPC)
// without asking the MDS: the MDS is asked only by the periodic session refresh.
//
// Own growth has two stages. Admitted bytes are `pending` until the write's commit (AppendChunks)
// settles them: only then does a partition count them, and the mount may buffer a write for
// seconds. Settled bytes are kept for two refreshes: the MDS's figure lags a commit by up to one
// metaserver heartbeat (the MDS sums a partition's count when its leader next reports), so
// dropping them at the first refresh could forget bytes the MDS does not know yet; kept until a
// second one, the client may count some of its bytes twice for one refresh period — it errs
// towards refusing early, never towards accepting past the capacity. Several clients see each
// other's writes only through the MDS: together they can overshoot by what the others wrote in
// the last heartbeat + refresh period (docs/architecture.md "Space accounting").
//
// Own inodes are counted exactly instead: the report names, per partition, the next inode id as
// of the count it sums (ids are handed out in order), so an inode this client created is dropped
// from its tally exactly when the MDS's count includes it — however many refreshes the heartbeat
// lags, and never counted twice (which refused creates under the limit).
import { CurveError, StatusCode } from '../common/index.ts';

/** What the MDS says about the fs's space (RefreshSession's answer). */
export interface SpaceReport {
  /** Bytes; 0 = unlimited. */
  capacity: number;
  usedBytes: number;
  usedInodes: number;
  /** False while some partition has not reported to the MDS: the used figures are then too low. */
  complete: boolean;
  /** Inode limit; 0 or absent = none. */
  maxInodes?: number;
  /**
   * Each partition's id range and next inode id, as of the report counted in `usedInodes`;
   * absent from an MDS that predates them.
   */
  nextIds?: readonly InodeWatermark[];
}

/** Inodes start..end of one partition; those below nextId exist or existed. */
export interface InodeWatermark {
  start: number;
  end: number;
  nextId: number;
}

/** Reports an own inode stays counted for when no watermark covers it (the MDS lags ≤ 1 refresh). */
const REPORTS_WITHOUT_WATERMARK = 2;

export class SpaceGuard {
  capacity: number;
  /** Inode limit; 0 = none. */
  maxInodes = 0;
  usedBytes = 0;
  usedInodes = 0;
  /** Growth admitted and not yet committed (or given up). */
  private pending = 0;
  /** Growth committed since the last report, and in the period before it. */
  private current = 0;
  private previous = 0;
  /** Creates admitted whose answer has not come yet. */
  private inFlightInodes = 0;
  /** Inodes this client created that the MDS's count may not include yet → reports seen since. */
  private readonly ownInodes = new Map<number, number>();
  /** The watermarks of the last complete report. */
  private watermarks: readonly InodeWatermark[] = [];

  constructor(capacity = 0) {
    this.capacity = capacity;
  }

  /** Takes the MDS's answer to a session refresh. */
  update(r: SpaceReport): void {
    this.capacity = r.capacity;
    this.maxInodes = r.maxInodes ?? 0;
    // An incomplete sum misses partitions: keep the last complete figures (and the growth).
    if (!r.complete) return;
    this.usedBytes = r.usedBytes;
    this.usedInodes = r.usedInodes;
    this.previous = this.current;
    this.current = 0;
    this.watermarks = r.nextIds ?? [];
    for (const [ino, seen] of this.ownInodes) {
      if (this.reported(ino, seen + 1)) this.ownInodes.delete(ino);
      else this.ownInodes.set(ino, seen + 1);
    }
  }

  /**
   * Whether the last report's count includes own inode `ino`, `seen` reports after its create:
   * exactly, by its partition's watermark; without one, by the lag rule.
   */
  private reported(ino: number, seen: number): boolean {
    const w = this.watermarks.find((m) => m.start <= ino && ino <= m.end);
    return w ? ino < w.nextId : seen >= REPORTS_WITHOUT_WATERMARK;
  }

  /** Bytes this client counts as used: the MDS's figure plus its own recent growth. */
  get used(): number {
    return this.usedBytes + this.pending + this.previous + this.current;
  }

  /** Bytes left before the capacity (Infinity when unlimited). */
  get free(): number {
    return this.capacity > 0 ? Math.max(0, this.capacity - this.used) : Infinity;
  }

  /**
   * Admits `bytes` of growth of a file's length, or throws NO_SPACE (ENOSPC) when the fs would
   * pass its capacity. A write inside a file's current length grows nothing and is never refused.
   */
  admit(bytes: number): void {
    if (bytes <= 0) return;
    if (this.capacity > 0 && this.used + bytes > this.capacity) {
      throw new CurveError(StatusCode.NO_SPACE, `fs is full: ${this.used} of ${this.capacity} bytes used, ${bytes} more asked`);
    }
    this.pending += bytes;
  }

  /** `bytes` of admitted growth are committed: the partitions count them from now on. */
  settle(bytes: number): void {
    if (bytes <= 0) return;
    this.pending = Math.max(0, this.pending - bytes);
    this.current += bytes;
  }

  /** `bytes` of admitted growth will never be committed (the write failed or was cut off). */
  release(bytes: number): void {
    if (bytes > 0) this.pending = Math.max(0, this.pending - bytes);
  }

  /**
   * Inodes this client counts as used: the MDS's figure plus its creates in flight and the ones
   * it made that the figure does not include yet.
   */
  get inodes(): number {
    return this.usedInodes + this.inFlightInodes + this.ownInodes.size;
  }

  /**
   * Admits the creation of one inode, or throws NO_SPACE (ENOSPC) at the inode limit. The caller
   * then calls `settleInode` with the new inode's id, or `releaseInode` when the create failed.
   */
  admitInode(): void {
    if (this.maxInodes > 0 && this.inodes + 1 > this.maxInodes) {
      throw new CurveError(StatusCode.NO_SPACE, `fs is out of inodes: ${this.inodes} of ${this.maxInodes} used`);
    }
    this.inFlightInodes++;
  }

  /**
   * The admitted create made inode `ino`: counted until a report includes it. A report that came
   * while the create was in flight may include it already (it was counted twice meanwhile).
   */
  settleInode(ino: number): void {
    this.releaseInode();
    if (!this.reported(ino, 0)) this.ownInodes.set(ino, 0);
  }

  releaseInode(): void {
    if (this.inFlightInodes > 0) this.inFlightInodes--;
  }
}
