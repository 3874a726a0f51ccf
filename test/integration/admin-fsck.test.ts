// fsck and gc on a real cluster (an MDS and 3 metaserver processes, a local block store): each
// inconsistency is injected through low-level metaserver calls (or straight into the block
// store), found by `curvefs fsck`, repaired by `curvefs fsck --repair`, and a second fsck is
// clean. A scan that runs while clients create and delete files reports nothing (its findings
// are read again before they are reported). gc never deletes an object younger than its bound.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileType } from '../../src/gen/common_pb.ts';
import { MdsAdapter, connectFs, type Connection } from '../../src/client/index.ts';
import { objectKey } from '../../src/data/index.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { waitFor } from '../helpers/wait.ts';

let base: string;
let cluster: CurvefsCluster;
const conns: Connection[] = [];

interface Finding {
  kind: string;
  ino?: number;
  parent?: number;
  name?: string;
  key?: string;
  message: string;
  repaired: boolean;
  repair?: string;
}
interface Report {
  findings: Finding[];
  clean: boolean;
  inodes: number;
}

async function connect(fsName: string): Promise<Connection> {
  const c = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName, pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(c);
  return c;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCurvefs(['--mds', cluster.mdsAddrs.join(','), ...args]);
}

async function fsck(fsName: string, ...flags: string[]): Promise<{ code: number; report: Report }> {
  const r = await cli('--json', 'fsck', fsName, ...flags);
  assert.ok(r.stdout.length > 0, `fsck printed nothing: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

async function writeFile(c: Connection, path: string, bytes: Uint8Array): Promise<void> {
  const h = await c.fs.open(path, 'w');
  await h.write(0, bytes);
  await h.close();
}

async function readFile(c: Connection, path: string): Promise<Uint8Array> {
  const h = await c.fs.open(path, 'r');
  try {
    return await h.read(0, (await c.fs.stat(path)).size);
  } finally {
    await h.close();
  }
}

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: ${actual.length} bytes read back, ${expected.length} expected, contents differ`);
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-fsck-'));
  cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  await cluster.createFs('broken');
  await cluster.createFs('busy');
  await cluster.createFs('garbage');
});

after(async () => {
  for (const c of conns) await c.close().catch(() => undefined);
  await cluster?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

test('fsck finds each injected inconsistency, --repair fixes it, and a second fsck is clean', async () => {
  const c = await connect('broken');
  const fsId = c.view.fsId;
  await c.fs.mkdir('/a/b', { recursive: true });
  await c.fs.mkdir('/e');
  await writeFile(c, '/f1', bytes(5000, 1));
  await writeFile(c, '/f2', bytes(10, 2));
  await writeFile(c, '/g', bytes(3000, 3));
  await writeFile(c, '/d', bytes(10, 4));
  const clean = await fsck('broken');
  assert.deepEqual(clean.report.findings, [], 'a healthy fs has no findings');
  assert.equal(clean.code, 0);

  const ino = async (p: string) => (await c.fs.lstat(p)).ino;
  const [a, b, f1, f2, g, d, e] = await Promise.all(['/a', '/a/b', '/f1', '/f2', '/g', '/d', '/e'].map(ino)) as number[];
  const meta = c.meta;
  // nlink above the names: a link without a name.
  await meta.callForInode('linkInode', f1!, { inodeId: f1!, newParent: 1 });
  // nlink below the names: a name without a link.
  await meta.callForInode('createDentry', 1, { dentry: { fsId, inodeId: f2!, parentInodeId: 1, name: 'extra', type: FileType.TYPE_S3 } });
  // An inode with a link and no name.
  const orphan = (await meta.callForInode('createInode', 1, { parent: 1, type: FileType.TYPE_S3, mode: 0o100644 })).inode!.inodeId;
  // A name whose inode has no links left.
  await meta.callForInode('unlinkInode', d!, { inodeId: d!, parent: 1 });
  // A directory named inside its own subtree.
  await meta.callForInode('createDentry', b!, { dentry: { fsId, inodeId: a!, parentInodeId: b!, name: 'loop', type: FileType.TYPE_DIRECTORY } });
  // A second name of a directory (no loop).
  await meta.callForInode('createDentry', 1, { dentry: { fsId, inodeId: e!, parentInodeId: 1, name: 'e2', type: FileType.TYPE_DIRECTORY } });
  // An object of /g lost from the block store, and an object no inode names.
  const gInode = await c.core.getInode(g!);
  const slice = Object.values(gInode.chunks)[0]!.slices[0]!;
  const lostKey = objectKey(fsId, g!, { chunkIndex: 0, chunkId: slice.chunkId, compaction: slice.compaction, blockIndex: 0 });
  await c.store.delete([lostKey]);
  const strayKey = objectKey(fsId, 987654, { chunkIndex: 0, chunkId: 1, compaction: 0, blockIndex: 0 });
  await c.store.put(strayKey, bytes(100, 5));

  const found = await fsck('broken');
  assert.equal(found.code, 1);
  const kinds = (k: string) => found.report.findings.filter((f) => f.kind === k);
  assert.deepEqual(kinds('nlink').map((f) => f.ino).sort(), [f1, f2].sort());
  assert.deepEqual(kinds('orphan-inode').map((f) => f.ino), [orphan]);
  assert.deepEqual(kinds('dangling-dentry').map((f) => [f.parent, f.name, f.ino]), [[1, 'd', d]]);
  assert.deepEqual(kinds('directory-loop').map((f) => [f.ino, f.parent, f.name]), [[a, b, 'loop']]);
  assert.deepEqual(kinds('directory-names').map((f) => f.ino), [e]);
  assert.deepEqual(kinds('missing-object').map((f) => f.key), [lostKey]);
  // The stray object is younger than the default age bound: found by gc's scan but kept.
  assert.deepEqual(kinds('unreferenced-object'), []);
  assert.ok(found.report.findings.every((f) => !f.repaired));

  const repaired = await fsck('broken', '--repair', '--min-age', '0');
  const rk = (k: string) => repaired.report.findings.filter((f) => f.kind === k);
  assert.deepEqual(rk('unreferenced-object').map((f) => [f.key, f.repaired]), [[strayKey, true]]);
  for (const k of ['nlink', 'orphan-inode', 'dangling-dentry', 'directory-names']) {
    assert.ok(rk(k).length > 0 && rk(k).every((f) => f.repaired), `${k} repaired: ${JSON.stringify(rk(k))}`);
  }
  // Lost data cannot be made up: reported, not repaired.
  assert.deepEqual(rk('missing-object').map((f) => [f.key, f.repaired]), [[lostKey, false]]);
  // The looping name of non-empty /a can be removed only when /a lives in another partition than
  // /a/b (the metaserver holding both keeps a non-empty directory's name): said, not hidden.
  const together = meta.partitionOf(a!).partitionId === meta.partitionOf(b!).partitionId;
  const loop = rk('directory-loop');
  assert.equal(loop.length, 1);
  assert.equal(loop[0]!.repaired, !together, JSON.stringify(loop));
  if (together) assert.match(loop[0]!.repair ?? '', /^not repaired: .*move the entries of directory/);

  const after = await fsck('broken');
  const left = together ? ['directory-loop', 'missing-object'] : ['missing-object'];
  assert.deepEqual(after.report.findings.map((f) => f.kind), left, JSON.stringify(after.report.findings));
  // What the repairs did, seen through the SDK.
  assert.equal((await c.fs.lstat('/f1')).nlink, 1);
  assert.equal((await c.fs.lstat('/f2')).nlink, 2);
  assert.equal((await c.fs.lstat('/extra')).ino, f2);
  assert.equal((await c.fs.lstat(`/lost+found/#${orphan}`)).ino, orphan);
  assert.equal(await c.fs.exists('/d'), false);
  assert.equal(await c.fs.exists('/e2'), false);
  assert.equal((await c.fs.lstat('/e')).ino, e);
  assert.equal(await c.fs.exists('/a/b/loop'), together);
  sameBytes(await readFile(c, '/f1'), bytes(5000, 1), '/f1');
  assert.equal(await c.store.head(strayKey), undefined);
});

test('fsck during concurrent creates and deletes reports nothing', async () => {
  const c = await connect('busy');
  await c.fs.mkdir('/w');
  let stop = false;
  let ops = 0;
  const worker = (async () => {
    for (let i = 0; !stop; i++) {
      await writeFile(c, `/w/f${i}`, bytes(100, i));
      if (i % 2 === 1) await c.fs.unlink(`/w/f${i - 1}`);
      ops++;
    }
  })();
  try {
    for (let round = 0; round < 3; round++) {
      const r = await fsck('busy');
      assert.deepEqual(r.report.findings, [], `round ${round}: ${JSON.stringify(r.report.findings)}`);
    }
  } finally {
    stop = true;
    await worker;
  }
  assert.ok(ops > 0, 'the writer ran while fsck scanned');
});

test('gc keeps objects younger than its bound (an upload in progress) and deletes old unreferenced ones', async () => {
  const c = await connect('garbage');
  const fsId = c.view.fsId;
  await writeFile(c, '/keep', bytes(9000, 7));
  const keep = (await c.fs.lstat('/keep')).ino;
  // An upload in progress: an object of an existing file whose slice is not appended yet.
  const uploading = objectKey(fsId, keep, { chunkIndex: 0, chunkId: 10_000_000, compaction: 0, blockIndex: 0 });
  await c.store.put(uploading, bytes(50, 8));
  // Left behind long ago by a client that died: an object of a file that does not exist.
  const old = objectKey(fsId, 55555, { chunkIndex: 0, chunkId: 42, compaction: 0, blockIndex: 0 });
  await c.store.put(old, bytes(60, 9));
  const oldPath = join(base, 'cluster', 'data-garbage', 'objects', ...old.split('/')) + '~';
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  await fsp.utimes(oldPath, twoHoursAgo, twoHoursAgo);

  const dry = JSON.parse((await cli('--json', 'gc', 'garbage')).stdout) as { garbage: { key: string; deleted: boolean }[]; young: number };
  assert.deepEqual(dry.garbage.map((x) => [x.key, x.deleted]), [[old, false]]);
  assert.equal(dry.young, 1);
  assert.notEqual(await c.store.head(old), undefined, 'without --delete nothing is deleted');

  const del = await cli('--json', 'gc', 'garbage', '--delete');
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual((JSON.parse(del.stdout) as { garbage: { key: string; deleted: boolean }[] }).garbage.map((x) => [x.key, x.deleted]), [[old, true]]);
  assert.equal(await c.store.head(old), undefined);
  assert.notEqual(await c.store.head(uploading), undefined, 'the young object is kept');
  sameBytes(await readFile(c, '/keep'), bytes(9000, 7), '/keep');

  const bad = await cli('gc', 'garbage', '--min-age', 'soon');
  assert.equal(bad.code, 2, 'a bad age is a usage error');
});

test('fsck reports a copyset member that does not answer, and is clean once it is back', async () => {
  const dead = cluster.metaservers.peer(2).address.replace(/:0$/, '');
  await cluster.metaservers.kill(2);
  try {
    const r = await fsck('busy');
    assert.equal(r.code, 1);
    const kinds = new Set(r.report.findings.map((f) => f.kind));
    assert.deepEqual([...kinds], ['partition-agreement'], JSON.stringify(r.report.findings));
    assert.ok(r.report.findings.some((f) => f.message.includes(dead)), `names ${dead}`);
  } finally {
    await cluster.metaservers.restart(2);
  }
  await waitFor(async () => (await fsck('busy')).report.findings.length === 0, 'fsck clean after the member is back', 60_000);
});
