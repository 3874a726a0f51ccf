// Waiting for a condition another process brings about (a server that starts, a leader that is
// elected): poll with a growing delay until the probe gives a value or the deadline passes.

export interface PollOptions {
  /** First delay between probes (default 20 ms); it doubles up to maxDelayMs. */
  minDelayMs?: number;
  /** Longest delay between probes (default 250 ms). */
  maxDelayMs?: number;
  /** Runs before each probe; throws to give up early (e.g. the awaited process exited). */
  check?: () => void;
}

/**
 * Calls `probe` until it returns a value other than undefined, and returns that value. A probe
 * that throws counts as "not yet"; the last such error is named if the deadline passes.
 */
export async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, opts: PollOptions = {}): Promise<T> {
  const end = performance.now() + timeoutMs;
  let last: unknown;
  for (let delay = opts.minDelayMs ?? 20; ; delay = Math.min(delay * 2, opts.maxDelayMs ?? 250)) {
    opts.check?.();
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
