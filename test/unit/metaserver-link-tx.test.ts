// Issue [H] scenario 4, the last leftover: link(2) across partitions was two client steps
// (LinkInode in the inode's partition, then CreateDentry in the new parent's), so a client crash
// between them left the inode with a link no name accounts for — never reclaimed, the file's data
// kept after its last name goes. CreateDentry{link} does both in one call (one transaction when
// the inode lives elsewhere); a retry gets the first outcome; a refused link changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MetaServer } from '../../src/metaserver/server.ts';
import { localGroupFactory } from '../../src/metaserver/copyset/manager.ts';

const FS = 8;
const T = { sec: 100, nsec: 0 };
// Copyset 1 holds partition 10 (the root), copyset 2 partition 20.
const P10: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 10, fsId: FS };
const P20: PartitionRef = { ...P10, copysetId: 2, partitionId: 20 };
let server: MetaServer;
const pool = new ChannelPool();
let meta: ReturnType<typeof pool.client<typeof MetaServerService.method>>;
let seq = 0;
const rid = () => ({ clientId: 31, seq: ++seq });

before(async () => {
  server = new MetaServer({ listen: '127.0.0.1:0', id: 1, groups: () => localGroupFactory });
  await server.start();
  meta = pool.client(MetaServerService, server.address);
  const admin = pool.client(CopysetService, server.address);
  const self = server.self();
  await admin.createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [self] }, { poolId: 1, copysetId: 2, peers: [self] }] });
  for (const [cs, pid, start] of [[1, 10, 0], [2, 20, 2000]] as const) {
    await admin.createPartition({ partition: { fsId: FS, poolId: 1, copysetId: cs, partitionId: pid, start, end: start + 999 } });
  }
  await meta.createRootInode({ p: P10, mode: 0o755, time: T });
});

after(async () => {
  pool.close();
  await server.stop();
});

async function status(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (e instanceof CurveError) return StatusCode[e.status]!;
    throw e;
  }
}

const nlink = async (p: PartitionRef, ino: number) => (await meta.getInode({ p, inodeId: ino })).inode!.attr!.nlink;
const names = async () => (await meta.listDentry({ p: P10, dirInodeId: 1 })).dentrys.map((d) => `${d.name}=${d.inodeId}`).sort();
const linkReq = (ino: number, name: string, p = P10) => ({
  p, rid: rid(), link: true, time: T, dentry: { fsId: FS, inodeId: ino, parentInodeId: 1, name, type: FileType.FILE_TYPE_UNKNOWN },
});

test('[H] scenario 4: link(2) of an inode in another copyset is one call: the name and the link, once', async () => {
  const x = (await meta.createInode({ p: P20, rid: rid(), parent: 1, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode!.inodeId;
  await meta.createDentry({ p: P10, rid: rid(), dentry: { fsId: FS, inodeId: x, parentInodeId: 1, name: 'a', type: FileType.TYPE_S3 }, time: T });
  assert.equal(await nlink(P20, x), 1);
  const req = linkReq(x, 'b');
  const res = await meta.createDentry(req);
  assert.equal(res.inode?.inodeId, x, 'the answer carries the linked inode');
  assert.equal(res.inode?.nlink, 2);
  assert.equal(res.inode?.type, FileType.TYPE_S3);
  assert.equal(await nlink(P20, x), 2, 'the name was made without its link: a client crash here would leak or lose one');
  assert.deepEqual(await names(), [`a=${x}`, `b=${x}`]);
  assert.equal((await meta.getDentry({ p: P10, parentInodeId: 1, name: 'b' })).dentry!.type, FileType.TYPE_S3);
  // The reply was lost: the retry answers the same and adds nothing.
  const again = await meta.createDentry(req);
  assert.equal(again.inode?.inodeId, x);
  assert.equal(await nlink(P20, x), 2);
  // Both names go, each dropping its link in the same call: the inode reaches 0 exactly then.
  assert.equal((await meta.unlink({ p: P10, rid: rid(), parentInodeId: 1, name: 'a', time: T })).inodeUnlinked, true);
  assert.equal(await nlink(P20, x), 1);
  assert.equal((await meta.unlink({ p: P10, rid: rid(), parentInodeId: 1, name: 'b', time: T })).inodeUnlinked, true);
  assert.equal(await nlink(P20, x), 0);
});

test('[H] scenario 4: link(2) of an inode in the same partition is one call too', async () => {
  const f = (await meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'l1', type: FileType.TYPE_S3, mode: 0o644, time: T })).inode!.inodeId;
  const res = await meta.createDentry(linkReq(f, 'l2'));
  assert.equal(res.inode?.nlink, 2);
  // No participant: the commit entry dropped the record (no Forget entry to wait for).
  assert.equal(server.manager.get(1, 1)!.sm.tx.records.size, 0);
  assert.equal(res.parent?.nlink, 2, 'the directory\'s attributes after the link come with the answer');
  assert.equal(await nlink(P10, f), 2);
  assert.equal((await meta.getDentry({ p: P10, parentInodeId: 1, name: 'l2' })).dentry!.inodeId, f);
});

test('a refused link changes nothing: existing name, directory, missing inode, bad name', async () => {
  const x = (await meta.createInode({ p: P20, rid: rid(), parent: 1, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode!.inodeId;
  await meta.createDentry({ p: P10, rid: rid(), dentry: { fsId: FS, inodeId: x, parentInodeId: 1, name: 'r1', type: FileType.TYPE_S3 }, time: T });
  const d = (await meta.createInode({ p: P20, rid: rid(), parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T })).inode!.inodeId;
  await meta.createDentry({ p: P10, rid: rid(), dentry: { fsId: FS, inodeId: d, parentInodeId: 1, name: 'rd', type: FileType.TYPE_DIRECTORY }, time: T });
  const before = await names();
  assert.equal(await status(meta.createDentry(linkReq(x, 'r1'))), 'DENTRY_EXIST');
  assert.equal(await status(meta.createDentry(linkReq(d, 'rd2'))), 'NOT_PERMITTED');
  assert.equal(await status(meta.createDentry(linkReq(2999, 'r3'))), 'NOT_FOUND');
  assert.equal(await status(meta.createDentry(linkReq(x, 'a/b'))), 'INVALID_NAME');
  assert.deepEqual(await names(), before);
  assert.equal(await nlink(P20, x), 1);
  assert.equal(await nlink(P20, d), 2);
  // Nothing left locked or pending: a plain create of the refused names works.
  await meta.createDentry({ p: P10, rid: rid(), dentry: { fsId: FS, inodeId: x, parentInodeId: 1, name: 'r3', type: FileType.TYPE_S3 }, time: T });
  for (const cs of [1, 2]) assert.equal(server.manager.get(1, cs)!.sm.tx.lockCount, 0);
});
