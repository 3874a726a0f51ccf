// The data path through FUSE against its peers, in one run: sequential write and read of one
// file (fio, psync, 1 MiB blocks; curvefs is remounted between them so its caches are cold),
// then 4 KiB random reads and writes, on bindfs over tmpfs, MooseFS, and one or more curvefs
// builds mounted side by side on the same cluster — e.g. this checkout and an old one, for a
// PAIRED old-vs-new comparison. Rounds interleave the file systems, so each sees the same load.
// Next to each rate it prints the curvefs mount's CPU per MiB (or per op): a load-independent
// figure.
//
//   npx tsx bench/fuse-data.ts [--mib 256] [--rounds 2] [--fio-seconds 10]
//       [--bindfs DIR] [--mfs DIR] [--build NAME=REPO_ROOT ...] [--cpu-prof DIR]
//
// Without --build, one build named "new": this checkout. Peers are skipped when their directory
// is not given or is not a mount point.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unmountDir } from '../src/fuse/index.ts';
import { CurvefsCluster } from '../test/helpers/curvefs-cluster.ts';
import { sh } from '../test/helpers/fuse.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const MIB = Number(arg('mib', '256'));
const ROUNDS = Number(arg('rounds', '2'));
const FIO_SECONDS = Number(arg('fio-seconds', '10'));
const CPU_PROF = arg('cpu-prof', '');
const HERE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const builds: { name: string; root: string }[] = [];
args.forEach((a, i) => {
  if (a !== '--build') return;
  const [name, root] = args[i + 1]!.split('=');
  builds.push({ name: name!, root: resolve(root!) });
});
if (builds.length === 0) builds.push({ name: 'new', root: HERE });

type Mode = 'write' | 'read' | 'randread' | 'randwrite';

async function fio(file: string, rw: Mode): Promise<number> {
  const seq = rw === 'write' || rw === 'read';
  const common = `--name=${rw} --filename=${file} --rw=${rw} --size=${MIB}m --ioengine=psync --numjobs=1 --output-format=json`;
  const shape = seq
    ? `--bs=1m${rw === 'write' ? ' --end_fsync=1' : ''}`
    : `--bs=4k --time_based --runtime=${FIO_SECONDS}${rw === 'randwrite' ? ' --end_fsync=1' : ''}`;
  const out = await sh(`fio ${common} ${shape}`);
  const job = (JSON.parse(out.slice(out.indexOf('{'))) as { jobs: Record<'read' | 'write', { iops: number; bw_bytes: number; total_ios: number; io_bytes: number }>[] }).jobs[0]!;
  const r = rw === 'read' || rw === 'randread' ? job.read : job.write;
  return seq ? r.bw_bytes / (1024 * 1024) : r.iops;
}

/** user+system CPU (µs) of a process so far (/proc, clock ticks of 10 ms). */
async function cpuMicros(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

/** One `curvefs mount` of a given checkout. */
class Mount {
  private proc: ChildProcess | undefined;
  constructor(private readonly root: string, private readonly mds: string[], readonly dir: string) {}
  get pid(): number {
    return this.proc!.pid!;
  }
  async start(): Promise<void> {
    const nodeArgs = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
    const p = spawn(process.execPath, [...nodeArgs, join(this.root, 'bin', 'curvefs.mjs'), '--mds', this.mds.join(','), 'mount', 'bench', this.dir],
      { cwd: this.root, stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = p;
    await new Promise<void>((ok, fail) => {
      createInterface({ input: p.stdout! }).on('line', (l) => l.startsWith('mounted ') && ok());
      p.once('exit', (c) => fail(new Error(`mount of ${this.root} exited with ${c}`)));
    });
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
}

interface Target {
  name: string;
  dir: string;
  /** Drops the client's caches (curvefs: a remount); undefined for peers we do not own. */
  remount?: () => Promise<void>;
  pid?: () => number;
}

async function isMount(dir: string): Promise<boolean> {
  return (await sh(`mountpoint -q ${dir} && echo y || echo n`)).trim() === 'y';
}

const base = await mkdtemp(join(tmpdir(), 'curvefs-fuse-data-'));
const cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
const mounts: Mount[] = [];
try {
  await cluster.createFs('bench');
  const targets: Target[] = [];
  for (const [name, dir] of [['bindfs', arg('bindfs', '')], ['mfs', arg('mfs', '')]] as const) {
    if (dir && (await isMount(dir))) {
      const d = join(dir, `fuse-data-${process.pid}`);
      await mkdir(d, { recursive: true });
      targets.push({ name, dir: d });
    }
  }
  for (const b of builds) {
    const dir = join(base, `mnt-${b.name}`);
    await mkdir(dir);
    const m = new Mount(b.root, cluster.mdsAddrs, dir);
    await m.start();
    mounts.push(m);
    const sub = join(dir, b.name);
    await mkdir(sub);
    targets.push({ name: `curvefs ${b.name}`, dir: sub, remount: async () => { await m.stop(); await m.start(); }, pid: () => m.pid });
  }
  console.log(`fuse-data: ${MIB} MiB, ${ROUNDS} rounds, fio ${FIO_SECONDS} s, load ${await load()}`);
  console.log('| round | fs | seq write MiB/s | seq read MiB/s | rand read IOPS | rand write IOPS | mount CPU µs/MiB read | µs/MiB written | µs/op rand read | µs/op rand write | load |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (let round = 1; round <= ROUNDS; round++) {
    for (const t of targets) {
      const f = join(t.dir, 'big');
      const cpu = async () => (t.pid ? cpuMicros(t.pid()) : 0);
      let c0 = await cpu();
      const w = await fio(f, 'write');
      const cw = (await cpu()) - c0;
      await t.remount?.();
      c0 = await cpu();
      const r = await fio(f, 'read');
      const cr = (await cpu()) - c0;
      await t.remount?.();
      c0 = await cpu();
      const rr = await fio(f, 'randread');
      const crr = (await cpu()) - c0;
      c0 = await cpu();
      const rw = await fio(f, 'randwrite');
      const crw = (await cpu()) - c0;
      await rm(f);
      const per = (us: number, n: number) => (t.pid ? (us / n).toFixed(0) : '');
      console.log(`| ${round} | ${t.name} | ${w.toFixed(1)} | ${r.toFixed(1)} | ${rr.toFixed(0)} | ${rw.toFixed(0)} | ` +
        `${per(cr, MIB)} | ${per(cw, MIB)} | ${per(crr, rr * FIO_SECONDS)} | ${per(crw, rw * FIO_SECONDS)} | ${await load()} |`);
    }
  }
  for (const t of targets) if (!t.pid) await rm(t.dir, { recursive: true, force: true });
} finally {
  for (const m of mounts) await m.stop();
  await cluster.stop();
  for (const b of builds) await unmountDir(join(base, `mnt-${b.name}`)).catch(() => undefined);
  await rm(base, { recursive: true, force: true });
}
