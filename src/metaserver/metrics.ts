// Metaserver metrics in the Prometheus text exposition format (version 0.0.4): per-operation
// counts and latency histograms, per-copyset Raft state, snapshot durations. Served on the
// metrics port by main.ts (GET /metrics).
import { StatusCode, statusName } from '../common/index.ts';

/** Latency buckets, seconds. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (v <= this.buckets[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }
  /** Approximate quantile from the buckets (upper bound of the bucket holding it). */
  quantile(q: number): number {
    const target = q * this.count;
    let n = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      n += this.counts[i]!;
      if (n >= target) return this.buckets[i]!;
    }
    return Infinity;
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string | number>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(String(v))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Writes one histogram's series (cumulative buckets, +Inf, sum, count). */
export function renderHistogram(out: string[], name: string, l: Record<string, string | number>, h: Histogram): void {
  let cum = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    cum += h.counts[i]!;
    out.push(`${name}_bucket${labels({ ...l, le: h.buckets[i]! })} ${cum}`);
  }
  out.push(`${name}_bucket${labels({ ...l, le: '+Inf' })} ${h.count}`);
  out.push(`${name}_sum${labels(l)} ${h.sum}`);
  out.push(`${name}_count${labels(l)} ${h.count}`);
}

/** Per-operation request counts (by status) and latency. */
export class OpMetrics {
  private readonly latency = new Map<string, Histogram>();
  private readonly counts = new Map<string, number>();

  observe(op: string, ms: number, status: StatusCode): void {
    let h = this.latency.get(op);
    if (!h) this.latency.set(op, (h = new Histogram()));
    h.observe(ms / 1000);
    const k = `${op}\u0000${statusName(status)}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  histogram(op: string): Histogram | undefined {
    return this.latency.get(op);
  }

  render(out: string[]): void {
    out.push('# HELP curvefs_metaserver_requests_total Requests served, by operation and status.');
    out.push('# TYPE curvefs_metaserver_requests_total counter');
    for (const [k, n] of [...this.counts].sort()) {
      const [op, status] = k.split('\u0000') as [string, string];
      out.push(`curvefs_metaserver_requests_total${labels({ op, status })} ${n}`);
    }
    out.push('# HELP curvefs_metaserver_request_seconds Request latency, by operation.');
    out.push('# TYPE curvefs_metaserver_request_seconds histogram');
    for (const [op, h] of [...this.latency].sort((a, b) => a[0].localeCompare(b[0]))) {
      renderHistogram(out, 'curvefs_metaserver_request_seconds', { op }, h);
    }
  }
}

/** Gauges of one copyset, sampled when metrics are scraped. */
export interface CopysetGauges {
  copyset: string;
  role: string;
  term: number;
  leaderId: number;
  commitIndex: number;
  appliedIndex: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  logEntries: number;
  partitions: number;
  inodes: number;
  dentries: number;
  txRecords: number;
  txLocks: number;
}

export function renderCopysets(out: string[], list: CopysetGauges[]): void {
  const gauge = (name: string, help: string, get: (g: CopysetGauges) => number): void => {
    out.push(`# HELP ${name} ${help}`);
    out.push(`# TYPE ${name} gauge`);
    for (const g of list) out.push(`${name}${labels({ copyset: g.copyset })} ${get(g)}`);
  };
  out.push('# HELP curvefs_copyset_is_leader 1 when this replica leads the copyset.');
  out.push('# TYPE curvefs_copyset_is_leader gauge');
  for (const g of list) out.push(`curvefs_copyset_is_leader${labels({ copyset: g.copyset, role: g.role })} ${g.role === 'leader' ? 1 : 0}`);
  gauge('curvefs_copyset_term', 'Raft term.', (g) => g.term);
  gauge('curvefs_copyset_leader_id', 'Metaserver id of the leader (0 = unknown).', (g) => g.leaderId);
  gauge('curvefs_copyset_commit_index', 'Raft commit index.', (g) => g.commitIndex);
  gauge('curvefs_copyset_applied_index', 'Last applied log index.', (g) => g.appliedIndex);
  gauge('curvefs_copyset_first_index', 'First index kept in the log.', (g) => g.firstIndex);
  gauge('curvefs_copyset_last_index', 'Last index in the log.', (g) => g.lastIndex);
  gauge('curvefs_copyset_snapshot_index', 'Index of the newest snapshot.', (g) => g.snapshotIndex);
  gauge('curvefs_copyset_log_entries', 'Log entries after the newest snapshot.', (g) => g.logEntries);
  gauge('curvefs_copyset_partitions', 'Partitions hosted.', (g) => g.partitions);
  gauge('curvefs_copyset_inodes', 'Inodes in the copyset.', (g) => g.inodes);
  gauge('curvefs_copyset_dentries', 'Dentries in the copyset.', (g) => g.dentries);
  gauge('curvefs_copyset_tx_records', 'Transaction records held by this copyset as coordinator.', (g) => g.txRecords);
  gauge('curvefs_copyset_tx_locks', 'Transaction locks held.', (g) => g.txLocks);
}

/** Snapshot durations (seconds) and sizes, per copyset. */
export class SnapshotMetrics {
  readonly duration = new Histogram([0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]);
  lastBytes = new Map<string, number>();
  record(copyset: string, seconds: number, bytes: number): void {
    this.duration.observe(seconds);
    this.lastBytes.set(copyset, bytes);
  }
  render(out: string[]): void {
    out.push('# HELP curvefs_copyset_snapshot_seconds Time to write a copyset snapshot.');
    out.push('# TYPE curvefs_copyset_snapshot_seconds histogram');
    renderHistogram(out, 'curvefs_copyset_snapshot_seconds', {}, this.duration);
    out.push('# HELP curvefs_copyset_snapshot_bytes Size of the newest snapshot written.');
    out.push('# TYPE curvefs_copyset_snapshot_bytes gauge');
    for (const [c, b] of this.lastBytes) out.push(`curvefs_copyset_snapshot_bytes${labels({ copyset: c })} ${b}`);
  }
}
