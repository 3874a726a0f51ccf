// Kernel requests and metaserver calls per file of a GNU `tar x` and of the `rm -rf` after it,
// through the curvefs mount — counts, so independent of the machine's load. A 3-replica cluster
// (real processes) and a mount served by this process: its ops wrapped to count the kernel's
// requests by opcode, its metaserver caller wrapped to count calls by method. Every mutation is
// one Raft log entry when it stays in one partition (files live in their parent's partition).
//
//   npx tsx bench/fuse-tar-roundtrips.ts [--files 200] [--dirs 10] [--tarball T.tar] [--user] [--json]
//
// --user runs tar and rm as uid/gid 1000 (setpriv), into a directory it owns: no fchown, and
// tar leaves the mode to the create. The local block store's fsyncs per file are counted too
// (data, directories, and waits in series — one per object put).
//
// Without --tarball, a tree of `files` regular files of 1–8 KiB (modes 0644 and 0755, owned by
// root) in `dirs` directories is made in a temporary directory and archived. GNU tar as root
// extracts each file with openat(O_CREAT|O_EXCL, 0600), write, utimensat(fd), fchown, fchmod,
// close. Cells are per regular file of the archive.
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FileDataIO, LocalBlockStore } from '../src/data/index.ts';
import { CurvefsOps } from '../src/mount/index.ts';
import { startCluster } from '../test/helpers/cluster.ts';
import { countedPhase, countMetaCalls, countingOps } from '../test/helpers/count-calls.ts';
import { mountForTest } from '../test/helpers/fuse.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const FILES = Number(arg('files', '200'));
const DIRS = Number(arg('dirs', '10'));
const TARBALL = arg('tarball', '');
const JSON_OUT = process.argv.includes('--json');
const AS_USER = process.argv.includes('--user');
const asUser = (cmd: string, args: string[]): [string, string[]] =>
  AS_USER ? ['setpriv', ['--reuid', '1000', '--regid', '1000', '--clear-groups', cmd, ...args]] : [cmd, args];
const run = promisify(execFile);

const kernel = new Map<string, number>();

const work = await fsp.mkdtemp(join(tmpdir(), 'tar-rt-'));
let tarball = TARBALL;
if (!tarball) {
  const src = join(work, 'src');
  for (let d = 0; d < DIRS; d++) await fsp.mkdir(join(src, `d${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const f = join(src, `d${i % DIRS}`, `f${i}.js`);
    await fsp.writeFile(f, randomBytes(1024 + ((i * 797) % 7168)));
    await fsp.chmod(f, i % 5 === 0 ? 0o755 : 0o644);
  }
  tarball = join(work, 'tree.tar');
  await run('tar', ['cf', tarball, '-C', src, '.']);
}
const listing = (await run('tar', ['tvf', tarball], { maxBuffer: 256 << 20 })).stdout.split('\n').filter((l) => l !== '');
const regular = listing.filter((l) => l.startsWith('-')).length;

const cluster = await startCluster({ fsName: 'tarbench' });
const conn = await cluster.connect();
const rpcs = countMetaCalls(conn);
const v = conn.view;
// Chunk ids from a range no other client of this fs uses (this process is its only writer).
let nextChunk = 2 ** 40;
const data = new FileDataIO(conn.store, {
  fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize,
  allocChunkIds: async (n) => ((nextChunk += n), nextChunk - n),
});
const ops = new CurvefsOps({ core: conn.core, data, sessionId: conn.sessionId, session: conn.session, view: v });
const m = await mountForTest(countingOps(ops, kernel), { entryTimeoutSec: 1, attrTimeoutSec: 1 });

interface Row { phase: string; kernel: Record<string, number>; rpcs: Record<string, number>; fsyncs: Record<string, number>; ms: number }
const rows: Row[] = [];
const syncs = conn.store instanceof LocalBlockStore ? conn.store.syncs : undefined;
async function phase(name: string, fn: () => Promise<void>): Promise<void> {
  const before = { ...syncs };
  const ms = await countedPhase(conn, [kernel, rpcs], fn);
  const per = (c: Map<string, number>) => Object.fromEntries([...c].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, Math.round((n / regular) * 100) / 100]));
  const fsyncs = new Map<string, number>();
  if (syncs) for (const k of ['data', 'dirs', 'serial'] as const) fsyncs.set(k, syncs[k] - (before[k] ?? 0));
  rows.push({ phase: name, kernel: per(kernel), rpcs: per(rpcs), fsyncs: per(fsyncs), ms });
}

const dest = join(m.dir, 'x');
try {
  await fsp.mkdir(dest);
  if (AS_USER) {
    await fsp.chown(dest, 1000, 1000);
    await fsp.chmod(work, 0o755);
    await fsp.chmod(tarball, 0o644);
  }
  await phase(`tar x (${listing.length} entries, ${regular} files)${AS_USER ? ' as uid 1000' : ''}`, async () => {
    await run(...asUser('tar', ['xf', tarball, '-C', dest]));
  });
  await phase('rm -rf of it', async () => {
    await run(...asUser('rm', ['-rf', dest]));
  });
} finally {
  await m.cleanup();
  await conn.close();
  await cluster.stop();
  await fsp.rm(work, { recursive: true, force: true });
}

if (JSON_OUT) console.log(JSON.stringify(rows, null, 1));
else {
  const fmt = (r: Record<string, number>) => Object.entries(r).map(([k, n]) => `${k} ${n}`).join(', ') || '—';
  const sum = (r: Record<string, number>) => Math.round(Object.values(r).reduce((a, b) => a + b, 0) * 100) / 100;
  console.log(`# per regular file of the archive (${regular} of ${listing.length} entries)`);
  console.log('| phase | kernel requests | metaserver calls | block store fsyncs | phase ms |');
  console.log('|---|---|---|---|---:|');
  for (const r of rows) console.log(`| ${r.phase} | ${sum(r.kernel)}: ${fmt(r.kernel)} | ${sum(r.rpcs)}: ${fmt(r.rpcs)} | ${fmt(r.fsyncs)} | ${r.ms.toFixed(0)} |`);
}
process.exit(0);
