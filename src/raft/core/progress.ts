// The leader's view of one follower (etcd-io/raft tracker.Progress). Probe: one append in flight
// until the follower answers, to find where logs agree. Replicate: optimistic pipelining, bounded
// by Inflights. Snapshot: waiting for a snapshot to be installed; nothing else is sent.
import type { NodeId } from './types.ts';

export const enum ProgressState {
  Probe = 0,
  Replicate = 1,
  Snapshot = 2,
}

/** Appends sent and not yet acknowledged, bounded by count and by bytes. */
export class Inflights {
  private idx: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  constructor(
    private readonly maxMsgs: number,
    private readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.idx.length - this.head;
  }

  add(lastIndex: number, bytes: number): void {
    this.idx.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every append whose last index is ≤ `to` (the follower acknowledged them). */
  freeLE(to: number): void {
    while (this.head < this.idx.length && this.idx[this.head]! <= to) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    this.compactArrays();
  }

  freeFirstOne(): void {
    if (this.count === 0) return;
    this.bytes -= this.sizes[this.head]!;
    this.head++;
    this.compactArrays();
  }

  full(): boolean {
    return this.count >= this.maxMsgs || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.idx = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }

  private compactArrays(): void {
    if (this.head > 64 && this.head * 2 > this.idx.length) {
      this.idx = this.idx.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** Probe: an append is outstanding, wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** Snapshot: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Ticks spent in Snapshot state, to recover if the driver never reports the outcome. */
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Leader tick at which the latest acknowledged heartbeat was sent (for the read lease). */
  heartbeatAckTick = -Infinity;
  readonly inflights: Inflights;

  constructor(
    readonly id: NodeId,
    next: number,
    public isLearner: boolean,
    maxInflightMsgs: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** The follower acknowledged `n`; returns true if match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Replicate: entries up to `n` are on their way. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * The follower rejected an append whose previous index was `rejected`; `matchHint` is where
   * the logs may agree. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }
}
