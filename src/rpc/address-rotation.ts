// Calls to a replicated service known by a list of addresses, of which one serves (the MDS): it
// remembers which address answered last, follows the leader hint a refusal carries (NOT_LEADER
// names the leader), rotates through the list when there is no hint, and after as many refusals
// as addresses pauses with capped, jittered backoff, all within the call's deadline. Statuses not
// in `retryOn` are the answer and are thrown at once. Used by MdsClient (src/mds) and the client
// library's RotatingMdsConnector (src/client), so both follow the same policy.
import { CurveError, StatusCode, systemRandom, type Random } from '../common/index.ts';

export interface RotationCallOptions {
  /** Total time for the call, retries included. */
  deadlineMs: number;
  /** Timeout of one attempt (cut to what is left of the deadline). */
  attemptTimeoutMs: number;
  /** First pause after a full round of refusals; doubles per round up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Statuses that mean "ask another address / try again later". */
  retryOn: ReadonlySet<StatusCode>;
  random?: Random;
  /** Stops retrying once aborted (the attempt in flight sees the signal through `attempt`). */
  signal?: AbortSignal;
  /** What the servers are called in the deadline error ("MDS"). */
  serverName?: string;
}

/** The statuses after which another MDS may answer. */
export const MDS_RETRY_STATUSES: ReadonlySet<StatusCode> = new Set<StatusCode>([
  StatusCode.NOT_LEADER, StatusCode.REDIRECTED, StatusCode.UNAVAILABLE, StatusCode.TIMEOUT,
  StatusCode.SHUTTING_DOWN, StatusCode.OVERLOAD,
]);

/** Thrown when the deadline passes: the last refusal (or TIMEOUT when no attempt was made). */
export class RotationDeadlineError extends CurveError {
  constructor(readonly last: unknown, serverName = 'server') {
    const c = last instanceof CurveError ? last : undefined;
    const msg = `no ${serverName} answered within the deadline`;
    super(c?.status ?? StatusCode.TIMEOUT, c ? `${msg} (last: ${c.message})` : msg, c?.leaderHint);
  }
}

export class AddressRotation {
  private readonly addresses: string[];
  private current = 0;

  constructor(addresses: readonly string[]) {
    if (addresses.length === 0) throw new CurveError(StatusCode.PARAM_ERROR, 'no address given');
    this.addresses = [...addresses];
  }

  /** The address that answered last (the leader, as far as this caller knows). */
  get leader(): string {
    return this.addresses[this.current]!;
  }

  async call<T>(attempt: (address: string, timeoutMs: number) => Promise<T>, o: RotationCallOptions): Promise<T> {
    const deadline = performance.now() + o.deadlineMs;
    const random = o.random ?? systemRandom;
    let backoff = o.backoffMs ?? 50;
    const maxBackoff = o.maxBackoffMs ?? 1000;
    let refusals = 0;
    let last: unknown;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw new RotationDeadlineError(last, o.serverName);
      const address = this.addresses[this.current]!;
      try {
        return await attempt(address, Math.max(1, Math.min(o.attemptTimeoutMs, left)));
      } catch (e) {
        if (!(e instanceof CurveError) || !o.retryOn.has(e.status)) throw e;
        if (o.signal?.aborted) throw e;
        last = e;
        const hint = e.leaderHint ? hostPort(e.leaderHint) : undefined;
        if (hint && hint !== address) {
          // Follow the hint next, without a pause: it is usually right.
          let i = this.addresses.indexOf(hint);
          if (i < 0) i = this.addresses.push(hint) - 1;
          this.current = i;
        } else {
          this.current = (this.current + 1) % this.addresses.length;
        }
        if (++refusals >= this.addresses.length) {
          // As many refusals as addresses: nobody serves right now (an election, a leader still
          // loading). Pause, then go round again.
          refusals = 0;
          const pause = Math.min(backoff * (0.5 + random.next() / 2), Math.max(0, deadline - performance.now()));
          await new Promise((r) => setTimeout(r, pause));
          backoff = Math.min(backoff * 2, maxBackoff);
        }
      }
    }
  }
}

/** "host:port" from a hint that may be a peer string "host:port:idx". */
function hostPort(hint: string): string {
  const parts = hint.split(':');
  return parts.length >= 3 ? `${parts[0]}:${parts[1]}` : hint;
}
