// Partition state machine benchmark: apply rate of file creates, resident bytes per file, and
// CURVEFS snapshot write/load rates, with a naive Map-of-objects model as the in-run baseline.
//   node --expose-gc --import tsx bench/partition-bench.ts [files=1000000] [filesPerDir=1000]
// (files in directories of filesPerDir entries; filesPerDir=0 puts them all in the root)
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileType, Partition, StatusCode, encodeSnapshot, type Timestamp } from '../src/metaserver/partition/index.ts';
import { loadSnapshotFile, writeSnapshotFile } from '../src/metaserver/snapshot/index.ts';

const FILES = Number(process.argv[2] ?? 1_000_000);
const PER_DIR = Number(process.argv[3] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc --import tsx bench/partition-bench.ts');
  process.exit(2);
}

function mem(): { heap: number; rss: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  // external includes arrayBuffers (typed array backing stores).
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

/** Wall and CPU (user+system, all threads) milliseconds of `fn`. The machine may be shared, so
 * rates are reported against both. */
function timed<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}
async function timedAsync<T>(fn: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}
const rate = (n: number, ms: number) => fmt(n / (ms / 1000));

const T: Timestamp = { sec: 1_700_000_000, nsec: 0 };

function build(files: number, perDir: number): { p: Partition; dirs: number[] } {
  const p = new Partition({ partitionId: 1, fsId: 1, start: 0, end: (1 << 21) - 1 });
  p.apply({ kind: 'createRootInode', fsId: 1, mode: 0o755, uid: 0, gid: 0, time: T });
  const dirs: number[] = [];
  const nd = perDir > 0 ? Math.ceil(files / perDir) : 0;
  for (let d = 0; d < nd; d++) {
    const r = p.apply({ kind: 'createFile', fsId: 1, parent: 1, name: `dir-${d}`, type: FileType.TYPE_DIRECTORY, mode: 0o755, uid: 0, gid: 0, time: T });
    if (r.status !== StatusCode.OK) throw new Error('mkdir');
    dirs.push(r.inode.inodeId);
  }
  return { p, dirs };
}

function createFiles(p: Partition, dirs: number[], files: number, perDir: number): void {
  for (let i = 0; i < files; i++) {
    const parent = perDir > 0 ? dirs[(i / perDir) | 0]! : 1;
    const r = p.apply({
      kind: 'createFile',
      fsId: 1,
      parent,
      name: `file-${i}`,
      type: FileType.TYPE_S3,
      mode: 0o644,
      uid: 1000,
      gid: 1000,
      time: T,
    });
    if (r.status !== StatusCode.OK) throw new Error(`create ${i}: ${r.status}`);
  }
}

/** Baseline: one object per inode in a Map, a Map of names per directory. */
function buildNaive(files: number, perDir: number): unknown {
  const inodes = new Map<number, object>();
  const dirs = new Map<number, Map<string, number>>();
  let next = 2;
  const t = (n: number) => ({ ino: n, type: 4, mode: 0o100644, uid: 1000, gid: 1000, nlink: 1, length: 0, ctime: T.sec, ctimeNs: 0, mtime: T.sec, mtimeNs: 0, atime: T.sec, atimeNs: 0, parent: [1] });
  dirs.set(1, new Map());
  const nd = perDir > 0 ? Math.ceil(files / perDir) : 0;
  for (let d = 0; d < nd; d++) {
    const id = next++;
    inodes.set(id, t(id));
    dirs.set(id, new Map());
    dirs.get(1)!.set(`dir-${d}`, id);
  }
  for (let i = 0; i < files; i++) {
    const parent = perDir > 0 ? 2 + ((i / perDir) | 0) : 1;
    const id = next++;
    inodes.set(id, t(id));
    dirs.get(parent)!.set(`file-${i}`, id);
  }
  return { inodes, dirs };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(`partition bench: ${fmt(FILES)} files, ${PER_DIR > 0 ? `${fmt(PER_DIR)} per directory` : 'all in one directory'}, node ${process.version}`);
  console.log('rates: wall clock / process CPU time (user+sys, all threads)');

  // Baseline first (its memory is released before ours is measured).
  let m0 = mem();
  const naive = timed(() => buildNaive(FILES, PER_DIR));
  let m1 = mem();
  const naiveBytes = (m1.heap - m0.heap) / FILES;
  naive.value = undefined;

  m0 = mem();
  // eslint-disable-next-line prefer-const
  let { p, dirs } = build(FILES, PER_DIR) as { p: Partition | undefined; dirs: number[] };
  const create = timed(() => createFiles(p!, dirs, FILES, PER_DIR));
  m1 = mem();
  const perFile = (m1.heap - m0.heap) / FILES;
  const rssPerFile = (m1.rss - m0.rss) / FILES;
  console.log(`create (inode+dentry, one createFile op): ${rate(FILES, create.wallMs)} / ${rate(FILES, create.cpuMs)} files/s`);
  console.log(`  baseline Map-of-objects inserts:        ${rate(FILES, naive.wallMs)} / ${rate(FILES, naive.cpuMs)} per s   ratio ${(naive.cpuMs / create.cpuMs).toFixed(2)} (CPU)`);
  console.log(`memory: ${perFile.toFixed(0)} B/file (heap+external)  ${rssPerFile.toFixed(0)} B/file (RSS delta)   baseline: ${naiveBytes.toFixed(0)} B/file   ratio ${(perFile / naiveBytes).toFixed(2)}`);

  const stats = p!.stats();
  const entries = stats.inodes + stats.dentries;
  const freeze = timed(() => p!.freeze());
  freeze.value.release();
  const encode = timed(() => {
    const view = p!.freeze();
    let bytes = 0;
    for (const c of encodeSnapshot([view], 1 << 20)) bytes += c.length;
    view.release();
    return bytes;
  });

  // Ops applied while a snapshot view is alive pay for copy-on-write of what they touch.
  const touch = (n: number, seed: number) => {
    let x = seed;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const ino = 3 + (x % stats.inodes);
      p!.apply({ kind: 'setattr', fsId: 1, ino, mask: 2, uid: i & 0xffff, time: T });
    }
  };
  const OPS = 200_000;
  touch(OPS, 1); // warm-up
  const plain = timed(() => touch(OPS, 2));
  const live = p!.freeze();
  const during = timed(() => touch(OPS, 3));
  live.release();
  console.log(
    `setattr on random inodes: ${rate(OPS, plain.cpuMs)}/s without a live view, ${rate(OPS, during.cpuMs)}/s while one is alive (CPU; first touch of each page copies it)`,
  );

  const dir = await mkdtemp(join(tmpdir(), 'partition-bench-'));
  try {
    const file = join(dir, 'snap');
    const write = await timedAsync(() => writeSnapshotFile(file, [p!]));
    const size = (await stat(file)).size;
    // Load into an empty process state, as a restarting metaserver does.
    p = undefined;
    mem();
    const load = await timedAsync(() => loadSnapshotFile(file));
    const q = load.value.get(1)!;
    if (q.stats().inodes !== stats.inodes || q.stats().dentries !== stats.dentries) throw new Error('load mismatch');
    console.log(`snapshot: ${fmt(entries)} entries (${fmt(stats.inodes)} inodes + ${fmt(stats.dentries)} dentries, ${fmt(dirs.length)} dirs), ${(size / 2 ** 20).toFixed(1)} MiB, ${(size / entries).toFixed(1)} B/entry`);
    console.log(`  freeze (synchronous):  ${freeze.wallMs.toFixed(2)} ms`);
    console.log(`  encode (CPU only):     ${encode.wallMs.toFixed(0)} ms  ${rate(entries, encode.wallMs)} / ${rate(entries, encode.cpuMs)} entries/s`);
    console.log(`  write file + fsync:    ${write.wallMs.toFixed(0)} ms  ${rate(entries, write.wallMs)} / ${rate(entries, write.cpuMs)} entries/s  (${rate(FILES, write.wallMs)} files/s wall)`);
    console.log(`  load file:             ${load.wallMs.toFixed(0)} ms  ${rate(entries, load.wallMs)} / ${rate(entries, load.cpuMs)} entries/s  (${rate(FILES, load.wallMs)} files/s wall)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
