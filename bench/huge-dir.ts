// Huge directories: build one directory of N entries, then list it through the mount (`ls -f`,
// a child process: time to its first entry and to the end) and through the SDK (a child process
// streaming fs.opendir), sampling the resident memory of the lister, the mount and the
// metaservers before and during each listing. Peers in the same run: `ls -f` of a directory of
// the same number of entries on bindfs (/tmp/peers/passthrough; built in its tmpfs backing
// directory, listed through bindfs) and on MooseFS (/tmp/peers/mfs; built through its mount).
//   npx tsx bench/huge-dir.ts [--entries N] [--peer-entries M] [--in-flight K] [--old-bin PATH] [--no-peers]
// --no-peers: curvefs only. --old-bin: also mount with that build's bin/curvefs.mjs and list through it (paired old/new).
// Entries are built through the SDK, K creates in flight (empty regular files, 1 commit each).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '../src/common/index.ts';
import { FileType } from '../src/metaserver/partition/types.ts';
import { mountInfo } from '../src/fuse/index.ts';
import { CURVEFS_BIN } from '../src/cli/supervisor.ts';
import { ChannelPool, loadTlsConfig, readTokenFile } from '../src/rpc/index.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector } from '../src/client/index.ts';
import { startCluster } from '../test/helpers/cluster.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};

/** Resident and peak-resident MiB of a process, from /proc. */
function rssOf(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Samples the RSS of `pids` every 100 ms until stopped: the peak of each. */
function sampler(pids: Record<string, number>): { stop(): Record<string, { before: number; peak: number }> } {
  const out: Record<string, { before: number; peak: number }> = {};
  for (const [k, pid] of Object.entries(pids)) out[k] = { before: rssOf(pid).rss, peak: 0 };
  const tick = () => {
    for (const [k, pid] of Object.entries(pids)) {
      if (existsSync(`/proc/${pid}/status`)) out[k]!.peak = Math.max(out[k]!.peak, rssOf(pid).rss);
    }
  };
  tick();
  const timer = setInterval(tick, 100);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return out;
    },
  };
}

/**
 * Runs `ls -f DIR`: entries, seconds to the first output byte and to the end, the peak RSS of
 * `watch`ed processes while it ran and of ls itself (GNU time's %M).
 */
function lsF(dir: string, watch: Record<string, number> = {}): Promise<{ entries: number; firstS: number; totalS: number; lsPeak: number; mem: Record<string, { before: number; peak: number }> }> {
  return new Promise((resolve, reject) => {
    const mem = sampler(watch);
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M', 'ls', '-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    let first = 0;
    let lines = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (first === 0) first = performance.now() - t0;
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const m = mem.stop();
      const totalS = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`ls -f ${dir} exited ${code}: ${err}`));
      else resolve({ entries: lines - 2, firstS: first / 1000, totalS, lsPeak: Number(err.trim().split('\n').pop()) / 1024, mem: m });
    });
  });
}

/**
 * Streams DIR with os.scandir (getdents as entries are consumed): entries, seconds to the first
 * entry and to the end, measured inside the lister (no pipe between; `ls -f` streams too, in
 * batches, its first byte after its first batch).
 */
function scandir(dir: string): { entries: number; firstS: number; totalS: number } {
  const py = 'import os,sys,time\nt=time.perf_counter();n=0;f=0\nfor e in os.scandir(sys.argv[1]):\n  n+=1\n  if n==1: f=time.perf_counter()-t\nprint(n,f,time.perf_counter()-t)\n';
  const r = spawnSync('python3', ['-c', py, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scandir ${dir}: ${r.stderr}`);
  const [entries, firstS, totalS] = r.stdout.trim().split(' ').map(Number);
  return { entries: entries!, firstS: firstS!, totalS: totalS! };
}

// ---- child mode: stream a directory through the SDK, report count, first-entry time, RSS ----
if (process.argv[2] === '--sdk-list') {
  const [, , , mds, fsName, tokenFile, tlsDir, path] = process.argv;
  const pool = new ChannelPool({ credential: readTokenFile(tokenFile!), tls: tlsDir ? loadTlsConfig(tlsDir, 'admin') : undefined });
  const conn = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(pool, mds!.split(','))), fsName: fsName!, pool, entryTtlMs: 0, attrTtlMs: 0 });
  const before = process.memoryUsage().rss / 2 ** 20;
  let peak = before;
  let n = 0;
  let first = 0;
  const t0 = performance.now();
  for await (const _ of conn.fs.opendir(path!)) {
    if (n++ === 0) first = performance.now() - t0;
    if ((n & 4095) === 0) peak = Math.max(peak, process.memoryUsage().rss / 2 ** 20);
  }
  peak = Math.max(peak, process.memoryUsage().rss / 2 ** 20);
  console.log(JSON.stringify({ entries: n, firstS: first / 1000, totalS: (performance.now() - t0) / 1000, before, peak }));
  await conn.close();
  pool.close();
  process.exit(0);
}

const ENTRIES = Number(arg('entries', '100000'));
const PEER_ENTRIES = Number(arg('peer-entries', String(ENTRIES)));
// At most the 64 request results a partition keeps per client (a retry of an older one is STALE).
const IN_FLIGHT = Number(arg('in-flight', '48'));
const OLD_BIN = arg('old-bin', '');
const fmt = (x: number) => x.toFixed(x < 10 ? 2 : 0);
const memLine = (m: Record<string, { before: number; peak: number }>) =>
  Object.entries(m).map(([k, v]) => `${k} ${fmt(v.before)}→${fmt(v.peak)} MiB`).join(', ');

console.log(`huge-dir: ${ENTRIES} entries (peers ${PEER_ENTRIES}), ${IN_FLIGHT} creates in flight; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const cluster = await startCluster({ fsName: 'hugedir' });
const mounts: { child: ChildProcess; dir: string }[] = [];
try {
  const file = cluster.running.file;
  const metaservers = Object.fromEntries(cluster.running.supervisor.processes().filter((p) => p.name.startsWith('metaserver')).map((p) => [p.name, p.child.pid!]));

  /** A `curvefs mount` child of the given build, mounted at <cluster dir>/<name>. */
  const mountWith = async (bin: string, name: string) => {
    const dir = join(cluster.dir, name);
    mkdirSync(dir, { recursive: true });
    const tls = file.tls ? { CURVEFS_TLS_DIR: file.tls.dir, CURVEFS_TLS_NAME: 'mount' } : {};
    const child = spawn(process.execPath, [bin, '--mds', file.mdsAddrs.join(','), '--token-file', file.auth!.fsTokenFile, 'mount', file.fsName, dir], { stdio: 'ignore', env: { ...process.env, CURVEFS_LOG: 'warn', ...tls } });
    mounts.push({ child, dir });
    await pollUntil(`the ${name} mount`, 60_000, async () => ((await mountInfo(dir))?.fsType === 'fuse.curvefs' ? true : undefined));
    return { dir, pid: child.pid! };
  };

  // Build.
  const conn = await cluster.connect();
  await conn.fs.mkdir('/big');
  const dirIno = (await conn.fs.resolve('/big')).inodeId;
  const t0 = performance.now();
  let next = 0;
  let lastReport = t0;
  let staleRetries = 0;
  process.on('unhandledRejection', (e) => console.log(`  (unhandled rejection during the build: ${String(e)})`));
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    for (let i = next++; i < ENTRIES; i = next++) {
      const name = `file-${String(i).padStart(8, '0')}`;
      for (;;) {
        try {
          await conn.core.create(dirIno, name, { type: FileType.TYPE_FILE, mode: 0o644, uid: 0, gid: 0 });
          break;
        } catch (e) {
          // A retried create can be answered STALE (its request id fell out of the partition's
          // window of 64 while others went on): it may have been applied; look before retrying.
          staleRetries++;
          if (await conn.core.lookup(dirIno, name).then(() => true, () => false)) break;
          if (staleRetries > 1000) throw e;
        }
      }
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        console.log(`  built ${next} (${fmt(next / ((lastReport - t0) / 1000))}/s)`);
      }
    }
  }));
  const buildS = (performance.now() - t0) / 1000;
  console.log(`build (SDK, ${IN_FLIGHT} in flight): ${ENTRIES} entries in ${fmt(buildS)} s = ${fmt(ENTRIES / buildS)} creates/s (${staleRetries} creates retried); load ${loadavg()[0]!.toFixed(1)}`);
  await conn.close();

  const builds: [string, string][] = [['new', CURVEFS_BIN]];
  if (OLD_BIN) builds.push(['old', OLD_BIN]);
  const results: Record<string, number> = {};
  for (const [label, bin] of builds) {
    const m = await mountWith(bin, `mnt-${label}`);
    const r = await lsF(join(m.dir, 'big'), { mount: m.pid, ...metaservers });
    if (r.entries !== ENTRIES) throw new Error(`ls -f through the ${label} mount listed ${r.entries} of ${ENTRIES}`);
    results[label] = r.totalS;
    const sc = scandir(join(m.dir, 'big'));
    console.log(`scandir via the ${label} mount: ${sc.entries} entries, first entry ${fmt(sc.firstS * 1000)} ms, all ${fmt(sc.totalS)} s`);
    console.log(`ls -f via the ${label} mount: ${r.entries} entries, first entry ${fmt(r.firstS * 1000)} ms, all ${fmt(r.totalS)} s (${fmt(r.entries / r.totalS)}/s); RSS ${memLine(r.mem)}, ls peak ${fmt(r.lsPeak)} MiB; load ${loadavg()[0]!.toFixed(1)}`);
  }

  // The SDK, streaming (a child process: its own RSS).
  {
    const ms = sampler(metaservers);
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--sdk-list', file.mdsAddrs.join(','), file.fsName, file.auth!.adminTokenFile, file.tls?.dir ?? '', '/big'], { encoding: 'utf8', env: { ...process.env, CURVEFS_LOG: 'warn', ...(file.tls ? { CURVEFS_TLS_DIR: file.tls.dir, CURVEFS_TLS_NAME: 'admin' } : {}) } });
    const m = ms.stop();
    if (child.status !== 0) throw new Error(`sdk lister: ${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { entries: number; firstS: number; totalS: number; before: number; peak: number };
    console.log(`SDK fs.opendir: ${r.entries} entries, first entry ${fmt(r.firstS * 1000)} ms, all ${fmt(r.totalS)} s (${fmt(r.entries / r.totalS)}/s); RSS client ${fmt(r.before)}→${fmt(r.peak)} MiB, ${memLine(m)}`);
  }

  // Peers: a directory of PEER_ENTRIES empty files, kept between runs (named by its size).
  const peers: [string, string, string][] = [
    ['bindfs', '/tmp/peers/pt-backing/bindfs', '/tmp/peers/passthrough'],
    ['MooseFS', '/tmp/peers/mfs', '/tmp/peers/mfs'],
  ];
  for (const [name, buildRoot, listRoot] of process.argv.includes('--no-peers') ? [] : peers) {
    if (!existsSync(listRoot)) {
      console.log(`${name}: not mounted, skipped`);
      continue;
    }
    const sub = `huge-dir-bench-${PEER_ENTRIES}`;
    const buildDir = join(buildRoot, sub);
    let built = existsSync(buildDir) ? readdirSync(buildDir).length : 0;
    if (built !== PEER_ENTRIES) {
      const tb = performance.now();
      const py = `import os,sys\nd,a,b=sys.argv[1],int(sys.argv[2]),int(sys.argv[3])\nos.makedirs(d,exist_ok=True)\nfor i in range(a,b):\n  os.close(os.open(f"{d}/file-{i:08d}",os.O_CREAT|os.O_WRONLY,0o644))\n`;
      const procs = 4;
      const per = Math.ceil(PEER_ENTRIES / procs);
      const runs = Array.from({ length: procs }, (_, k) => new Promise<void>((res, rej) => {
        const c = spawn('python3', ['-c', py, buildDir, String(k * per), String(Math.min(PEER_ENTRIES, (k + 1) * per))], { stdio: 'inherit' });
        c.on('close', (code) => (code === 0 ? res() : rej(new Error(`python exited ${code}`))));
      }));
      await Promise.all(runs);
      built = PEER_ENTRIES;
      const s = (performance.now() - tb) / 1000;
      console.log(`${name}: built ${PEER_ENTRIES} in ${fmt(s)} s (${buildRoot === listRoot ? 'through the mount' : 'in the backing tmpfs'}, 4 processes)`);
    }
    const r = await lsF(join(listRoot, sub));
    console.log(`ls -f on ${name}: ${r.entries} entries, first entry ${fmt(r.firstS * 1000)} ms, all ${fmt(r.totalS)} s (${fmt(r.entries / r.totalS)}/s); ls peak ${fmt(r.lsPeak)} MiB; load ${loadavg()[0]!.toFixed(1)}`);
    results[name] = r.totalS;
    const sc = scandir(join(listRoot, sub));
    console.log(`scandir on ${name}: ${sc.entries} entries, first entry ${fmt(sc.firstS * 1000)} ms, all ${fmt(sc.totalS)} s`);
  }
  const base = results.new!;
  if (Object.keys(results).length > 1) console.log(`ratios of the full ls -f time (same run): ${Object.entries(results).map(([k, v]) => `${k}/new ${(v / base).toFixed(2)}`).join(', ')}`);
} finally {
  for (const m of mounts) {
    spawnSync('umount', ['-l', m.dir]);
    m.child.kill('SIGTERM');
  }
  await cluster.stop().catch((e: unknown) => console.log(`cluster stop: ${String(e)}`));
}
process.exit(0);
