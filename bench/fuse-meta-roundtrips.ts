// Kernel requests and metaserver calls per system call through the curvefs mount — counts, so
// independent of the machine's load. A 3-replica cluster (real processes) and a mount served
// by this process (its ops wrapped to count the kernel's requests, its metaserver caller wrapped
// to count calls by method); each phase runs one system call N times in a row, as the
// metadata workload does (meta-workload.py: create, stat, ls -l, rename, unlink; plus mkdir,
// rmdir, link, cross-directory rename), and prints the average per call.
//
//   npx tsx bench/fuse-meta-roundtrips.ts [--n 50] [--entry-timeout 1] [--attr-timeout 1] [--ls 1000,10000] [--json]
//
// --ls: sizes of extra `ls -l` phases over directories of 1-byte files made by the SDK (each
// file has a block map, so st_blocks is not trivially 0), counted per listed entry.
//
// The kernel caches entries and attributes for the timeouts (the mount's defaults: 1 s): a phase
// shorter than that finds what the phase before it left in the kernel's cache, as a real
// workload does. "stat, not cached" stats names made by the SDK behind the kernel's back.
// The test process serves the mount: only async fs calls and child processes touch it.
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FileDataIO } from '../src/data/index.ts';
import { CurvefsOps } from '../src/mount/index.ts';
import { startCluster } from '../test/helpers/cluster.ts';
import { countedPhase, countMetaCalls, countingOps } from '../test/helpers/count-calls.ts';
import { mountForTest } from '../test/helpers/fuse.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const N = Number(arg('n', '50'));
const ENTRY_TIMEOUT = Number(arg('entry-timeout', '1'));
const ATTR_TIMEOUT = Number(arg('attr-timeout', '1'));
const JSON_OUT = process.argv.includes('--json');
const LS_SIZES = arg('ls', '').split(',').filter((x) => x !== '').map(Number);

const kernel = new Map<string, number>();

const cluster = await startCluster({ fsName: 'rtbench' });
const conn = await cluster.connect();
const rpcs = countMetaCalls(conn);
const v = conn.view;
const data = new FileDataIO(conn.store, { fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize, allocChunkIds: async () => { throw new Error('no data is written here'); } });
const ops = new CurvefsOps({ core: conn.core, data, sessionId: conn.sessionId, session: conn.session, view: v }, { dirInfoTtlMs: ATTR_TIMEOUT * 1000 });
const m = await mountForTest(countingOps(ops, kernel), { entryTimeoutSec: ENTRY_TIMEOUT, attrTimeoutSec: ATTR_TIMEOUT });
const run = promisify(execFile);

interface Row {
  phase: string;
  calls: number;
  kernel: Record<string, number>;
  rpcs: Record<string, number>;
  /** Wall time of the whole phase (load-dependent: compare only within one run or paired runs). */
  ms: number;
}
const rows: Row[] = [];

/** Runs `fn` (which makes `calls` system calls) and records the counts per call. */
async function phase(name: string, calls: number, fn: () => Promise<void>): Promise<void> {
  const ms = await countedPhase(conn, [kernel, rpcs], fn);
  const per = (c: Map<string, number>) => Object.fromEntries([...c].sort().map(([k, n]) => [k, Math.round((n / calls) * 1e4) / 1e4]));
  rows.push({ phase: name, calls, kernel: per(kernel), rpcs: per(rpcs), ms });
}

const W = join(m.dir, 'w');
const names = Array.from({ length: N }, (_, i) => `f${String(i).padStart(6, '0')}`);
try {
  await phase('mkdir (new dir in root)', 1, () => fsp.mkdir(W));
  await fsp.mkdir(join(m.dir, 'other'));
  await phase('create (open O_CREAT|O_EXCL + close)', N, async () => {
    for (const n of names) await (await fsp.open(join(W, n), 'wx', 0o644)).close();
  });
  await phase('stat (names the kernel just saw)', N, async () => {
    for (const n of names) await fsp.lstat(join(W, n));
  });
  await conn.fs.mkdir('/u');
  for (const n of names) await conn.fs.writeFile(`/u/${n}`, '');
  await fsp.stat(join(m.dir, 'u'));
  await phase('stat (names made by another client)', N, async () => {
    for (const n of names) await fsp.lstat(join(m.dir, 'u', n));
  });
  await phase('stat of a missing name', N, async () => {
    for (let i = 0; i < N; i++) await fsp.lstat(join(W, 'missing')).catch(() => undefined);
  });
  await phase(`ls -l of ${N} entries (made by another client)`, 1, async () => {
    await run('ls', ['-l', join(m.dir, 'u')]);
  });
  // The kernel's attributes of W's names expire; its entries stay (entry timeout >= attr timeout).
  await new Promise((r) => setTimeout(r, ATTR_TIMEOUT * 1000 + 100));
  await phase('stat after the attribute timeout', N, async () => {
    for (const n of names) await fsp.lstat(join(W, n));
  });
  for (const size of LS_SIZES) {
    const dir = `/ls${size}`;
    await conn.fs.mkdir(dir);
    for (let i = 0; i < size; i++) await conn.fs.writeFile(`${dir}/e${String(i).padStart(6, '0')}`, 'x');
    await conn.fs.settle();
    await phase(`ls -l of ${size} 1-byte files (made by another client), per entry`, size, async () => {
      await run('ls', ['-l', join(m.dir, dir)], { maxBuffer: 64 << 20 });
    });
  }
  await phase('open O_RDONLY + close of an existing file', N, async () => {
    for (const n of names) await (await fsp.open(join(W, n), 'r')).close();
  });
  await phase('rename in one directory', N, async () => {
    for (const n of names) await fsp.rename(join(W, n), join(W, `r${n}`));
  });
  await phase('rename to another directory', N, async () => {
    for (const n of names) await fsp.rename(join(W, `r${n}`), join(m.dir, 'other', n));
  });
  await phase('link (one file, its link count growing)', N, async () => {
    for (const n of names) await fsp.link(join(m.dir, 'other', names[0]!), join(W, `l${n}`));
  });
  await phase('unlink', N, async () => {
    for (const n of names) await fsp.unlink(join(m.dir, 'other', n));
  });
  await phase('mkdir', N, async () => {
    for (const n of names) await fsp.mkdir(join(W, `d${n}`));
  });
  await phase('rmdir', N, async () => {
    for (const n of names) await fsp.rmdir(join(W, `d${n}`));
  });
} finally {
  await m.cleanup();
  await conn.close();
  await cluster.stop();
}

if (JSON_OUT) console.log(JSON.stringify(rows, null, 1));
else {
  const fmt = (r: Record<string, number>) => Object.entries(r).map(([k, n]) => (n === 1 ? k : `${k} ×${n}`)).join(', ') || '—';
  const sum = (r: Record<string, number>) => Math.round(Object.values(r).reduce((a, b) => a + b, 0) * 100) / 100;
  console.log(`# per system call, averaged over the phase; entry timeout ${ENTRY_TIMEOUT} s, attr timeout ${ATTR_TIMEOUT} s`);
  console.log('| system call | kernel requests | metaserver calls | phase ms |');
  console.log('|---|---|---|---:|');
  for (const r of rows) console.log(`| ${r.phase} | ${sum(r.kernel)}: ${fmt(r.kernel)} | ${sum(r.rpcs)}: ${fmt(r.rpcs)} | ${r.ms.toFixed(0)} |`);
}
process.exit(0);
