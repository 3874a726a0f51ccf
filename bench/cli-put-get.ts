// `curvefs put` / `curvefs get` of one large file through the CLI (a child process, as a user runs
// it) against a local 3-replica cluster on the local block store, with `cp` of the same file on
// the same disk measured in the same run as the baseline. Peak RSS of each command comes from
// /usr/bin/time (GNU time's %M), so a command that held the file in memory would show it.
//   npx tsx bench/cli-put-get.ts [--size-mib N] [--runs R] [--prof DIR]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync, statSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { CURVEFS_BIN } from '../src/cli/supervisor.ts';
import { startCluster } from '../test/helpers/cluster.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SIZE_MIB = arg('size-mib', 1024);
const RUNS = arg('runs', 1);
// --prof DIR: CPU profiles of the put and get processes (node --cpu-prof) into DIR.
const PROF = process.argv.includes('--prof') ? process.argv[process.argv.indexOf('--prof') + 1] : undefined;

/** Runs a command under GNU time; returns seconds and peak RSS in MiB. */
function timed(cmd: string, args: string[]): { s: number; rssMiB: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, CURVEFS_LOG: 'warn' } });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return { s, rssMiB: Number(lines[lines.length - 1]) / 1024 };
}

const scratch = mkdtempSync(join(tmpdir(), 'curvefs-bench-cli-'));
const cluster = await startCluster({ fsName: 'clibench' });
try {
  const src = join(scratch, 'src.bin');
  const fd = openSync(src, 'w');
  const block = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < SIZE_MIB / 4; i++) writeSync(fd, randomFillSync(block));
  closeSync(fd);
  const cli = (...a: string[]) => [...(PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF] : []), CURVEFS_BIN, '--mds', cluster.mdsAddrs.join(','), '--fs', cluster.fsName, ...a];
  const rows: string[] = [];
  for (let run = 0; run < RUNS; run++) {
    const load = loadavg()[0]!.toFixed(1);
    const cp = timed('cp', [src, join(scratch, `cp${run}.bin`)]);
    const sync = timed('sync', []);
    const put = timed(process.execPath, cli('--json', 'put', src, `/big${run}`));
    const get = timed(process.execPath, cli('--json', 'get', `/big${run}`, join(scratch, `got${run}.bin`)));
    if (statSync(join(scratch, `got${run}.bin`)).size !== SIZE_MIB * 1024 * 1024) throw new Error('get: wrong size');
    const cmp = spawnSync('cmp', [src, join(scratch, `got${run}.bin`)]);
    if (cmp.status !== 0) throw new Error('get: bytes differ from the source');
    const mibs = (s: number) => (SIZE_MIB / s).toFixed(1);
    const cpSync = cp.s + sync.s;
    rows.push(`| ${run + 1} | ${load} | ${mibs(cpSync)} (${mibs(cp.s)} without sync) | ${mibs(put.s)} (${put.rssMiB.toFixed(0)} MiB RSS) | ${mibs(get.s)} (${get.rssMiB.toFixed(0)} MiB RSS) | ${(cpSync / put.s).toFixed(2)} / ${(cpSync / get.s).toFixed(2)} |`);
    for (const f of [`cp${run}.bin`, `got${run}.bin`]) rmSync(join(scratch, f));
    cluster.cli(['rm', `/big${run}`]);
  }
  console.log(`size=${SIZE_MIB} MiB`);
  console.log('| run | load | cp + sync MiB/s | curvefs put MiB/s | curvefs get MiB/s | put / get vs cp+sync |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
} finally {
  await cluster.stop();
  rmSync(scratch, { recursive: true, force: true });
}
