// The no-split-brain checker. Every MDS journals when it starts serving a term, each lease
// renewal (with the instant `until` past which it promises not to serve) and when it stops
// (src/mds/journal.ts). From those records alone — no timing thresholds — the checker rebuilds
// each serving interval [start, end], end = min(stop, last promised `until`), and fails if two
// intervals overlap or if terms do not grow with time.
import { readFileSync, existsSync } from 'node:fs';
import type { JournalEvent } from '../../src/mds/index.ts';

export interface ServingInterval {
  term: number;
  pid: number;
  address: string;
  start: number;
  /** Last instant the MDS could have served (its promise, or its explicit stop). */
  end: number;
  stopped: boolean;
  reason?: string;
}

export function readJournals(paths: string[]): JournalEvent[] {
  const events: JournalEvent[] = [];
  for (const p of paths) {
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as JournalEvent);
      } catch {
        // A line torn by kill -9 in the middle of a write: it promised nothing yet.
      }
    }
  }
  return events.sort((a, b) => a.t - b.t);
}

export function servingIntervals(events: JournalEvent[]): ServingInterval[] {
  const open = new Map<string, ServingInterval>();
  const out: ServingInterval[] = [];
  for (const e of events) {
    const k = `${e.pid}:${e.term}`;
    if (e.ev === 'serve-start') {
      const iv: ServingInterval = { term: e.term, pid: e.pid, address: e.address, start: e.t, end: e.until ?? Number.POSITIVE_INFINITY, stopped: false };
      open.set(k, iv);
      out.push(iv);
    } else if (e.ev === 'renew') {
      const iv = open.get(k);
      if (iv && !iv.stopped) iv.end = Math.max(iv.end, e.until ?? Number.POSITIVE_INFINITY);
    } else {
      const iv = open.get(k);
      if (iv && !iv.stopped) {
        iv.end = Math.min(iv.end, e.t);
        iv.stopped = true;
        iv.reason = e.reason;
        open.delete(k);
      }
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Throws with a description of the first violation; returns the intervals otherwise. */
export function checkNoOverlap(paths: string[]): ServingInterval[] {
  const ivs = servingIntervals(readJournals(paths));
  const terms = new Map<number, number>();
  for (const iv of ivs) {
    const other = terms.get(iv.term);
    if (other !== undefined && other !== iv.pid) throw new Error(`term ${iv.term} served by two processes (${other}, ${iv.pid})`);
    terms.set(iv.term, iv.pid);
  }
  for (let i = 1; i < ivs.length; i++) {
    const a = ivs[i - 1]!;
    const b = ivs[i]!;
    if (b.term <= a.term) throw new Error(`term went backwards: ${a.term} (pid ${a.pid}) then ${b.term} (pid ${b.pid})\n${describe(ivs)}`);
    if (a.end > b.start) {
      throw new Error(`two leaders: term ${a.term} (pid ${a.pid}) could serve until ${a.end.toFixed(1)}, term ${b.term} (pid ${b.pid}) started at ${b.start.toFixed(1)} (overlap ${(a.end - b.start).toFixed(1)} ms)\n${describe(ivs)}`);
    }
  }
  return ivs;
}

export function describe(ivs: ServingInterval[]): string {
  return ivs.map((iv) => `  term ${iv.term} pid ${iv.pid} ${iv.address}: ${iv.start.toFixed(1)} .. ${iv.end.toFixed(1)}${iv.stopped ? ` (stopped: ${iv.reason})` : ''}`).join('\n');
}

/** The host's monotonic clock in ms, the same clock the MDS journals use. */
export function monotonicNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
