// A real kernel mount of MemFs, exercised through node:fs (async only: this process serves the
// mount) and through ordinary programs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { FUSE_MAX_MINOR } from '../../src/fuse/index.ts';
import { mountMemFs, run, sh, waitFor, type TestMount } from '../helpers/fuse.ts';
import type { MemFs } from '../../src/fuse/index.ts';

describe('fuse mount of memfs', () => {
  let m: TestMount & { ops: MemFs };
  let d: string;
  before(async () => {
    m = await mountMemFs();
    d = m.dir;
  });
  after(async () => {
    await m?.cleanup();
  });

  test('INIT negotiated a supported protocol', () => {
    assert.equal(m.mount.negotiated.major, 7);
    assert.ok(m.mount.negotiated.minor <= FUSE_MAX_MINOR);
    assert.ok(m.mount.negotiated.maxWrite >= 128 * 1024);
  });

  test('the mount is listed as fuse.curvefs', async () => {
    const mounts = await fsp.readFile('/proc/self/mounts', 'utf8');
    const line = mounts.split('\n').find((l) => l.split(' ')[1] === d);
    assert.ok(line, 'mount listed');
    assert.match(line!, /fuse\.curvefs/);
  });

  test('files: write, read, append, overwrite, truncate', async () => {
    const f = join(d, 'a.txt');
    await fsp.writeFile(f, 'hello');
    assert.equal(await fsp.readFile(f, 'utf8'), 'hello');
    await fsp.appendFile(f, ' world');
    assert.equal(await fsp.readFile(f, 'utf8'), 'hello world');
    const h = await fsp.open(f, 'r+');
    await h.write('J', 0);
    await h.truncate(5);
    await h.close();
    assert.equal(await fsp.readFile(f, 'utf8'), 'Jello');
    const st = await fsp.stat(f);
    assert.equal(st.size, 5);
    assert.ok(st.isFile());
  });

  test('large data round-trips (multi-MiB, unaligned)', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 1234);
    const f = join(d, 'big.bin');
    await fsp.writeFile(f, data);
    const back = await fsp.readFile(f);
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
    const h = await fsp.open(f, 'r');
    const buf = Buffer.alloc(10000);
    const { bytesRead } = await h.read(buf, 0, 10000, 1_000_001);
    await h.close();
    assert.equal(bytesRead, 10000);
    assert.ok(buf.equals(data.subarray(1_000_001, 1_010_001)));
  });

  test('sparse files read zeros in holes', async () => {
    const f = join(d, 'sparse');
    const h = await fsp.open(f, 'w+');
    await h.write('end', 1 << 20);
    await h.close();
    const b = await fsp.readFile(f);
    assert.equal(b.length, (1 << 20) + 3);
    assert.equal(b.subarray(0, 1 << 20).every((x) => x === 0), true);
    const st = await fsp.stat(f);
    assert.equal(st.blocks, 8, 'one 4 KiB page allocated');
  });

  test('directories: mkdir, readdir, rmdir, nlink', async () => {
    await fsp.mkdir(join(d, 'dir/sub/deeper'), { recursive: true });
    await fsp.writeFile(join(d, 'dir/f1'), '1');
    assert.deepEqual((await fsp.readdir(join(d, 'dir'))).sort(), ['f1', 'sub']);
    assert.equal((await fsp.stat(join(d, 'dir'))).nlink, 3);
    await assert.rejects(fsp.rmdir(join(d, 'dir/sub')), { code: 'ENOTEMPTY' });
    await fsp.rmdir(join(d, 'dir/sub/deeper'));
    await fsp.rmdir(join(d, 'dir/sub'));
    assert.equal((await fsp.stat(join(d, 'dir'))).nlink, 2);
    await assert.rejects(fsp.mkdir(join(d, 'dir')), { code: 'EEXIST' });
    await assert.rejects(fsp.readdir(join(d, 'dir/f1')), { code: 'ENOTDIR' });
  });

  test('a large directory lists every entry exactly once', async () => {
    const big = join(d, 'many');
    await fsp.mkdir(big);
    const names: string[] = [];
    for (let i = 0; i < 1500; i++) names.push(`entry-with-a-longish-name-${i}`);
    await Promise.all(names.map((n) => fsp.writeFile(join(big, n), '')));
    const listed = await fsp.readdir(big);
    assert.equal(listed.length, names.length);
    assert.deepEqual([...listed].sort(), [...names].sort());
    const ls = await sh(`ls -f ${big} | wc -l`);
    assert.equal(Number(ls.trim()), names.length + 2, 'ls -f shows . and .. too');
  });

  test('hard links, symlinks, rename', async () => {
    const a = join(d, 'orig');
    await fsp.writeFile(a, 'data');
    await fsp.link(a, join(d, 'hard'));
    assert.equal((await fsp.stat(a)).nlink, 2);
    assert.equal((await fsp.stat(a)).ino, (await fsp.stat(join(d, 'hard'))).ino);
    await fsp.symlink('orig', join(d, 'soft'));
    assert.equal(await fsp.readlink(join(d, 'soft')), 'orig');
    assert.equal(await fsp.readFile(join(d, 'soft'), 'utf8'), 'data');
    assert.equal((await fsp.lstat(join(d, 'soft'))).size, 4);
    await fsp.rename(join(d, 'hard'), join(d, 'moved'));
    await assert.rejects(fsp.stat(join(d, 'hard')), { code: 'ENOENT' });
    await fsp.unlink(a);
    assert.equal((await fsp.stat(join(d, 'moved'))).nlink, 1);
    await assert.rejects(fsp.readFile(join(d, 'soft')), { code: 'ENOENT' });
    await assert.rejects(fsp.link(join(d, 'dir'), join(d, 'dirlink')), { code: 'EPERM' });
  });

  test('an open unlinked file stays readable and writable until closed, then is freed', async () => {
    const f = join(d, 'ghost');
    await fsp.writeFile(f, 'boo');
    const before = m.ops.inodeCount;
    const h = await fsp.open(f, 'r+');
    await fsp.unlink(f);
    await assert.rejects(fsp.stat(f), { code: 'ENOENT' });
    const buf = Buffer.alloc(3);
    await h.read(buf, 0, 3, 0);
    assert.equal(buf.toString(), 'boo');
    await h.write('xyz', 3);
    assert.equal((await h.stat()).size, 6);
    assert.equal((await h.stat()).nlink, 0);
    await h.close();
    // The kernel forgets the inode asynchronously; drop its caches to make it forget now.
    await sh('echo 2 > /proc/sys/vm/drop_caches');
    await waitFor(() => m.ops.inodeCount < before, 'unlinked inode freed after close and forget');
  });

  test('chmod, chown, utimes', async () => {
    const f = join(d, 'perm');
    await fsp.writeFile(f, '');
    await fsp.chmod(f, 0o4751);
    assert.equal((await fsp.stat(f)).mode & 0o7777, 0o4751);
    await fsp.chown(f, 1234, 5678);
    const st = await fsp.stat(f);
    assert.equal(st.uid, 1234);
    assert.equal(st.gid, 5678);
    assert.equal(st.mode & 0o4000, 0, 'chown clears set-user-id');
    await fsp.utimes(f, 1_000_000_000.5, 1_500_000_000.25);
    const t = await fsp.stat(f);
    assert.equal(t.atimeMs, 1_000_000_000_500);
    assert.equal(t.mtimeMs, 1_500_000_000_250);
  });

  test('permissions are enforced for non-root callers', async () => {
    const f = join(d, 'secret');
    await fsp.writeFile(f, 'top');
    await fsp.chmod(f, 0o600);
    const r = await run('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'cat', f]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
    await fsp.chmod(f, 0o644);
    const ok = await run('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'cat', f]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'top');
    const w = await run('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'sh', '-c', `echo x > ${d}/not-mine`]);
    assert.notEqual(w.code, 0, 'root-owned 0755 directory is not writable by others');
  });

  test('statfs answers', async () => {
    const s = await fsp.statfs(d);
    assert.equal(s.bsize, 4096);
    assert.ok(s.blocks > 0);
    assert.ok(s.bfree <= s.blocks);
  });

  test('flock locks exclude across processes and die with the holder', async () => {
    const f = join(d, 'lockfile');
    await fsp.writeFile(f, '');
    const free = await run('flock', ['-n', '-x', f, 'true']);
    assert.equal(free.code, 0, free.stderr);
    // Hold the lock in one shell while another tries without waiting.
    const r = await run('flock', ['-x', f, 'sh', '-c', `flock -n -x ${f} true; echo inner=$?`]);
    assert.equal(r.stdout.trim(), 'inner=1', 'a second open file description cannot take the lock');
    const again = await run('flock', ['-n', '-x', f, 'true']);
    assert.equal(again.code, 0, 'released when the holder closed it');
  });
});
