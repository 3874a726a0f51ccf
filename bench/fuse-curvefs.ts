// The curvefs mount against a bindfs passthrough of tmpfs (libfuse in C: the FUSE limit on this
// machine), measured in the same run:
//  - metadata: create, stat, readdir, rename and unlink of N files by 1 and 4 worker processes,
//    each in its own directory; phases separated by barriers, rate = operations / wall time;
//  - data (fio, psync, one job): a 1 GiB file written sequentially in 1 MiB blocks (fsync at the
//    end) and read back after a remount (cold caches), then, after another remount, 4 KiB random
//    reads and random writes over it for a fixed duration each.
//  - the same metadata calls the mount makes, issued by the client library in this process
//    (no FUSE, one caller, --sdk-files files): what the cluster costs without the kernel hop.
//    create = GetDentry (the kernel's negative LOOKUP) + CreateFile; stat = GetDentry that brings
//    the inode (LOOKUP of a regular file); rename = 2 GetDentry (source, target) + Rename;
//    unlink = Unlink.
// The cluster is an MDS and 3 metaservers on this machine (embedded store, local block store
// on the same disk); `curvefs mount` runs in its own process with default options.
//   npx tsx bench/fuse-curvefs.ts [--files N] [--procs 1,4] [--data-mib 1024] [--fio-seconds 20] [--skip-data] [--sdk-files 2000]
//       [--cluster-on disk|tmpfs] [--cpu-prof DIR]
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostname } from 'node:os';
import { CurveError, StatusCode } from '../src/common/index.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector } from '../src/client/index.ts';
import { unmountDir } from '../src/fuse/index.ts';
import { FileType } from '../src/gen/common_pb.ts';
import { ChannelPool } from '../src/rpc/index.ts';
import { CurvefsCluster } from '../test/helpers/curvefs-cluster.ts';
import { MountProc } from '../test/helpers/curvefs-mount-proc.ts';
import { sh } from '../test/helpers/fuse.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const FILES = Number(arg('files', '10000'));
const PROCS = arg('procs', '1,4').split(',').map(Number);
const DATA_MIB = Number(arg('data-mib', '1024'));
const FIO_SECONDS = Number(arg('fio-seconds', '20'));
const SKIP_DATA = process.argv.includes('--skip-data');
const SDK_FILES = Number(arg('sdk-files', '2000'));
/** With --cpu-prof DIR, the mount process writes a V8 CPU profile there when it exits. */
const CPU_PROF = arg('cpu-prof', '');
/**
 * Where the cluster keeps its files (Raft logs, snapshots, the MDS store, data objects): 'disk'
 * (the temp directory) or 'tmpfs' (a tmpfs of its own: the baseline's medium, no fsync cost).
 */
const CLUSTER_ON = arg('cluster-on', 'disk');
if (CLUSTER_ON !== 'disk' && CLUSTER_ON !== 'tmpfs') throw new Error('--cluster-on disk|tmpfs');
const PHASES = ['create', 'stat', 'readdir', 'rename', 'unlink'] as const;
type Phase = (typeof PHASES)[number];
type Rates = Record<Phase, number>;

/** user+system CPU (µs) of a process so far, from /proc (clock ticks of 10 ms). */
async function procCpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

async function bindfsPid(mountpoint: string): Promise<number> {
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('bindfs\0') && cmd.includes(mountpoint)) return Number(d);
  }
  throw new Error(`no bindfs process for ${mountpoint}`);
}

async function metadata(root: string, procs: number, serverPid: () => number): Promise<{ rates: Rates; cpu: Rates }> {
  const per = Math.floor(FILES / procs);
  const worker = fileURLToPath(new URL('./fuse-meta-worker.mjs', import.meta.url));
  const ws = Array.from({ length: procs }, (_, i) => fork(worker, [join(root, `w${i}`), String(per)], { stdio: 'inherit' }));
  await Promise.all(ws.map((w) => new Promise((r) => w.once('message', r))));
  const rates = {} as Rates;
  const cpu = {} as Rates;
  for (const phase of PHASES) {
    const c0 = await procCpuMicros(serverPid());
    const t0 = performance.now();
    await Promise.all(ws.map((w) => new Promise<void>((resolve) => {
      w.once('message', () => resolve());
      w.send({ phase });
    })));
    const secs = (performance.now() - t0) / 1000;
    rates[phase] = (per * procs) / secs;
    cpu[phase] = ((await procCpuMicros(serverPid())) - c0) / (per * procs);
  }
  for (const w of ws) w.kill();
  return { rates, cpu };
}

/** The mount's metadata calls for each phase, through the client library (no FUSE), one caller. */
async function sdkMetadata(mdsAddrs: string[], n: number): Promise<Partial<Rates>> {
  const pool = new ChannelPool();
  const mds = new MdsAdapter(new RotatingMdsConnector(pool, mdsAddrs, { callTimeoutMs: 15_000 }));
  const conn = await connectFs({ mds, fsName: 'bench', pool, mountpoint: { host: hostname(), path: 'bench-sdk' }, entryTtlMs: 0, attrTtlMs: 0 });
  const core = conn.core;
  const getDentry = (parent: number, name: string) => core.meta.callForInode('getDentry', parent, { parentInodeId: parent, name });
  // The kernel's LOOKUP of a name that does not exist yet: NOT_FOUND is its answer.
  const negativeLookup = (parent: number, name: string) =>
    getDentry(parent, name).then(
      () => {
        throw new Error(`${name} exists`);
      },
      (e: unknown) => {
        if (!(e instanceof CurveError && e.status === StatusCode.NOT_FOUND)) throw e;
      },
    );
  const rates: Partial<Rates> = {};
  const phase = async (name: Phase, fn: (i: number) => Promise<unknown>) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn(i);
    rates[name] = n / ((performance.now() - t0) / 1000);
  };
  try {
    const dir = (await core.create(1, 'sdk', { type: FileType.TYPE_DIRECTORY, mode: 0o755, uid: 0, gid: 0 })).inodeId;
    await phase('create', async (i) => {
      await negativeLookup(dir, `file-${i}`);
      await core.create(dir, `file-${i}`, { type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0 });
    });
    await phase('stat', (i) => core.lookupInode(dir, `file-${i}`));
    await phase('rename', async (i) => {
      await core.lookupInode(dir, `file-${i}`);
      await negativeLookup(dir, `moved-${i}`);
      await core.rename(dir, `file-${i}`, dir, `moved-${i}`);
    });
    await phase('unlink', (i) => core.unlink(dir, `moved-${i}`));
    await core.rmdir(1, 'sdk');
  } finally {
    await conn.close();
    pool.close();
  }
  return rates;
}

interface DataResult {
  seqWriteMiBs: number;
  seqReadMiBs: number;
  randReadIops: number;
  randWriteIops: number;
}

type FioMode = 'write' | 'read' | 'randread' | 'randwrite';

/** One fio job on `file` (psync, one job); returns bytes/s for 1 MiB blocks, else IOPS. */
async function fio(file: string, rw: FioMode): Promise<number> {
  const sequential = rw === 'write' || rw === 'read';
  const common = `--name=${rw} --filename=${file} --rw=${rw} --size=${DATA_MIB}m --ioengine=psync --numjobs=1 --output-format=json`;
  const shape = sequential
    ? `--bs=1m${rw === 'write' ? ' --end_fsync=1' : ''}`
    : `--bs=4k --time_based --runtime=${FIO_SECONDS}${rw === 'randwrite' ? ' --end_fsync=1' : ''}`;
  const out = await sh(`fio ${common} ${shape}`);
  const job = (JSON.parse(out.slice(out.indexOf('{'))) as { jobs: Array<Record<'read' | 'write', { iops: number; bw_bytes: number }>> }).jobs[0]!;
  const r = rw === 'read' || rw === 'randread' ? job.read : job.write;
  return sequential ? r.bw_bytes / (1024 * 1024) : r.iops;
}

/** Sequential write of the file, remount, sequential read, remount, random read, random write. */
async function data(dir: () => string, remount: () => Promise<void>): Promise<DataResult> {
  const f = () => join(dir(), 'big');
  const seqWriteMiBs = await fio(f(), 'write');
  await remount();
  const seqReadMiBs = await fio(f(), 'read');
  await remount();
  const randReadIops = await fio(f(), 'randread');
  const randWriteIops = await fio(f(), 'randwrite');
  await rm(f());
  return { seqWriteMiBs, seqReadMiBs, randReadIops, randWriteIops };
}

const base = await mkdtemp(join(tmpdir(), 'curvefs-fuse-bench-'));
const tmpfs = join(base, 'tmpfs');
const bind = join(base, 'bindfs');
const mnt = join(base, 'curvefs');
const clusterDir = join(base, 'cluster');
await Promise.all([mkdir(tmpfs), mkdir(bind), mkdir(mnt), mkdir(clusterDir)]);
await sh(`mount -t tmpfs -o size=${Math.max(2048, DATA_MIB * 2)}m bench-tmpfs ${tmpfs}`);
if (CLUSTER_ON === 'tmpfs') await sh(`mount -t tmpfs -o size=${Math.max(4096, DATA_MIB * 4)}m bench-cluster ${clusterDir}`);
await sh(`bindfs ${tmpfs} ${bind}`);
let bindPid = 0;
let cluster: CurvefsCluster | undefined;
let m: MountProc | undefined;
try {
  bindPid = await bindfsPid(bind);
  cluster = await CurvefsCluster.start({ dir: clusterDir });
  await cluster.createFs('bench');
  const nodeArgs = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
  const mdsAddrs = cluster.mdsAddrs;
  const mount = () => MountProc.start({ mdsAddrs, fsName: 'bench', dir: mnt, nodeArgs });
  m = await mount();
  console.log(`fuse-curvefs: ${FILES} files, ${DATA_MIB} MiB data, cluster on ${CLUSTER_ON}, load ${(await sh('cat /proc/loadavg')).trim()}`);
  const rows: string[] = [];
  const sdk = SDK_FILES > 0 ? await sdkMetadata(mdsAddrs, SDK_FILES) : {};
  console.log(`sdk done, load ${(await sh('cat /proc/loadavg')).trim()}`);
  for (const procs of PROCS) {
    const b = await metadata(join(bind, `run-${procs}`), procs, () => bindPid);
    const c = await metadata(join(mnt, `run-${procs}`), procs, () => m!.proc.pid!);
    for (const phase of PHASES) {
      const f = (x: number) => Math.round(x).toString();
      const viaSdk = procs === 1 && sdk[phase] !== undefined ? f(sdk[phase]) : '';
      rows.push(`| ${procs} | ${phase} | ${f(b.rates[phase])} | ${f(c.rates[phase])} | ${(c.rates[phase] / b.rates[phase]).toFixed(2)} | ${viaSdk} | ${f(b.cpu[phase])} | ${f(c.cpu[phase])} |`);
    }
    await rm(join(bind, `run-${procs}`), { recursive: true, force: true });
    await rm(join(mnt, `run-${procs}`), { recursive: true, force: true });
    console.log(`procs ${procs} done, load ${(await sh('cat /proc/loadavg')).trim()}`);
  }
  console.log('| procs | op | bindfs ops/s | curvefs ops/s | curvefs / bindfs | same calls via SDK ops/s | bindfs CPU µs/op | curvefs mount CPU µs/op |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);

  if (!SKIP_DATA) {
    const bd = await data(() => bind, async () => {
      await unmountDir(bind);
      await sh(`bindfs ${tmpfs} ${bind}`);
      bindPid = await bindfsPid(bind);
    });
    const cd = await data(() => mnt, async () => {
      await m!.stop();
      m = await mount();
    });
    console.log(`load ${(await sh('cat /proc/loadavg')).trim()}`);
    console.log('| workload | bindfs | curvefs | curvefs / bindfs |');
    console.log('|---|---:|---:|---:|');
    const row = (name: string, a: number, b: number, unit: string) =>
      console.log(`| ${name} | ${a.toFixed(1)} ${unit} | ${b.toFixed(1)} ${unit} | ${(b / a).toFixed(2)} |`);
    row(`sequential write ${DATA_MIB} MiB (1 MiB blocks, fsync at end)`, bd.seqWriteMiBs, cd.seqWriteMiBs, 'MiB/s');
    row('sequential read (after remount, 1 MiB blocks)', bd.seqReadMiBs, cd.seqReadMiBs, 'MiB/s');
    row('random read 4 KiB (fio psync)', bd.randReadIops, cd.randReadIops, 'IOPS');
    row('random write 4 KiB (fio psync)', bd.randWriteIops, cd.randWriteIops, 'IOPS');
  }
} finally {
  await m?.stop();
  await cluster?.stop();
  await unmountDir(bind).catch(() => unmountDir(bind, { lazy: true }));
  await unmountDir(tmpfs).catch(() => unmountDir(tmpfs, { lazy: true }));
  if (CLUSTER_ON === 'tmpfs') await unmountDir(clusterDir).catch(() => unmountDir(clusterDir, { lazy: true }));
  await rm(base, { recursive: true, force: true });
}
