// Retry policy for calls to replicated services: capped exponential backoff with jitter,
// within a per-call deadline. Which errors are retryable, and what to do first, is decided by
// the caller; this only says how long to wait.
import type { Random } from '../common/index.ts';
import { StatusCode } from '../common/index.ts';

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Fraction of the delay that is random, e.g. 0.2 = ±20 %. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 20, maxMs: 1000, jitter: 0.2 };

export function backoffDelay(attempt: number, opts: BackoffOptions, random: Random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 20));
  const spread = exp * opts.jitter;
  return Math.max(0, exp - spread + random.next() * 2 * spread);
}

/** Statuses after which the same request may be sent again (to the same or another replica). */
export function isRetryable(status: StatusCode): boolean {
  switch (status) {
    case StatusCode.NOT_LEADER:
    case StatusCode.REDIRECTED:
    case StatusCode.UNAVAILABLE:
    case StatusCode.TIMEOUT:
    case StatusCode.OVERLOAD:
    case StatusCode.COPYSET_NOTEXIST:
    case StatusCode.PARTITION_NOT_FOUND:
    case StatusCode.RPC_ERROR:
    case StatusCode.SHUTTING_DOWN:
    case StatusCode.TX_INPROGRESS:
    case StatusCode.GROUP_REMOVED:
      return true;
    default:
      return false;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
