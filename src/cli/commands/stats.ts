// `curvefs stats`: live per-second figures of the cluster's processes, like `juicefs stats` —
// operations/s, mean and p99 latency, failures/s, bytes/s through FUSE, CPU and memory — for each
// mount and metaserver, read from their /metrics endpoints every interval. The endpoints are the
// ones `curvefs up` recorded in its cluster file (every metaserver, its mount), or those given
// with --target. `--once` takes two samples an interval apart, prints them and exits (with
// `--json`: one JSON document, for scripts); without it the view refreshes until Ctrl-C.
import { CliError, EXIT, humanBytes, printJson, printTable } from '../output.ts';
import { readClusterFile, type GlobalOptions } from '../context.ts';
import { figures, parseExposition, type PromSample, type StatsFigures } from './stats-sample.ts';

export interface StatsOptions {
  /** "host:port" of metrics endpoints (default: the cluster file's). */
  target: string[];
  intervalMs: number;
  once: boolean;
}

interface Target {
  name: string;
  address: string;
}

export interface TargetStats extends Partial<StatsFigures> {
  name: string;
  address: string;
  /** Why this target gave no figures (unreachable, not a metrics endpoint). */
  error?: string;
}

/** The endpoints to watch: --target, else what `curvefs up` recorded. */
export function targetsOf(g: GlobalOptions, flags: string[]): Target[] {
  const given = flags.flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  if (given.length > 0) {
    for (const a of given) {
      if (!/^[^\s/]+:\d{1,5}$/.test(a)) throw new CliError(`bad --target ${JSON.stringify(a)}: want host:port of a /metrics endpoint`, EXIT.USAGE, 'usage');
    }
    return given.map((address) => ({ name: address, address }));
  }
  const file = readClusterFile(g.dir);
  if (!file) {
    throw new CliError('no targets: give --target host:port (a mount\'s --metrics-port, a metaserver\'s) or run it beside a `curvefs up` cluster directory (--dir)', EXIT.USAGE, 'usage');
  }
  return [
    ...(file.mountMetrics ? [{ name: 'mount', address: file.mountMetrics }] : []),
    ...file.metaservers.map((m, i) => ({ name: `metaserver${i + 1}`, address: m.metrics })),
  ];
}

async function scrape(address: string): Promise<PromSample[]> {
  let res: Response;
  try {
    res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(3000) });
  } catch (e) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a timeout) is its cause.
    const cause = (e as { cause?: unknown }).cause;
    throw new Error(cause instanceof Error ? cause.message : (e as Error).message);
  }
  if (res.status !== 200) throw new Error(`HTTP ${res.status} from http://${address}/metrics`);
  const samples = parseExposition(await res.text());
  if (samples.length === 0) throw new Error(`no metrics at http://${address}/metrics`);
  return samples;
}

/** Scrapes every target; a failure is kept per target (one dead process does not stop the view). */
async function sampleAll(targets: Target[]): Promise<Array<PromSample[] | Error>> {
  return Promise.all(targets.map((t) => scrape(t.address).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
}

function statsOf(targets: Target[], before: Array<PromSample[] | Error>, after: Array<PromSample[] | Error>, seconds: number): TargetStats[] {
  return targets.map((t, i) => {
    const a = before[i]!;
    const b = after[i]!;
    if (b instanceof Error) return { ...t, error: b.message };
    if (a instanceof Error) return { ...t, error: `${a.message} (at the first sample)` };
    return { ...t, ...figures(a, b, seconds) };
  });
}

const num = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '-' : v.toFixed(digits));
const bytes = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${humanBytes(Math.round(v))}/s`);

function printView(rows: TargetStats[], seconds: number): void {
  process.stdout.write(`${new Date().toISOString()}  over ${seconds.toFixed(1)} s\n`);
  printTable(['target', 'kind', 'ops/s', 'avg ms', 'p99 ms ≤', 'errors/s', 'read', 'written', 'cpu %', 'rss', 'busiest ops'], rows.map((r) =>
    r.error
      ? [r.name, '-', '-', '-', '-', '-', '-', '-', '-', '-', `unreachable: ${r.error}`]
      : [r.name, r.kind!, num(r.opsPerSec), num(r.avgLatencyMs, 2), num(r.p99LatencyMs, 2), num(r.errorsPerSec), bytes(r.readBytesPerSec), bytes(r.writeBytesPerSec),
        num(r.cpuPercent), r.rssBytes ? humanBytes(r.rssBytes) : '-', (r.ops ?? []).slice(0, 3).map((o) => `${o.op} ${o.perSec.toFixed(0)}`).join(', ')],
  ));
}

export async function stats(g: GlobalOptions, o: StatsOptions): Promise<void> {
  const targets = targetsOf(g, o.target);
  if (targets.length === 0) throw new CliError('the cluster file names no metrics endpoints; give --target host:port', EXIT.USAGE, 'usage');
  let before = await sampleAll(targets);
  let at = performance.now();
  if (before.every((s) => s instanceof Error)) {
    throw new CliError(`no target answered: ${targets.map((t, i) => `${t.name} (${(before[i] as Error).message})`).join('; ')}`, EXIT.UNAVAILABLE, 'unavailable');
  }
  const tty = process.stdout.isTTY && !g.json;
  for (;;) {
    await new Promise((r) => setTimeout(r, o.intervalMs));
    const after = await sampleAll(targets);
    const now = performance.now();
    const seconds = (now - at) / 1000;
    const rows = statsOf(targets, before, after, seconds);
    if (g.json && o.once) printJson({ intervalSec: seconds, targets: rows });
    // Live with --json: one line per interval (JSON Lines).
    else if (g.json) process.stdout.write(JSON.stringify({ at: new Date().toISOString(), intervalSec: seconds, targets: rows }) + '\n');
    else {
      if (tty && !o.once) process.stdout.write('\x1b[H\x1b[2J');
      printView(rows, seconds);
      if (!o.once) process.stdout.write(tty ? '\nCtrl-C to stop\n' : '\n');
    }
    if (o.once) return;
    before = after;
    at = now;
  }
}
