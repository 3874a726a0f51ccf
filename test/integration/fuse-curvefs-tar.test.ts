// What a GNU `tar x` costs per file through the curvefs mount, counted at the metaserver caller
// (the mount's ops served by this process over a real 3-replica cluster). tar as root extracts
// each file with openat(O_CREAT|O_EXCL), write, utimensat(fd), fchown, fchmod, close. Pins: a
// setattr of a file this client created and holds open is saved with the file's data at its
// next commit (close, fsync) — close-to-open, like the data — so the data, utimensat, fchown and
// fchmod are one commit (AppendAndUpdateInode), and the kernel's GETATTR before fchown (it
// refreshes the mode to drop set-user-id) is answered locally — so a file is one read (the
// negative lookup) and two commits; in a directory the mount made, the negative lookup reads
// nothing (src/vfs/new-dirs.ts), so `tar x` into one is two commits per file. Every result is
// checked from another client: data, length, times, owner and mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CurvefsOps } from '../../src/mount/index.ts';
import type { Connection } from '../../src/client/index.ts';
import { startCountedMount, type CountedMount } from '../helpers/counted-mount.ts';
import type { TestMount } from '../helpers/fuse.ts';

/** A second client of the fs, with no caches: what another mount or SDK user sees. */
let other: Connection;
let m: TestMount & { ops: CurvefsOps };
let counts: Map<string, number>;
let counted: () => Record<string, number>;
let rig: CountedMount | undefined;
const run = promisify(execFile);

before(async () => {
  // Chunk ids from a range no other writer of this fs uses (the SDK below only reads).
  let next = 2 ** 40;
  rig = await startCountedMount('tar', async (n) => ((next += n), next - n));
  ({ m, counts, counted } = rig);
  other = await rig.cluster.connect({ entryTtlMs: 0, attrTtlMs: 0 });
});

after(async () => {
  await other?.close();
  await rig?.stop();
});

test('write, futimens, fchown, fchmod, close: the setattrs ride on the data\'s commit at close; one read and two commits in all', async () => {
  const body = randomBytes(3000);
  const mtime = new Date('2020-02-03T04:05:06Z');
  await fsp.stat(join(m.dir, 'd'));
  counts.clear();
  const h = await fsp.open(join(m.dir, 'd', 'f'), 'wx', 0o600);
  await h.write(body);
  await h.utimes(mtime, mtime);
  await h.chown(0, 0);
  await h.chmod(0o644);
  await h.close();
  assert.deepEqual(counted(), { appendAndUpdateInode: 1, createFile: 1, getDentry: 1 });

  // Another client sees every change.
  const st = await other.fs.stat('/d/f');
  assert.equal(st.size, 3000);
  assert.equal(st.mode & 0o7777, 0o644);
  assert.equal(st.uid, 0);
  assert.equal(st.mtimeMs, mtime.getTime());
  assert.ok(st.ctimeMs > mtime.getTime(), 'ctime is the time of the last change');
  assert.deepEqual(Buffer.from(await other.fs.readFile('/d/f')), body);
});

test('attributes answered from our own setattr never hide a write made after it', async () => {
  const h = await fsp.open(join(m.dir, 'd', 'g'), 'wx', 0o600);
  await h.write(Buffer.from('abc'));
  await h.chmod(0o640);
  await h.write(Buffer.from('defgh'), 0, 5, 3);
  assert.equal((await h.stat()).size, 8);
  await h.chown(0, 0);
  assert.equal((await h.stat()).size, 8);
  await h.close();
  const st = await other.fs.stat('/d/g');
  assert.equal(st.size, 8);
  assert.equal(st.mode & 0o7777, 0o640);
  assert.equal(Buffer.from(await other.fs.readFile('/d/g')).toString(), 'abcdefgh');
});

test('set-user-id is dropped by a chown after a setattr whose answer the mount kept', async () => {
  const h = await fsp.open(join(m.dir, 'd', 's'), 'wx', 0o600);
  await h.write(Buffer.from('x'));
  await h.chmod(0o4755);
  await h.chown(1234, 1234);
  await h.close();
  const st = await other.fs.stat('/d/s');
  assert.equal(st.mode & 0o7777, 0o755, 'chown cleared S_ISUID, as on Linux');
  assert.equal(st.uid, 1234);
});

test('a setattr of a file created here and open is saved by fsync or close; this mount shows it at once', async () => {
  const path = join(m.dir, 'd', 'late');
  counts.clear();
  const h = await fsp.open(path, 'wx', 0o600);
  try {
    await h.write(Buffer.from('hello'));
    await h.chmod(0o640);
    await h.chown(1234, 4321);
    const here = await h.stat();
    assert.equal(here.mode & 0o7777, 0o640);
    assert.equal(here.uid, 1234);
    assert.equal((await fsp.stat(path)).gid, 4321, 'a path stat on this mount too');
    assert.deepEqual(counted(), { createFile: 1, getDentry: 1 }, 'nothing committed before fsync');
    await h.sync();
    const st = await other.fs.stat('/d/late');
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.size], [0o640, 1234, 4321, 5], 'fsync saved the attributes with the data');
    await h.chmod(0o604);
  } finally {
    // (A handle left to the garbage collector closes synchronously: a deadlock with this
    // process's own FUSE server.)
    await h.close();
  }
  const st = await other.fs.stat('/d/late');
  assert.equal(st.mode & 0o7777, 0o604, 'close saved the last chmod');
});

test('a second open of the file commits the attributes first (close-to-open for every opener)', async () => {
  const path = join(m.dir, 'd', 'twice');
  const h = await fsp.open(path, 'wx', 0o600);
  try {
    await h.chmod(0o644);
    const r = await fsp.open(path, 'r');
    await r.close();
    const st = await other.fs.stat('/d/twice');
    assert.equal(st.mode & 0o7777, 0o644, 'saved before the second open answered');
  } finally {
    await h.close();
  }
});

test('a write after a deferred utimensat sets mtime again, as on a local fs', async () => {
  const path = join(m.dir, 'd', 'touched');
  const old = new Date('2001-01-01T00:00:00Z');
  const h = await fsp.open(path, 'wx', 0o600);
  await h.utimes(old, old);
  await h.write(Buffer.from('later'));
  await h.close();
  const st = await other.fs.stat('/d/touched');
  assert.equal(st.atimeMs, old.getTime(), 'atime as set');
  assert.ok(st.mtimeMs > old.getTime(), 'the write came after utimensat');
});

test('a setattr of a file this client did not create is committed at once', async () => {
  await other.fs.writeFile('/d/theirs', Buffer.from('x'));
  const h = await fsp.open(join(m.dir, 'd', 'theirs'), 'r+');
  try {
    await h.chmod(0o600);
    const st = await other.fs.stat('/d/theirs');
    assert.equal(st.mode & 0o7777, 0o600, 'visible while the file is still open here');
  } finally {
    await h.close();
  }
});

test('tar x into a directory made here: every file is two commits and no read, and the tree equals the archive', async () => {
  const src = join(m.base, 'src');
  const files = 12;
  await fsp.mkdir(join(src, 'pkg', 'lib'), { recursive: true });
  for (let i = 0; i < files; i++) {
    const f = join(src, 'pkg', i % 2 ? 'lib' : '.', `f${i}.js`);
    await fsp.writeFile(f, randomBytes(500 + i * 300));
    await fsp.chmod(f, i % 3 ? 0o644 : 0o755);
    await fsp.utimes(f, new Date(1_600_000_000_000 + i * 1000), new Date(1_600_000_000_000 + i * 1000));
  }
  const tarball = join(m.base, 'tree.tar');
  await run('tar', ['cf', tarball, '-C', src, 'pkg']);
  const dest = join(m.dir, 'x');
  await fsp.mkdir(dest);
  counts.clear();
  await run('tar', ['xf', tarball, '-C', dest]);
  const c = counted();
  assert.equal(c.appendChunks ?? 0, 0, `no file's data is a commit of its own: ${JSON.stringify(c)}`);
  assert.equal(c.appendAndUpdateInode, files, 'each file\'s data and setattrs are one commit');
  assert.equal(c.createFile, files + 2, 'a file or directory each');
  assert.equal(c.getDentry ?? 0, 0, `every name is new in a directory made here: no lookup reads (new-dirs.ts): ${JSON.stringify(c)}`);
  // Each directory: utimensat, fchownat, chmod (not open: each a commit of its own).
  assert.equal(c.updateInode, 3 * 2, JSON.stringify(c));

  // The tree, as another client sees it, equals the archive (tar --compare checks data, size, mode, mtime, owner).
  await run('tar', ['--compare', '-f', tarball, '-C', dest]);
  for (let i = 0; i < files; i++) {
    const rel = `pkg/${i % 2 ? 'lib/' : ''}f${i}.js`;
    const st = await other.fs.stat(`/x/${rel}`);
    assert.equal(st.size, 500 + i * 300, rel);
    assert.equal(st.mode & 0o7777, i % 3 ? 0o644 : 0o755, rel);
    assert.equal(st.mtimeMs, 1_600_000_000_000 + i * 1000, rel);
    assert.deepEqual(Buffer.from(await other.fs.readFile(`/x/${rel}`)), await fsp.readFile(join(src, rel)), rel);
  }
});

test('rm -rf of the tree: one commit per name, the directories\' listings, and no attribute read', async () => {
  const dest = join(m.dir, 'x');
  await fsp.readdir(dest, { recursive: true }); // every directory seen: as after tar x, or an ls -R
  counts.clear();
  await run('rm', ['-rf', dest]);
  const c = counted();
  assert.equal(c.unlink, 12, JSON.stringify(c));
  assert.equal(c.rmdir, 3, 'pkg/lib, pkg and x');
  for (const read of ['batchGetInodeAttr', 'getInode', 'getDentry']) {
    assert.equal(c[read] ?? 0, 0, `opendir of a directory seen within the attribute timeout reads nothing: ${JSON.stringify(c)}`);
  }
  await assert.rejects(other.fs.stat('/x'), { code: 'ENOENT' });
});
