// The trash through a real metaserver over its socket (docs/architecture.md §6c): the leader
// stamps Unlink with the fs's retention, restore puts a name back with its data (or into another
// directory of its partition once its own is gone), purge and the
// expiry pass (driven by an injected clock, no sleeps) hand the inode to the reclaimer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode, type Clock } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { FileDataIO, MemoryBlockStore, appendSlices, type ChunkSlice } from '../../src/data/index.ts';
import { countInodeObjects } from '../helpers/store-objects.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MetaServer } from '../../src/metaserver/server.ts';
import { localGroupFactory } from '../../src/metaserver/copyset/manager.ts';
import { staticRetention } from '../../src/metaserver/trash-policy.ts';
import type { FsDataProvider } from '../../src/metaserver/reclaim/fs-data.ts';

const FS = 2;
const NO_TRASH_FS = 3;
const RETENTION_SEC = 3600;
const store = new MemoryBlockStore();
let chunkId = 100;
const io = new FileDataIO(store, { fsId: FS, chunkSize: 1 << 20, blockSize: 1 << 16, allocChunkIds: async (n) => ((chunkId += n), chunkId - n) });
const data: FsDataProvider = { forFs: async (fsId) => (fsId === FS ? io : undefined), close: async () => {} };
// Wall time the test moves by hand: the expiry pass reads it; the unlinks take it as their time.
let wallSec = 1_800_000_000;
const clock: Clock = { now: () => performance.now(), wallTime: () => [wallSec, 0] };
let server: MetaServer;
const pool = new ChannelPool();
let meta: ReturnType<typeof pool.client<typeof MetaServerService.method>>;
const P: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId: FS };
const Q: PartitionRef = { ...P, partitionId: 2, fsId: NO_TRASH_FS };
let seq = 0;
const rid = () => ({ clientId: 1, seq: ++seq });

before(async () => {
  server = new MetaServer({
    listen: '127.0.0.1:0', id: 1, clock, groups: () => localGroupFactory,
    reclaim: { data, graceSec: 0, intervalMs: 3_600_000 },
    trash: { retention: staticRetention({ [FS]: RETENTION_SEC }), intervalMs: 3_600_000 },
  });
  await server.start();
  meta = pool.client(MetaServerService, server.address);
  const cs = pool.client(CopysetService, server.address);
  await cs.createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [server.self()] }] });
  await cs.createPartition({ partition: { fsId: FS, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 9999 } });
  await cs.createPartition({ partition: { fsId: NO_TRASH_FS, poolId: 1, copysetId: 1, partitionId: 2, start: 0, end: 9999 } });
  await meta.createRootInode({ p: P, mode: 0o755 });
  await meta.createRootInode({ p: Q, mode: 0o755 });
});

after(async () => {
  pool.close();
  await server.stop();
});

const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

const written = new Map<number, ChunkSlice[]>();

async function fileWithData(p: PartitionRef, name: string, parent = 1): Promise<number> {
  const f = await meta.createFile({ p, rid: rid(), parent, name, type: FileType.TYPE_S3, mode: 0o644 });
  const ino = f.inode!.inodeId;
  if (p.fsId === FS) {
    const slices = await io.write(ino, 0, payload(200_000));
    written.set(ino, slices);
    await meta.appendChunks({ p, rid: rid(), inodeId: ino, slices, minLength: 200_000, chunkSize: 1 << 20 });
  }
  return ino;
}

const objects = (ino: number): Promise<number> => countInodeObjects(store, FS, ino);

const exists = async (p: PartitionRef, ino: number) => (await meta.batchGetInodeAttr({ p, inodeId: [ino] })).attr.length === 1;
const statusOf = (e: unknown) => (e instanceof CurveError ? StatusCode[e.status] : String(e));

test('unlink → in the trash, data kept through the reclaimer → restore → content intact', async () => {
  const ino = await fileWithData(P, 'keep');
  const u = await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'keep' });
  assert.equal(u.inodeUnlinked, false);
  assert.equal(u.trashed, true);
  await assert.rejects(meta.getDentry({ p: P, parentInodeId: 1, name: 'keep' }), (e) => statusOf(e) === 'NOT_FOUND');
  const listed = (await meta.listTrash({ p: P })).entries;
  assert.deepEqual(
    listed.map((t) => [t.inodeId, t.parentInodeId, t.name, t.length, t.trashedAtSec]),
    [[ino, 1, 'keep', 200_000, wallSec]],
  );
  await server.reclaimer.runOnce();
  assert.ok(await exists(P, ino), 'the reclaimer leaves a trashed inode');

  // the name taken meanwhile: refused, nothing changes
  await fileWithData(P, 'keep');
  await assert.rejects(meta.restoreTrash({ p: P, rid: rid(), inodeId: ino }), (e) => statusOf(e) === 'DENTRY_EXIST' && /already exists/.test(String(e)));
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'keep' });
  await meta.purgeTrash({ p: P, rid: rid(), inodeId: (await meta.listTrash({ p: P })).entries.find((t) => t.inodeId !== ino)!.inodeId });

  const r = await meta.restoreTrash({ p: P, rid: rid(), inodeId: ino });
  assert.equal(r.dentry!.name, 'keep');
  const d = await meta.getDentry({ p: P, parentInodeId: 1, name: 'keep', withAttr: true, withChunks: true });
  assert.equal(d.dentry!.inodeId, ino);
  assert.equal(d.inode!.attr!.length, 200_000);
  const map = appendSlices(new Map(), written.get(ino)!, { chunkSize: 1 << 20, blockSize: 1 << 16 });
  assert.deepEqual(new Uint8Array(await io.read(ino, map, 200_000, 0, 200_000)), payload(200_000), 'the blocks survived the reclaimer');
  assert.equal((await meta.listTrash({ p: P })).entries.length, 0);
});

test('purge empties an entry for good: the reclaimer then deletes its blocks and inode', async () => {
  const ino = await fileWithData(P, 'gone');
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'gone' });
  await meta.purgeTrash({ p: P, rid: rid(), inodeId: ino });
  await assert.rejects(meta.purgeTrash({ p: P, rid: rid(), inodeId: ino }), (e) => statusOf(e) === 'NOT_FOUND');
  await server.reclaimer.runOnce();
  assert.equal(await exists(P, ino), false);
  assert.equal(await objects(ino), 0);
});

test('the expiry pass purges what has been in the trash for the retention, on the leader clock', async () => {
  const old = await fileWithData(P, 'old');
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'old' });
  wallSec += RETENTION_SEC / 2;
  const young = await fileWithData(P, 'young');
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'young' });
  wallSec += RETENTION_SEC / 2 - 1;
  await server.trashExpiry.runOnce();
  assert.equal((await meta.listTrash({ p: P })).entries.length, 2, 'one second short of the retention: both kept');
  wallSec += 1;
  await server.trashExpiry.runOnce();
  assert.deepEqual((await meta.listTrash({ p: P })).entries.map((t) => t.inodeId), [young]);
  await server.reclaimer.runOnce();
  assert.equal(await exists(P, old), false);
  assert.ok(await exists(P, young));
});

test('an fs without a trash unlinks as before, whatever the client sends', async () => {
  const ino = await fileWithData(Q, 'plain');
  const u = await meta.unlink({ p: Q, rid: rid(), parentInodeId: 1, name: 'plain', toTrash: true });
  assert.equal(u.inodeUnlinked, true);
  assert.equal((await meta.listTrash({ p: Q })).entries.length, 0);
  await server.reclaimer.runOnce();
  assert.equal(await exists(Q, ino), false);
});

test('restore --to: into another directory of the partition under a new name; refused, changing nothing, elsewhere', async () => {
  const mkdir = async (name: string) => (await meta.createFile({ p: P, rid: rid(), parent: 1, name, type: FileType.TYPE_DIRECTORY, mode: 0o755 })).inode!.inodeId;
  const tree = await mkdir('tree');
  const dest = await mkdir('dest');
  const ino = await fileWithData(P, 'lost', tree);
  const u = await meta.unlink({ p: P, rid: rid(), parentInodeId: tree, name: 'lost' });
  assert.equal(u.trashed, true);
  await meta.rmdir({ p: P, rid: rid(), parentInodeId: 1, name: 'tree' });
  // The directory is in the trash too: the file cannot go back before it; once it is purged, its
  // place is gone.
  assert.ok((await meta.listTrash({ p: P })).entries.some((t) => t.inodeId === tree && t.type === FileType.TYPE_DIRECTORY));
  await assert.rejects(meta.restoreTrash({ p: P, rid: rid(), inodeId: ino }), (e) => statusOf(e) === 'DIRECTORY_REMOVED');
  await meta.purgeTrash({ p: P, rid: rid(), inodeId: tree });
  await assert.rejects(meta.restoreTrash({ p: P, rid: rid(), inodeId: ino }), (e) => statusOf(e) === 'NOT_FOUND' && /is gone/.test(String(e)));

  // A directory of another partition of the fs: the move would need a transaction.
  const cs = pool.client(CopysetService, server.address);
  await cs.createPartition({ partition: { fsId: FS, poolId: 1, copysetId: 1, partitionId: 3, start: 10_000, end: 19_999 } });
  const R: PartitionRef = { ...P, partitionId: 3 };
  const far = (await meta.createInode({ p: R, rid: rid(), parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755 })).inode!.inodeId;
  const refusals: [number, string, RegExp][] = [
    [far, 'CROSS_DEVICE', /another partition/],
    [tree, 'NOT_FOUND', /removed/],
    [ino, 'NOT_DIRECTORY', /not a directory/],
  ];
  for (const [toParentInodeId, status, why] of refusals) {
    await assert.rejects(meta.restoreTrash({ p: P, rid: rid(), inodeId: ino, toParentInodeId }), (e) => statusOf(e) === status && why.test(String(e)));
  }
  await fileWithData(P, 'taken');
  await assert.rejects(meta.restoreTrash({ p: P, rid: rid(), inodeId: ino, toParentInodeId: 1, toName: 'taken' }), (e) => statusOf(e) === 'DENTRY_EXIST');
  await assert.rejects(meta.restoreTrash({ p: P, rid: rid(), inodeId: ino, toParentInodeId: dest, toName: 'a/b' }), (e) => statusOf(e) === 'INVALID_NAME');
  const entry = async () => (await meta.listTrash({ p: P })).entries.filter((t) => t.inodeId === ino).map((t) => [t.parentInodeId, t.name]);
  assert.deepEqual(await entry(), [[tree, 'lost']], 'the refusals changed nothing');

  const r = await meta.restoreTrash({ p: P, rid: rid(), inodeId: ino, toParentInodeId: dest, toName: 'found' });
  assert.deepEqual([r.dentry!.parentInodeId, r.dentry!.name], [dest, 'found']);
  const d = await meta.getDentry({ p: P, parentInodeId: dest, name: 'found', withAttr: true });
  assert.equal(d.dentry!.inodeId, ino);
  assert.deepEqual(d.inode!.attr!.parent, [dest], 'the new directory replaces the old one in the parent list');
  assert.equal(d.inode!.attr!.nlink, 1);
  assert.deepEqual(await entry(), []);
});
