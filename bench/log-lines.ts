// CPU cost of one log line written to a `--log-file` (src/common/log-file.ts), text and json,
// against a floor: the same bytes, already formatted, appended with one write(2) each (what any
// line logged to a file costs at the least). Rounds alternate between the three in the same run;
// the figure is CPU µs per line (process.cpuUsage, user + system) and its ratio to the floor, which
// a loaded machine moves far less than the bare numbers. Rotation is on (1 MiB, keep 2), so its
// renames are counted.
//   npx tsx bench/log-lines.ts [--lines N] [--rounds R]
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, formatLogLine, logToFile, logToStderr, type LogFormat } from '../src/common/index.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LINES = arg('--lines', 20_000);
const ROUNDS = arg('--rounds', 5);
const dir = mkdtempSync(join(tmpdir(), 'curvefs-bench-log-'));
const fields = { ino: 123456, fs: 'prod', error: 'no answer within 3000 ms', peer: '10.0.0.11:16701' };

function cpuMicros(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const d = process.cpuUsage(before);
  return d.user + d.system;
}

function floor(): number {
  const line = Buffer.from(formatLogLine('text', new Date(), 'warn', 'mds/bench', 'session refresh failed', fields));
  const fd = openSync(join(dir, 'floor.log'), 'w');
  const us = cpuMicros(() => {
    for (let i = 0; i < LINES; i++) writeSync(fd, line);
  });
  closeSync(fd);
  return us / LINES;
}

function logger(format: LogFormat): number {
  const out = logToFile(join(dir, `${format}.log`), { maxBytes: 1 << 20, keep: 2 }, format);
  const log = createLogger('mds').child('bench');
  const us = cpuMicros(() => {
    for (let i = 0; i < LINES; i++) log.warn('session refresh failed', fields);
  });
  out.close();
  logToStderr();
  return us / LINES;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runs: Record<string, number[]> = { floor: [], text: [], json: [] };
for (let r = 0; r < ROUNDS; r++) {
  runs.floor!.push(floor());
  runs.text!.push(logger('text'));
  runs.json!.push(logger('json'));
}
rmSync(dir, { recursive: true, force: true });
const f = median(runs.floor!);
console.log(`log lines: ${LINES} lines x ${ROUNDS} rounds, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const [name, xs] of Object.entries(runs)) console.log(`${name.padEnd(6)} ${median(xs).toFixed(2).padStart(7)} CPU µs/line  x${(median(xs) / f).toFixed(2)} floor`);
