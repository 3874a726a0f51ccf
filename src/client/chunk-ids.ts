// Chunk ids for data writes, leased from the MDS a range at a time ahead of need, so a write
// makes no MDS round trip and goes on while the MDS is down or failing over (issue [H] scenario
// 6: with the only MDS killed, `cp` into a mount stalled 30 s and failed).
//
// Why a lease is safe now: a chunk id only names a slice's objects. Which of two overlapping
// slices reads is decided by the append sequence the metaserver stamps when it records the slice
// (src/data/layout.ts), so ids from a range leased long ago, or by another client, can be used in
// any order. Uniqueness is the MDS's: it persists the high-water mark of the ids it has handed
// out before it answers (src/mds/id-allocator.ts), so no id is handed out twice, across clients
// and across MDS restarts and failovers. Ids a client never uses are gaps, nothing more.
//
// The client holds up to two ranges: the one it takes from and the next, leased in the
// background once fewer than `renewBelow` ids are left. A write finds ids in memory; only when
// every range is used up (an outage longer than the ids last) does it wait for a lease, at most
// `waitMs`, and then fails with ALLOCATE_CHUNKID_ERROR (EIO).
import { CurveError, StatusCode, createLogger, systemClock, type Clock } from '../common/index.ts';

const log = createLogger('client/chunk-ids');

export interface ChunkIdLeaseOptions {
  /** Ids per lease (default 4,096). */
  rangeSize?: number;
  /** A background lease starts once fewer ids than this are held (default half a range). */
  renewBelow?: number;
  /** How long one lease call waits for the MDS; a write with no ids left waits this long, then EIO (default 10,000 ms). */
  waitMs?: number;
  /** After a failed lease, the next background attempt waits this long (default 1,000 ms). */
  retryMs?: number;
  clock?: Clock;
}

/** Asks the MDS for `count` consecutive fresh ids within `deadlineMs`; resolves with the first. */
export type ChunkIdFetch = (count: number, deadlineMs: number) => Promise<number>;

export class ChunkIdLease {
  readonly rangeSize: number;
  private readonly renewBelow: number;
  private readonly waitMs: number;
  private readonly retryMs: number;
  private readonly clock: Clock;
  /** Leased ranges [next, end), taken from in order. */
  private ranges: [number, number][] = [];
  private leasing: Promise<void> | undefined;
  private lastFailure = -Infinity;
  /** When leasing started to fail (undefined while the MDS answers). */
  private failingSince: number | undefined;
  /** Lease calls made (what a test counts: one per range, never one per write). */
  leases = 0;

  constructor(
    private readonly fetch: ChunkIdFetch,
    opts: ChunkIdLeaseOptions = {},
  ) {
    this.rangeSize = opts.rangeSize ?? 4096;
    this.renewBelow = opts.renewBelow ?? Math.ceil(this.rangeSize / 2);
    this.waitMs = opts.waitMs ?? 10_000;
    this.retryMs = opts.retryMs ?? 1000;
    this.clock = opts.clock ?? systemClock;
    if (!Number.isSafeInteger(this.rangeSize) || this.rangeSize < 1) throw new CurveError(StatusCode.PARAM_ERROR, `chunk id range size ${this.rangeSize}`);
  }

  /** Ids held, over all ranges. */
  get held(): number {
    let n = 0;
    for (const [a, b] of this.ranges) n += b - a;
    return n;
  }

  /** The first of `n` consecutive ids no one else has. */
  async take(n: number): Promise<number> {
    if (!Number.isSafeInteger(n) || n < 1) throw new CurveError(StatusCode.PARAM_ERROR, `cannot take ${n} chunk ids`);
    // More than a range at once (never from the write path in practice): straight from the MDS.
    if (n > this.rangeSize) return this.fetch(n, this.waitMs);
    let first = this.takeHeld(n);
    if (first === undefined) {
      // Nothing held fits: wait for a lease (the one in flight, or a new one), once.
      this.renew(true);
      await this.leasing;
      first = this.takeHeld(n);
    }
    this.renew(false);
    if (first !== undefined) return first;
    const down = this.failingSince === undefined ? 0 : Math.round(this.clock.now() - this.failingSince);
    throw new CurveError(
      StatusCode.ALLOCATE_CHUNKID_ERROR,
      `no chunk id for a write: the ${this.rangeSize} ids leased ahead are used up and the MDS has not answered for ${down} ms`,
    );
  }

  /**
   * Leases a first range now and resolves once it is held (or the lease failed: writes then
   * lease again). A client that mounts does this so that it holds ids before any outage.
   */
  async prime(): Promise<void> {
    this.renew(true);
    await this.leasing;
  }

  /** Starts a background lease when below the mark (`force`: also right after a failure). */
  renew(force: boolean): void {
    if (this.leasing || this.held >= this.renewBelow) return;
    if (!force && this.clock.now() - this.lastFailure < this.retryMs) return;
    this.leases++;
    this.leasing = this.fetch(this.rangeSize, this.waitMs)
      .then(
        (first) => {
          if (!Number.isSafeInteger(first) || first <= 0 || !Number.isSafeInteger(first + this.rangeSize)) {
            throw new CurveError(StatusCode.ALLOCATE_CHUNKID_ERROR, `the MDS leased chunk ids from ${first}`);
          }
          this.ranges.push([first, first + this.rangeSize]);
          if (this.failingSince !== undefined) log.info('chunk ids leased again', { failedMs: Math.round(this.clock.now() - this.failingSince) });
          this.failingSince = undefined;
        },
      )
      .catch((e: unknown) => {
        this.lastFailure = this.clock.now();
        if (this.failingSince === undefined) {
          this.failingSince = this.lastFailure;
          log.warn('leasing chunk ids failed; writes use the ids still held', { held: this.held, error: String(e) });
        }
      })
      .finally(() => (this.leasing = undefined));
  }

  private takeHeld(n: number): number | undefined {
    // Drop used-up ranges; a range with too few ids left stays for smaller requests.
    this.ranges = this.ranges.filter(([a, b]) => b > a);
    for (const r of this.ranges) {
      if (r[1] - r[0] >= n) {
        const first = r[0];
        r[0] += n;
        return first;
      }
    }
    return undefined;
  }
}
