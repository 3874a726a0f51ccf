// Deferred deletion: an unlinked file keeps its blocks while a handle holds it open (or its
// session lives), and loses them (blocks, then the inode) once released or expired; a marked
// inode cannot be opened again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, ExpireSessionsEntrySchema, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { FileDataIO, MemoryBlockStore } from '../../src/data/index.ts';
import { countInodeObjects } from '../helpers/store-objects.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MetaServer } from '../../src/metaserver/server.ts';
import { localGroupFactory } from '../../src/metaserver/copyset/manager.ts';
import { OpType } from '../../src/metaserver/copyset/op-codec.ts';
import type { FsDataProvider } from '../../src/metaserver/reclaim/fs-data.ts';

const FS = 2;
const store = new MemoryBlockStore();
let chunkId = 100;
const io = new FileDataIO(store, { fsId: FS, chunkSize: 1 << 20, blockSize: 1 << 16, allocChunkIds: async (n) => ((chunkId += n), chunkId - n) });
const data: FsDataProvider = { forFs: async (fsId) => (fsId === FS ? io : undefined), close: async () => {} };
let server: MetaServer;
const pool = new ChannelPool();
let meta: ReturnType<typeof pool.client<typeof MetaServerService.method>>;
const P: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId: FS };
let seq = 0;
const rid = () => ({ clientId: 1, seq: ++seq });

before(async () => {
  // Grace 0 and no timer-driven passes: the test runs passes itself.
  server = new MetaServer({ listen: '127.0.0.1:0', id: 1, groups: () => localGroupFactory, reclaim: { data, graceSec: 0, intervalMs: 3_600_000 } });
  await server.start();
  meta = pool.client(MetaServerService, server.address);
  await pool.client(CopysetService, server.address).createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [server.self()] }] });
  await pool.client(CopysetService, server.address).createPartition({ partition: { fsId: FS, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 9999 } });
  await meta.createRootInode({ p: P, mode: 0o755 });
});

after(async () => {
  pool.close();
  await server.stop();
});

async function fileWithData(name: string): Promise<number> {
  const f = await meta.createFile({ p: P, rid: rid(), parent: 1, name, type: FileType.TYPE_S3, mode: 0o644 });
  const ino = f.inode!.inodeId;
  const slices = await io.write(ino, 0, new Uint8Array(200_000).fill(7));
  await meta.appendChunks({ p: P, rid: rid(), inodeId: ino, slices, minLength: 200_000, chunkSize: 1 << 20 });
  return ino;
}

const objects = (ino: number): Promise<number> => countInodeObjects(store, FS, ino);

async function exists(ino: number): Promise<boolean> {
  return (await meta.batchGetInodeAttr({ p: P, inodeId: [ino] })).attr.length === 1;
}

test('an open handle keeps an unlinked file; release reclaims blocks then the inode', async () => {
  const ino = await fileWithData('held');
  assert.ok((await objects(ino)) >= 4);
  await meta.openHandle({ p: P, inodeId: ino, sessionId: 5, open: true });
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'held' });
  await server.reclaimer.runOnce();
  assert.ok(await exists(ino), 'still there while open');
  assert.ok((await objects(ino)) >= 4, 'blocks kept while open');
  assert.ok(server.reclaimer.stats.skippedOpen > 0);
  await meta.openHandle({ p: P, inodeId: ino, sessionId: 5, open: false });
  await server.reclaimer.runOnce();
  assert.equal(await exists(ino), false);
  assert.equal(await objects(ino), 0);
});

test('a session that expired stops protecting its handles', async () => {
  const ino = await fileWithData('expiring');
  await meta.openHandle({ p: P, inodeId: ino, sessionId: 6, open: true });
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'expiring' });
  await server.reclaimer.runOnce();
  assert.ok(await exists(ino));
  const cs = server.manager.get(1, 1)!;
  await cs.propose(OpType.ExpireSessions, create(ExpireSessionsEntrySchema, { sessionIds: [6] }));
  await server.reclaimer.runOnce();
  assert.equal(await exists(ino), false);
  assert.equal(await objects(ino), 0);
});

test('a linked file is never reclaimed; a marked inode cannot be opened', async () => {
  const ino = await fileWithData('linked');
  await server.reclaimer.runOnce();
  assert.ok(await exists(ino));
  assert.ok((await objects(ino)) > 0);
  // Claim an unlinked inode by hand, then try to open it.
  const other = await fileWithData('claimed');
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'claimed' });
  const cs = server.manager.get(1, 1)!;
  const m = await cs.propose(OpType.MarkReclaim, { $typeName: 'curvefs.metaserver.DeleteInodeRequest', p: P, inodeId: other });
  assert.equal(m.status, StatusCode.OK);
  await assert.rejects(meta.openHandle({ p: P, inodeId: other, sessionId: 7, open: true }), (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_FOUND);
  await server.reclaimer.runOnce();
  assert.equal(await exists(other), false);
});

test('clones: shared objects outlive their owner and go with their last sharer (a chain of clones)', async () => {
  const o = await fileWithData('origin'); // 200,000 bytes of 7
  const c1 = (await meta.cloneInode({ p: P, rid: rid(), sourceInodeId: o, parent: 1, name: 'c1' })).inode!.inodeId;
  // c1 writes over its first 1000 bytes: objects of its own, under its prefix.
  const own = await io.write(c1, 0, new Uint8Array(1000).fill(9));
  await meta.appendChunks({ p: P, rid: rid(), inodeId: c1, slices: own, minLength: 0, chunkSize: 1 << 20 });
  const c2 = (await meta.cloneInode({ p: P, rid: rid(), sourceInodeId: c1, parent: 1, name: 'c2' })).inode!.inodeId;
  const want = new Uint8Array(200_000).fill(7);
  want.fill(9, 0, 1000);
  const readC2 = async () => {
    const inode = (await meta.getInode({ p: P, inodeId: c2 })).inode!;
    const map = new Map(Object.entries(inode.chunks).map(([k, v]) => [Number(k), v.slices.map((s) => ({ ...s, owner: s.owner || undefined }))]));
    return new Uint8Array(await io.read(c2, map, inode.attr!.length, 0, 200_000));
  };
  assert.deepEqual(await readC2(), want);
  const [ownO, ownC1] = [await objects(o), await objects(c1)];
  assert.ok(ownO >= 4 && ownC1 >= 1 && (await objects(c2)) === 0);

  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'origin' });
  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'c1' });
  await server.reclaimer.runOnce();
  assert.equal(await exists(o), false);
  assert.equal(await exists(c1), false);
  assert.equal(await objects(o), ownO, "the origin's objects stay: c2 shares them");
  assert.equal(await objects(c1), ownC1, "c1's own objects stay: c2 shares them");
  assert.deepEqual(await readC2(), want);

  await meta.unlink({ p: P, rid: rid(), parentInodeId: 1, name: 'c2' });
  await server.reclaimer.runOnce();
  assert.equal(await exists(c2), false);
  assert.deepEqual([await objects(o), await objects(c1), await objects(c2)], [0, 0, 0], 'the last sharer took every prefix with it');
});
