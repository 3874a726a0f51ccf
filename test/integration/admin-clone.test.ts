// `curvefs clone` on a real cluster (an MDS and 3 metaserver processes, a local block store;
// docs/architecture.md §6d, docs/operations.md "clone"): a clone shares its source's objects, so
// writes, truncates and deletes of the source (and the reclaimer after them) leave the clone's
// bytes intact; a tree clone keeps types, modes, symlinks and xattrs; gc --delete after it deletes
// nothing the clone reads and fsck finds nothing wrong; a clone onto an existing name changes
// nothing; a CloneInode whose reply was lost and that the client sent again made one inode. When
// the last user of shared objects goes, they go too; a source purged from the trash is reclaimed by
// the same rule; dump and load carry a clone. Every wait polls a predicate with a deadline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { MdsAdapter, RpcMetaCaller, connectFs, type Connection, type MetaCaller } from '../../src/client/index.ts';
import { openBlockStore, type BlockStore } from '../../src/data/index.ts';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { countInodeObjects } from '../helpers/store-objects.ts';

const FS = 'clones';
const DEADLINE = 60_000;

let base: string;
let cluster: CurvefsCluster;
let fsId: number;
let store: BlockStore;
let c: Connection;
const conns: Connection[] = [];

async function connect(caller?: MetaCaller): Promise<Connection> {
  const conn = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: FS, pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0, caller });
  conns.push(conn);
  return conn;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCurvefs(['--mds', cluster.mdsAddrs.join(','), ...args]);
}

async function clone(src: string, dst: string): Promise<void> {
  const r = await cli('clone', FS, src, dst);
  assert.equal(r.code, 0, `clone ${src} ${dst}: ${r.stderr}`);
}

const content = (n: number, seed: number) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff));

async function read(path: string): Promise<Buffer> {
  return Buffer.from(await c.fs.readFile(path));
}

async function sameBytes(path: string, want: Uint8Array, what: string): Promise<void> {
  const got = await read(path);
  assert.ok(got.equals(Buffer.from(want)), `${what}: ${path} holds ${got.length} bytes, ${want.length} expected, contents differ`);
}

/** Waits until the reclaimer has deleted inode `ino` (its DeleteInode is committed). */
async function reclaimed(ino: number): Promise<void> {
  await waitUntil(`inode ${ino} reclaimed`, DEADLINE, async () => {
    try {
      await c.core.getattr(ino, true);
      return undefined;
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return true;
      throw e;
    }
  });
}

async function fsckReport(...flags: string[]): Promise<{ findings: { kind: string; message: string }[]; inodes: number }> {
  const r = await cli('--json', 'fsck', FS, ...flags);
  assert.ok(r.stdout.length > 0, `fsck printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as { findings: { kind: string; message: string }[]; inodes: number };
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-clone-'));
  // Reclaim 1 s after the last link goes, passes every 200 ms: the tests wait for it.
  cluster = await CurvefsCluster.start({
    dir: join(base, 'cluster'),
    metaserverArgs: () => ['--reclaim-grace-sec', '1', '--reclaim-interval-ms', '200'],
  });
  fsId = await cluster.createFs(FS);
  store = await openBlockStore({ kind: 'local', dir: join(base, 'cluster', `data-${FS}`) });
  c = await connect();
});

after(async () => {
  for (const x of conns) await x.close().catch(() => undefined);
  await store?.close().catch(() => undefined);
  await cluster?.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

test('a cloned file keeps its bytes through writes, truncates and the deletion of its source; the shared objects go with their last user', async () => {
  const original = content(9 * 1024 * 1024 + 123, 1); // three objects of 4 MiB
  await c.fs.mkdir('/f');
  await c.fs.writeFile('/f/src', original);
  await clone('/f/src', '/f/dst');
  const src = await c.fs.stat('/f/src');
  const dst = await c.fs.stat('/f/dst');
  assert.notEqual(dst.ino, src.ino);
  assert.equal(dst.size, original.length);
  await sameBytes('/f/dst', original, 'just cloned');
  assert.equal(await countInodeObjects(store, fsId, dst.ino), 0, 'a clone stores no object of its own');

  // Writes to either side never reach the other.
  const h = await c.fs.open('/f/src', 'r+');
  await h.write(4096, content(100_000, 7));
  await h.close();
  await sameBytes('/f/dst', original, 'after a write to the source');
  const h2 = await c.fs.open('/f/dst', 'r+');
  const dstPatch = content(5000, 9);
  await h2.write(10, dstPatch);
  await h2.close();
  const dstNow = Buffer.from(original);
  dstPatch.copy(dstNow, 10);
  await sameBytes('/f/dst', dstNow, 'after a write to the clone');
  const srcNow = Buffer.from(original);
  content(100_000, 7).copy(srcNow, 4096);
  await sameBytes('/f/src', srcNow, 'the source after a write to the clone');

  // Truncate, then delete the source; the reclaimer runs.
  await c.fs.truncate('/f/src', 1000);
  await sameBytes('/f/dst', dstNow, 'after truncating the source');
  await c.fs.unlink('/f/src');
  await reclaimed(src.ino);
  await sameBytes('/f/dst', dstNow, 'after the source was reclaimed');
  assert.ok((await countInodeObjects(store, fsId, src.ino)) > 0, "the source's shared objects stay while the clone uses them");

  // The clone goes: both prefixes are emptied.
  await c.fs.unlink('/f/dst');
  await reclaimed(dst.ino);
  await waitUntil('the shared objects deleted with their last user', DEADLINE, async () =>
    (await countInodeObjects(store, fsId, src.ino)) === 0 && (await countInodeObjects(store, fsId, dst.ino)) === 0 ? true : undefined);
});

test('a tree clone keeps files, subdirectories, symlinks, modes and xattrs, and survives the removal of its source', async () => {
  await c.fs.mkdir('/t/sub/deeper', { recursive: true });
  const files: Record<string, Buffer> = {
    '/t/a': content(1000, 2),
    '/t/sub/b': content(300_000, 3),
    '/t/sub/deeper/c': content(5 * 1024 * 1024, 4),
    '/t/empty': Buffer.alloc(0),
  };
  for (const [p, b] of Object.entries(files)) await c.fs.writeFile(p, b);
  await c.fs.chmod('/t/a', 0o640);
  await c.fs.chmod('/t/sub', 0o750);
  await c.fs.symlink('sub/b', '/t/link');
  await c.fs.setxattr('/t/a', 'user.tag', 'file-tag');
  await c.fs.setxattr('/t/sub', 'user.tag', 'dir-tag');
  const srcInodes = [];
  for await (const e of c.fs.walk('/t')) srcInodes.push(e.stat.ino);

  await clone('/t', '/t2');
  const check = async (what: string) => {
    for (const [p, b] of Object.entries(files)) await sameBytes(p.replace('/t/', '/t2/'), b, what);
    assert.equal((await c.fs.stat('/t2/a')).mode & 0o7777, 0o640);
    assert.equal((await c.fs.stat('/t2/sub')).mode & 0o7777, 0o750);
    assert.equal(await c.fs.readlink('/t2/link'), 'sub/b');
    assert.equal(Buffer.from(await c.fs.getxattr('/t2/a', 'user.tag')).toString(), 'file-tag');
    assert.equal(Buffer.from(await c.fs.getxattr('/t2/sub', 'user.tag')).toString(), 'dir-tag');
    assert.deepEqual((await c.fs.readdir('/t2')).sort(), ['a', 'empty', 'link', 'sub']);
    assert.deepEqual((await c.fs.readdir('/t2/sub')).sort(), ['b', 'deeper']);
  };
  await check('just cloned');
  // A directory's byte count includes its cloned files, also those whose inode lives in another
  // partition (a clone's inode is in its source's partition).
  const dirBytes = async (path: string) => {
    const ino = (await c.fs.stat(path)).ino;
    return (await c.core.meta.callForInode('getDirStats', ino, { inodeId: ino })).stats!.bytes;
  };
  for (const d of ['', '/sub', '/sub/deeper']) assert.equal(await dirBytes(`/t2${d}`), await dirBytes(`/t${d}`), `bytes of /t2${d}`);

  await c.fs.rm('/t', { recursive: true });
  for (const ino of srcInodes) await reclaimed(ino);
  await check('after the source tree was removed and reclaimed');

  // gc --delete right after (no age bound): nothing the clone reads goes, and fsck is clean.
  const gc = await cli('--json', 'gc', FS, '--delete', '--min-age', '0s');
  assert.equal(gc.code, 0, gc.stderr);
  const deleted = (JSON.parse(gc.stdout) as { garbage: { key: string }[] }).garbage;
  assert.deepEqual(deleted, [], 'gc found no garbage: every shared object is referenced by a clone');
  await check('after gc --delete');
  const report = await fsckReport();
  assert.deepEqual(report.findings, [], 'fsck reports nothing about shared objects');
});

test('a clone onto an existing name is refused and changes nothing', async () => {
  await c.fs.mkdir('/e');
  await c.fs.writeFile('/e/src', content(2000, 5));
  await c.fs.writeFile('/e/taken', content(10, 6));
  await c.fs.mkdir('/e/dir');
  await c.fs.writeFile('/e/dir/x', content(10, 8));
  const before = await fsckReport();
  for (const [src, dst] of [['/e/src', '/e/taken'], ['/e/src', '/e/dir'], ['/e/dir', '/e/taken']]) {
    const r = await cli('clone', FS, src!, dst!);
    assert.notEqual(r.code, 0, `clone ${src} ${dst} succeeded`);
    assert.match(r.stderr, /exist/i);
  }
  await sameBytes('/e/taken', content(10, 6), 'the name that was taken');
  assert.deepEqual(await c.fs.readdir('/e/dir'), ['x']);
  const after = await fsckReport();
  assert.equal(after.inodes, before.inodes, 'no inode was made');
  assert.deepEqual(after.findings, []);
});

test('a CloneInode sent again after its reply was lost makes one inode (exactly once)', async () => {
  await c.fs.mkdir('/r');
  await c.fs.writeFile('/r/src', content(70_000, 11));
  // A caller that delivers the first CloneInode and then loses its reply: the client sends the
  // same request (same request id) again.
  const real = new RpcMetaCaller(cluster.pool);
  let lost = 0;
  const lossy: MetaCaller = {
    async call(address, method, req, opts) {
      const res = await real.call(address, method, req, opts);
      if (method === 'cloneInode' && lost === 0) {
        lost++;
        throw new CurveError(StatusCode.UNAVAILABLE, 'reply lost (test)');
      }
      return res;
    },
  };
  const lc = await connect(lossy);
  const before = await fsckReport();
  await lc.fs.clone('/r/src', '/r/dst');
  assert.equal(lost, 1, 'the reply was lost once');
  await sameBytes('/r/dst', content(70_000, 11), 'the clone');
  assert.deepEqual(await c.fs.readdir('/r'), ['dst', 'src']);
  const after = await fsckReport();
  assert.equal(after.inodes, before.inodes + 1, 'one inode made');
  assert.deepEqual(after.findings, []);
});

test('in an fs with a trash: a source removed into the trash and purged is reclaimed by the rule; the clone stays whole', async () => {
  const TFS = 'clones-trash';
  const tfsId = await cluster.createFs(TFS, { trashHours: 24 });
  const tstore = await openBlockStore({ kind: 'local', dir: join(base, 'cluster', `data-${TFS}`) });
  const tc = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: TFS, pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(tc);
  try {
    const data = content(300_000, 21);
    await tc.fs.writeFile('/src', data);
    const src = (await tc.fs.stat('/src')).ino;
    const r = await cli('clone', TFS, '/src', '/dst');
    assert.equal(r.code, 0, r.stderr);
    await tc.fs.unlink('/src');
    const purged = await cli('trash', 'purge', TFS, '--all');
    assert.equal(purged.code, 0, purged.stdout + purged.stderr);
    await waitUntil(`inode ${src} reclaimed`, DEADLINE, async () =>
      (await tc.core.getattr(src, true).then(() => false, (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_FOUND)) ? true : undefined);
    assert.ok((await countInodeObjects(tstore, tfsId, src)) > 0, 'the shared objects stay');
    assert.ok(Buffer.from(await tc.fs.readFile('/dst')).equals(data), 'the clone reads whole');
  } finally {
    await tstore.close();
  }
});

test('dump and load: a clone whose source is gone loads as a file with objects of its own', async () => {
  await c.fs.mkdir('/l');
  const data = content(250_000, 31);
  await c.fs.writeFile('/l/src', data);
  const src = (await c.fs.stat('/l/src')).ino;
  await clone('/l/src', '/l/dst');
  await c.fs.unlink('/l/src');
  await reclaimed(src);
  const file = join(base, 'clones.dump');
  const d = await cli('dump', FS, '--out', file);
  assert.equal(d.code, 0, d.stderr);
  const l = await cli('load', file, 'clones-loaded');
  assert.equal(l.code, 0, l.stderr);
  const lc = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: 'clones-loaded', pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(lc);
  assert.ok(Buffer.from(await lc.fs.readFile('/l/dst')).equals(data), 'the loaded clone reads whole');
});

test('a clone the fs has no room for is refused with NO_SPACE and makes nothing; one that fits is made', async () => {
  const NAME = 'clones-full';
  await cluster.createFs(NAME, { capacity: 1024 * 1024, maxInodes: 12 });
  const fc = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: NAME, pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(fc);
  // Waits until the MDS reports at least this much in use (the CLI's client starts from that view).
  const reported = (bytes: number, inodes: number) =>
    waitUntil(`the MDS reports ${bytes} bytes and ${inodes} inodes used`, DEADLINE, async () => {
      const r = await cli('--json', 'fs', 'info', NAME);
      const info = JSON.parse(r.stdout) as { usedBytes: number; usedInodes: number; usageComplete: boolean };
      return info.usageComplete && info.usedBytes >= bytes && info.usedInodes >= inodes ? true : undefined;
    });
  const absent = async (p: string) => assert.equal(await fc.fs.stat(p).then(() => true, () => false), false, `${p} was made`);

  await fc.fs.writeFile('/big', content(600_000, 31));
  await reported(600_000, 2);
  const bytes = await cli('clone', NAME, '/big', '/big2');
  assert.notEqual(bytes.code, 0, 'a 600,000-byte clone in 1 MiB with 600,000 used');
  assert.match(bytes.stderr, /no space for a clone of \/big/);
  await absent('/big2');

  // root + /big + /t + 8 files = 11 of 12 inodes: /t's clone needs 9 more.
  await fc.fs.mkdir('/t');
  for (let i = 0; i < 8; i++) await fc.fs.writeFile(`/t/f${i}`, 'x');
  await reported(600_008, 11);
  const inodes = await cli('clone', NAME, '/t', '/t2');
  assert.notEqual(inodes.code, 0, 'a 9-inode clone with 1 inode left');
  assert.match(inodes.stderr, /no inodes for a clone of \/t/);
  await absent('/t2');

  // One inode and one byte fit.
  const fits = await cli('clone', NAME, '/t/f0', '/one');
  assert.equal(fits.code, 0, fits.stderr);
  assert.equal(Buffer.from(await fc.fs.readFile('/one')).toString(), 'x');
});

test('in an fs with a trash: a clone whose inode lives in another partition than its name goes to the trash and comes back whole', async () => {
  const NAME = 'clones-away';
  await cluster.createFs(NAME, { trashHours: 24 });
  const ac = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: NAME, pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(ac);
  const data = content(70_000, 41);
  await ac.fs.writeFile('/src', data);
  const srcPart = ac.core.meta.partitionOf((await ac.fs.stat('/src')).ino).partitionId;
  // A new directory goes to the least loaded writable partition: with /src's partition taken out
  // of this client's choice (as when it runs out of ids), the next one lands in another.
  ac.core.meta.table.markReadonly(srcPart);
  const away = '/away';
  await ac.fs.mkdir(away);
  assert.notEqual(ac.core.meta.partitionOf((await ac.fs.stat(away)).ino).partitionId, srcPart, 'the directory is in another partition');
  const r = await cli('clone', NAME, '/src', `${away}/copy`);
  assert.equal(r.code, 0, r.stderr);
  const copy = (await ac.fs.stat(`${away}/copy`)).ino;
  assert.equal(ac.core.meta.partitionOf(copy).partitionId, srcPart, 'the clone is made in its source\'s partition');

  await ac.fs.unlink(`${away}/copy`);
  const listed = JSON.parse((await cli('--json', 'trash', 'list', NAME)).stdout) as { inodeId: number; name: string }[];
  assert.deepEqual(listed.map((t) => [t.inodeId, t.name]), [[copy, 'copy']], 'the clone is in the trash');
  const back = await cli('trash', 'restore', NAME, String(copy));
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.ok(Buffer.from(await ac.fs.readFile(`${away}/copy`)).equals(data), 'the restored clone reads whole');
  assert.equal((await ac.fs.stat(`${away}/copy`)).nlink, 1);
});
