// Sequence numbers for one session's mutations, kept within what a partition remembers of them.
//
// A partition keeps the results of a client's last RESULTS_KEPT_PER_CLIENT mutations (in the
// order it applied them) and answers a retry of an older one STALE: it can no longer tell
// whether that one was applied (src/metaserver/partition/request-table.ts). So a mutation still
// in flight — its answer lost, its retry pending — must not be pushed out by later ones. The
// client never numbers a mutation `span` or more past its oldest one still in flight. Results
// applied after a given one then number fewer than 2 × span (the later ones, plus earlier ones
// still in flight when it was applied, in any order), so with span = half the partition's
// window a retry always finds its result. The price: one mutation stuck (a copyset electing a
// leader) holds up this session's mutations `span` later until it ends or gives up.
import { RESULTS_KEPT_PER_CLIENT } from '../common/index.ts';

export class RequestWindow {
  private seq = 0;
  /** Sequence numbers in flight, in increasing order (a Set iterates in insertion order). */
  private readonly open = new Set<number>();
  private waiting: (() => void)[] = [];

  constructor(readonly span: number = RESULTS_KEPT_PER_CLIENT / 2) {}

  /** The next sequence number, once it is within `span` of the oldest one in flight. */
  async next(): Promise<number> {
    for (;;) {
      const oldest = this.open.values().next();
      if (oldest.done || this.seq + 1 - oldest.value < this.span) break;
      await new Promise<void>((r) => this.waiting.push(r));
    }
    const seq = ++this.seq;
    this.open.add(seq);
    return seq;
  }

  /** `seq` answered or given up: it no longer needs its result kept. */
  done(seq: number): void {
    if (!this.open.delete(seq) || this.waiting.length === 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}
