// SDK-level metadata and data rates against a local 3-replica cluster (an MDS and 3 metaserver
// processes started by `curvefs up`'s code), with node:fs on a local directory measured in the
// same run as the baseline.
//   npx tsx bench/sdk-bench.ts [--files N] [--size-mib M]
import { mkdtempSync, rmSync } from 'node:fs';
import * as nodefs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from '../test/helpers/cluster.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg('files', 2000);
const SIZE_MIB = arg('size-mib', 256);

interface Target {
  mkdir(p: string): Promise<void>;
  create(p: string): Promise<void>;
  stat(p: string): Promise<void>;
  readdir(p: string): Promise<number>;
  unlink(p: string): Promise<void>;
  write(p: string, chunk: Uint8Array, total: number): Promise<void>;
  read(p: string, chunkSize: number): Promise<number>;
}

async function timed(n: number, workers: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let i = next++; i < n; i = next++) await fn(i);
  }));
  return n / ((performance.now() - t0) / 1000);
}

async function metaRates(t: Target, root: string, workers: number) {
  await t.mkdir(root);
  const p = (i: number) => `${root}/f${i}`;
  const create = await timed(FILES, workers, (i) => t.create(p(i)));
  const stat = await timed(FILES, workers, (i) => t.stat(p(i)));
  const t0 = performance.now();
  const n = await t.readdir(root);
  const readdir = n / ((performance.now() - t0) / 1000);
  const unlink = await timed(FILES, workers, (i) => t.unlink(p(i)));
  return { create, stat, readdir, unlink };
}

async function dataRates(t: Target, path: string) {
  const chunk = new Uint8Array(4 * 1024 * 1024).fill(0x5a);
  const total = SIZE_MIB * 1024 * 1024;
  let t0 = performance.now();
  await t.write(path, chunk, total);
  const put = SIZE_MIB / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  const got = await t.read(path, chunk.length);
  if (got !== total) throw new Error(`read ${got} of ${total} bytes`);
  const get = SIZE_MIB / ((performance.now() - t0) / 1000);
  return { put, get };
}

const scratch = mkdtempSync(join(tmpdir(), 'curvefs-bench-local-'));
const local: Target = {
  mkdir: (p) => nodefs.mkdir(join(scratch, p)),
  create: async (p) => (await nodefs.open(join(scratch, p), 'w')).close(),
  stat: async (p) => void (await nodefs.stat(join(scratch, p))),
  readdir: async (p) => (await nodefs.readdir(join(scratch, p))).length,
  unlink: (p) => nodefs.unlink(join(scratch, p)),
  async write(p, chunk, total) {
    const fh = await nodefs.open(join(scratch, p), 'w');
    for (let o = 0; o < total; o += chunk.length) await fh.write(chunk, 0, chunk.length, o);
    await fh.sync();
    await fh.close();
  },
  async read(p, size) {
    const fh = await nodefs.open(join(scratch, p), 'r');
    const buf = new Uint8Array(size);
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, size, total);
      if (!bytesRead) break;
      total += bytesRead;
    }
    await fh.close();
    return total;
  },
};

const cluster = await startCluster({ fsName: 'bench' });
try {
  const { fs } = await cluster.connect();
  const sdk: Target = {
    mkdir: (p) => fs.mkdir(p),
    create: async (p) => (await fs.open(p, 'w')).close(),
    stat: async (p) => void (await fs.stat(p)),
    readdir: async (p) => (await fs.readdir(p)).length,
    unlink: (p) => fs.unlink(p),
    async write(p, chunk, total) {
      const fh = await fs.open(p, 'w');
      for (let o = 0; o < total; o += chunk.length) await fh.write(o, chunk);
      await fh.close();
    },
    async read(p, size) {
      const fh = await fs.open(p, 'r');
      let total = 0;
      for (let o = 0; o < fh.size; o += size) total += (await fh.read(o, size)).length;
      await fh.close();
      return total;
    },
  };
  const rows: string[] = [];
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  for (const workers of [1, 16]) {
    const a = await metaRates(sdk, `/w${workers}`, workers);
    const b = await metaRates(local, `/w${workers}`, workers);
    for (const k of ['create', 'stat', 'readdir', 'unlink'] as const) {
      rows.push(`| ${k} | ${workers} | ${fmt(a[k])} | ${fmt(b[k])} | ${(a[k] / b[k]).toFixed(3)} |`);
    }
  }
  const d = await dataRates(sdk, '/big');
  const l = await dataRates(local, 'big');
  console.log(`files=${FILES} size=${SIZE_MIB} MiB`);
  console.log('| op | workers | curvefs SDK ops/s | local node:fs ops/s | ratio |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  console.log(`| put ${SIZE_MIB} MiB | 1 | ${d.put.toFixed(1)} MiB/s | ${l.put.toFixed(1)} MiB/s | ${(d.put / l.put).toFixed(3)} |`);
  console.log(`| get ${SIZE_MIB} MiB | 1 | ${d.get.toFixed(1)} MiB/s | ${l.get.toFixed(1)} MiB/s | ${(d.get / l.get).toFixed(3)} |`);
} finally {
  await cluster.stop();
  rmSync(scratch, { recursive: true, force: true });
}
