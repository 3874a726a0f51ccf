// When may a lease holder still act? Pure bookkeeping over an injected clock.
//
// etcd starts (or restarts) a lease's TTL when it *processes* a grant or keepalive, which is
// after we sent it. So a keepalive sent at local time s that etcd confirmed keeps the lease alive
// until at least s + TTL on etcd's side (an etcd leader change only extends leases). The holder
// acts only until s + TTL − margin, where s is the send time of the newest confirmed keepalive.
// The margin absorbs clock-rate differences and the time between checking and acting (an event
// loop stall). Deciding from our own clock, not from the client library's "lease lost" event
// (which fires only after ~2×TTL), is what keeps a deposed leader from overlapping the next.

export class LeaseGuard {
  private confirmedSentAt = Number.NEGATIVE_INFINITY;
  private ttlMs: number;

  constructor(ttlMs: number, private readonly marginMs: number) {
    if (!(marginMs >= 0 && marginMs < ttlMs)) throw new RangeError(`lease margin ${marginMs} ms must be in [0, ttl ${ttlMs} ms)`);
    this.ttlMs = ttlMs;
  }

  /**
   * Records a confirmation of a grant/keepalive *sent* at `sentAt`. `grantedTtlMs` is the TTL
   * etcd reported in its answer (it may be shorter than asked for).
   */
  confirm(sentAt: number, grantedTtlMs = this.ttlMs): void {
    if (grantedTtlMs < this.ttlMs) this.ttlMs = grantedTtlMs;
    if (sentAt > this.confirmedSentAt) this.confirmedSentAt = sentAt;
  }

  /** The instant (clock ms) after which the holder must not act. */
  validUntil(): number {
    return this.confirmedSentAt + this.ttlMs - this.marginMs;
  }

  isValid(now: number): boolean {
    return now < this.validUntil();
  }

  /** Ends validity at once (lease revoked, key lost, stop). */
  invalidate(): void {
    this.confirmedSentAt = Number.NEGATIVE_INFINITY;
  }
}
