// An hour of the cluster's figures for the status page's graphs: one sample every `sampleMs`
// (10 s by default: 360 points, a few kilobytes), kept in memory by the MDS that serves the page.
// A standby samples nothing (it knows no cluster figures), and a new leader starts empty: the
// history is for an operator's glance, Prometheus keeps the long one.
import type { MdsStatus } from './types.ts';

export interface HistorySample {
  /** Wall clock, Unix ms. */
  at: number;
  metaserversOnline: number;
  metaservers: number;
  unhealthyCopysets: number;
  sessions: number;
  /** Heartbeats per second since the previous sample (0 for the first). */
  heartbeatsPerSec: number;
  /** Per fs name: inodes and bytes in use. */
  fs: Record<string, { inodes: number; bytes: number }>;
}

export class StatusHistory {
  private readonly samples: HistorySample[] = [];
  private lastHeartbeats: { at: number; count: number } | undefined;

  constructor(readonly capacity = 360) {}

  /** Records one sample of `s` taken at `at` (Unix ms). */
  add(s: MdsStatus, at: number): void {
    const c = s.cluster;
    if (!c) {
      this.lastHeartbeats = undefined;
      return;
    }
    const prev = this.lastHeartbeats;
    // The heartbeat counter starts again at 0 with a new term: no rate across the reset.
    const rate = prev && c.heartbeats >= prev.count && at > prev.at ? ((c.heartbeats - prev.count) * 1000) / (at - prev.at) : 0;
    this.lastHeartbeats = { at, count: c.heartbeats };
    const fs: HistorySample['fs'] = {};
    for (const f of c.fs) fs[f.name] = { inodes: f.usedInodes, bytes: f.usedBytes };
    this.samples.push({
      at,
      metaserversOnline: c.metaservers.filter((m) => m.state === 'ONLINE').length,
      metaservers: c.metaservers.length,
      unhealthyCopysets: c.copysets.filter((x) => !x.healthy).length,
      sessions: c.sessions,
      heartbeatsPerSec: rate,
      fs,
    });
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  all(): readonly HistorySample[] {
    return this.samples;
  }
}
