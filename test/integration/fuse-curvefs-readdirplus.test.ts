// READDIRPLUS on the curvefs mount: `ls -l` of a directory made through the SDK (so the kernel
// has cached nothing of it) lists every entry with the attributes the SDK sees, and the kernel
// looks none of the listed names up (the attributes came with the listing). The mount's ops are
// served by this process over a real 3-replica cluster.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FileDataIO } from '../../src/data/index.ts';
import type { FuseOps, RequestContext } from '../../src/fuse/index.ts';
import { CurvefsOps } from '../../src/mount/index.ts';
import type { Connection } from '../../src/client/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { mountForTest, run, type TestMount } from '../helpers/fuse.ts';

let cluster: TestCluster;
let conn: Connection;
let m: TestMount;
const lookups: string[] = [];
let readdirplusCalls = 0;
const getattrs: number[] = [];

before(async () => {
  cluster = await startCluster({ fsName: 'rdp' });
  conn = await cluster.connect();
  const v = conn.view;
  const data = new FileDataIO(conn.store, { fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize, allocChunkIds: async () => { throw new Error('no data is written through the mount in this test'); } });
  const inner = new CurvefsOps({ core: conn.core, data, sessionId: conn.sessionId, view: v });
  // The same ops, counting the lookups and listings the kernel asks for.
  const ops = new Proxy(inner as FuseOps, {
    get(target, prop) {
      const v2: unknown = Reflect.get(target, prop, target);
      if (typeof v2 !== 'function') return v2;
      const fn = v2 as (...a: unknown[]) => unknown;
      if (prop === 'lookup') return (ctx: RequestContext, parent: number, name: string) => (lookups.push(name), fn.call(target, ctx, parent, name));
      if (prop === 'getattr') return (ctx: RequestContext, ino: number) => (getattrs.push(ino), fn.call(target, ctx, ino));
      if (prop === 'readdirplus') return (...a: unknown[]) => (readdirplusCalls++, fn.apply(target, a));
      return fn.bind(target);
    },
  });
  m = await mountForTest(ops, { entryTimeoutSec: 600, attrTimeoutSec: 600 });
});

after(async () => {
  await m?.cleanup();
  await conn?.close();
  await cluster?.stop();
});

/** The mode as ls prints it (no setuid/sticky bits in this test). */
function modeString(mode: number): string {
  const type = { 0o040000: 'd', 0o120000: 'l', 0o100000: '-' }[mode & 0o170000] ?? '?';
  let s = type;
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (mode >> shift) & 7;
    s += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  return s;
}

test('ls -l of a directory made through the SDK: attributes as the SDK sees them, no LOOKUP per entry', async () => {
  const fs = conn.fs;
  await fs.mkdir('/big');
  const names: string[] = [];
  for (let i = 0; i < 120; i++) {
    const name = `f${String(i).padStart(3, '0')}`;
    names.push(name);
    await fs.writeFile(`/big/${name}`, 'x'.repeat(i));
  }
  await fs.mkdir('/big/sub', { mode: 0o750 });
  await fs.symlink('f001', '/big/link');
  await fs.chmod('/big/f002', 0o600);
  names.push('sub', 'link');
  await fs.settle();

  lookups.length = 0;
  readdirplusCalls = 0;
  const r = await run('ls', ['-lni', '--time-style=+%s', join(m.dir, 'big')]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readdirplusCalls > 0, 'listed with READDIRPLUS');
  assert.deepEqual(lookups.filter((n) => n !== 'big'), [], 'no LOOKUP of a listed entry');

  const listed = new Map<string, string>();
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // ino mode nlink uid gid size mtime name [-> target]
    listed.set(f[7]!, f.slice(0, 7).join(' '));
  }
  assert.deepEqual([...listed.keys()].sort(), [...names].sort());
  for (const name of names) {
    const s = await fs.lstat(`/big/${name}`);
    const want = [s.ino, modeString(s.mode), s.nlink, s.uid, s.gid, s.size, Math.floor(s.mtimeMs / 1000)].join(' ');
    assert.equal(listed.get(name), want, name);
  }
});

test('ls -l then stat of every entry: st_blocks comes with the listing, no GETATTR per entry, stat fields equal the SDK\'s', async () => {
  const fs = conn.fs;
  await fs.mkdir('/blk');
  const names: string[] = [];
  for (let i = 0; i < 60; i++) {
    const name = `g${String(i).padStart(2, '0')}`;
    names.push(name);
    await fs.writeFile(`/blk/${name}`, 'y'.repeat(i * 300)); // 0 to 17,700 bytes: 0 to 5 pages
  }
  // A sparse file: one page of data 1 MiB in (st_blocks 8, not its length's 2,056).
  const h = await fs.open('/blk/sparse', 'w');
  await h.write(1 << 20, new Uint8Array(4096).fill(7));
  await h.close();
  await fs.writeFile('/blk/empty-big', '');
  await fs.truncate('/blk/empty-big', 3 << 20); // a hole only: st_blocks 0
  await fs.mkdir('/blk/sub');
  await fs.symlink('g01', '/blk/link');
  names.push('sparse', 'empty-big', 'sub', 'link');
  await fs.settle();

  getattrs.length = 0;
  lookups.length = 0;
  const ls = await run('ls', ['-lsni', join(m.dir, 'blk')]);
  assert.equal(ls.code, 0, ls.stderr);
  const st = await run('stat', ['-c', '%n %i %f %h %u %g %s %b %X %Y %Z', ...names.map((n) => join(m.dir, 'blk', n))]);
  assert.equal(st.code, 0, st.stderr);
  const dir = (await fs.lstat('/blk')).ino;
  const perEntry = getattrs.filter((ino) => ino !== dir);
  const inos = new Map<number, string>();
  for (const n of names) inos.set((await fs.lstat(`/blk/${n}`)).ino, n);
  // The one exception is the kernel's: READLINK (ls -l prints the target) marks the symlink's
  // atime stale, so the stat after it asks once.
  assert.deepEqual(perEntry.map((i) => inos.get(i) ?? i).filter((n) => n !== 'link'), [], 'no GETATTR of a listed entry');
  assert.deepEqual(lookups.filter((n) => n !== 'blk'), [], 'no LOOKUP of a listed entry');

  const lines = st.stdout.trim().split('\n');
  assert.equal(lines.length, names.length);
  for (const [k, name] of names.entries()) {
    const s = await fs.lstat(`/blk/${name}`);
    const want = [join(m.dir, 'blk', name), s.ino, s.mode.toString(16), s.nlink, s.uid, s.gid, s.size, s.blocks,
      Math.floor(s.atimeMs / 1000), Math.floor(s.mtimeMs / 1000), Math.floor(s.ctimeMs / 1000)].join(' ');
    assert.equal(lines[k], want, name);
  }
  const sparse = await fs.lstat('/blk/sparse');
  assert.equal(sparse.blocks, 8, 'the sparse file counts its one page');
});
