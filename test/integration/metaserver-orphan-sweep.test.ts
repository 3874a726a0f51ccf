// Issue [H] scenario 4 (leftover): a directory made in two client steps — CreateInode in one
// partition, CreateDentry in the parent's — whose client crashed in between is an inode no entry
// names, never reclaimed. The metaservers' orphan sweeper (src/metaserver/reclaim/orphan-sweeper.ts)
// must unlink it, and must leave alone every named directory: ones made in another partition than
// their parent's, and ones renamed across partitions. Real MDS and 3 metaserver processes; the
// "crash" is an SDK client that sends CreateInode and never the CreateDentry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';

const FS = 'orphans';
let dir: string;
let cluster: CurvefsCluster | undefined;
let conn: Connection | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-orphan-sweep-'));
  cluster = await CurvefsCluster.start({
    dir,
    mdsArgs: ['--partitions-per-fs', '4'],
    // A short age bound so the test sees a sweep (the default is 10 minutes).
    metaserverArgs: () => ['--orphan-interval-ms', '200', '--orphan-age-ms', '1500'],
  });
  await cluster.createFs(FS);
  conn = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(cluster.pool, cluster.mdsAddrs, { callTimeoutMs: 20_000 })), fsName: FS, pool: cluster.pool });
});

after(async () => {
  await conn?.close().catch(() => undefined);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** nlink of inode `ino`, or 0 once it is gone (reclaimed). */
async function nlinkOf(ino: number): Promise<number> {
  try {
    return (await conn!.meta.callForInode('getInode', ino, { inodeId: ino })).inode!.attr!.nlink;
  } catch (e) {
    if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return 0;
    throw e;
  }
}

test('a directory inode whose client crashed before naming it is unlinked; named directories are left alone', async () => {
  const c = conn!;
  const rootPart = c.meta.partitionOf(1);
  const other = c.meta.table.partitions().find((p) => p.partitionId !== rootPart.partitionId)!;
  assert.ok(other, 'the fs has a partition besides the root directory\'s');

  // Directories made properly the way a client makes them in another partition than their
  // parent's (CreateInode there, then CreateDentry in the parent's), and one of them renamed
  // under another (a cross-partition rename that updates the moved inode's parent list).
  const time = () => ({ sec: Math.floor(Date.now() / 1000), nsec: 0 });
  const twoStepMkdir = async (name: string): Promise<number> => {
    const made = await c.meta.callPartition('createInode', () => other, {
      parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o40755, uid: 0, gid: 0, rdev: 0, symlink: '', length: 0, time: time(),
    });
    const ino = made.inode!.inodeId;
    await c.meta.callForInode('createDentry', 1, { dentry: { fsId: c.meta.fsId, inodeId: ino, parentInodeId: 1, name, type: FileType.TYPE_DIRECTORY }, time: time() });
    return ino;
  };
  const elsewhere: string[] = [];
  for (let i = 0; i < 3; i++) {
    await twoStepMkdir(`g${i}`);
    elsewhere.push(`/g${i}`);
  }
  await c.fs.rename(elsewhere[0]!, `${elsewhere[1]}/moved`);
  // A directory in the root's partition (made with its entry in one step), and a directory of the
  // other partition renamed under it: its parent list must follow, or it would look unnamed.
  await c.meta.callPartition('createFile', () => rootPart, { parent: 1, name: 'r', type: FileType.TYPE_DIRECTORY, mode: 0o40755, uid: 0, gid: 0, rdev: 0, symlink: '', time: time() });
  await c.fs.rename(elsewhere[2]!, '/r/moved');
  const good = [elsewhere[1]!, `${elsewhere[1]}/moved`, '/r/moved'];
  const goodInos = await Promise.all(good.map(async (p) => (await c.fs.stat(p)).ino));

  // The crash: CreateInode of a directory under / in another partition, and no CreateDentry.
  const created = await c.meta.callPartition('createInode', () => other, {
    parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o40755, uid: 0, gid: 0, rdev: 0, symlink: '', length: 0, time: time(),
  });
  const orphan = created.inode!.inodeId;
  assert.equal(await nlinkOf(orphan), 2);

  await waitUntil('the orphan directory inode to be unlinked', 60_000, async () => ((await nlinkOf(orphan)) === 0 ? true : undefined));

  // Every named directory is intact (the sweeper has passed over them many times by now).
  for (const [k, p] of good.entries()) {
    const st = await c.fs.stat(p);
    assert.equal(st.ino, goodInos[k]);
    const want = p === elsewhere[1] ? 3 : 2; // that one holds "moved"
    assert.equal(st.nlink, want, p);
    assert.equal(await nlinkOf(st.ino), want, `${p} keeps its links`);
  }
  assert.deepEqual((await c.fs.readdir(elsewhere[1]!)).sort(), ['moved']);
  await c.fs.writeFile(`${elsewhere[1]}/moved/f`, 'still usable');
  assert.equal(Buffer.from(await c.fs.readFile(`${elsewhere[1]}/moved/f`)).toString(), 'still usable');
});
