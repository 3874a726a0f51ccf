// Per-hop timestamps for latency breakdowns (bench/create-breakdown.ts). Off unless the
// environment variable CURVEFS_TRACE names a directory; then every process that records a stage
// appends lines "<ns> <stage>" to <dir>/<role>-<pid>.trace, where <ns> is CLOCK_MONOTONIC
// (process.hrtime), which all processes of one machine share, so stamps from the mount and the
// metaservers sort on one time line.
//
// Why a module flag and not a function that checks: call sites read `if (tracing) trace(...)`,
// so with tracing off a hop costs one load of a constant and builds no strings.
//
// Stamps are buffered in memory and written synchronously every 200 ms and at exit: the write is
// off the measured path (a timer turn), and a process killed by a signal loses at most 200 ms.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.CURVEFS_TRACE ?? '';

/** True when CURVEFS_TRACE is set: call `trace` only under this flag. */
export const tracing = dir !== '';

const FLUSH_MS = 200;
let lines: string[] = [];
let file = '';
let hooked = false;

/** What the process is: the first `curvefs` server subcommand on its command line, else "proc". */
function role(): string {
  return process.argv.slice(2).find((a) => a === 'mount' || a === 'metaserver' || a === 'mds') ?? 'proc';
}

function flush(): void {
  if (lines.length === 0) return;
  const out = lines.join('\n') + '\n';
  lines = [];
  try {
    appendFileSync(file, out);
  } catch {
    /* tracing is best effort: a full disk must not stop the file system */
  }
}

/** Records that this process reached `stage` now. */
export function trace(stage: string): void {
  traceAt(process.hrtime.bigint(), stage);
}

/** Records `stage` at a stamp taken earlier (e.g. by a worker thread, see `traceNow`). */
export function traceAt(ns: bigint, stage: string): void {
  if (!hooked) {
    hooked = true;
    mkdirSync(dir, { recursive: true });
    file = join(dir, `${role()}-${process.pid}.trace`);
    setInterval(flush, FLUSH_MS).unref();
    process.on('exit', flush);
  }
  lines.push(`${ns} ${stage}`);
}

// CURVEFS_CPU_PROF=<dir>: this process samples its own CPU from startup and writes
// <dir>/<role>-<pid>.cpuprofile (Chrome DevTools format) when it exits normally. `node --cpu-prof`
// does the same but is refused in NODE_OPTIONS, and the cluster's processes are started by
// `curvefs up`, not by a command line of ours.
const profDir = process.env.CURVEFS_CPU_PROF ?? '';
if (profDir !== '') startCpuProfile(profDir);

function startCpuProfile(out: string): void {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 250 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // A session on the process's own thread answers synchronously, so this runs before exit.
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, `${role()}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
