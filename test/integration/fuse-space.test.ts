// Space accounting on a real cluster (an MDS and 3 metaserver processes) through `curvefs mount`
// processes: bytes and inodes written show in statfs (df) and in `curvefs fs info`, exactly;
// deleted files give their space back once the reclaimer has deleted them; a file system with a
// capacity refuses a write past it with ENOSPC. Every wait polls a predicate with a deadline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsService, type FsInfo } from '../../src/gen/mds_pb.ts';
import { StatusCode, isCurveError } from '../../src/common/index.ts';
import { MdsAdapter, connectFs } from '../../src/client/index.ts';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';

const MiB = 2 ** 20;
const CAPACITY = 8 * MiB;
const DEADLINE = 60_000;
const MAX_INODES = 6;

let base: string;
let cluster: CurvefsCluster;
const mounts: MountProc[] = [];

async function mount(fsName: string): Promise<string> {
  const dir = join(base, `mnt-${fsName}`);
  await fsp.mkdir(dir);
  mounts.push(await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName, dir }));
  return dir;
}

async function info(fsName: string): Promise<FsInfo> {
  return (await cluster.mds.client(MdsService).getFsInfo({ fsName })).fsInfo!;
}

/** Used bytes (rounded up to blocks), available bytes and used inodes as df sees them. */
async function df(dir: string): Promise<{ used: number; avail: number; inodes: number }> {
  const s = await fsp.statfs(dir);
  return { used: (s.blocks - s.bfree) * s.bsize, avail: s.bavail * s.bsize, inodes: s.files - s.ffree };
}

const roundUp = (n: number) => Math.ceil(n / 4096) * 4096;

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-space-'));
  await fsp.chmod(base, 0o755);
  // Reclaim unlinked files 1 s after their last name goes (default 30 s), checked every 200 ms.
  cluster = await CurvefsCluster.start({ dir: join(base, 'cluster'), metaserverArgs: () => ['--reclaim-grace-sec', '1', '--reclaim-interval-ms', '200'] });
  await cluster.createFs('space');
  await cluster.createFs('small', { capacity: CAPACITY });
  await cluster.createFs('few', { maxInodes: MAX_INODES });
});

after(async () => {
  for (const m of mounts) await m.stop().catch(() => m.kill());
  await cluster?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

test('bytes and inodes written show in df and fs info, exactly; a delete gives them back after reclaim', async () => {
  const dir = await mount('space');
  const start = await waitUntil('a complete usage report', DEADLINE, async () => {
    const f = await info('space');
    return f.usageComplete ? f : undefined;
  });
  assert.equal(start.usedBytes, 0, 'an empty fs uses no bytes');
  const big = 5 * MiB;
  const small = MiB + 123;
  await fsp.mkdir(join(dir, 'd'));
  await fsp.writeFile(join(dir, 'd', 'big'), Buffer.alloc(big, 7));
  await fsp.writeFile(join(dir, 'small'), Buffer.alloc(small, 1));
  await fsp.writeFile(join(dir, 'empty'), '');
  await fsp.symlink('d/big', join(dir, 'link')); // an inode, no file bytes
  const bytes = big + small;
  const inodes = start.usedInodes + 5;
  const seen = await waitUntil('fs info to show the writes', DEADLINE, async () => {
    const f = await info('space');
    return f.usedBytes === bytes && f.usedInodes === inodes ? f : undefined;
  });
  assert.equal(seen.usageComplete, true);
  await waitUntil('df on the mount to show the writes', DEADLINE, async () => {
    const s = await df(dir);
    return s.used === roundUp(bytes) && s.inodes === inodes ? true : undefined;
  });
  const cli = await runCurvefs(['--mds', cluster.mdsAddrs.join(','), '--json', 'fs', 'info', 'space']);
  assert.equal(cli.code, 0, cli.stderr);
  const j = JSON.parse(cli.stdout) as { usedBytes: number; usedInodes: number };
  assert.deepEqual([j.usedBytes, j.usedInodes], [bytes, inodes]);
  // Truncate counts at once (the length is what is counted) ...
  await fsp.truncate(join(dir, 'small'), 100);
  // ... and an unlinked file keeps its bytes until the reclaimer deleted its blocks.
  await fsp.unlink(join(dir, 'd', 'big'));
  await waitUntil('the space of the deleted file to come back', DEADLINE, async () => {
    const f = await info('space');
    return f.usedBytes === 100 && f.usedInodes === inodes - 1 ? true : undefined;
  });
  await waitUntil('df to show it', DEADLINE, async () => ((await df(dir)).used === roundUp(100) ? true : undefined));
});

test('a file system with a capacity refuses a write past it with ENOSPC, and takes writes again once space is freed', async () => {
  const dir = await mount('small');
  const s0 = await fsp.statfs(dir);
  assert.equal(s0.blocks * s0.bsize, CAPACITY, 'df shows the capacity as the size');
  await fsp.writeFile(join(dir, 'a'), Buffer.alloc(6 * MiB, 1));
  // 4 MiB more would pass 8 MiB: refused, however the kernel cuts the writes.
  await assert.rejects(fsp.writeFile(join(dir, 'b'), Buffer.alloc(4 * MiB, 2)), { code: 'ENOSPC' });
  const partial = (await fsp.stat(join(dir, 'b'))).size;
  assert.ok(partial <= 2 * MiB, `b holds ${partial} bytes: at most what was left`);
  // What the partitions count is what the files hold, and never more than the capacity.
  const used = await waitUntil('usage of the small fs', DEADLINE, async () => {
    const f = await info('small');
    return f.usedBytes === 6 * MiB + partial ? f.usedBytes : undefined;
  });
  assert.ok(used <= CAPACITY);
  // A rewrite inside a file's length needs no space and is never refused.
  const fh = await fsp.open(join(dir, 'a'), 'r+');
  await fh.write(Buffer.alloc(MiB, 3), 0, MiB, 0);
  await fh.close();
  // Free space: once reclaimed and reported, the mount accepts the 4 MiB.
  await fsp.unlink(join(dir, 'a'));
  await waitUntil('df on the mount to offer 4 MiB', DEADLINE, async () => ((await df(dir)).avail >= 4 * MiB ? true : undefined));
  await fsp.writeFile(join(dir, 'b'), Buffer.alloc(4 * MiB, 2));
  await waitUntil('usage to show the new b', DEADLINE, async () => ((await info('small')).usedBytes === 4 * MiB ? true : undefined));
});

test('the SDK sees the same usage and refuses the same way', async () => {
  // The mount's 4 MiB file from the test above is what the small fs holds.
  const conn = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: 'small', pool: cluster.pool });
  try {
    const st = conn.fs.statfs();
    assert.deepEqual([st.usedBytes, st.blockSize * st.blocks], [4 * MiB, CAPACITY]);
    // writeFile goes in 4 MiB pieces: the first fits, the second is refused.
    await assert.rejects(conn.fs.writeFile('/c', new Uint8Array(5 * MiB)), (e) => isCurveError(e, StatusCode.NO_SPACE));
    await assert.rejects(conn.fs.truncate('/b', 9 * MiB), (e) => isCurveError(e, StatusCode.NO_SPACE));
    const c = (await conn.fs.stat('/c')).size;
    assert.ok(c <= 4 * MiB, `c holds ${c} bytes: at most what was left`);
    const used = await waitUntil('usage to show what c holds', DEADLINE, async () => {
      const u = (await info('small')).usedBytes;
      return u === 4 * MiB + c ? u : undefined;
    });
    assert.ok(used <= CAPACITY);
  } finally {
    await conn.close();
  }
});

test('a file system with an inode limit takes creates up to it, across refreshes, and refuses one past it with ENOSPC', async () => {
  const dir = await mount('few');
  const start = await waitUntil('a complete usage report', DEADLINE, async () => {
    const f = await info('few');
    return f.usageComplete ? f : undefined;
  });
  assert.equal(start.maxInodes, MAX_INODES);
  const room = MAX_INODES - start.usedInodes;
  assert.ok(room >= 2, `the root leaves room (${start.usedInodes} used)`);
  /** Waits until the mount's own usage report (df shows it) counts `used` inodes of the limit. */
  const mountSees = (used: number) =>
    waitUntil(`the mount to be told ${used} inodes are used`, DEADLINE, async () => {
      const s = await fsp.statfs(dir);
      return s.files === MAX_INODES && s.files - s.ffree === used ? true : undefined;
    });
  await mountSees(start.usedInodes);
  // Each create but the last waits for a refresh that includes it before the next: the mount
  // must not count its own creates again on top of an MDS figure that has them (it refused
  // creates under the limit that way).
  await fsp.mkdir(join(dir, 'd'));
  await mountSees(start.usedInodes + 1);
  for (let i = 1; i < room - 1; i++) {
    await fsp.writeFile(join(dir, 'd', `f${i}`), '');
    await mountSees(start.usedInodes + 1 + i);
  }
  // The last one and those past the limit go at once: the mount's own tally refuses them
  // whether or not a report has counted the last create yet.
  await fsp.writeFile(join(dir, 'd', 'last'), '');
  await assert.rejects(fsp.writeFile(join(dir, 'd', 'one-too-many'), ''), { code: 'ENOSPC' });
  await assert.rejects(fsp.mkdir(join(dir, 'e')), { code: 'ENOSPC' });
  await waitUntil('the partitions to count every inode', DEADLINE, async () => ((await info('few')).usedInodes === MAX_INODES ? true : undefined));
  await mountSees(MAX_INODES);
  await assert.rejects(fsp.mkdir(join(dir, 'e')), { code: 'ENOSPC' }, 'refused on the MDS figure alone too');
});
