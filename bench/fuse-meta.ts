// Metadata rates through FUSE: create, stat, readdir, rename and unlink of N files through a
// MemFs mount (our kernel-protocol implementation, served by its own process) against a bindfs
// passthrough of tmpfs (libfuse, C) in the same run — the FUSE limit on this machine — and tmpfs
// itself for scale. 1 and 4 worker processes, each on its own directory; phases are separated
// by barriers, so each rate is total operations / wall time of the phase.
//   npx tsx bench/fuse-meta.ts [--files N] [--procs 1,4]
import { fork } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unmountDir } from '../src/fuse/index.ts';
import { sh, startMemFsServer } from '../test/helpers/fuse.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const FILES = Number(arg('files', '10000'));
const PROCS = arg('procs', '1,4').split(',').map(Number);
const PHASES = ['create', 'stat', 'readdir', 'rename', 'unlink'] as const;
type Rates = Record<(typeof PHASES)[number], number>;

/** CPU time (µs) the file-system server has used so far. */
type CpuProbe = () => Promise<number>;

/** user+system CPU of a process from /proc (clock ticks of 10 ms). */
async function procCpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

async function findPid(cmdlinePart: string): Promise<number> {
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('bindfs\0') && cmd.includes(cmdlinePart)) return Number(d);
  }
  throw new Error(`no process with ${cmdlinePart}`);
}

async function runWorkload(root: string, procs: number, cpu?: CpuProbe): Promise<{ rates: Rates; cpuPerOp: Rates }> {
  const per = Math.floor(FILES / procs);
  const workerPath = fileURLToPath(new URL('./fuse-meta-worker.mjs', import.meta.url));
  const workers = Array.from({ length: procs }, (_, i) => fork(workerPath, [join(root, `w${i}`), String(per)], { stdio: 'inherit' }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const rates = {} as Rates;
  const cpuPerOp = {} as Rates;
  for (const phase of PHASES) {
    const c0 = cpu ? await cpu() : 0;
    const t0 = performance.now();
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('message', () => resolve());
            w.send({ phase });
          }),
      ),
    );
    const secs = (performance.now() - t0) / 1000;
    // readdir lists every entry of each worker's directory once: count entries.
    rates[phase] = (per * procs) / secs;
    cpuPerOp[phase] = cpu ? ((await cpu()) - c0) / (per * procs) : NaN;
  }
  for (const w of workers) w.kill();
  return { rates, cpuPerOp };
}

const base = await mkdtemp(join(tmpdir(), 'curvefs-fuse-bench-'));
const tmpfs = join(base, 'tmpfs');
const bind = join(base, 'bindfs');
await mkdir(tmpfs);
await mkdir(bind);
await sh(`mount -t tmpfs -o size=2g bench-tmpfs ${tmpfs}`);
await sh(`bindfs ${tmpfs} ${bind}`);
const bindPid = await findPid(bind);
const memfs = await startMemFsServer();
try {
  console.log(`fuse-meta: ${FILES} files, negotiated FUSE 7.${memfs.negotiated.minor}, load ${(await sh('cat /proc/loadavg')).trim()}`);
  const rows: string[] = [];
  for (const procs of PROCS) {
    const r: Record<string, { rates: Rates; cpuPerOp: Rates }> = {};
    const probes: Record<string, CpuProbe | undefined> = {
      tmpfs: undefined,
      bindfs: () => procCpuMicros(bindPid),
      memfs: async () => (await memfs.stats()).cpuMicros,
    };
    for (const [label, root] of [['tmpfs', tmpfs], ['bindfs', bind], ['memfs', memfs.dir]] as const) {
      const dir = join(root, `run-${procs}`);
      await mkdir(dir);
      r[label] = await runWorkload(dir, procs, probes[label]);
      await rm(dir, { recursive: true, force: true });
    }
    for (const phase of PHASES) {
      const f = (x: number) => Math.round(x).toString();
      const [t, b, m] = [r.tmpfs!, r.bindfs!, r.memfs!];
      rows.push(
        `| ${procs} | ${phase} | ${f(t.rates[phase])} | ${f(b.rates[phase])} | ${f(m.rates[phase])} | ${(m.rates[phase] / b.rates[phase]).toFixed(2)} | ${f(b.cpuPerOp[phase])} | ${f(m.cpuPerOp[phase])} |`,
      );
    }
  }
  console.log('| procs | op | tmpfs ops/s | bindfs ops/s | memfs ops/s | memfs / bindfs | bindfs server CPU µs/op | memfs server CPU µs/op |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
} finally {
  await memfs.stop();
  await unmountDir(bind).catch(() => unmountDir(bind, { lazy: true }));
  await unmountDir(tmpfs).catch(() => unmountDir(tmpfs, { lazy: true }));
  await rm(base, { recursive: true, force: true });
}
