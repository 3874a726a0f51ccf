// The only way core code sees time and randomness. Pure state machines (Raft core, partition)
// take none of these: they get time as tick() and values inside operations. Drivers take a
// Clock and Random so a seeded simulation can replace them.

export interface Clock {
  /** Milliseconds, monotonic within a process. */
  now(): number;
  /** Wall-clock time for timestamps stored in inodes: [seconds, nanoseconds]. */
  wallTime(): [number, number];
}

export interface Timer {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle): void;
}
export type TimerHandle = { readonly id: unknown };

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi). */
  int(lo: number, hi: number): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallTime: () => {
    const ns = process.hrtime.bigint() - hrBase + wallBaseNs;
    return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
  },
};
const hrBase = process.hrtime.bigint();
const wallBaseNs = BigInt(Date.now()) * 1_000_000n;

export const systemTimer: Timer = {
  setTimeout: (fn, ms) => ({ id: setTimeout(fn, ms) }),
  setInterval: (fn, ms) => ({ id: setInterval(fn, ms) }),
  clear: (h) => clearTimeout(h.id as NodeJS.Timeout),
};

export const systemRandom: Random = {
  next: () => Math.random(),
  int: (lo, hi) => lo + Math.floor(Math.random() * (hi - lo)),
};

/**
 * A small, fast, seedable PRNG (mulberry32). Same seed, same sequence, on every machine —
 * the basis of replayable simulations.
 */
export class SeededRandom implements Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }
}
