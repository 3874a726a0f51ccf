// Sequential put/get throughput of one large file through the data layer on the local block
// store, against raw node:fs writes/reads of the same bytes in the same run.
//
//   npx tsx bench/data-bench.ts [--size-mib 1024] [--dir D]
//
// Writes go in 1 MiB application writes (what FUSE and the SDK hand down). Reads go in 1 MiB
// reads. Everything is fresh in the page cache for both sides (same conditions), so the ratios
// show the data layer's CPU and syscall overhead, not the disk.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BlockCache, FileDataIO, LocalBlockStore, WriteBuffer, appendSlices, type BlockMap,
} from '../src/data/index.ts';

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const SIZE = Number(arg('--size-mib', '1024')) * MiB;
const IO = MiB;

/** The 1 MiB application buffer for write number i: same bytes each run, different per i. */
const buf = new Uint8Array(IO);
for (let i = 0; i < IO; i++) buf[i] = (i * 131 + 7) & 0xff;
function chunkFor(i: number): Uint8Array {
  new DataView(buf.buffer).setUint32(0, i);
  return buf;
}
function check(i: number, got: Uint8Array): void {
  if (got.length !== IO || new DataView(got.buffer, got.byteOffset).getUint32(0) !== i || got[IO - 1] !== buf[IO - 1]) {
    throw new Error(`wrong data at MiB ${i}`);
  }
}

/** Runs `fn`, prints MiB/s and process CPU ms per MiB (user + system, all threads). */
async function timed(name: string, fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const cpu = process.cpuUsage(c0);
  const s = (performance.now() - t0) / 1000;
  const mbs = SIZE / MiB / s;
  const cpuPerMiB = (cpu.user + cpu.system) / 1000 / (SIZE / MiB);
  cpuMsPerMiB[name] = cpuPerMiB;
  console.log(`${name.padEnd(52)} ${mbs.toFixed(0).padStart(6)} MiB/s  (${s.toFixed(2)} s, CPU ${cpuPerMiB.toFixed(2)} ms/MiB)`);
  return mbs;
}
const cpuMsPerMiB: Record<string, number> = {};

const root = args.includes('--dir') ? arg('--dir', '') : await mkdtemp(join(tmpdir(), 'curvefs-data-bench-'));
console.log(`load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`data-bench: ${SIZE / MiB} MiB sequential, ${IO / MiB} MiB per call, dir ${root}`);
const results: Record<string, number> = {};
try {
  // Baselines: raw node:fs.
  const rawPath = join(root, 'raw.bin');
  results.rawWrite = await timed('raw fs write (fsync at end)', async () => {
    const fh = await open(rawPath, 'w');
    for (let i = 0; i < SIZE / IO; i++) await fh.write(chunkFor(i), 0, IO, i * IO);
    await fh.datasync();
    await fh.close();
  });
  results.rawWriteSync4 = await timed('raw fs write (fsync every 4 MiB)', async () => {
    const fh = await open(rawPath, 'w');
    for (let i = 0; i < SIZE / IO; i++) {
      await fh.write(chunkFor(i), 0, IO, i * IO);
      if ((i + 1) % 4 === 0) await fh.datasync();
    }
    await fh.close();
  });
  results.rawRead = await timed('raw fs read', async () => {
    const fh = await open(rawPath, 'r');
    const out = new Uint8Array(IO);
    for (let i = 0; i < SIZE / IO; i++) {
      await fh.read(out, 0, IO, i * IO);
      check(i, out);
    }
    await fh.close();
  });
  await rm(rawPath);

  // The data layer: 64 MiB chunks, 4 MiB blocks, local store with fsync per object.
  const store = await LocalBlockStore.open(join(root, 'store'));
  let nextId = 1;
  const allocChunkIds = async (n: number) => ((nextId += n), nextId - n);
  const io = new FileDataIO(store, { fsId: 1, allocChunkIds });
  const map: BlockMap = new Map();
  results.put = await timed('FileDataIO put via WriteBuffer (1 MiB writes)', async () => {
    const wb = new WriteBuffer(io, 100);
    for (let i = 0; i < SIZE / IO; i++) await wb.write(i * IO, chunkFor(i));
    appendSlices(map, await wb.flush(), io.layout);
  });
  results.get = await timed('FileDataIO get (1 MiB reads, ranged, no cache)', async () => {
    for (let i = 0; i < SIZE / IO; i++) check(i, await io.read(100, map, SIZE, i * IO, IO));
  });
  const cached = new FileDataIO(store, { fsId: 1, allocChunkIds, cache: new BlockCache(64 * MiB) });
  results.getCached = await timed('FileDataIO get (1 MiB reads, 64 MiB block cache)', async () => {
    for (let i = 0; i < SIZE / IO; i++) check(i, await cached.read(100, map, SIZE, i * IO, IO));
  });
  const ahead = new FileDataIO(store, { fsId: 1, allocChunkIds, cache: new BlockCache(64 * MiB), readaheadObjects: 4 });
  results.getAhead = await timed('FileDataIO get (1 MiB reads, cache + readahead 4)', async () => {
    for (let i = 0; i < SIZE / IO; i++) check(i, await ahead.read(100, map, SIZE, i * IO, IO));
  });
  // The mount's setting: a read inside one cached object is a view of it (an old build ignores
  // the option and copies, so this row pairs old and new builds directly).
  const views = new FileDataIO(store, { fsId: 1, allocChunkIds, cache: new BlockCache(64 * MiB), readaheadObjects: 4, viewsOfCache: true });
  results.getViews = await timed('FileDataIO get (cache + readahead 4, views: the mount)', async () => {
    for (let i = 0; i < SIZE / IO; i++) check(i, await views.read(100, map, SIZE, i * IO, IO));
  });
  const map2: BlockMap = new Map();
  results.putDirect = await timed('FileDataIO.write direct (4 MiB writes, no buffer)', async () => {
    for (let i = 0; i < SIZE / IO; i += 4) {
      const four = new Uint8Array(4 * IO);
      for (let k = 0; k < 4; k++) four.set(chunkFor(i + k), k * IO);
      appendSlices(map2, await io.write(101, i * IO, four), io.layout);
    }
  });
  await store.close();

  console.log('ratios vs raw fs:');
  console.log(`  put (WriteBuffer) / raw write fsync-at-end    ${(results.put! / results.rawWrite!).toFixed(2)}`);
  console.log(`  put (WriteBuffer) / raw write fsync-per-4MiB  ${(results.put! / results.rawWriteSync4!).toFixed(2)}`);
  console.log(`  get (no cache) / raw read                     ${(results.get! / results.rawRead!).toFixed(2)}`);
  console.log(`  get (cache) / raw read                        ${(results.getCached! / results.rawRead!).toFixed(2)}`);
  console.log(`  get (cache + readahead) / raw read            ${(results.getAhead! / results.rawRead!).toFixed(2)}`);
  console.log(`  get (the mount's: + views) / raw read         ${(results.getViews! / results.rawRead!).toFixed(2)}`);
} finally {
  if (!args.includes('--dir')) await rm(root, { recursive: true, force: true });
}
