// MetaServerService over real RPC against in-process single-replica copysets: data path, admin,
// rename/rmdir within and across partitions and copysets (the transaction path), bad requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MetaServer } from '../../src/metaserver/server.ts';
import { localGroupFactory } from '../../src/metaserver/copyset/manager.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-svc-'));
let server: MetaServer;
const pool = new ChannelPool();
let meta: ReturnType<typeof pool.client<typeof MetaServerService.method>>;
let admin: ReturnType<typeof pool.client<typeof CopysetService.method>>;
const FS = 3;
// Copyset 1:1 holds partitions 10 ([0, 999], the root) and 11 ([1000, 1999]); copyset 1:2 holds 20 ([2000, 2999]).
const P10: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 10, fsId: FS };
const P11: PartitionRef = { ...P10, partitionId: 11 };
const P20: PartitionRef = { ...P10, copysetId: 2, partitionId: 20 };
const T = { sec: 1000, nsec: 0 };
let seq = 0;
const rid = () => ({ clientId: 77, seq: ++seq });

async function status(p: Promise<unknown>): Promise<StatusCode> {
  try {
    await p;
    return StatusCode.OK;
  } catch (e) {
    if (e instanceof CurveError) return e.status;
    throw e;
  }
}

before(async () => {
  server = new MetaServer({ listen: '127.0.0.1:0', id: 1, groups: () => localGroupFactory });
  await server.start();
  meta = pool.client(MetaServerService, server.address);
  admin = pool.client(CopysetService, server.address);
  const self = server.self();
  await admin.createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [self] }, { poolId: 1, copysetId: 2, peers: [self] }] });
  // Same peers again: idempotent.
  await admin.createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [self] }] });
  for (const [cs, pid, start] of [[1, 10, 0], [1, 11, 1000], [2, 20, 2000]] as const) {
    await admin.createPartition({ partition: { fsId: FS, poolId: 1, copysetId: cs, partitionId: pid, start, end: start + 999 } });
  }
  await meta.createRootInode({ p: P10, mode: 0o755, time: T });
});

after(async () => {
  pool.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function mkdirIn(inodePart: PartitionRef, parent: number, name: string): Promise<number> {
  const parentPart = parent < 1000 ? P10 : parent < 2000 ? P11 : P20;
  if (inodePart.partitionId === parentPart.partitionId) {
    const r = await meta.createFile({ p: parentPart, rid: rid(), parent, name, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T });
    return r.inode!.inodeId;
  }
  const c = await meta.createInode({ p: inodePart, rid: rid(), parent, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T });
  await meta.createDentry({ p: parentPart, rid: rid(), dentry: { fsId: FS, inodeId: c.inode!.inodeId, parentInodeId: parent, name, type: FileType.TYPE_DIRECTORY }, time: T });
  return c.inode!.inodeId;
}

function partOf(ino: number): PartitionRef {
  return ino < 1000 ? P10 : ino < 2000 ? P11 : P20;
}

async function lookup(parent: number, name: string): Promise<number | undefined> {
  try {
    return (await meta.getDentry({ p: partOf(parent), parentInodeId: parent, name })).dentry!.inodeId;
  } catch (e) {
    if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
    throw e;
  }
}

test('create, lookup, list, getattr, idempotent retry', async () => {
  const r1 = rid();
  const a = await meta.createFile({ p: P10, rid: r1, parent: 1, name: 'file-a', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const again = await meta.createFile({ p: P10, rid: r1, parent: 1, name: 'file-a', type: FileType.TYPE_S3, mode: 0o644, time: T });
  assert.equal(again.inode!.inodeId, a.inode!.inodeId, 'retry returns the first result');
  assert.equal(await lookup(1, 'file-a'), a.inode!.inodeId);
  const attrs = await meta.batchGetInodeAttr({ p: P10, inodeId: [a.inode!.inodeId, 999] });
  assert.equal(attrs.attr.length, 1);
  assert.equal(attrs.attr[0]!.nlink, 1);
  const list = await meta.listDentry({ p: P10, dirInodeId: 1, withAttr: true });
  assert.ok(list.dentrys.some((d) => d.name === 'file-a'));
  assert.ok(list.attrs.some((x) => x.inodeId === a.inode!.inodeId));
  // No time given: the leader stamps one.
  const b = await meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'stamped', type: FileType.TYPE_S3, mode: 0o644 });
  assert.ok(b.inode!.ctime > 0);
});

test('bad requests get precise errors and change nothing', async () => {
  assert.equal(await status(meta.getDentry({ p: { ...P10, partitionId: 99 }, parentInodeId: 1, name: 'x' })), StatusCode.PARTITION_NOT_FOUND);
  assert.equal(await status(meta.getDentry({ p: { ...P10, copysetId: 9 }, parentInodeId: 1, name: 'x' })), StatusCode.COPYSET_NOTEXIST);
  assert.equal(await status(meta.getDentry({ parentInodeId: 1, name: 'x' })), StatusCode.PARAM_ERROR);
  assert.equal(await status(meta.getInode({ p: P10, inodeId: 5000 })), StatusCode.ID_OUT_OF_RANGE);
  assert.equal(await status(meta.getInode({ p: P10, inodeId: 2 ** 60 })), StatusCode.PARAM_ERROR);
  assert.equal(await status(meta.batchGetInodeAttr({ p: P10, inodeId: [-1] })), StatusCode.PARAM_ERROR);
  assert.equal(await status(meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'a/b', type: FileType.TYPE_S3, mode: 0o644, time: T })), StatusCode.INVALID_NAME);
  assert.equal(await status(meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'x'.repeat(256), type: FileType.TYPE_S3, mode: 0o644, time: T })), StatusCode.NAME_TOO_LONG);
  assert.equal(await status(meta.createFile({ p: { ...P10, fsId: 4 }, rid: rid(), parent: 1, name: 'y', type: FileType.TYPE_S3, mode: 0o644, time: T })), StatusCode.FS_ID_MISMATCH);
  assert.equal(await status(meta.rename({ p: P10, rid: rid(), oldParent: 1, oldName: 'nope', newP: P10, newParent: 1, newName: 'n2', time: T })), StatusCode.NOT_FOUND);
  assert.equal(await status(admin.createPartition({ partition: { fsId: FS, poolId: 1, copysetId: 1, partitionId: 10, start: 5, end: 9 } })), StatusCode.PARTITION_EXIST);
  assert.equal(await status(admin.createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [{ id: 9, address: '127.0.0.1:1:0' }] }] })), StatusCode.PARAM_ERROR);
  const list = await meta.listDentry({ p: P10, dirInodeId: 1 });
  assert.ok(!list.dentrys.some((d) => d.name === 'y' || d.name === 'a/b'));
});

test('rename across copysets moves a file atomically; retry returns the first result', async () => {
  const d = await mkdirIn(P20, 1, 'dst-dir');
  const f = await meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'moving', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const r = rid();
  const res = await meta.rename({ p: P10, rid: r, oldParent: 1, oldName: 'moving', newP: P20, newParent: d, newName: 'moved', time: T });
  assert.equal(res.movedInodeId, f.inode!.inodeId);
  assert.equal(await lookup(1, 'moving'), undefined);
  assert.equal(await lookup(d, 'moved'), f.inode!.inodeId);
  const attr = (await meta.batchGetInodeAttr({ p: P10, inodeId: [f.inode!.inodeId] })).attr[0]!;
  assert.deepEqual(attr.parent, [d]);
  const again = await meta.rename({ p: P10, rid: r, oldParent: 1, oldName: 'moving', newP: P20, newParent: d, newName: 'moved', time: T });
  assert.equal(again.movedInodeId, f.inode!.inodeId);
  for (const cs of server.copysets()) assert.equal(cs.sm.tx.lockCount, 0, `no locks left in ${cs.name}`);
});

test('rename over an existing file across partitions unlinks the replaced inode', async () => {
  const d = await mkdirIn(P11, 1, 'over-dir');
  const victim = await meta.createFile({ p: P11, rid: rid(), parent: d, name: 'target', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const src = await meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'replacer', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const res = await meta.rename({ p: P10, rid: rid(), oldParent: 1, oldName: 'replacer', newP: P11, newParent: d, newName: 'target', time: T });
  assert.equal(res.replacedInodeId, victim.inode!.inodeId);
  assert.equal(await lookup(d, 'target'), src.inode!.inodeId);
  const va = (await meta.batchGetInodeAttr({ p: P11, inodeId: [victim.inode!.inodeId] })).attr[0]!;
  assert.equal(va.nlink, 0);
});

test('directory loops are refused across partitions and copysets', async () => {
  const a = await mkdirIn(P11, 1, 'loop-a');
  const b = await mkdirIn(P20, a, 'b');
  const c = await mkdirIn(P10, b, 'c');
  assert.equal(await status(meta.rename({ p: P10, rid: rid(), oldParent: 1, oldName: 'loop-a', newP: P10, newParent: c, newName: 'a', time: T })), StatusCode.INVALID_RENAME);
  assert.equal(await lookup(1, 'loop-a'), a);
  // A legal cross-copyset directory move, then the old parent's link count follows.
  const e = await mkdirIn(P20, 1, 'loop-e');
  await meta.rename({ p: P10, rid: rid(), oldParent: 1, oldName: 'loop-e', newP: P20, newParent: b, newName: 'e', time: T });
  assert.equal(await lookup(b, 'e'), e);
  const ea = (await meta.batchGetInodeAttr({ p: P20, inodeId: [e] })).attr[0]!;
  assert.deepEqual(ea.parent, [b]);
  const ba = (await meta.batchGetInodeAttr({ p: P20, inodeId: [b] })).attr[0]!;
  assert.equal(ba.nlink, 4, 'b holds c and e');
});

test('rmdir across partitions: not empty, then removed, and nothing can be created inside', async () => {
  const d = await mkdirIn(P20, 1, 'gone');
  const child = await meta.createFile({ p: P20, rid: rid(), parent: d, name: 'x', type: FileType.TYPE_S3, mode: 0o644, time: T });
  assert.equal(await status(meta.rmdir({ p: P10, rid: rid(), parentInodeId: 1, name: 'gone', time: T })), StatusCode.DIRECTORY_NOT_EMPTY);
  assert.equal(await lookup(1, 'gone'), d, 'still there after ENOTEMPTY');
  await meta.unlink({ p: P20, rid: rid(), parentInodeId: d, name: 'x', time: T });
  void child;
  await meta.rmdir({ p: P10, rid: rid(), parentInodeId: 1, name: 'gone', time: T });
  assert.equal(await lookup(1, 'gone'), undefined);
  const late = await status(meta.createFile({ p: P20, rid: rid(), parent: d, name: 'late', type: FileType.TYPE_S3, mode: 0o644, time: T }));
  assert.ok(late === StatusCode.NOT_FOUND || late === StatusCode.DIRECTORY_REMOVED, `create in a removed dir: ${StatusCode[late]}`);
  // The directory's inode has no links left; the reclaimer (a pass every few seconds, and T is
  // long past its grace) may already have deleted it, which is the same outcome one step later.
  const da = (await meta.batchGetInodeAttr({ p: P20, inodeId: [d] })).attr[0];
  assert.ok(da === undefined || da.nlink === 0, `removed directory still linked: nlink ${da?.nlink}`);
});

test('exchange across partitions swaps two names', async () => {
  const d = await mkdirIn(P11, 1, 'xch');
  const f1 = await meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'xa', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const f2 = await meta.createFile({ p: P11, rid: rid(), parent: d, name: 'xb', type: FileType.TYPE_S3, mode: 0o644, time: T });
  await meta.rename({ p: P10, rid: rid(), oldParent: 1, oldName: 'xa', newP: P11, newParent: d, newName: 'xb', flags: 2, time: T });
  assert.equal(await lookup(1, 'xa'), f2.inode!.inodeId);
  assert.equal(await lookup(d, 'xb'), f1.inode!.inodeId);
});

test('locks and open handles', async () => {
  const f = await meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'locked', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const ino = f.inode!.inodeId;
  const w1 = await meta.lock({ p: P10, rid: rid(), inodeId: ino, lock: { start: 0, end: 9, type: 2, owner: 1, sessionId: 1 } });
  assert.equal(w1.granted, true);
  const w2 = await meta.lock({ p: P10, rid: rid(), inodeId: ino, lock: { start: 5, end: 20, type: 1, owner: 2, sessionId: 2 } });
  assert.equal(w2.granted, false);
  assert.equal(w2.conflict?.owner, 1);
  const t = await meta.lock({ p: P10, inodeId: ino, testOnly: true, lock: { start: 10, end: 20, type: 2, owner: 2, sessionId: 2 } });
  assert.equal(t.granted, true);
  await meta.openHandle({ p: P10, inodeId: ino, sessionId: 1, open: true });
  assert.equal(server.manager.get(1, 1)!.sm.handles.get(10)!.isOpen(ino), true);
});

test('metrics render per-op histograms and copyset state', async () => {
  const text = await server.renderMetrics();
  // Label order is not part of the format (prom-client writes `le` first): match either order.
  assert.match(text, /^curvefs_metaserver_request_seconds_bucket\{(?=[^}]*\bop="CreateFile")(?=[^}]*\ble="0.001")[^}]*\} \d+$/m);
  // Counts by status: the tally kept per request, copied into the counter at each scrape (twice
  // here: the values must not double).
  const count = (t: string, op: string, status: string): number => Number(new RegExp(`^curvefs_metaserver_requests_total\\{op="${op}",status="${status}"\\} (\\d+)$`, 'm').exec(t)?.[1]);
  const created = Number(/^curvefs_metaserver_request_seconds_count\{op="CreateFile"\} (\d+)$/m.exec(text)?.[1]);
  assert.ok(count(text, 'CreateFile', 'OK') > 0);
  const allCreates = [...text.matchAll(/^curvefs_metaserver_requests_total\{op="CreateFile",status="\w+"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  assert.equal(allCreates, created);
  assert.ok(count(text, 'GetDentry', 'NOT_FOUND') > 0 || count(text, 'GetDentry', 'OK') > 0);
  assert.equal(count(await server.renderMetrics(), 'CreateFile', 'OK'), count(text, 'CreateFile', 'OK'));
  assert.match(text, /curvefs_copyset_applied_index\{copyset="1-1"\} \d+/);
});

test('[H] scenario 4: unlink of a name whose inode lives in another copyset drops the link in the same call (no second client step to crash before)', async () => {
  const x = (await meta.createInode({ p: P20, rid: rid(), parent: 1, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode!.inodeId;
  await meta.createDentry({ p: P10, rid: rid(), dentry: { fsId: FS, inodeId: x, parentInodeId: 1, name: 'u1', type: FileType.TYPE_S3 }, time: T });
  await meta.linkInode({ p: P20, rid: rid(), inodeId: x, newParent: 1, time: T });
  await meta.createDentry({ p: P10, rid: rid(), dentry: { fsId: FS, inodeId: x, parentInodeId: 1, name: 'u2', type: FileType.TYPE_S3 }, time: T });
  assert.equal((await meta.getInode({ p: P20, inodeId: x })).inode!.attr!.nlink, 2);
  const req = { p: P10, rid: rid(), parentInodeId: 1, name: 'u1', time: T };
  const res = await meta.unlink(req);
  assert.equal(res.dentry!.inodeId, x);
  assert.equal(res.inodeUnlinked, true, 'the client would have to send UnlinkInode itself: a crash now leaks a link');
  assert.equal((await meta.getInode({ p: P20, inodeId: x })).inode!.attr!.nlink, 1);
  assert.equal(await lookup(1, 'u1'), undefined);
  // A retry (reply lost) gets the same answer and changes nothing.
  const again = await meta.unlink(req);
  assert.equal(again.inodeUnlinked, true);
  assert.equal(again.dentry!.inodeId, x);
  assert.equal((await meta.getInode({ p: P20, inodeId: x })).inode!.attr!.nlink, 1);
  assert.equal(await lookup(1, 'u2'), x);
  // The last name: the inode reaches nlink 0 (the deletion list), in the same call.
  assert.equal((await meta.unlink({ p: P10, rid: rid(), parentInodeId: 1, name: 'u2', time: T })).inodeUnlinked, true);
  assert.equal((await meta.getInode({ p: P20, inodeId: x })).inode!.attr!.nlink, 0);
  // Errors are the local unlink's: a missing name, a directory.
  assert.equal(await status(meta.unlink({ p: P10, rid: rid(), parentInodeId: 1, name: 'u2', time: T })), StatusCode.NOT_FOUND);
});

test('answers about a file carry its first parent only, however many links it has; GetInode carries them all', async () => {
  const f = await meta.createFile({ p: P10, rid: rid(), parent: 1, name: 'many', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const ino = f.inode!.inodeId;
  let last;
  for (let i = 0; i < 20; i++) {
    last = await meta.linkInode({ p: P10, rid: rid(), inodeId: ino, newParent: 1, time: T });
    await meta.createDentry({ p: P10, rid: rid(), dentry: { fsId: FS, inodeId: ino, parentInodeId: 1, name: `many-${i}`, type: FileType.TYPE_S3 }, time: T });
  }
  assert.equal(last!.inode!.nlink, 21);
  assert.deepEqual(last!.inode!.parent, [1], 'LinkInode answers one parent, not one per link');
  const looked = await meta.getDentry({ p: P10, parentInodeId: 1, name: 'many-3', withAttr: true });
  assert.deepEqual(looked.inode!.attr!.parent, [1]);
  assert.deepEqual((await meta.batchGetInodeAttr({ p: P10, inodeId: [ino] })).attr[0]!.parent, [1]);
  const unlinked = await meta.unlink({ p: P10, rid: rid(), parentInodeId: 1, name: 'many-0', time: T });
  assert.equal(unlinked.inode!.nlink, 20);
  assert.deepEqual(unlinked.inode!.parent, [1]);
  assert.equal((await meta.getInode({ p: P10, inodeId: ino })).inode!.attr!.parent.length, 20, 'GetInode (fsck) keeps the whole list');
  assert.deepEqual((await meta.getInode({ p: P10, inodeId: ino, firstParentOnly: true })).inode!.attr!.parent, [1], 'unless asked for the first only (a client\'s open)');
});

test('rename and rmdir answer the directories\' attributes after the change when one partition holds them', async () => {
  const from = await mkdirIn(P10, 1, 'ren-from');
  const to = await mkdirIn(P10, 1, 'ren-to');
  await mkdirIn(P10, from, 'sub');
  const before = (await meta.batchGetInodeAttr({ p: P10, inodeId: [from, to] })).attr;
  const r = await meta.rename({ p: P10, rid: rid(), oldParent: from, oldName: 'sub', newP: P10, newParent: to, newName: 'sub', time: { sec: 2000, nsec: 0 } });
  const now = (await meta.batchGetInodeAttr({ p: P10, inodeId: [from, to] })).attr;
  assert.ok(r.oldParentAttr && r.newParentAttr, 'both directories\' attributes in the answer');
  assert.equal(r.oldParentAttr.nlink, before[0]!.nlink - 1, 'the source lost a subdirectory');
  assert.equal(r.newParentAttr.nlink, before[1]!.nlink + 1, 'the target gained one');
  assert.deepEqual(r.oldParentAttr, now[0]);
  assert.deepEqual(r.newParentAttr, now[1]);
  assert.equal(r.oldParentAttr.mtime, 2000);

  const rm = await meta.rmdir({ p: P10, rid: rid(), parentInodeId: to, name: 'sub', time: { sec: 3000, nsec: 0 } });
  const after = (await meta.batchGetInodeAttr({ p: P10, inodeId: [to] })).attr[0]!;
  assert.deepEqual(rm.parent, after);
  assert.equal(rm.parent!.nlink, r.newParentAttr.nlink - 1);
  assert.equal(rm.parent!.mtime, 3000);

  // Across partitions (a transaction): the target directory lives elsewhere, so it is absent;
  // the source's is there only when the leader can vouch for it, and then current.
  const far = await mkdirIn(P11, 1, 'ren-far');
  await meta.createFile({ p: P10, rid: rid(), parent: from, name: 'moving', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const x = await meta.rename({ p: P10, rid: rid(), oldParent: from, oldName: 'moving', newP: P11, newParent: far, newName: 'moved', time: T });
  assert.equal(x.newParentAttr, undefined);
  if (x.oldParentAttr) assert.deepEqual(x.oldParentAttr, (await meta.batchGetInodeAttr({ p: P10, inodeId: [from] })).attr[0]);
});
