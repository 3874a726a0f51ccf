// The figures of `curvefs stats`, from two scrapes of one process's /metrics: a small parser of
// the Prometheus text format (the CLI does not load prom-client) and the per-second rates
// between two samples. Pure: the command does the fetching and the printing.

/** One sample line of an exposition. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the text format (0.0.4); comments and lines it cannot read are skipped. */
export function parseExposition(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (!Number.isNaN(value) || m[3] === 'NaN') out.push({ name: m[1]!, labels, value });
  }
  return out;
}

export type ProcessKind = 'mount' | 'metaserver' | 'mds' | 'unknown';

/** What each kind of process counts as its operations, failures and bytes. */
const KINDS: Record<Exclude<ProcessKind, 'unknown'>, { prefix: string; histogram?: string }> = {
  mount: { prefix: 'curvefs_mount_', histogram: 'curvefs_mount_fuse_op_seconds' },
  metaserver: { prefix: 'curvefs_metaserver_', histogram: 'curvefs_metaserver_request_seconds' },
  mds: { prefix: 'curvefs_mds_' },
};

export function kindOf(samples: PromSample[]): ProcessKind {
  for (const k of ['mount', 'metaserver', 'mds'] as const) if (samples.some((s) => s.name.startsWith(KINDS[k].prefix))) return k;
  return 'unknown';
}

/** Per-second figures of one process over one interval. */
export interface StatsFigures {
  kind: ProcessKind;
  opsPerSec: number;
  /** Mean latency of the interval's operations (null: none). */
  avgLatencyMs: number | null;
  /** Upper bound of the histogram bucket holding the 99th percentile of the interval (null: none). */
  p99LatencyMs: number | null;
  /** Mount: FUSE requests that failed; metaserver: answers other than OK. */
  errorsPerSec: number;
  /** Mount only: bytes read and written through FUSE (null elsewhere). */
  readBytesPerSec: number | null;
  writeBytesPerSec: number | null;
  cpuPercent: number | null;
  rssBytes: number | null;
  /** Operations per second by name, busiest first (only those seen in the interval). */
  ops: Array<{ op: string; perSec: number }>;
}

const sum = (samples: PromSample[], name: string, where: (l: Record<string, string>) => boolean = () => true) =>
  samples.filter((s) => s.name === name && where(s.labels)).reduce((a, s) => a + s.value, 0);
const has = (samples: PromSample[], name: string) => samples.some((s) => s.name === name);

/** A counter's growth; a process that restarted between the samples counts from zero. */
function delta(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** Rates between two scrapes of one process taken `seconds` apart. */
export function figures(before: PromSample[], after: PromSample[], seconds: number): StatsFigures {
  const kind = kindOf(after);
  const rate = (name: string, where?: (l: Record<string, string>) => boolean) => delta(sum(before, name, where), sum(after, name, where)) / seconds;
  const hist = kind === 'mount' || kind === 'metaserver' ? KINDS[kind].histogram! : undefined;
  let ops: StatsFigures['ops'] = [];
  let opsPerSec = 0;
  let avg: number | null = null;
  let p99: number | null = null;
  if (hist) {
    const names = new Set(after.filter((s) => s.name === `${hist}_count`).map((s) => s.labels.op ?? ''));
    ops = [...names].map((op) => ({ op, perSec: rate(`${hist}_count`, (l) => l.op === op) })).filter((o) => o.perSec > 0).sort((a, b) => b.perSec - a.perSec);
    const count = delta(sum(before, `${hist}_count`), sum(after, `${hist}_count`));
    opsPerSec = count / seconds;
    if (count > 0) {
      avg = (delta(sum(before, `${hist}_sum`), sum(after, `${hist}_sum`)) / count) * 1000;
      // Buckets are cumulative per op; summed over ops they are cumulative for the process.
      const bounds = [...new Set(after.filter((s) => s.name === `${hist}_bucket`).map((s) => s.labels.le!))]
        .map((le) => ({ le, bound: le === '+Inf' ? Infinity : Number(le) }))
        .sort((a, b) => a.bound - b.bound);
      for (const { le, bound } of bounds) {
        const inBucket = delta(sum(before, `${hist}_bucket`, (l) => l.le === le), sum(after, `${hist}_bucket`, (l) => l.le === le));
        if (inBucket >= 0.99 * count) {
          p99 = Number.isFinite(bound) ? bound * 1000 : null;
          break;
        }
      }
    }
  }
  const errorsPerSec = kind === 'mount' ? rate('curvefs_mount_fuse_op_errors_total')
    : kind === 'metaserver' ? rate('curvefs_metaserver_requests_total', (l) => l.status !== 'OK') : 0;
  const cpu = has(after, 'process_cpu_seconds_total') ? (rate('process_cpu_seconds_total') * 100) : null;
  const rss = has(after, 'process_resident_memory_bytes') ? sum(after, 'process_resident_memory_bytes') : null;
  return {
    kind,
    opsPerSec,
    avgLatencyMs: avg,
    p99LatencyMs: p99,
    errorsPerSec,
    readBytesPerSec: kind === 'mount' ? rate('curvefs_mount_read_bytes_total') : null,
    writeBytesPerSec: kind === 'mount' ? rate('curvefs_mount_written_bytes_total') : null,
    cpuPercent: cpu,
    rssBytes: rss,
    ops,
  };
}
