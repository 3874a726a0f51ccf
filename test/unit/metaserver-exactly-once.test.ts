// Issue [H]: exactly-once under every retry. Each test is one scenario of the issue, run against
// the copyset state machine (and the coordinator over in-process copysets): a retry, a resent
// decision or a duplicated prepare that arrives after thousands of other requests must find the
// first outcome, never apply again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { FileType, PartitionInfoSchema } from '../../src/gen/common_pb.ts';
import * as pb from '../../src/gen/metaserver_pb.ts';
import { Copyset } from '../../src/metaserver/copyset/copyset.ts';
import { LocalGroup } from '../../src/metaserver/copyset/group.ts';
import { type SmResult } from '../../src/metaserver/copyset/state-machine.ts';
import { encodeOp, OpType } from '../../src/metaserver/copyset/op-codec.ts';
import { captureSnapshot, loadCopysetSnapshot } from '../../src/metaserver/copyset/snapshot.ts';
import { TxCoordinator } from '../../src/metaserver/tx/coordinator.ts';
import type { Cluster } from '../../src/metaserver/cluster.ts';
import { sessionExpiryEntry } from '../../src/metaserver/mds-link.ts';

const T = { sec: 100, nsec: 5 };
const FS = 7;
/** More than any FIFO bound the old code kept (8,192 tombstones / outcomes per copyset). */
const MANY = 8200;

type Ino = SmResult & { inode: { inodeId: number; nlink: number } };

function copyset(copysetId: number, partitions: [number, number, number][]) {
  const cs = new Copyset(1, copysetId);
  cs.group = new LocalGroup((i, d) => cs.apply(i, d));
  let index = 0;
  const apply = <R extends SmResult = SmResult & Record<string, unknown>>(type: OpType, msg: unknown): R =>
    cs.apply(++index, encodeOp(type as never, msg as never)) as R;
  const ref = (partitionId: number) => create(pb.PartitionRefSchema, { poolId: 1, copysetId, partitionId, fsId: FS });
  for (const [partitionId, start, end] of partitions) {
    apply(OpType.CreatePartition, create(pb.CreatePartitionRequestSchema, {
      partition: create(PartitionInfoSchema, { fsId: FS, poolId: 1, copysetId, partitionId, start, end }),
    }));
  }
  // LocalGroup numbers its entries from 1 as well: keep the two counters apart.
  cs.group = new LocalGroup((_i, d) => cs.apply(++index, d));
  return { cs, apply, ref, nlink: (pid: number, ino: number) => {
    const a = cs.sm.partitions.get(pid)!.getInodeAttr(ino);
    return a.status === StatusCode.OK ? a.inode.nlink : -1;
  } };
}

test('[H] scenario 1: an ended session loses its request windows through a replicated entry; its retries get SESSION_EXPIRED', async () => {
  const h = copyset(1, [[1, 0, 1023]]);
  h.apply(OpType.CreateRootInode, create(pb.CreateRootInodeRequestSchema, { p: h.ref(1), mode: 0o755, time: T }));
  const f = h.apply<Ino>(OpType.CreateFile, create(pb.CreateFileRequestSchema, { p: h.ref(1), parent: 1, name: 'a', type: FileType.TYPE_S3, mode: 0o644, time: T })).inode.inodeId;
  h.apply(OpType.LinkInode, create(pb.LinkInodeRequestSchema, { p: h.ref(1), inodeId: f, newParent: 1, time: T }));
  const unlink = create(pb.UnlinkInodeRequestSchema, { p: h.ref(1), rid: { clientId: 5, seq: 1 }, inodeId: f, parent: 1, time: T });
  assert.equal(h.apply<Ino>(OpType.UnlinkInode, unlink).inode.nlink, 1);
  // Thousands of other sessions: client 5 keeps its window.
  for (let c = 100; c < 100 + 2000; c++) {
    h.apply(OpType.UpdateInode, create(pb.UpdateInodeRequestSchema, { p: h.ref(1), rid: { clientId: c, seq: 1 }, inodeId: 1, time: T }));
  }
  assert.equal(h.apply<Ino>(OpType.UnlinkInode, unlink).inode.nlink, 1);
  assert.equal(h.nlink(1, f), 1);
  // The MDS's heartbeat answer says session 5 ended (of the ids up to 3000 only 6 and the 2,000
  // others live): the leader proposes the view, because session 5 still holds a window here.
  const live = [6, ...Array.from({ length: 2000 }, (_, k) => 100 + k)];
  assert.equal(sessionExpiryEntry(h.cs.sm, 0, []), undefined, 'no MDS view yet: nothing ends');
  assert.equal(sessionExpiryEntry(h.cs.sm, 3000, [5, ...live]), undefined, 'every session with state is live');
  const entry = sessionExpiryEntry(h.cs.sm, 3000, live)!;
  assert.deepEqual(entry.sessionIds, [5]);
  const r = h.apply(OpType.ExpireSessions, entry);
  assert.equal(r.status, StatusCode.OK);
  assert.equal((r as SmResult & { windows: number }).windows, 1);
  const again = h.apply(OpType.UnlinkInode, unlink);
  assert.equal(StatusCode[again.status], 'SESSION_EXPIRED');
  assert.match(again.message ?? '', /session 5 has expired/);
  assert.equal(h.nlink(1, f), 1);
  assert.equal(sessionExpiryEntry(h.cs.sm, 3000, live), undefined, 'nothing left to expire');
  // The view travels in the snapshot: a replica built from it refuses the same retry.
  const chunks: Uint8Array[] = [];
  await captureSnapshot(h.cs.sm)({ write: (c) => void chunks.push(c.slice()) });
  const loaded = await loadCopysetSnapshot(1, 1, chunks);
  assert.equal(loaded.sessions.max, 3000);
  assert.equal(loaded.apply(9999, encodeOp(OpType.UnlinkInode, unlink)).status, StatusCode.SESSION_EXPIRED);
  // A live session's retry still gets its first answer on the loaded replica.
  const upd = create(pb.UpdateInodeRequestSchema, { p: h.ref(1), rid: { clientId: 100, seq: 1 }, inodeId: 1, time: T });
  assert.equal(loaded.apply(10000, encodeOp(OpType.UpdateInode, upd)).status, StatusCode.OK);
  // A malformed view changes nothing.
  const bad = h.apply(OpType.ExpireSessions, create(pb.ExpireSessionsEntrySchema, { maxSessionId: -1, liveSessionIds: [] }));
  assert.equal(bad.status, StatusCode.PARAM_ERROR);
  assert.equal(h.cs.sm.sessions.max, 3000);
});

/** A file with two names in partition 1 whose inode lives in partition 2 (copyset 2). */
function twoNames() {
  const coord = copyset(1, [[1, 0, 1023]]);
  coord.apply(OpType.CreateRootInode, create(pb.CreateRootInodeRequestSchema, { p: coord.ref(1), mode: 0o755, time: T }));
  const part = copyset(2, [[2, 1024, 2047]]);
  const f = part.apply<Ino>(OpType.CreateInode, create(pb.CreateInodeRequestSchema, { p: part.ref(2), parent: 1, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode.inodeId;
  part.apply(OpType.LinkInode, create(pb.LinkInodeRequestSchema, { p: part.ref(2), inodeId: f, newParent: 1, time: T }));
  for (const name of ['a', 'b']) {
    coord.apply(OpType.CreateDentry, create(pb.CreateDentryRequestSchema, {
      p: coord.ref(1), dentry: { fsId: FS, inodeId: f, parentInodeId: 1, name, type: FileType.TYPE_S3 }, time: T,
    }));
  }
  return { coord, part, f };
}

test('[H] scenario 2: a rename follow-up resent after 8,192 other transactions does not unlink again', () => {
  const { part, f } = twoNames();
  assert.equal(part.nlink(2, f), 2);
  const share = (index: number, inodes: { inode: number; unlinkParent: number }[]) => create(pb.TxFinishRequestSchema, {
    p: part.ref(2), id: { partitionId: 1, index }, commit: true, time: T, unprepared: true,
    part: { p: part.ref(2), inodes },
  });
  // mv c b (one entry in partition 1) replaced b: its share "drop one link" reaches f's partition.
  assert.equal(part.apply(OpType.TxFinish, share(50, [{ inode: f, unlinkParent: 1 }])).status, StatusCode.OK);
  assert.equal(part.nlink(2, f), 1);
  // 8,192+ other transactions finish on this copyset while the coordinator cannot hear the ack.
  for (let k = 0; k < MANY; k++) part.apply(OpType.TxFinish, share(1000 + k, []));
  // The coordinator resends the decision: it must not apply again (a still)
  assert.equal(part.apply(OpType.TxFinish, share(50, [{ inode: f, unlinkParent: 1 }])).status, StatusCode.OK);
  assert.equal(part.nlink(2, f), 1, 'the follow-up was applied twice: the file reached nlink 0 while still named');
  // Memory stays bounded without losing that: once the coordinator's floor (every tx of it at or
  // below is acknowledged everywhere) passes them, the tombstones go, and a late resend is still
  // recognised as finished.
  assert.ok(part.cs.sm.tx.tombstones.size > MANY);
  const later = create(pb.TxFinishRequestSchema, { ...share(20_000, []), coordinatorFloor: 19_999 });
  assert.equal(part.apply(OpType.TxFinish, later).status, StatusCode.OK);
  assert.equal(part.cs.sm.tx.tombstones.size, 1);
  assert.equal(part.apply(OpType.TxFinish, share(50, [{ inode: f, unlinkParent: 1 }])).status, StatusCode.OK);
  assert.equal(part.nlink(2, f), 1);
  // A floor never goes down (a deposed leader's older view), and a bad one changes nothing.
  part.apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { ...share(20_001, []), coordinatorFloor: 10 }));
  assert.equal(part.cs.sm.tx.floors.get(1), 19_999);
  assert.equal(part.apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { ...share(20_002, []), coordinatorFloor: -1 })).status, StatusCode.PARAM_ERROR);
  assert.equal(part.cs.sm.tx.isTombstoned(2, { $typeName: 'curvefs.metaserver.TxId', partitionId: 1, index: 20_002 }), false);
});

test('[H] scenario 2: the coordinator records acknowledgements and resends only to participants that have not acknowledged', async () => {
  const { coord, part, f } = twoNames();
  const third = copyset(3, [[3, 2048, 3071]]);
  const sub = coord.apply<Ino>(OpType.CreateFile, create(pb.CreateFileRequestSchema, { p: coord.ref(1), parent: 1, name: 'sub', type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T })).inode.inodeId;
  // /x is a file whose inode lives in copyset 3; f also gets the name /sub/b.
  const x = third.apply<Ino>(OpType.CreateInode, create(pb.CreateInodeRequestSchema, { p: third.ref(3), parent: 1, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode.inodeId;
  coord.apply(OpType.CreateDentry, create(pb.CreateDentryRequestSchema, { p: coord.ref(1), dentry: { fsId: FS, inodeId: x, parentInodeId: 1, name: 'x', type: FileType.TYPE_S3 }, time: T }));
  part.apply(OpType.LinkInode, create(pb.LinkInodeRequestSchema, { p: part.ref(2), inodeId: f, newParent: sub, time: T }));
  coord.apply(OpType.CreateDentry, create(pb.CreateDentryRequestSchema, { p: coord.ref(1), dentry: { fsId: FS, inodeId: f, parentInodeId: sub, name: 'b', type: FileType.TYPE_S3 }, time: T }));
  assert.equal(part.nlink(2, f), 3);
  // mv /x /sub/b: one entry in partition 1 with two remote shares — x's parent list (copyset 3)
  // and the replaced f's link (copyset 2).
  const r = coord.apply<SmResult & { followup?: pb.TxId }>(OpType.Rename, create(pb.RenameEntrySchema, {
    req: { p: coord.ref(1), rid: { clientId: 9, seq: 1 }, oldParent: 1, oldName: 'x', newP: coord.ref(1), newParent: sub, newName: 'b', time: T },
    routes: [{ inode: x, p: third.ref(3) }, { inode: f, p: part.ref(2) }],
  }));
  assert.equal(r.status, StatusCode.OK, r.message);
  assert.equal(coord.cs.sm.tx.records.size, 1);
  assert.equal([...coord.cs.sm.tx.records.values()][0]!.participants.length, 2);
  const sent: number[] = [];
  let thirdDown = true;
  const cluster: Cluster = {
    locate: () => Promise.reject(new Error('unused')),
    getDentry: () => Promise.reject(new Error('unused')),
    getInodeAttr: () => Promise.reject(new Error('unused')),
    prepare: () => Promise.reject(new Error('unused')),
    async finish(ref, req) {
      sent.push(ref.partitionId);
      if (ref.partitionId === 3 && thirdDown) throw new CurveError(StatusCode.UNAVAILABLE, 'copyset 3 is down');
      const target = ref.partitionId === 2 ? part : third;
      const res = await target.cs.propose(OpType.TxFinish, req);
      if (res.status !== StatusCode.OK) throw new CurveError(res.status, res.message);
    },
  };
  const tc = new TxCoordinator({ cluster });
  await tc.recover(coord.cs);
  assert.deepEqual(sent.sort(), [2, 3]);
  assert.equal(part.nlink(2, f), 2);
  // Partition 2's ack is in the coordinator's replicated record; only partition 3 hears again.
  const rec = [...coord.cs.sm.tx.records.values()][0]!;
  assert.deepEqual(rec.participants.map((pp) => [pp.part!.p!.partitionId, pp.acked]).sort(), [[2, true], [3, false]]);
  sent.length = 0;
  await tc.recover(coord.cs);
  await tc.recover(coord.cs);
  assert.deepEqual(sent, [3, 3]);
  thirdDown = false;
  sent.length = 0;
  await tc.recover(coord.cs);
  assert.deepEqual(sent, [3]);
  assert.equal(coord.cs.sm.tx.records.size, 0);
  assert.equal(part.nlink(2, f), 2);
  const xa = third.cs.sm.partitions.get(3)!.getInodeAttr(x);
  assert.deepEqual(xa.status === StatusCode.OK && xa.inode.parent, [sub]);
});

/** Runs a cross-partition rename mv /a /d/a as entries (coordinator partition 1, participant 2). */
function crossRename(h: ReturnType<typeof copyset>, rid: { clientId: number; seq: number }, name: string, f: number, d: number) {
  const begin = h.apply<SmResult & { txId?: pb.TxId; finished?: unknown }>(OpType.TxBegin, create(pb.TxRecordSchema, {
    rid, kind: pb.TxKind.TX_RENAME, time: T, movedInode: f,
    local: { p: h.ref(1), dentries: [{ parent: 1, name, expectInode: f, expectType: FileType.TYPE_S3 }], inodes: [{ inode: f, unlinkParent: 1, linkParent: d }] },
    participants: [{ part: { p: h.ref(2), dentries: [{ parent: d, name, setInode: f, setType: FileType.TYPE_S3 }] }, prepared: true }],
  }));
  return begin;
}

test('[H] scenario 3: a cross-partition rename retried after 8,192 other renames gets its first outcome', () => {
  const h = copyset(1, [[1, 0, (1 << 20) - 1], [2, 1 << 20, (2 << 20) - 1]]);
  h.apply(OpType.CreateRootInode, create(pb.CreateRootInodeRequestSchema, { p: h.ref(1), mode: 0o755, time: T }));
  const d = h.apply<Ino>(OpType.CreateInode, create(pb.CreateInodeRequestSchema, { p: h.ref(2), parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T })).inode.inodeId;
  h.apply(OpType.CreateDentry, create(pb.CreateDentryRequestSchema, { p: h.ref(1), dentry: { fsId: FS, inodeId: d, parentInodeId: 1, name: 'd', type: FileType.TYPE_DIRECTORY }, time: T }));
  const run = (rid: { clientId: number; seq: number }, name: string) => {
    const f = h.apply<Ino>(OpType.CreateFile, create(pb.CreateFileRequestSchema, { p: h.ref(1), parent: 1, name, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode.inodeId;
    const begin = crossRename(h, rid, name, f, d);
    assert.equal(begin.status, StatusCode.OK, begin.message);
    const id = begin.txId!;
    h.apply(OpType.TxPrepare, create(pb.TxPrepareRequestSchema, { tx: { id, coordinator: h.ref(1), time: T, part: { p: h.ref(2), dentries: [{ parent: d, name, setInode: f, setType: FileType.TYPE_S3 }] } } }));
    assert.equal(h.apply(OpType.TxDecide, create(pb.TxDecideEntrySchema, { id, commit: true })).status, StatusCode.OK);
    h.apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { p: h.ref(2), id, commit: true }));
    h.apply(OpType.TxForget, create(pb.TxForgetEntrySchema, { ids: [id] }));
    return f;
  };
  const f = run({ clientId: 3, seq: 1 }, 'x');
  // 8,192+ other clients' renames.
  for (let k = 0; k < MANY; k++) run({ clientId: 10_000 + k, seq: 1 }, `o${k}`);
  // The source name is recreated meanwhile; the client's retry must not rename it.
  const x2 = h.apply<Ino>(OpType.CreateFile, create(pb.CreateFileRequestSchema, { p: h.ref(1), parent: 1, name: 'x', type: FileType.TYPE_S3, mode: 0o644, time: T })).inode.inodeId;
  const retry = crossRename(h, { clientId: 3, seq: 1 }, 'x', x2, d);
  assert.equal(retry.status, StatusCode.OK);
  assert.ok(retry.finished, 'the retry started a second rename instead of returning the first outcome');
  assert.equal((retry.finished as { movedInode?: number }).movedInode, f);
  const p1 = h.cs.sm.partitions.get(1)!;
  const x = p1.getDentry(1, 'x');
  assert.equal(x.status === StatusCode.OK && x.dentry.ino, x2);
  assert.equal(h.cs.sm.tx.lockCount, 0);
});

test('[H] scenario 4: a Prepare duplicated after 8,192 finished transactions takes no lock', () => {
  const h = copyset(1, [[1, 0, 1023], [2, 1024, 2047]]);
  h.apply(OpType.CreateRootInode, create(pb.CreateRootInodeRequestSchema, { p: h.ref(1), mode: 0o755, time: T }));
  const d = h.apply<Ino>(OpType.CreateInode, create(pb.CreateInodeRequestSchema, { p: h.ref(2), parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: T })).inode.inodeId;
  const prepare = (index: number, name: string) => create(pb.TxPrepareRequestSchema, {
    tx: { id: { partitionId: 9, index }, coordinator: h.ref(9), time: T, part: { p: h.ref(2), dentries: [{ parent: d, name, setInode: 5, setType: FileType.TYPE_S3 }] } },
  });
  assert.equal(h.apply(OpType.TxPrepare, prepare(10, 'n')).status, StatusCode.OK);
  h.apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { p: h.ref(2), id: { partitionId: 9, index: 10 }, commit: false }));
  assert.equal(h.cs.sm.tx.lockCount, 0);
  for (let k = 0; k < MANY; k++) {
    h.apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { p: h.ref(2), id: { partitionId: 9, index: 100 + k }, commit: false }));
  }
  // The coordinator's first Prepare, duplicated by the network, arrives now.
  const late = h.apply(OpType.TxPrepare, prepare(10, 'n'));
  assert.equal(StatusCode[late.status], 'TX_ROLLBACKED');
  assert.equal(h.cs.sm.tx.lockCount, 0, 'a lock nobody will ever release');
  // Once the coordinator's floor passed it, the tombstone is gone and the Prepare still refused.
  h.apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { p: h.ref(2), id: { partitionId: 9, index: 50_000 }, commit: false, coordinatorFloor: 49_999 }));
  assert.equal(h.cs.sm.tx.tombstones.size, 1);
  assert.equal(h.apply(OpType.TxPrepare, prepare(10, 'n')).status, StatusCode.TX_ROLLBACKED);
  assert.equal(h.cs.sm.tx.lockCount, 0);
});
