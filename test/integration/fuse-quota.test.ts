// Directory quotas on a real cluster (an MDS and 3 metaserver processes) through `curvefs mount`
// processes, the SDK and the CLI: writes, creates and renames into a full quota tree fail with
// EDQUOT and keep what was acknowledged; usage follows renames between quota trees; df inside a
// quota directory shows the quota; `quota check --repair` puts back an injected drift. Every
// wait polls a predicate with a deadline (a client learns a new quota at its next refresh).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsService } from '../../src/gen/mds_pb.ts';
import { StatusCode, isCurveError } from '../../src/common/index.ts';
import { MdsAdapter, connectFs } from '../../src/client/index.ts';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { writeUntilRefused } from '../helpers/write-until-refused.ts';

const MiB = 2 ** 20;
/** node has no name for EDQUOT ("Unknown system error -122"): match the number. */
const EDQUOT = { errno: -constants.errno.EDQUOT };
const DEADLINE = 60_000;

let base: string;
let cluster: CurvefsCluster;
let mnt: string;
const mounts: MountProc[] = [];

interface QuotaJson {
  inode: number;
  path: string;
  maxBytes: number;
  maxInodes: number;
  usedBytes: number;
  usedInodes: number;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCurvefs(['--mds', cluster.mdsAddrs.join(','), '--json', ...args]);
}

async function quotaGet(path: string): Promise<QuotaJson> {
  const r = await cli(['quota', 'get', 'q', path]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as QuotaJson[])[0]!;
}

async function quotaSet(path: string, limits: string[]): Promise<QuotaJson> {
  const r = await cli(['quota', 'set', 'q', path, ...limits]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as QuotaJson[])[0]!;
}

/** Polls `quota get` until its usage is `bytes`/`inodes` (the clients' deltas come with their refresh). */
function usageBecomes(path: string, bytes: number, inodes: number): Promise<QuotaJson> {
  return waitUntil(`quota of ${path} to show ${bytes} bytes, ${inodes} inodes`, DEADLINE, async () => {
    const q = await quotaGet(path);
    return q.usedBytes === bytes && q.usedInodes === inodes ? q : undefined;
  });
}

/** Waits until the mount knows the quota of `dir` (df there shows it as the size). */
function mountKnows(dir: string, sizeBytes: number): Promise<unknown> {
  return waitUntil(`df in ${dir} to show the quota`, DEADLINE, async () => {
    const s = await fsp.statfs(dir);
    return s.blocks * s.bsize === sizeBytes ? true : undefined;
  });
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-quota-'));
  await fsp.chmod(base, 0o755);
  cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  await cluster.createFs('q');
  mnt = join(base, 'mnt');
  await fsp.mkdir(mnt);
  mounts.push(await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: 'q', dir: mnt }));
});

after(async () => {
  for (const m of mounts) await m.stop().catch(() => m.kill());
  await cluster?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

test('a write past a byte quota fails with EDQUOT, the file keeps what was acknowledged, df shows the quota', async () => {
  const dir = join(mnt, 'bytes');
  await fsp.mkdir(dir);
  await fsp.writeFile(join(dir, 'before'), Buffer.alloc(MiB, 1)); // there before the quota: counted by its walk
  const set = await quotaSet('/bytes', ['--bytes', '4MiB']);
  assert.deepEqual([set.maxBytes, set.usedBytes, set.usedInodes], [4 * MiB, MiB, 1]);
  await mountKnows(dir, 4 * MiB);
  // df inside: the quota's size and its usage; df at the root: the fs's.
  const s = await fsp.statfs(dir);
  assert.equal((s.blocks - s.bfree) * s.bsize, MiB);
  assert.notEqual((await fsp.statfs(mnt)).blocks * s.bsize, 4 * MiB);

  // 4 MiB more in one file: the first 3 MiB fit, the rest is refused.
  const { written, refused } = await writeUntilRefused(join(dir, 'big'), 'w', MiB / 2, 8, 2);
  assert.equal((refused as NodeJS.ErrnoException | undefined)?.errno, EDQUOT.errno, `refused with ${String(refused)}`);
  assert.equal(written, 3 * MiB, 'every write that fitted was acknowledged');
  const onDisk = await fsp.readFile(join(dir, 'big'));
  assert.equal(onDisk.length, written, 'the file keeps what was acknowledged');
  assert.ok(onDisk.every((b) => b === 2));
  await usageBecomes('/bytes', 4 * MiB, 2);
  // Truncating gives bytes back; a rewrite inside the length is never refused.
  await fsp.truncate(join(dir, 'big'), MiB);
  await fsp.writeFile(join(dir, 'before'), Buffer.alloc(MiB, 3));
  await usageBecomes('/bytes', 2 * MiB, 2);
  await waitUntil('df to show the truncate', DEADLINE, async () => {
    const t = await fsp.statfs(dir);
    return (t.blocks - t.bfree) * t.bsize === 2 * MiB ? true : undefined;
  });
});

test('creates past an inode quota fail with EDQUOT (files, directories, symlinks); unlink gives inodes back', async () => {
  const dir = join(mnt, 'inodes');
  await fsp.mkdir(dir);
  await quotaSet('/inodes', ['--inodes', '3']);
  await waitUntil('df in the quota dir to show 3 inodes', DEADLINE, async () => ((await fsp.statfs(dir)).files === 3 ? true : undefined));
  await fsp.writeFile(join(dir, 'a'), 'a');
  await fsp.mkdir(join(dir, 'd'));
  await fsp.writeFile(join(dir, 'd', 'b'), 'b');
  await assert.rejects(fsp.writeFile(join(dir, 'c'), 'c'), EDQUOT);
  await assert.rejects(fsp.mkdir(join(dir, 'e')), EDQUOT);
  await assert.rejects(fsp.symlink('a', join(dir, 'l')), EDQUOT);
  assert.deepEqual((await fsp.readdir(dir)).sort(), ['a', 'd']);
  await usageBecomes('/inodes', 2, 3);
  await fsp.unlink(join(dir, 'a'));
  await fsp.writeFile(join(dir, 'c'), 'cc');
  await usageBecomes('/inodes', 3, 3);
});

test('a subtree renamed from one quota tree into another (nested quotas) moves its usage; a rename into a full tree fails with EDQUOT', async () => {
  await fsp.mkdir(join(mnt, 'src', 'sub', 'deep'), { recursive: true });
  await fsp.mkdir(join(mnt, 'dst', 'inner'), { recursive: true });
  await fsp.writeFile(join(mnt, 'src', 'sub', 'f1'), Buffer.alloc(1000, 1));
  await fsp.writeFile(join(mnt, 'src', 'sub', 'deep', 'f2'), Buffer.alloc(2000, 1));
  await fsp.writeFile(join(mnt, 'src', 'keep'), Buffer.alloc(7, 1));
  await quotaSet('/src', ['--bytes', '1GiB']);
  await quotaSet('/dst', ['--bytes', '1GiB']);
  await quotaSet('/dst/inner', ['--inodes', '100']);
  await usageBecomes('/src', 3007, 5); // sub, deep, f1, f2, keep
  await usageBecomes('/dst', 0, 1); // inner
  await mountKnows(join(mnt, 'src'), 2 ** 30);
  await mountKnows(join(mnt, 'dst'), 2 ** 30);
  await waitUntil('the mount to know the nested quota', DEADLINE, async () => ((await fsp.statfs(join(mnt, 'dst', 'inner'))).files === 100 ? true : undefined));

  await fsp.rename(join(mnt, 'src', 'sub'), join(mnt, 'dst', 'inner', 'sub'));
  await usageBecomes('/src', 7, 1);
  await usageBecomes('/dst', 3000, 5);
  await usageBecomes('/dst/inner', 3000, 4);
  // Within one quota tree nothing moves.
  await fsp.rename(join(mnt, 'dst', 'inner', 'sub'), join(mnt, 'dst', 'sub'));
  await usageBecomes('/dst', 3000, 5);
  await usageBecomes('/dst/inner', 0, 0);
  // Into a tree without room: refused, nothing moved.
  await quotaSet('/src', ['--bytes', '2000', '--inodes', '77']);
  await waitUntil('the mount to know the new limit', DEADLINE, async () => ((await fsp.statfs(join(mnt, 'src'))).files === 77 ? true : undefined));
  await assert.rejects(fsp.rename(join(mnt, 'dst', 'sub'), join(mnt, 'src', 'sub')), EDQUOT);
  assert.deepEqual((await fsp.readdir(join(mnt, 'dst', 'sub'))).sort(), ['deep', 'f1']);
  await usageBecomes('/dst', 3000, 5);
  await usageBecomes('/src', 7, 1);
});

test('the SDK refuses past a quota the same way', async () => {
  const conn = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: 'q', pool: cluster.pool });
  try {
    await conn.fs.mkdir('/sdk');
    await quotaSet('/sdk', ['--bytes', '2MiB', '--inodes', '2']);
    // The SDK learns the quota at its next refresh: its statfs inside shows it then.
    await waitUntil('the SDK to know the quota', DEADLINE, async () => ((await conn.fs.statfsAt('/sdk')).blocks * 4096 === 2 * MiB ? true : undefined));
    await assert.rejects(conn.fs.writeFile('/sdk/a', new Uint8Array(3 * MiB)), (e) => isCurveError(e, StatusCode.QUOTA_EXCEEDED));
    assert.ok((await conn.fs.stat('/sdk/a')).size <= 2 * MiB);
    await conn.fs.writeFile('/sdk/b', new Uint8Array(1));
    await assert.rejects(conn.fs.writeFile('/sdk/c', new Uint8Array(1)), (e) => isCurveError(e, StatusCode.QUOTA_EXCEEDED));
    await assert.rejects(conn.fs.truncate('/sdk/b', 3 * MiB), (e) => isCurveError(e, StatusCode.QUOTA_EXCEEDED));
  } finally {
    await conn.close();
  }
});

test('quota check reports an injected drift and --repair puts the usage back; list and delete', async () => {
  await fsp.mkdir(join(mnt, 'chk'));
  await fsp.writeFile(join(mnt, 'chk', 'x'), Buffer.alloc(5000, 1));
  const q = await quotaSet('/chk', ['--inodes', '50']);
  assert.deepEqual([q.usedBytes, q.usedInodes], [5000, 1]);
  // Drift, as a lost delta would leave it.
  await cluster.mds.client(MdsService).setQuota({ fsName: 'q', quota: { dirInodeId: q.inode, path: q.path, maxBytes: q.maxBytes, maxInodes: q.maxInodes, usedBytes: 123, usedInodes: 9 }, setUsage: true });
  const found = await cli(['quota', 'check', 'q', '/chk']);
  assert.equal(found.code, 1, 'a drift is a failed check');
  const f = (JSON.parse(found.stdout) as { ok: boolean; recorded: { bytes: number }; walked: { bytes: number; inodes: number } }[])[0]!;
  assert.deepEqual([f.ok, f.recorded.bytes, f.walked.bytes, f.walked.inodes], [false, 123, 5000, 1]);
  const fixed = await cli(['quota', 'check', 'q', '/chk', '--repair']);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.deepEqual([(await quotaGet('/chk')).usedBytes, (await quotaGet('/chk')).usedInodes], [5000, 1]);
  assert.equal((await cli(['quota', 'check', 'q'])).code, 0, 'every quota agrees with its tree');
  const list = JSON.parse((await cli(['quota', 'list', 'q'])).stdout) as QuotaJson[];
  assert.ok(list.some((x) => x.path === '/chk'));
  assert.equal((await cli(['quota', 'delete', 'q', '/chk'])).code, 0);
  const gone = await cli(['quota', 'get', 'q', '/chk']);
  assert.notEqual(gone.code, 0);
});
