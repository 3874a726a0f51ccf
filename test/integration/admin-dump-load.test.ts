// dump/load on a real cluster: a tree with directories, hard links, symlinks, a FIFO, xattrs,
// sparse files, modes, owners and times goes through `curvefs dump` (binary and JSON) and
// `curvefs load` into new file systems and comes back the same, data included. A dump with one
// byte changed, or cut short, is refused with exit 6 and creates nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileType } from '../../src/gen/common_pb.ts';
import { MdsService } from '../../src/gen/mds_pb.ts';
import { MdsAdapter, connectFs, type Connection } from '../../src/client/index.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { DescendingChunkIds } from '../helpers/descending-chunk-ids.ts';

let base: string;
let cluster: CurvefsCluster;
const conns: Connection[] = [];

async function connect(fsName: string): Promise<Connection> {
  const c = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName, pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(c);
  return c;
}


function cli(...args: string[]) {
  return runCurvefs(['--mds', cluster.mdsAddrs.join(','), ...args]);
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
}

async function write(c: Connection, path: string, parts: [number, Uint8Array][]): Promise<void> {
  const h = await c.fs.open(path, 'w');
  for (const [off, data] of parts) await h.write(off, data);
  await h.close();
}

/** Everything load must carry over, by path; inode ids replaced by the first path naming them. */
async function describe(c: Connection): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const firstPath = new Map<number, string>();
  const walk = async (dir: string) => {
    for (const name of (await c.fs.readdir(dir)).sort()) {
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const st = await c.fs.lstat(path);
      const xattrs: Record<string, string> = {};
      for (const x of await c.fs.listxattr(path)) xattrs[x] = Buffer.from(await c.fs.getxattr(path, x)).toString('hex');
      let content: string | undefined;
      if (st.type === FileType.TYPE_S3) {
        const h = await c.fs.open(path, 'r');
        content = Buffer.from(await h.read(0, st.size)).toString('base64');
        await h.close();
      }
      const same = firstPath.get(st.ino);
      if (!same) firstPath.set(st.ino, path);
      out[path] = {
        type: st.type, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, nlink: st.nlink, rdev: st.rdev,
        atime: st.atimeNs, mtime: st.mtimeNs, ctime: st.ctimeNs, symlink: st.symlink, xattrs, content, sameInodeAs: same,
      };
      if (st.type === FileType.TYPE_DIRECTORY) await walk(path);
    }
  };
  await walk('/');
  const root = await c.fs.lstat('/');
  out['/'] = { mode: root.mode, uid: root.uid, gid: root.gid, nlink: root.nlink, mtime: root.mtimeNs, ctime: root.ctimeNs };
  return out;
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-dump-'));
  cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  await cluster.createFs('src');
});

after(async () => {
  for (const c of conns) await c.close().catch(() => undefined);
  await cluster?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

test('dump and load round trip: links, symlinks, xattrs, sparse files, modes, owners, times, data', async () => {
  const c = await connect('src');
  const core = c.core;
  await c.fs.mkdir('/docs/deep/er', { recursive: true });
  await c.fs.mkdir('/empty');
  await write(c, '/docs/a.txt', [[0, bytes(5000, 1)]]);
  // Sparse: data at 0 and at 5 MiB (two objects, a hole between), then a longer length.
  await write(c, '/docs/sparse', [[0, bytes(100, 2)], [5 * 2 ** 20, bytes(3000, 3)]]);
  await c.fs.truncate('/docs/sparse', 9 * 2 ** 20);
  // Overwritten ranges: the later slice must still win after chunk ids are renumbered.
  await write(c, '/docs/over', [[0, bytes(8192, 4)]]);
  const oh = await c.fs.open('/docs/over', 'r+');
  await oh.write(1000, bytes(500, 5));
  await oh.close();
  // The same with the later slice's chunk id lower (ids from ranges leased at different times):
  // the order of appends, not the ids, must survive the dump and the renumbering.
  const desc = await connectFs({ mds: new DescendingChunkIds(cluster.mds), fsName: 'src', pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(desc);
  await write(desc, '/docs/over-desc', [[0, bytes(8192, 6)]]);
  const dh = await desc.fs.open('/docs/over-desc', 'r+');
  await dh.write(1000, bytes(500, 7));
  await dh.close();
  const want = bytes(8192, 6);
  want.set(bytes(500, 7), 1000);
  assert.ok(Buffer.from(await c.fs.readFile('/docs/over-desc')).equals(want), 'the later write reads before the dump');
  await c.fs.link('/docs/a.txt', '/docs/deep/hard');
  await c.fs.link('/docs/a.txt', '/hard2');
  await c.fs.symlink('docs/a.txt', '/sym');
  await core.create((await c.fs.lstat('/docs')).ino, 'fifo', { type: FileType.TYPE_FIFO, mode: 0o010600, uid: 7, gid: 8 });
  await c.fs.setxattr('/docs/a.txt', 'user.tag', 'blue');
  await c.fs.setxattr('/docs', 'user.bin', new Uint8Array([0, 255, 1, 254]));
  await c.fs.setxattr('/', 'user.root', 'yes');
  await core.setattr((await c.fs.lstat('/docs/a.txt')).ino, { mode: 0o640, uid: 1001, gid: 1002, atime: [1_600_000_000, 123], mtime: [1_500_000_000, 456] });
  await core.setattr((await c.fs.lstat('/docs/deep')).ino, { mode: 0o1777, uid: 5, gid: 6 });
  await core.setattr((await c.fs.lstat('/empty')).ino, { mtime: [1_400_000_000, 789] });
  const before = await describe(c);

  for (const format of ['binary', 'json']) {
    const file = join(base, `dump.${format}`);
    const d = await cli('dump', 'src', '--format', format, '--out', file);
    assert.equal(d.code, 0, d.stderr);
    const target = `copy-${format}`;
    const l = await cli('load', file, target);
    assert.equal(l.code, 0, l.stderr);
    const copy = await connect(target);
    assert.deepEqual(await describe(copy), before, `${format} round trip`);
    // The copy is a working fs of its own: new writes land, the source is untouched.
    await write(copy, '/docs/a.txt', [[0, bytes(10, 9)]]);
    assert.equal((await c.fs.lstat('/docs/a.txt')).size, 5000);
  }
  // The JSON form is for people and tools: a header line, one record per line, a trailer.
  const lines = (await fsp.readFile(join(base, 'dump.json'), 'utf8')).trimEnd().split('\n').map((s) => JSON.parse(s) as Record<string, unknown>);
  assert.equal((lines[0]!.magic as string), 'CURVEFS-DUMP');
  const trailer = lines.at(-1)!.trailer as { entries: number; inodes: number; crc64: string };
  assert.equal(trailer.entries, lines.filter((x) => x.entry).length);
  assert.match(trailer.crc64, /^[0-9a-f]{16}$/);
});

test('a corrupt or torn dump is refused with exit 6 and creates nothing', async () => {
  const file = join(base, 'dump.binary');
  const good = await fsp.readFile(file);
  const flipped = Buffer.from(good);
  flipped[20]! ^= 0x40; // inside the header frame's payload (12-byte file header, 5-byte frame header)
  const cases: [string, Buffer, RegExp][] = [
    ['flipped', flipped, /checksum mismatch/],
    ['torn', good.subarray(0, good.length - 20), /torn binary dump/],
    ['json-torn', (await fsp.readFile(join(base, 'dump.json'))).subarray(0, 200), /torn JSON dump|no trailer/],
  ];
  for (const [name, content, why] of cases) {
    const bad = join(base, `bad-${name}`);
    await fsp.writeFile(bad, content);
    const r = await cli('load', bad, `bad-${name}`);
    assert.equal(r.code, 6, `${name}: ${r.stderr}`);
    assert.match(r.stderr, why);
    await assert.rejects(cluster.mds.client(MdsService).getFsInfo({ fsName: `bad-${name}` }), `${name}: no fs was created`);
  }
  // Loading into a file system that is not empty changes nothing either.
  const r = await cli('load', file, 'src');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not empty/);
});
