// Reconnect delays: capped exponential backoff with jitter, so many clients that lost the same
// server do not reconnect in lockstep. Pure apart from the injected Random.
import type { Random } from '../common/index.ts';

export interface BackoffOptions {
  /** Delay after the first failed attempt. */
  initialMs?: number;
  /** Upper bound of the delay. */
  maxMs?: number;
  /** Growth per consecutive failure. */
  multiplier?: number;
  /** Fraction of the delay randomised: delay * (1 - jitter * U[0,1)). */
  jitter?: number;
}

export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;

  constructor(
    private readonly random: Random,
    opts: BackoffOptions = {},
  ) {
    this.initialMs = opts.initialMs ?? 100;
    this.maxMs = opts.maxMs ?? 5000;
    this.multiplier = opts.multiplier ?? 2;
    this.jitter = opts.jitter ?? 0.5;
  }

  /** Delay before the next attempt after one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.multiplier ** this.failures);
    this.failures++;
    return Math.round(base * (1 - this.jitter * this.random.next()));
  }

  reset(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
