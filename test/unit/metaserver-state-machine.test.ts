import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { StatusCode } from '../../src/common/index.ts';
import { FileType, PartitionInfoSchema } from '../../src/gen/common_pb.ts';
import * as pb from '../../src/gen/metaserver_pb.ts';
import { CopysetStateMachine, type SmResult } from '../../src/metaserver/copyset/state-machine.ts';
import { encodeOp, decodeOp, OpType } from '../../src/metaserver/copyset/op-codec.ts';

const T = { sec: 100, nsec: 5 };

function harness() {
  const sm = new CopysetStateMachine(1, 1);
  let index = 0;
  const apply = <R extends SmResult = SmResult & Record<string, unknown>>(type: OpType, msg: unknown): R =>
    sm.apply(++index, encodeOp(type as never, msg as never)) as R;
  const ref = (partitionId: number) => create(pb.PartitionRefSchema, { poolId: 1, copysetId: 1, partitionId, fsId: 7 });
  apply(OpType.CreatePartition, create(pb.CreatePartitionRequestSchema, {
    partition: create(PartitionInfoSchema, { fsId: 7, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 1023 }),
  }));
  apply(OpType.CreatePartition, create(pb.CreatePartitionRequestSchema, {
    partition: create(PartitionInfoSchema, { fsId: 7, poolId: 1, copysetId: 1, partitionId: 2, start: 1024, end: 2047 }),
  }));
  apply(OpType.CreateRootInode, create(pb.CreateRootInodeRequestSchema, { p: ref(1), mode: 0o755, time: T }));
  return { sm, apply, ref, get index() { return index; } };
}

test('op codec round-trips and rejects bad entries', () => {
  const msg = create(pb.CreateFileRequestSchema, { parent: 1, name: 'a', type: FileType.TYPE_S3, mode: 0o644, time: T });
  const bytes = encodeOp(OpType.CreateFile, msg);
  const op = decodeOp(bytes);
  assert.equal(op.type, OpType.CreateFile);
  assert.equal((op.msg as pb.CreateFileRequest).name, 'a');
  assert.throws(() => decodeOp(bytes.subarray(0, 5)), /PARSE_FROM_STRING_FAILED/);
  const wrongVersion = bytes.slice();
  wrongVersion[0] = 9;
  assert.throws(() => decodeOp(wrongVersion), /version 9/);
  const wrongLen = bytes.slice(0, bytes.length - 1);
  assert.throws(() => decodeOp(wrongLen), /payload length/);
  const unknown = bytes.slice();
  new DataView(unknown.buffer).setUint32(1, 999, false);
  assert.throws(() => decodeOp(unknown), /unknown op type 999/);
});

test('create, rename within a partition, idempotent retry', () => {
  const h = harness();
  const rid = { clientId: 1, seq: 1 };
  const c = h.apply<SmResult & { inode: { inodeId: number } }>(OpType.CreateFile, create(pb.CreateFileRequestSchema, {
    p: h.ref(1), rid, parent: 1, name: 'a', type: FileType.TYPE_S3, mode: 0o644, time: T,
  }));
  assert.equal(c.status, StatusCode.OK);
  const again = h.apply<SmResult & { inode: { inodeId: number } }>(OpType.CreateFile, create(pb.CreateFileRequestSchema, {
    p: h.ref(1), rid, parent: 1, name: 'a', type: FileType.TYPE_S3, mode: 0o644, time: T,
  }));
  assert.equal(again.inode.inodeId, c.inode.inodeId);
  const r = h.apply(OpType.Rename, create(pb.RenameEntrySchema, {
    req: { p: h.ref(1), rid: { clientId: 1, seq: 2 }, oldParent: 1, oldName: 'a', newP: h.ref(1), newParent: 1, newName: 'b', time: T },
  }));
  assert.equal(r.status, StatusCode.OK);
  const p = h.sm.partitions.get(1)!;
  assert.equal(p.getDentry(1, 'a').status, StatusCode.NOT_FOUND);
  assert.equal(p.getDentry(1, 'b').status, StatusCode.OK);
});

test('a directory cannot move into its own subtree (local walk)', () => {
  const h = harness();
  const mk = (parent: number, name: string, seq: number) =>
    h.apply<SmResult & { inode: { inodeId: number } }>(OpType.CreateFile, create(pb.CreateFileRequestSchema, {
      p: h.ref(1), rid: { clientId: 2, seq }, parent, name, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T,
    })).inode.inodeId;
  const a = mk(1, 'a', 1);
  const b = mk(a, 'b', 2);
  const c = mk(b, 'c', 3);
  const r = h.apply(OpType.Rename, create(pb.RenameEntrySchema, {
    req: { p: h.ref(1), rid: { clientId: 2, seq: 4 }, oldParent: 1, oldName: 'a', newP: h.ref(1), newParent: c, newName: 'x', time: T },
  }));
  assert.equal(r.status, StatusCode.INVALID_RENAME);
});

test('cross-partition rename through TxBegin/TxPrepare/TxDecide/TxFinish', () => {
  const h = harness();
  // dir d (inode in partition 2) under root; file f in root.
  const d = h.apply<SmResult & { inode: { inodeId: number } }>(OpType.CreateInode, create(pb.CreateInodeRequestSchema, {
    p: h.ref(2), parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T,
  })).inode.inodeId;
  assert.equal(h.apply(OpType.CreateDentry, create(pb.CreateDentryRequestSchema, {
    p: h.ref(1), dentry: { fsId: 7, inodeId: d, parentInodeId: 1, name: 'd', type: FileType.TYPE_DIRECTORY }, time: T,
  })).status, StatusCode.OK);
  const f = h.apply<SmResult & { inode: { inodeId: number } }>(OpType.CreateFile, create(pb.CreateFileRequestSchema, {
    p: h.ref(1), parent: 1, name: 'f', type: FileType.TYPE_S3, mode: 0o644, time: T,
  })).inode.inodeId;
  // mv /f /d/g : coordinator partition 1 (S and X), participant partition 2 (D).
  const begin = h.apply<SmResult & { txId: pb.TxId }>(OpType.TxBegin, create(pb.TxRecordSchema, {
    rid: { clientId: 3, seq: 1 }, kind: pb.TxKind.TX_RENAME, time: T, movedInode: f,
    local: { p: h.ref(1), dentries: [{ parent: 1, name: 'f', expectInode: f, expectType: FileType.TYPE_S3 }], inodes: [{ inode: f, unlinkParent: 1, linkParent: d }] },
    participants: [{ part: { p: h.ref(2), dentries: [{ parent: d, name: 'g', setInode: f, setType: FileType.TYPE_S3 }] }, prepared: true }],
  }));
  assert.equal(begin.status, StatusCode.OK, begin.message);
  // While locked, an unlink of /f fails deterministically.
  assert.equal(h.apply(OpType.Unlink, create(pb.UnlinkRequestSchema, { p: h.ref(1), parentInodeId: 1, name: 'f', time: T })).status, StatusCode.TX_KEY_LOCKED);
  const prep = h.apply(OpType.TxPrepare, create(pb.TxPrepareRequestSchema, {
    tx: { id: begin.txId, coordinator: h.ref(1), time: T, part: { p: h.ref(2), dentries: [{ parent: d, name: 'g', setInode: f, setType: FileType.TYPE_S3 }] } },
  }));
  assert.equal(prep.status, StatusCode.OK, prep.message);
  // Creating the reserved name is refused while prepared.
  assert.equal(h.apply(OpType.CreateFile, create(pb.CreateFileRequestSchema, {
    p: h.ref(2), parent: d, name: 'g', type: FileType.TYPE_S3, mode: 0o644, time: T,
  })).status, StatusCode.TX_KEY_LOCKED);
  const dec = h.apply(OpType.TxDecide, create(pb.TxDecideEntrySchema, { id: begin.txId, commit: true }));
  assert.equal(dec.status, StatusCode.OK);
  const p1 = h.sm.partitions.get(1)!;
  const p2 = h.sm.partitions.get(2)!;
  assert.equal(p1.getDentry(1, 'f').status, StatusCode.NOT_FOUND);
  const fa = p1.getInodeAttr(f);
  assert.deepEqual(fa.status === StatusCode.OK && fa.inode.parent, [d]);
  assert.ok(h.sm.tx.dentryLock(7, d, 'g'), 'participant still locked until finish');
  const fin = h.apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { p: h.ref(2), id: begin.txId, commit: true }));
  assert.equal(fin.status, StatusCode.OK);
  const g = p2.getDentry(d, 'g');
  assert.equal(g.status === StatusCode.OK && g.dentry.ino, f);
  assert.equal(h.sm.tx.lockCount, 0);
  // A late duplicate prepare is refused (tombstone).
  const late = h.apply(OpType.TxPrepare, create(pb.TxPrepareRequestSchema, {
    tx: { id: begin.txId, coordinator: h.ref(1), time: T, part: { p: h.ref(2), dentries: [{ parent: d, name: 'g', expectInode: f, setInode: f }] } },
  }));
  assert.equal(late.status, StatusCode.TX_ROLLBACKED);
  assert.equal(h.apply(OpType.TxForget, create(pb.TxForgetEntrySchema, { ids: [begin.txId!] })).status, StatusCode.OK);
  assert.equal(h.sm.tx.records.size, 0);
  // The outcome stays in the coordinator partition's request table for the client's retries.
  const seen = p1.requests.lookup(3, 1);
  assert.equal(seen.kind === 'duplicate' && seen.result.status, StatusCode.OK);
});

test('snapshot round trip keeps partitions, prepared transactions, locks, handles and file locks', async () => {
  const { captureSnapshot, loadCopysetSnapshot, stateDigest } = await import('../../src/metaserver/copyset/snapshot.ts');
  const { partitionDigest } = await import('../../src/metaserver/partition/index.ts');
  const h = harness();
  const f = h.apply<SmResult & { inode: { inodeId: number } }>(OpType.CreateFile, create(pb.CreateFileRequestSchema, {
    p: h.ref(1), parent: 1, name: 'f', type: FileType.TYPE_S3, mode: 0o644, time: T,
  })).inode.inodeId;
  h.apply(OpType.OpenHandle, create(pb.OpenHandleRequestSchema, { p: h.ref(1), inodeId: f, sessionId: 9, open: true }));
  const lk = h.apply<SmResult & { granted: boolean }>(OpType.Lock, create(pb.LockRequestSchema, {
    p: h.ref(1), inodeId: f, lock: { start: 0, end: 99, type: pb.LockType.LOCK_WRITE, owner: 1, sessionId: 9 },
  }));
  assert.equal(lk.granted, true);
  const begin = h.apply<SmResult & { txId: pb.TxId }>(OpType.TxBegin, create(pb.TxRecordSchema, {
    kind: pb.TxKind.TX_RENAME, time: T,
    local: { p: h.ref(1), dentries: [{ parent: 1, name: 'f', expectInode: f }] },
  }));
  assert.equal(begin.status, StatusCode.OK);
  const chunks: Uint8Array[] = [];
  const write = captureSnapshot(h.sm);
  // Changes after the capture are not in the image.
  h.apply(OpType.CreateFile, create(pb.CreateFileRequestSchema, { p: h.ref(1), parent: 1, name: 'later', type: FileType.TYPE_S3, mode: 0o644, time: T }));
  await write({ write: (c) => void chunks.push(c) });
  const sm2 = await loadCopysetSnapshot(1, 1, chunks);
  assert.equal(sm2.partitions.get(1)!.getDentry(1, 'later').status, StatusCode.NOT_FOUND);
  assert.equal(sm2.partitions.get(1)!.getDentry(1, 'f').status, StatusCode.OK);
  assert.ok(sm2.tx.dentryLock(7, 1, 'f'), 'coordinator lock rebuilt from the record');
  assert.equal(sm2.handles.get(1)?.isOpen(f), true);
  assert.equal(sm2.fileLocks.get(1)?.locks(f).length, 1);
  // Loading the image again gives the same digest.
  const sm3 = await loadCopysetSnapshot(1, 1, chunks);
  assert.equal(stateDigest(sm2, partitionDigest), stateDigest(sm3, partitionDigest));
  // Corruption is detected.
  const bad = chunks.map((c) => c.slice());
  bad[0]![12] ^= 0xff;
  await assert.rejects(loadCopysetSnapshot(1, 1, bad), /checksum|decode|large|truncated/);
  await assert.rejects(loadCopysetSnapshot(1, 2, chunks), /expected 1:2/);
});
