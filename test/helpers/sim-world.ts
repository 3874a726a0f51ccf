// The driver-level simulation's world: one seeded event queue that owns time for every simulated
// process (test/sim/driver-sim.ts). Each event runs, then every promise continuation it set off
// runs to completion before the next event (one setImmediate drains the microtask queue: nothing
// in the simulation does real I/O), so the production driver's async code interleaves the same
// way on every run of a seed. Same seed, same events, same trace hash.
import { SeededRandom, type Clock, type Timer, type TimerHandle } from '../../src/common/index.ts';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
}

/** A simulated process incarnation: everything it started dies with it (see SimWorld.schedule). */
export interface Proc {
  alive: boolean;
  readonly name: string;
}

export class SimWorld {
  /** Simulated milliseconds since the start. */
  now = 0;
  readonly rng: SeededRandom;
  private readonly heap: Event[] = [];
  private seq = 0;
  private hash = 0x811c9dc5;
  /** Events run so far. */
  steps = 0;

  constructor(
    seed: number,
    /** Receives every trace line (replaying a seed verbosely). */
    private readonly tracer?: (line: string) => void,
  ) {
    this.rng = new SeededRandom(seed);
  }

  /** Runs `fn` after `delay` simulated ms (events at the same time run in scheduling order). */
  schedule(delay: number, fn: () => void): void {
    const e = { at: this.now + Math.max(0, delay), seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** A promise settled by the world after `delay`, or never if `proc` has died by then. */
  after(delay: number, proc: Proc | undefined): Promise<void> {
    return new Promise((resolve) => this.schedule(delay, () => (!proc || proc.alive) && resolve()));
  }

  /** Adds a line to the trace (hashed; printed when replaying verbosely). */
  note(line: string): void {
    const s = `${this.now.toFixed(3)} ${line}`;
    let h = this.hash;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    this.hash = h >>> 0;
    this.tracer?.(s);
  }

  get traceHash(): string {
    return this.hash.toString(16).padStart(8, '0');
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs the next event and everything it set off; false when no event is left. */
  async step(): Promise<boolean> {
    const e = this.pop();
    if (!e) return false;
    this.now = e.at;
    this.steps++;
    e.fn();
    await new Promise<void>((r) => setImmediate(r));
    return true;
  }

  private pop(): Event | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

const before = (a: Event, b: Event): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/**
 * One process's clock and timers on the world's time, running at `rate` (1.02 = its clock and
 * ticks run 2 % fast): different tick rates per node. Its timers die with its process.
 */
export class SimProcessTime implements Clock, Timer {
  private nextId = 0;
  private readonly live = new Set<number>();

  constructor(
    private readonly world: SimWorld,
    private readonly proc: Proc,
    private readonly rate: number,
    private readonly offset: number,
  ) {}

  now(): number {
    return this.offset + this.world.now * this.rate;
  }

  wallTime(): [number, number] {
    const ms = this.now();
    return [Math.floor(ms / 1000), Math.floor((ms % 1000) * 1e6)];
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.nextId;
    this.live.add(id);
    this.world.schedule(ms / this.rate, () => {
      if (!this.proc.alive || !this.live.delete(id)) return;
      fn();
    });
    return { id };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const id = ++this.nextId;
    this.live.add(id);
    const fire = (): void => {
      if (!this.proc.alive || !this.live.has(id)) return;
      this.world.schedule(ms / this.rate, fire);
      fn();
    };
    this.world.schedule(ms / this.rate, fire);
    return { id };
  }

  clear(handle: TimerHandle): void {
    this.live.delete(handle.id as number);
  }
}
