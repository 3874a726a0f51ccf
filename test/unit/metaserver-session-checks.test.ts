// Server-side session checks (issue [H], after scenario 1): an OpenHandle or Lock of a session the
// copyset knows has ended must be refused with SESSION_EXPIRED. Accepted, it would hold the inode
// open (blocking its reclaim) or hold the lock until the next ExpireSessions entry — for a client
// that no longer exists, or one that must first learn its session ended (its locks are lost).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { OpenRegistry } from '../../src/client/index.ts';
import { FileType, PartitionInfoSchema } from '../../src/gen/common_pb.ts';
import * as pb from '../../src/gen/metaserver_pb.ts';
import { Copyset } from '../../src/metaserver/copyset/copyset.ts';
import { encodeOp, OpType } from '../../src/metaserver/copyset/op-codec.ts';
import type { SmResult } from '../../src/metaserver/copyset/state-machine.ts';

const T = { sec: 100, nsec: 5 };
const FS = 7;

test('OpenHandle and Lock of an ended session are refused; live and newer sessions are served; releases always are', () => {
  const cs = new Copyset(1, 1);
  let index = 0;
  const apply = (type: OpType, msg: unknown): SmResult => cs.apply(++index, encodeOp(type as never, msg as never));
  const p = create(pb.PartitionRefSchema, { poolId: 1, copysetId: 1, partitionId: 1, fsId: FS });
  apply(OpType.CreatePartition, create(pb.CreatePartitionRequestSchema, { partition: create(PartitionInfoSchema, { fsId: FS, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 1023 }) }));
  apply(OpType.CreateRootInode, create(pb.CreateRootInodeRequestSchema, { p, mode: 0o755, time: T }));
  const f = (apply(OpType.CreateFile, create(pb.CreateFileRequestSchema, { p, parent: 1, name: 'a', type: FileType.TYPE_S3, mode: 0o644, time: T })) as SmResult & { inode: { inodeId: number } }).inode.inodeId;
  // Sessions up to 50 were handed out; 6 is live, 5 has ended.
  assert.equal(apply(OpType.ExpireSessions, create(pb.ExpireSessionsEntrySchema, { maxSessionId: 50, liveSessionIds: [6] })).status, StatusCode.OK);
  const open = (sessionId: number, isOpen = true) => apply(OpType.OpenHandle, create(pb.OpenHandleRequestSchema, { p, inodeId: f, sessionId, open: isOpen }));
  const lock = (sessionId: number, seq: number) =>
    apply(OpType.Lock, create(pb.LockRequestSchema, { p, rid: { clientId: sessionId, seq }, inodeId: f, lock: { start: 0, end: 99, type: pb.LockType.LOCK_WRITE, owner: 1, sessionId, pid: 1 } }));

  assert.equal(StatusCode[open(5).status], 'SESSION_EXPIRED');
  assert.equal(cs.sm.handles.get(1)?.isOpen(f) ?? false, false, 'the ended session holds nothing open');
  assert.equal(StatusCode[lock(5, 1).status], 'SESSION_EXPIRED');
  assert.equal(open(5, false).status, StatusCode.OK, 'a release is always accepted');

  assert.equal(open(6).status, StatusCode.OK);
  assert.equal(cs.sm.handles.get(1)!.isOpen(f), true);
  assert.equal(open(77).status, StatusCode.OK, 'a session newer than the view is served');
  const granted = lock(6, 1) as SmResult & { granted: boolean };
  assert.equal(granted.status, StatusCode.OK);
  assert.equal(granted.granted, true);
});

test('the client registers again, under its new session, an open the metaserver refused because the session ended', async () => {
  const calls: string[] = [];
  const call = async (ino: number, session: number, open: boolean): Promise<void> => {
    calls.push(`${open ? 'register' : 'release'} ${ino}@${session}`);
    if (session === 5) throw new CurveError(StatusCode.SESSION_EXPIRED, 'session 5 has expired (test)');
  };
  const opens = new OpenRegistry(call, 5, { registerAfterMs: 60_000 });
  await opens.opened(10, 1);
  await opens.lostName(10); // this client removed its name: register now — refused, the session ended
  opens.renewed(6); // the new session registers it again
  await opens.closed(10); // waits for that registration, then releases it
  assert.deepEqual(calls, ['register 10@5', 'register 10@6', 'release 10@6']);
});
