// Issue [H], the chaos flake "unlink of r5 did not drop its link": a cross-partition rename is
// acknowledged once its coordinator decided, before the target partition applied it (that
// participant's leader had just died). The name r5 is then absent but locked there; an unlink of
// it that arrives meanwhile found no name, took the one-entry Unlink path, waited for the lock,
// and — once the participant applied the rename — removed a name whose inode lives in another
// partition without dropping its link (inodeUnlinked: false). A client that then drops the link
// itself is back to two steps (a crash between them leaks a link); one that trusts the answer
// leaks it for good. The name and its link must go in one transaction, exactly once, whatever
// the order in which the rename's commit and the unlink arrive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { StatusCode } from '../../src/common/index.ts';
import { FileType, PartitionInfoSchema } from '../../src/gen/common_pb.ts';
import * as pb from '../../src/gen/metaserver_pb.ts';
import { CopysetService, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MetaServer } from '../../src/metaserver/server.ts';
import { Copyset } from '../../src/metaserver/copyset/copyset.ts';
import { LocalGroup } from '../../src/metaserver/copyset/group.ts';
import { localGroupFactory } from '../../src/metaserver/copyset/manager.ts';
import { encodeOp, OpType } from '../../src/metaserver/copyset/op-codec.ts';
import type { SmResult } from '../../src/metaserver/copyset/state-machine.ts';

const T = { sec: 100, nsec: 5 };
const FS = 7;
type Ino = SmResult & { inode: { inodeId: number } };

/** A prepared participant share: the rename's target name (dir, name) → ino, locked until decided. */
function renameTarget(id: pb.TxId, coordinator: PartitionRef, p: PartitionRef, dir: number, name: string, ino: number) {
  return create(pb.TxPrepareRequestSchema, {
    tx: { id, coordinator, time: T, part: { p, dentries: [{ parent: dir, name, setInode: ino, setType: FileType.TYPE_S3 }] } },
  });
}

test('[H] chaos flake, state machine: an Unlink entry never removes a name whose inode lives in another partition', () => {
  // Partition 1 holds the directories, partition 2 the file (one copyset: the check is per partition).
  const cs = new Copyset(1, 1);
  let index = 0;
  cs.group = new LocalGroup((_i, d) => cs.apply(++index, d));
  const apply = <R extends SmResult = SmResult & Record<string, unknown>>(type: OpType, msg: unknown): R => cs.apply(++index, encodeOp(type as never, msg as never)) as R;
  const ref = (partitionId: number) => create(pb.PartitionRefSchema, { poolId: 1, copysetId: 1, partitionId, fsId: FS });
  for (const [partitionId, start, end] of [[1, 0, 1023], [2, 1024, 2047]] as const) {
    apply(OpType.CreatePartition, create(pb.CreatePartitionRequestSchema, { partition: create(PartitionInfoSchema, { fsId: FS, poolId: 1, copysetId: 1, partitionId, start, end }) }));
  }
  apply(OpType.CreateRootInode, create(pb.CreateRootInodeRequestSchema, { p: ref(1), mode: 0o755, time: T }));
  const f = apply<Ino>(OpType.CreateInode, create(pb.CreateInodeRequestSchema, { p: ref(2), parent: 1, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode.inodeId;
  const id = create(pb.TxIdSchema, { partitionId: 9, index: 40 });
  assert.equal(apply(OpType.TxPrepare, renameTarget(id, ref(9), ref(1), 1, 'r5', f)).status, StatusCode.OK);
  const unlink = create(pb.UnlinkRequestSchema, { p: ref(1), rid: { clientId: 4, seq: 1 }, parentInodeId: 1, name: 'r5', localInodeOnly: true, time: T });
  // Locked while the rename is undecided here.
  assert.equal(StatusCode[apply(OpType.Unlink, unlink).status], 'TX_KEY_LOCKED');
  apply(OpType.TxFinish, create(pb.TxFinishRequestSchema, { p: ref(1), id, commit: true }));
  const nlink = () => {
    const a = cs.sm.partitions.get(2)!.getInodeAttr(f);
    return a.status === StatusCode.OK ? a.inode.nlink : -1;
  };
  // The proposer's next attempt: refused, nothing changed, nothing recorded for the request.
  const again = apply(OpType.Unlink, unlink);
  assert.equal(StatusCode[again.status], 'TX_FAILED', `the name went and its link stayed: ${JSON.stringify(again)}`);
  const d = cs.sm.partitions.get(1)!.getDentry(1, 'r5');
  assert.equal(d.status === StatusCode.OK && d.dentry.ino, f);
  assert.equal(nlink(), 1);
  assert.equal(cs.sm.partitions.get(1)!.requests.lookup(4, 1).kind, 'new');
  // An entry written before the leader set the flag (an old log replayed) applies as it did then.
  const old = apply<SmResult & { effect: { unlinked: boolean } }>(OpType.Unlink, { ...unlink, localInodeOnly: false });
  assert.equal(old.status, StatusCode.OK);
  assert.equal(old.effect.unlinked, false);
  assert.equal(nlink(), 1);
});

// The same race through the service: the unlink arrives while the name is locked by the rename.
let server: MetaServer;
const pool = new ChannelPool();
const P10: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 10, fsId: FS };
const P20: PartitionRef = { ...P10, copysetId: 2, partitionId: 20 };

before(async () => {
  server = new MetaServer({ listen: '127.0.0.1:0', id: 1, groups: () => localGroupFactory });
  await server.start();
  const admin = pool.client(CopysetService, server.address);
  const self = server.self();
  await admin.createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [self] }, { poolId: 1, copysetId: 2, peers: [self] }] });
  for (const [cs, pid, start] of [[1, 10, 0], [2, 20, 2000]] as const) {
    await admin.createPartition({ partition: { fsId: FS, poolId: 1, copysetId: cs, partitionId: pid, start, end: start + 999 } });
  }
  await pool.client(MetaServerService, server.address).createRootInode({ p: P10, mode: 0o755, time: T });
});

after(async () => {
  pool.close();
  await server.stop();
});

test('[H] chaos flake, service: an unlink that waited for a rename to land drops the name and its link in one call, once', async () => {
  const meta = pool.client(MetaServerService, server.address);
  // A file with two names (a hard link): a second drop of its link would free data /keep names.
  const x = (await meta.createInode({ p: P20, rid: { clientId: 5, seq: 1 }, parent: 1, type: FileType.TYPE_S3, mode: 0o644, time: T })).inode!.inodeId;
  await meta.createDentry({ p: P10, rid: { clientId: 5, seq: 2 }, dentry: { fsId: FS, inodeId: x, parentInodeId: 1, name: 'keep', type: FileType.TYPE_S3 }, time: T });
  await meta.linkInode({ p: P20, rid: { clientId: 5, seq: 3 }, inodeId: x, newParent: 1, time: T });
  // The rename that makes (1, "r5") → x is prepared in partition 10 and decided elsewhere.
  const cs = server.manager.get(1, 1)!;
  const id = create(pb.TxIdSchema, { partitionId: 99, index: 7 });
  const coordinator = { ...P20, partitionId: 99 };
  assert.equal((await cs.propose(OpType.TxPrepare, renameTarget(id, coordinator, P10, 1, 'r5', x))).status, StatusCode.OK);
  const req = { p: P10, rid: { clientId: 5, seq: 4 }, parentInodeId: 1, name: 'r5', time: T };
  const pending = meta.unlink(req, { timeoutMs: 20_000 });
  // The decision lands only once the unlink waits on the lock (the order of the flake).
  const until = performance.now() + 20_000;
  while (cs.lockWaiters === 0) {
    if (performance.now() > until) assert.fail('the unlink never waited for the locked name');
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal((await cs.propose(OpType.TxFinish, create(pb.TxFinishRequestSchema, { p: P10, id, commit: true }))).status, StatusCode.OK);
  const res = await pending;
  assert.equal(res.dentry!.inodeId, x);
  assert.equal(res.inodeUnlinked, true, 'the name was removed without its link: the client must drop it itself (two steps again)');
  const nlink = async () => (await meta.getInode({ p: P20, inodeId: x })).inode!.attr!.nlink;
  assert.equal(await nlink(), 1);
  // The reply was lost: the retry gets the first answer and drops nothing more.
  const again = await meta.unlink(req);
  assert.equal(again.inodeUnlinked, true);
  assert.equal(await nlink(), 1, 'the retry dropped a second link: the file is unlinked while "keep" still names it');
  assert.equal((await meta.getDentry({ p: P10, parentInodeId: 1, name: 'keep' })).dentry!.inodeId, x);
});
