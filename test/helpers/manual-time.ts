// Time that moves only when a test says so: a Clock and a Timer for RaftNode and other drivers
// that take both by injection.
import type { Clock, Timer, TimerHandle } from '../../src/common/index.ts';

/** Time that moves only when the test says so; due callbacks run in order of their due time. */
export class ManualTime implements Clock, Timer {
  private t = 0;
  private seq = 0;
  private readonly items = new Map<number, { at: number; every: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  wallTime(): [number, number] {
    return [Math.floor(this.t / 1000), (this.t % 1000) * 1e6];
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.items.set(id, { at: this.t + ms, every: 0, fn });
    return { id };
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.items.set(id, { at: this.t + ms, every: ms, fn });
    return { id };
  }
  clear(h: TimerHandle): void {
    this.items.delete(h.id as number);
  }
  /** Moves time forward `ms` in `step`s, running what falls due and letting I/O proceed after each. */
  async advance(ms: number, step = 100): Promise<void> {
    for (const end = this.t + ms; this.t < end; ) {
      this.t = Math.min(end, this.t + step);
      for (;;) {
        const due = [...this.items].filter(([, x]) => x.at <= this.t).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        const [id, x] = due;
        if (x.every > 0) x.at += x.every;
        else this.items.delete(id);
        x.fn();
      }
      await new Promise((r) => setImmediate(r));
    }
  }
}
