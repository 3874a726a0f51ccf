// Round trips the curvefs mount makes per system call, counted at the metaserver caller: the
// mount's ops served by this process (so only async fs calls touch the mount) over a real
// 3-replica cluster. Pins: a create is one commit (no open registration); a lookup is one
// GetDentry that brings the inode; a missing name is cached by the kernel (negative entry) and
// a create through the mount replaces it at once; in a directory the mount made, a name it did
// not put there is absent without a read (new-dirs.ts); unlink is one commit, plus one registration
// only when the file is open here; the GETATTR of a directory the kernel sends (default_permissions)
// before walking through it after a change is answered from that change's own answer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from '../../src/common/index.ts';
import { FileDataIO } from '../../src/data/index.ts';
import { CurvefsOps } from '../../src/mount/index.ts';
import type { Connection } from '../../src/client/index.ts';
import { startCountedMount, type CountedMount } from '../helpers/counted-mount.ts';
import { mountForTest, type TestMount } from '../helpers/fuse.ts';

let conn: Connection;
let m: TestMount & { ops: CurvefsOps };
let counts: Map<string, number>;
let counted: () => Record<string, number>;
let rig: CountedMount | undefined;
const run = promisify(execFile);

before(async () => {
  rig = await startCountedMount('rt');
  ({ conn, m, counts, counted } = rig);
});

after(async () => {
  await rig?.stop();
});

test('a create is the negative lookup and one CreateFile; no open registration', async () => {
  counts.clear();
  await (await fsp.open(join(m.dir, 'd', 'f'), 'w')).close();
  assert.deepEqual(counted(), { createFile: 1, getDentry: 1 }, 'the negative lookup and the create; the root\'s attributes came with mkdir d');
});

test('a missing name is looked up once (negative entry), and a create here makes it exist at once', async () => {
  const p = join(m.dir, 'd', 'missing');
  counts.clear();
  await assert.rejects(fsp.stat(p), { code: 'ENOENT' });
  await assert.rejects(fsp.stat(p), { code: 'ENOENT' });
  await assert.rejects(fsp.open(p, 'r'), { code: 'ENOENT' });
  assert.deepEqual(counted(), { getDentry: 1 }, 'the second and third lookups came from the negative entry');
  // Not O_EXCL: for an exclusive create the kernel revalidates a cached negative entry (LOOKUP_EXCL).
  await (await fsp.open(p, 'w')).close();
  assert.equal((await fsp.stat(p)).size, 0);
  assert.deepEqual(counted(), { createFile: 1, getDentry: 1 }, 'the create replaced the negative entry in the kernel (no lookup)');
});

test('rename, rmdir and link answer the directory\'s attributes: the kernel\'s GETATTR of it costs no read', async () => {
  await fsp.writeFile(join(m.dir, 'd', 'r1'), '');
  await fsp.rename(join(m.dir, 'd', 'r1'), join(m.dir, 'd', 'r2'));
  counts.clear();
  await fsp.stat(join(m.dir, 'd', 'r2'));
  assert.deepEqual(counted(), { getInode: 1 }, 'd\'s attributes came with the rename; r2\'s (its ctime changed) are read');

  await fsp.mkdir(join(m.dir, 'd', 'sub'));
  const nlink = (await fsp.stat(join(m.dir, 'd'))).nlink;
  await fsp.rmdir(join(m.dir, 'd', 'sub'));
  counts.clear();
  const st = await fsp.stat(join(m.dir, 'd'));
  assert.deepEqual(counted(), {}, 'd\'s attributes came with the rmdir');
  assert.equal(st.nlink, nlink - 1, 'and they are the directory after the rmdir');

  await fsp.link(join(m.dir, 'd', 'r2'), join(m.dir, 'd', 'r3'));
  counts.clear();
  assert.equal((await fsp.stat(join(m.dir, 'd', 'r3'))).nlink, 2);
  assert.deepEqual(counted(), {}, 'd\'s attributes came with CreateDentry, r3\'s with the link');
});

test('a directory moved to another directory: both directories\' attributes come with the rename', async () => {
  // Two directories in one partition: the client places a directory on the partition it thinks
  // least loaded, which moves as the MDS's inode counts reach it, so make directories until two
  // share a partition (with P partitions, P + 1 directories always do).
  const byPartition = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; !pair; i++) {
    assert.ok(i <= conn.meta.table.writable().length + 1, 'some two directories share a partition');
    const dir = join(m.dir, `pair${i}`);
    await fsp.mkdir(dir);
    const part = conn.meta.partitionOf((await fsp.stat(dir)).ino).partitionId;
    const other = byPartition.get(part);
    if (other) pair = [other, dir];
    else byPartition.set(part, dir);
  }
  const [d, e] = pair;
  await fsp.mkdir(join(d, 'mv'));
  const [d0, e0] = [await fsp.stat(d), await fsp.stat(e)];
  await fsp.rename(join(d, 'mv'), join(e, 'mv'));
  counts.clear();
  const [d1, e1] = [await fsp.stat(d), await fsp.stat(e)];
  assert.deepEqual(counted(), {}, 'both directories are in one partition: the rename answered both');
  assert.equal(d1.nlink, d0.nlink - 1);
  assert.equal(e1.nlink, e0.nlink + 1);
});

test('a change of our own to a directory\'s mode is never hidden by attributes kept from an earlier change', async () => {
  await fsp.writeFile(join(m.dir, 'd', 'p1'), ''); // d's attributes are kept from this create
  await fsp.chmod(join(m.dir, 'd'), 0o700);
  assert.equal((await fsp.stat(join(m.dir, 'd'))).mode & 0o7777, 0o700);
  await fsp.chmod(join(m.dir, 'd'), 0o755);
  await fsp.unlink(join(m.dir, 'd', 'p1'));
  assert.equal((await fsp.stat(join(m.dir, 'd'))).mode & 0o7777, 0o755);
});

test('stat of a name the kernel does not know is one GetDentry (it brings the inode)', async () => {
  await conn.fs.writeFile('/d/by-sdk', 'abc'); // created behind the kernel's back
  await fsp.stat(join(m.dir, 'd')); // d's attributes are current again
  counts.clear();
  const st = await fsp.stat(join(m.dir, 'd', 'by-sdk'));
  assert.equal(st.size, 3);
  assert.equal(st.blocks, 8, 'st_blocks from the block map that came with the dentry');
  assert.deepEqual(counted(), { getDentry: 1 });
});

test('in a directory made here, a name not put there by this mount is absent without a read (create, mkdir, rename, link into it)', async () => {
  const n = join(m.dir, 'made-here');
  await fsp.mkdir(n);
  counts.clear();
  await assert.rejects(fsp.stat(join(n, 'missing')), { code: 'ENOENT' });
  await (await fsp.open(join(n, 'f'), 'wx')).close();
  await fsp.mkdir(join(n, 'sub'));
  await (await fsp.open(join(n, 'sub', 'g'), 'wx')).close();
  await fsp.rename(join(n, 'f'), join(n, 'f2'));
  await fsp.link(join(n, 'f2'), join(n, 'f3'));
  let c = counted();
  assert.equal(c.getDentry ?? 0, 0, `the lookups before the create, mkdir, rename and link read nothing: ${JSON.stringify(c)}`);
  // An exclusive create makes the kernel look the name up again even when it has it: a name
  // put there by this mount is read.
  await assert.rejects(fsp.open(join(n, 'sub', 'g'), 'wx'), { code: 'EEXIST' });
  c = counted();
  assert.equal(c.getDentry, 1, JSON.stringify(c));
  assert.equal(c.createFile, 3, JSON.stringify(c));
  // What this mount made is there, as another client sees it.
  assert.deepEqual((await conn.fs.readdir('/made-here')).sort(), ['f2', 'f3', 'sub']);
  assert.equal((await conn.fs.stat('/made-here/f3')).nlink, 2);
  assert.deepEqual(await conn.fs.readdir('/made-here/sub'), ['g']);
});

test('unlink is one commit; of a file open here, one more to register the open (released at close)', async () => {
  const p = join(m.dir, 'd', 'f');
  await fsp.stat(p);
  await fsp.stat(join(m.dir, 'd'));
  counts.clear();
  await fsp.unlink(p);
  assert.deepEqual(counted(), { unlink: 1 });

  await conn.fs.writeFile('/d/held', 'kept');
  const h = await fsp.open(join(m.dir, 'd', 'held'), 'r');
  await fsp.stat(join(m.dir, 'd')); // d changed (unlink f)
  counts.clear();
  await fsp.unlink(join(m.dir, 'd', 'held'));
  assert.deepEqual(counted(), { openHandle: 1, unlink: 1 });
  const buf = Buffer.alloc(10);
  const { bytesRead } = await h.read(buf, 0, 10, 0);
  assert.equal(buf.subarray(0, bytesRead).toString(), 'kept');
  await h.close();
  // The kernel sends RELEASE after close returns: wait for the release to reach the metaserver.
  await pollUntil('the release of the open', 10_000, async () => (counts.get('openHandle') === 2 && conn.core.opens!.size === 0 ? true : undefined));
  await conn.core.opens!.settle();
  assert.equal(conn.core.opens!.counts.released, 1);
});

test('ls -l reads no extended attribute per entry when the listing said there are none; our own setxattr is seen at once', async () => {
  await conn.fs.mkdir('/x');
  for (let i = 0; i < 10; i++) await conn.fs.writeFile(`/x/f${i}`, '');
  counts.clear();
  const { stdout } = await run('ls', ['-l', join(m.dir, 'x')]);
  assert.equal(stdout.trim().split('\n').length, 11, 'total + 10 entries');
  assert.equal(counts.get('getXAttr') ?? 0, 0, `ls -l asks security.selinux of every entry: ${JSON.stringify(counted())}`);
  // Set through this mount: the next read sees it (what was known is dropped), and ls -l asks again.
  await run('setfattr', ['-n', 'user.k', '-v', 'v1', join(m.dir, 'x', 'f3')]);
  const { stdout: got } = await run('getfattr', ['--only-values', '-n', 'user.k', join(m.dir, 'x', 'f3')]);
  assert.equal(got, 'v1');
  await run('setfattr', ['-x', 'user.k', join(m.dir, 'x', 'f3')]);
  await assert.rejects(run('getfattr', ['--only-values', '-n', 'user.k', join(m.dir, 'x', 'f3')]), /No such attribute/);
});

test('another client\'s changes are seen within the attribute timeout: a directory\'s attributes kept from our create, an xattr said absent', async () => {
  // A second mount with the default 1 s attribute timeout (the first keeps everything for 600 s)
  // and a long entry timeout: no LOOKUP refreshes what the mount keeps, only its own expiry does.
  const v = conn.view;
  const data = new FileDataIO(conn.store, { fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize, allocChunkIds: async () => { throw new Error('no data is written in this test'); } });
  const ops = new CurvefsOps({ core: conn.core, data, sessionId: conn.sessionId, view: v }, { dirInfoTtlMs: 1000 });
  const m2 = await mountForTest(ops, { entryTimeoutSec: 600, attrTimeoutSec: 1 });
  try {
    await conn.fs.mkdir('/t');
    await (await fsp.open(join(m2.dir, 't', 'ours'), 'wx')).close(); // t's attributes come with the create
    const kept = await fsp.stat(join(m2.dir, 't'));
    await conn.fs.mkdir('/t/theirs'); // another client: t's nlink and mtime change
    const want = await conn.fs.stat('/t');
    assert.equal(want.nlink, kept.nlink + 1);
    const seen = await pollUntil('the other client\'s mkdir in the mount\'s stat of t', 10_000, async () => {
      const st = await fsp.stat(join(m2.dir, 't'));
      return st.nlink === want.nlink && st.mtimeMs === want.mtimeMs ? st : undefined;
    });
    assert.equal(seen.nlink, kept.nlink + 1);

    // ls -l learns that "ours" has no xattrs; another client sets one; the mount sees it in time.
    await run('ls', ['-l', join(m2.dir, 't')]);
    await conn.fs.setxattr('/t/ours', 'user.other', 'x');
    const value = await pollUntil('the other client\'s xattr through the mount', 10_000, async () => {
      try {
        return (await run('getfattr', ['--only-values', '-n', 'user.other', join(m2.dir, 't', 'ours')])).stdout;
      } catch {
        return undefined;
      }
    });
    assert.equal(value, 'x');
  } finally {
    await m2.cleanup();
  }
});
