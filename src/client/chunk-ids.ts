// Chunk ids for data writes, without the MDS on the write path when it does not answer (issue
// [H] scenario 6: with the only MDS down, `cp` into a mount stalled 30 s and failed EAGAIN).
//
// Every write (one flush of a file's buffer) still asks the MDS for its ids while the MDS
// answers, within a short deadline: ids allocated at write time keep the order of writes across
// clients, which reads rely on (where slices overlap, the highest chunk id wins: formats.md).
// Next to that, each client holds a reserve of ids leased ahead (4,096 by default, renewed in the
// background when half used or older than 30 s). When the MDS does not answer within the
// deadline, writes take their ids from the reserve at once and a background probe (once a
// second) finds out when the MDS is back. When the reserve is used up before that, a write fails
// with ALLOCATE_CHUNKID_ERROR (EIO), a definite error, instead of waiting.
//
// The price of the reserve: its ids were allocated up to 30 s before the outage, so a write made
// during an outage can carry a lower id than one another client committed shortly before to the
// same bytes of the same file, and reads would then show the older data there. Writes by one
// client keep their order (the reserve is newer than every id this client used before it).
import { CurveError, StatusCode, createLogger, systemClock, type Clock } from '../common/index.ts';

const log = createLogger('client/chunk-ids');

export interface ChunkIdSourceOptions {
  /** Ids leased ahead, for use while the MDS does not answer (default 4,096). */
  reserve?: number;
  /** How long one allocation waits for the MDS before the reserve is used (default 2,000 ms). */
  deadlineMs?: number;
  /** A reserve older than this is replaced by a fresh one (default 30,000 ms). */
  maxAgeMs?: number;
  /** While the MDS does not answer, how often a background probe asks it again (default 1,000 ms). */
  probeMs?: number;
  clock?: Clock;
}

/** Asks the MDS for `count` consecutive ids within `deadlineMs`; resolves with the first. */
export type ChunkIdFetch = (count: number, deadlineMs: number) => Promise<number>;

/** Answers that say the MDS could not be reached (rather than refusing the request). */
const UNREACHABLE = new Set<StatusCode>([
  StatusCode.UNAVAILABLE,
  StatusCode.TIMEOUT,
  StatusCode.NOT_LEADER,
  StatusCode.REDIRECTED,
  StatusCode.SHUTTING_DOWN,
  StatusCode.OVERLOAD,
  StatusCode.RPC_ERROR,
]);

function unreachable(e: unknown): boolean {
  return !(e instanceof CurveError) || UNREACHABLE.has(e.status);
}

export class ChunkIdSource {
  private readonly reserve: number;
  private readonly deadlineMs: number;
  private readonly maxAgeMs: number;
  private readonly probeMs: number;
  private readonly clock: Clock;
  /** The reserve: ids [next, end), leased at `leasedAt`. */
  private next = 0;
  private end = 0;
  private leasedAt = 0;
  private leasing: Promise<void> | undefined;
  /** When the MDS stopped answering allocations (undefined while it answers). */
  private downSince: number | undefined;
  private lastProbe = -Infinity;

  constructor(
    private readonly fetch: ChunkIdFetch,
    opts: ChunkIdSourceOptions = {},
  ) {
    this.reserve = opts.reserve ?? 4096;
    this.deadlineMs = opts.deadlineMs ?? 2000;
    this.maxAgeMs = opts.maxAgeMs ?? 30_000;
    this.probeMs = opts.probeMs ?? 1000;
    this.clock = opts.clock ?? systemClock;
    if (!Number.isSafeInteger(this.reserve) || this.reserve < 1) throw new CurveError(StatusCode.PARAM_ERROR, `chunk id reserve ${this.reserve}`);
  }

  /** Ids held in the reserve. */
  get held(): number {
    return this.end - this.next;
  }

  /** Whether allocations are being served from the reserve because the MDS does not answer. */
  get mdsDown(): boolean {
    return this.downSince !== undefined;
  }

  /** The first of `n` consecutive unused ids. */
  async take(n: number): Promise<number> {
    if (this.downSince === undefined) {
      try {
        const first = await this.fetch(n, this.deadlineMs);
        this.renew();
        return first;
      } catch (e) {
        if (!unreachable(e)) throw e;
        if (this.downSince === undefined) {
          this.downSince = this.clock.now();
          log.warn('the MDS does not answer: chunk ids come from the reserve leased ahead', { held: this.held, error: String(e) });
        }
      }
    }
    this.probe();
    if (this.held < n && this.leasing) await this.leasing;
    if (this.held >= n) {
      const first = this.next;
      this.next += n;
      return first;
    }
    const down = this.downSince === undefined ? 0 : Math.round(this.clock.now() - this.downSince);
    throw new CurveError(
      StatusCode.ALLOCATE_CHUNKID_ERROR,
      `no chunk id for a write: the MDS has not answered for ${down} ms and the ${this.reserve} ids leased ahead are used up`,
    );
  }

  /** Leases a reserve in the background when none is held, half is used, or it is old. */
  renew(): void {
    const stale = this.clock.now() - this.leasedAt >= this.maxAgeMs;
    if (this.leasing || (this.held >= this.reserve / 2 && !stale)) return;
    this.lease();
  }

  /** While the MDS is down: asks it again in the background, at most once per probe period. */
  private probe(): void {
    if (this.leasing || this.clock.now() - this.lastProbe < this.probeMs) return;
    this.lastProbe = this.clock.now();
    this.lease();
  }

  private lease(): void {
    this.leasing = this.fetch(this.reserve, this.deadlineMs)
      .then(
        (first) => {
          this.next = first;
          this.end = first + this.reserve;
          this.leasedAt = this.clock.now();
          if (this.downSince !== undefined) log.info('the MDS answers again', { downMs: Math.round(this.clock.now() - this.downSince) });
          this.downSince = undefined;
        },
        (e: unknown) => log.debug('leasing chunk ids failed', { error: String(e) }),
      )
      .finally(() => (this.leasing = undefined));
  }
}
