// The replicated state machine of one copyset: its partitions, the transaction state of
// multi-partition operations (docs/rename.md), open handles and file locks. `apply` is a pure
// function of (state, log entry): every replica applies the same entries in log order and gets
// the same state and the same result (including errors), which goes back to the proposer.
//
// Locks taken by transactions are enforced here, in apply: an entry that would change a locked
// dentry or inode fails with TX_KEY_LOCKED, the same way on every replica; the proposer waits for
// `onLocksReleased` and proposes again.
import { create } from '@bufbuild/protobuf';
import { StatusCode } from '../../common/index.ts';
import { FileType, PartitionStatus, type PartitionInfo } from '../../gen/common_pb.ts';
import {
  FileLockSchema,
  LockType,
  type AppendAndUpdateInodeRequest,
  type AppendChunksRequest,
  type FileLock,
  type PartitionRef,
  type RenameEntry,
  type RequestId,
  type TrashEntryRequest,
} from '../../gen/metaserver_pb.ts';
import { Partition, ROOT_INODE_ID, SessionView, type ChunkAppend, type ChunkSlice, type PartitionOp, type Timestamp } from '../partition/index.ts';
import { TxStore } from '../tx/tx-store.ts';
import { applyTxOp, isTxOp, buildRenameFollowups, buildTrashFollowup } from '../tx/tx-apply.ts';
import { decodeOp, OpType, type Op } from './op-codec.ts';
import type { OpAnswer } from './op-results.ts';
import { FileLockTable } from './file-locks.ts';
import { OpenHandleTable } from './open-handles.ts';

/** What apply returns: a status, a message for errors, and op-specific data. */
export type SmResult = { status: StatusCode; message?: string };

export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
const ZERO_TIME: Timestamp = { sec: 0, nsec: 0 };
/** Longest directory chain an ancestor walk follows. */
export const MAX_DEPTH = 4096;
const RENAME_EXCHANGE = 2;

export function ts(t: { sec: number; nsec: number } | undefined): Timestamp {
  return t ? { sec: t.sec, nsec: t.nsec } : ZERO_TIME;
}

export function fail(status: StatusCode, message: string): SmResult {
  return { status, message };
}

function ok<T extends object>(data: T): { status: StatusCode.OK } & T {
  return { status: StatusCode.OK, ...data };
}

/**
 * An answer of an op of `type`, checked against what op-results.ts says that op answers: the
 * proposer reads it typed by that map, so what apply returns and what the proposer reads cannot drift.
 */
function answer<T extends OpType>(_type: T, r: OpAnswer<T>): SmResult {
  return r;
}

function rid(r: RequestId | undefined): { clientId: number; seq: number } | undefined {
  return r && (r.clientId !== 0 || r.seq !== 0) ? { clientId: r.clientId, seq: r.seq } : undefined;
}

function isId(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 1;
}

export class CopysetStateMachine {
  readonly poolId: number;
  readonly copysetId: number;
  readonly partitions = new Map<number, Partition>();
  readonly tx = new TxStore();
  readonly handles = new Map<number, OpenHandleTable>();
  readonly fileLocks = new Map<number, FileLockTable>();
  /** Per partition: nlink-0 inodes the reclaimer claimed (their blocks are being deleted). */
  readonly reclaiming = new Map<number, Set<number>>();
  /**
   * The MDS's mount sessions as this copyset last learnt them (replicated: ExpireSessions
   * entries); shared by every partition's request table, which refuses requests of ended
   * sessions (docs/architecture.md §2 "Idempotent mutations").
   */
  readonly sessions = new SessionView();
  appliedIndex = 0;
  private readonly lockListeners = new Set<() => void>();
  /** Bumped whenever a transaction releases locks (waiters compare it). */
  lockEpoch = 0;

  constructor(poolId: number, copysetId: number) {
    this.poolId = poolId;
    this.copysetId = copysetId;
  }

  // ---- apply ---------------------------------------------------------------------------------

  /** Applies one committed log entry. Never throws for bad input: that is an error result. */
  apply(index: number, data: Uint8Array): SmResult {
    this.appliedIndex = index;
    // A new leader's empty entry.
    if (data.length === 0) return { status: StatusCode.OK };
    let op: Op;
    try {
      op = decodeOp(data);
    } catch (e) {
      return fail(StatusCode.PARSE_FROM_STRING_FAILED, (e as Error).message);
    }
    const locksBefore = this.tx.lockCount;
    const r = this.applyOp(index, op);
    if (this.tx.lockCount < locksBefore) this.locksReleased();
    // The proposer of a refused entry waits for the next release after this one.
    if (r.status === StatusCode.TX_KEY_LOCKED) return { ...r, lockEpoch: this.lockEpoch } as SmResult;
    return r;
  }

  /** Registers a callback run after any transaction lock is released; returns an unsubscribe. */
  onLocksReleased(fn: () => void): () => void {
    this.lockListeners.add(fn);
    return () => this.lockListeners.delete(fn);
  }

  private locksReleased(): void {
    this.lockEpoch++;
    for (const fn of [...this.lockListeners]) fn();
  }

  partition(p: PartitionRef | undefined): Partition | SmResult {
    if (!p) return fail(StatusCode.PARAM_ERROR, 'request without a partition');
    const part = this.partitions.get(p.partitionId);
    if (!part) return fail(StatusCode.PARTITION_NOT_FOUND, `partition ${p.partitionId} is not in copyset ${this.poolId}:${this.copysetId}`);
    if (p.fsId !== part.fsId) return fail(StatusCode.FS_ID_MISMATCH, `partition ${p.partitionId} belongs to fs ${part.fsId}, not ${p.fsId}`);
    return part;
  }

  private applyOp(index: number, op: Op): SmResult {
    if (isTxOp(op)) return applyTxOp(this, index, op);
    switch (op.type) {
      case OpType.CreatePartition:
        return this.createPartition(op.msg.partition);
      case OpType.DeletePartition:
        return this.deletePartition(op.msg.p);
      case OpType.ExpireSessions:
        return this.expireSessions(op.msg.sessionIds, op.msg.maxSessionId, op.msg.liveSessionIds);
      case OpType.DropPartition: {
        const part = this.partition(op.msg.p);
        if (!(part instanceof Partition)) return part.status === StatusCode.PARTITION_NOT_FOUND ? { status: StatusCode.OK } : part;
        if (part.status !== PartitionStatus.DELETING) return fail(StatusCode.PARAM_ERROR, `partition ${part.partitionId} is not being deleted`);
        this.dropPartition(part);
        return { status: StatusCode.OK };
      }
      default:
        break;
    }
    const part = this.partition(op.type === OpType.Rename ? op.msg.req?.p : op.msg.p);
    if (!(part instanceof Partition)) return part;
    const fsId = part.fsId;
    const m = op.msg;
    switch (op.type) {
      case OpType.CreateInode: {
        const r = op.msg;
        return answer(op.type, part.apply({
          kind: 'createInode', fsId, requestId: rid(r.rid), parent: r.parent, type: r.type, mode: r.mode, uid: r.uid, gid: r.gid,
          rdev: r.rdev, symlink: r.symlink, length: r.length || undefined, time: ts(r.time),
        }));
      }
      case OpType.CloneInode: {
        const r = op.msg;
        // A file the reclaimer claimed may have lost its objects already: it cannot be cloned.
        if (this.reclaiming.get(part.partitionId)?.has(r.sourceInodeId)) return fail(StatusCode.NOT_FOUND, `inode ${r.sourceInodeId} is being reclaimed`);
        const locked = this.inodeLocked(fsId, r.sourceInodeId) ?? (part.owns(r.parent) ? this.dentryLocked(fsId, r.parent, r.name) : undefined);
        if (locked) return locked;
        return answer(op.type, part.apply({ kind: 'cloneInode', fsId, requestId: rid(r.rid), source: r.sourceInodeId, parent: r.parent, name: r.name, time: ts(r.time) }));
      }
      case OpType.CreateFile: {
        const r = op.msg;
        const locked = this.dentryLocked(fsId, r.parent, r.name);
        if (locked) return locked;
        return answer(op.type, part.apply({
          kind: 'createFile', fsId, requestId: rid(r.rid), parent: r.parent, name: r.name, type: r.type, mode: r.mode, uid: r.uid,
          gid: r.gid, rdev: r.rdev, symlink: r.symlink, time: ts(r.time),
        }));
      }
      case OpType.CreateRootInode: {
        const r = op.msg;
        return answer(op.type, part.apply({ kind: 'createRootInode', fsId, mode: r.mode, uid: r.uid, gid: r.gid, time: ts(r.time) }));
      }
      case OpType.CreateDentry: {
        const r = op.msg;
        const d = r.dentry;
        if (!d) return fail(StatusCode.PARAM_ERROR, 'CreateDentry without a dentry');
        const locked = this.dentryLocked(fsId, d.parentInodeId, d.name);
        if (locked) return locked;
        return answer(op.type, part.apply({
          kind: 'createDentry', fsId, requestId: rid(r.rid), parent: d.parentInodeId, name: d.name, ino: d.inodeId, type: d.type,
          length: r.length || undefined, time: ts(r.time),
        }));
      }
      case OpType.DeleteDentry: {
        const r = op.msg;
        const locked = this.dentryLocked(fsId, r.parentInodeId, r.name);
        if (locked) return locked;
        const expectDir = r.type === FileType.FILE_TYPE_UNKNOWN ? undefined : r.type === FileType.TYPE_DIRECTORY;
        return answer(op.type, part.apply({ kind: 'deleteDentry', fsId, requestId: rid(r.rid), parent: r.parentInodeId, name: r.name, expectDir, time: ts(r.time) }));
      }
      case OpType.Unlink: {
        const r = op.msg;
        // A retry gets its first answer (also one a transaction recorded), whatever is locked now.
        const id = rid(r.rid);
        const seen = id ? part.requests.lookup(id.clientId, id.seq) : undefined;
        if (seen?.kind === 'duplicate') return seen.result;
        const locked = this.dentryLocked(fsId, r.parentInodeId, r.name) ?? this.childLocked(part, r.parentInodeId, r.name);
        if (locked) return locked;
        const remote = r.localInodeOnly ? this.remoteChild(part, r.parentInodeId, r.name) : undefined;
        if (remote) return remote;
        return answer(op.type, part.apply({
          kind: 'deleteDentry', fsId, requestId: rid(r.rid), parent: r.parentInodeId, name: r.name, expectDir: false, unlinkInode: true,
          toTrash: r.toTrash, time: ts(r.time),
        }));
      }
      case OpType.TrashRestore: {
        const r = op.msg;
        const entry = part.trash.get(r.inodeId);
        const to = entry ? { parent: r.toParentInodeId ?? entry.parent, name: r.toName ?? entry.name } : undefined;
        const locked = this.inodeLocked(fsId, r.inodeId) ?? (to ? this.dentryLocked(fsId, to.parent, to.name) : undefined);
        if (locked) return locked;
        const unroutable = this.trashUnroutable(part, r);
        if (unroutable) return unroutable;
        const res = part.apply({
          kind: 'trashRestore', fsId, requestId: rid(r.rid), ino: r.inodeId, time: ts(r.time), parent: r.toParentInodeId, name: r.toName,
        });
        return answer(op.type, res.status === StatusCode.OK && res.remote ? ok({ ...res, followup: buildTrashFollowup(this, r.p!, r.inodeP!, res.remote, ts(r.time)) }) : res);
      }
      case OpType.TrashPurge: {
        const r = op.msg;
        const locked = this.inodeLocked(fsId, r.inodeId);
        if (locked) return locked;
        const unroutable = this.trashUnroutable(part, r);
        if (unroutable) return unroutable;
        const res = part.apply({ kind: 'trashPurge', fsId, requestId: rid(r.rid), ino: r.inodeId, time: ts(r.time) });
        return answer(op.type, res.status === StatusCode.OK && res.remote ? ok({ ...res, followup: buildTrashFollowup(this, r.p!, r.inodeP!, res.remote, ts(r.time)) }) : res);
      }
      case OpType.Rmdir:
        return this.rmdirLocal(part, op.msg.rid, op.msg.parentInodeId, op.msg.name, ts(op.msg.time), op.msg.toTrash);
      case OpType.LinkInode: {
        const r = op.msg;
        const locked = this.inodeLocked(fsId, r.inodeId);
        if (locked) return locked;
        return answer(op.type, part.apply({ kind: 'link', fsId, requestId: rid(r.rid), ino: r.inodeId, parent: r.newParent, time: ts(r.time) }));
      }
      case OpType.UnlinkInode: {
        const r = op.msg;
        const locked = this.inodeLocked(fsId, r.inodeId);
        if (locked) return locked;
        return answer(op.type, part.apply({ kind: 'unlink', fsId, requestId: rid(r.rid), ino: r.inodeId, parent: r.parent, time: ts(r.time) }));
      }
      case OpType.UpdateInode: {
        const r = op.msg;
        return answer(op.type, part.apply({
          kind: 'setattr', fsId, requestId: rid(r.rid), ino: r.inodeId, mask: r.mask, mode: r.mode, uid: r.uid, gid: r.gid,
          length: r.length, atime: r.atime ? ts(r.atime) : undefined, mtime: r.mtime ? ts(r.mtime) : undefined,
          ctime: r.ctime ? ts(r.ctime) : undefined, time: ts(r.time),
        }));
      }
      case OpType.DeleteInode: {
        const r = op.msg;
        const locked = this.inodeLocked(fsId, r.inodeId);
        if (locked) return locked;
        const res = part.apply({ kind: 'deleteInode', fsId, requestId: rid(r.rid), ino: r.inodeId });
        if (res.status === StatusCode.OK) {
          this.handles.get(part.partitionId)?.drop(r.inodeId);
          this.fileLocks.get(part.partitionId)?.drop(r.inodeId);
          this.reclaiming.get(part.partitionId)?.delete(r.inodeId);
        }
        return res;
      }
      case OpType.MarkReclaim: {
        const r = op.msg;
        const a = part.getInodeAttr(r.inodeId);
        if (a.status !== StatusCode.OK) return a;
        if (a.inode.nlink !== 0) return fail(StatusCode.BUSY, `inode ${r.inodeId} still has links`);
        if (this.handles.get(part.partitionId)?.isOpen(r.inodeId)) return fail(StatusCode.BUSY, `inode ${r.inodeId} is open`);
        const locked = this.inodeLocked(fsId, r.inodeId);
        if (locked) return locked;
        let set = this.reclaiming.get(part.partitionId);
        if (!set) this.reclaiming.set(part.partitionId, (set = new Set()));
        set.add(r.inodeId);
        return { status: StatusCode.OK };
      }
      case OpType.SetXAttr: {
        const r = op.msg;
        return answer(op.type, part.apply({ kind: 'setXattr', fsId, requestId: rid(r.rid), ino: r.inodeId, name: r.name, value: r.value, flags: r.flags, time: ts(r.time) }));
      }
      case OpType.RemoveXAttr: {
        const r = op.msg;
        return answer(op.type, part.apply({ kind: 'removeXattr', fsId, requestId: rid(r.rid), ino: r.inodeId, name: r.name, time: ts(r.time) }));
      }
      case OpType.AppendChunks:
        return this.appendChunks(part, op.msg);
      case OpType.AppendAndUpdateInode:
        return this.appendAndUpdateInode(part, op.msg);
      case OpType.ReplaceChunks: {
        const r = op.msg;
        return answer(op.type, part.apply({
          kind: 'replaceChunks', fsId, requestId: rid(r.rid), ino: r.inodeId, index: r.chunkIndex,
          expected: r.expected.map(plainSlice), slices: r.slices.map(plainSlice),
        }));
      }
      case OpType.Rename:
        return this.renameLocal(part, op.msg);
      case OpType.OpenHandle: {
        const r = op.msg;
        if (!isId(r.inodeId)) return fail(StatusCode.PARAM_ERROR, `bad inode id ${r.inodeId}`);
        if (!part.owns(r.inodeId)) return fail(StatusCode.ID_OUT_OF_RANGE, `inode ${r.inodeId} is not in partition ${part.partitionId}`);
        const table = this.handlesOf(part.partitionId);
        if (r.open) {
          // An ended session's open would pin the inode against reclaim until the next
          // ExpireSessions entry; its client must first learn that the session ended.
          if (this.sessions.expired(r.sessionId)) return fail(StatusCode.SESSION_EXPIRED, `open of inode ${r.inodeId}: session ${r.sessionId} has expired; register a new session`);
          const a = part.getInodeAttr(r.inodeId);
          if (a.status !== StatusCode.OK) return a;
          // Once the reclaimer claimed it, its blocks may be gone: nobody may open it again.
          if (this.reclaiming.get(part.partitionId)?.has(r.inodeId)) return fail(StatusCode.NOT_FOUND, `inode ${r.inodeId} is being reclaimed`);
          table.open(r.inodeId, r.sessionId);
        } else {
          table.release(r.inodeId, r.sessionId);
        }
        return { status: StatusCode.OK };
      }
      case OpType.Lock: {
        const r = op.msg;
        if (!r.lock) return fail(StatusCode.PARAM_ERROR, 'Lock without a lock');
        const bad = checkLock(r.lock);
        if (bad) return bad;
        // A lock taken by an ended session would be held for nobody (its locks were dropped when
        // it ended, and its client must learn that first). Unlocks and tests change nothing it holds.
        if (!r.testOnly && r.lock.type !== LockType.LOCK_UNLOCK && this.sessions.expired(r.lock.sessionId)) {
          return fail(StatusCode.SESSION_EXPIRED, `lock on inode ${r.inodeId}: session ${r.lock.sessionId} has expired; register a new session`);
        }
        const a = part.getInodeAttr(r.inodeId);
        if (a.status !== StatusCode.OK) return a;
        const table = this.locksOf(part.partitionId);
        const out = r.testOnly ? table.test(r.inodeId, r.lock) : table.apply(r.inodeId, r.lock);
        return answer(op.type, ok({ granted: out.granted, conflict: out.conflict }));
      }
      default:
        return fail(StatusCode.PARAM_ERROR, `op ${(m as { $typeName?: string }).$typeName ?? '?'} is not a copyset op`);
    }
  }

  handlesOf(partitionId: number): OpenHandleTable {
    let t = this.handles.get(partitionId);
    if (!t) this.handles.set(partitionId, (t = new OpenHandleTable()));
    return t;
  }

  locksOf(partitionId: number): FileLockTable {
    let t = this.fileLocks.get(partitionId);
    if (!t) this.fileLocks.set(partitionId, (t = new FileLockTable()));
    return t;
  }

  // ---- lock checks (deterministic: the tx store is replicated state) -----------------------------

  dentryLocked(fsId: number, parent: number, name: string): SmResult | undefined {
    const h = this.tx.dentryLock(fsId, parent, name);
    return h ? fail(StatusCode.TX_KEY_LOCKED, `(${parent}, ${JSON.stringify(name)}) is locked by tx ${h.tx}`) : undefined;
  }

  inodeLocked(fsId: number, ino: number): SmResult | undefined {
    const h = this.tx.inodeLock(fsId, ino);
    return h ? fail(StatusCode.TX_KEY_LOCKED, `inode ${ino} is locked by tx ${h.tx}`) : undefined;
  }

  /**
   * TX_FAILED (nothing changed, nothing recorded) when (parent, name) names a non-directory whose
   * inode lives in another partition: removing the name here would leave its link behind. The
   * leader looked before proposing, but a rename may have landed on the name since.
   */
  private remoteChild(part: Partition, parent: number, name: string): SmResult | undefined {
    const d = part.getDentry(parent, name);
    if (d.status !== StatusCode.OK || d.dentry.type === FileType.TYPE_DIRECTORY || part.owns(d.dentry.ino)) return undefined;
    return fail(StatusCode.TX_FAILED, `inode ${d.dentry.ino} of ${JSON.stringify(name)} lives in another partition: unlink needs a transaction`);
  }

  /** The child behind (parent, name), when it lives here and a transaction holds it. */
  private childLocked(part: Partition, parent: number, name: string): SmResult | undefined {
    const d = part.getDentry(parent, name);
    if (d.status !== StatusCode.OK) return undefined;
    return this.inodeLocked(part.fsId, d.dentry.ino);
  }

  // ---- ops with copyset-level logic ------------------------------------------------------------

  /**
   * A trash entry whose inode lives in another partition changes it there by a follow-up: the
   * entry must say where (the leader sets `inode_p`), or nothing changes. A retry finds its first
   * answer in the request table before this.
   */
  private trashUnroutable(part: Partition, r: TrashEntryRequest): SmResult | undefined {
    const id = rid(r.rid);
    if (id && part.requests.lookup(id.clientId, id.seq).kind === 'duplicate') return undefined;
    if (!part.trash.has(r.inodeId) || part.owns(r.inodeId)) return undefined;
    const to = r.inodeP;
    if (!to || to.fsId !== part.fsId || !r.p) return fail(StatusCode.PARAM_ERROR, `inode ${r.inodeId} lives in another partition: the request must say which (inode_p)`);
    return undefined;
  }

  private rmdirLocal(part: Partition, r: RequestId | undefined, parent: number, name: string, time: Timestamp, toTrash: boolean): SmResult {
    const fsId = part.fsId;
    const id = rid(r);
    if (id) {
      const seen = part.requests.lookup(id.clientId, id.seq);
      if (seen.kind === 'duplicate') return seen.result;
    }
    const locked = this.dentryLocked(fsId, parent, name);
    if (locked) return locked;
    const d = part.getDentry(parent, name);
    if (d.status === StatusCode.OK) {
      const child = d.dentry.ino;
      if (d.dentry.type === FileType.TYPE_DIRECTORY && !part.owns(child)) {
        // The service sends these through the transaction path; reaching here means the entry
        // changed after it looked. Nothing changed: the proposer plans again.
        return fail(StatusCode.TX_FAILED, `directory ${child} lives in another partition: rmdir needs a transaction`);
      }
      const cl = this.inodeLocked(fsId, child);
      if (cl) return cl;
      if (this.tx.hasLocksUnder(fsId, child)) return fail(StatusCode.TX_KEY_LOCKED, `an entry is being renamed into ${child}`);
    }
    return answer(OpType.Rmdir, part.apply({ kind: 'deleteDentry', fsId, requestId: id, parent, name, expectDir: true, unlinkInode: true, toTrash, time }));
  }

  private appendChunks(part: Partition, r: AppendChunksRequest): SmResult {
    const chunks = chunksOf(r);
    if (!chunks) return fail(StatusCode.PARAM_ERROR, 'bad chunk size');
    return answer(OpType.AppendChunks, part.apply({
      kind: 'appendChunks', fsId: part.fsId, requestId: rid(r.rid), ino: r.inodeId, chunks,
      minLength: r.minLength || undefined, time: ts(r.time),
    }));
  }

  private appendAndUpdateInode(part: Partition, r: AppendAndUpdateInodeRequest): SmResult {
    const chunks = chunksOf(r);
    if (!chunks) return fail(StatusCode.PARAM_ERROR, 'bad chunk size');
    return answer(OpType.AppendAndUpdateInode, part.apply({
      kind: 'appendSetattr', fsId: part.fsId, requestId: rid(r.rid),
      append: { ino: r.inodeId, chunks, minLength: r.minLength || undefined, time: ts(r.writeTime) },
      setattr: {
        ino: r.inodeId, mask: r.mask, mode: r.mode, uid: r.uid, gid: r.gid,
        atime: r.atime ? ts(r.atime) : undefined, mtime: r.mtime ? ts(r.mtime) : undefined, time: ts(r.time),
      },
    }));
  }

  /**
   * A rename whose both dentries are in this partition (docs/rename.md §3.1): one entry. When
   * the moved or replaced inode lives in another partition, its share (parent list, link count)
   * is recorded as a decided follow-up that the leader delivers.
   */
  private renameLocal(part: Partition, entry: RenameEntry): SmResult {
    const r = entry.req;
    if (!r) return fail(StatusCode.PARAM_ERROR, 'Rename without a request');
    const fsId = part.fsId;
    const id = rid(r.rid);
    if (id) {
      const seen = part.requests.lookup(id.clientId, id.seq);
      if (seen.kind === 'duplicate') return seen.result;
    }
    if (r.newP && r.newP.partitionId !== part.partitionId) {
      return fail(StatusCode.PARAM_ERROR, 'one-entry rename across partitions');
    }
    const locked =
      this.dentryLocked(fsId, r.oldParent, r.oldName) ??
      this.dentryLocked(fsId, r.newParent, r.newName);
    if (locked) return locked;
    const src = part.getDentry(r.oldParent, r.oldName);
    const dst = part.getDentry(r.newParent, r.newName);
    const x = src.status === StatusCode.OK ? src.dentry : undefined;
    const y = dst.status === StatusCode.OK ? dst.dentry : undefined;
    for (const d of [x, y]) {
      if (!d) continue;
      const l = this.inodeLocked(fsId, d.ino);
      if (l) return l;
      if (d === y && d.type === FileType.TYPE_DIRECTORY && this.tx.hasLocksUnder(fsId, d.ino)) {
        return fail(StatusCode.TX_KEY_LOCKED, `an entry is being renamed into ${d.ino}`);
      }
    }
    const exchange = (r.flags & RENAME_EXCHANGE) !== 0;
    if (x && !(y && y.ino === x.ino)) {
      // A directory changing parent: the fs rename lock must be free and the tree must stay one.
      const moves: [number, number][] = [];
      if (r.oldParent !== r.newParent) {
        if (x.type === FileType.TYPE_DIRECTORY) moves.push([x.ino, r.newParent]);
        if (exchange && y && y.type === FileType.TYPE_DIRECTORY) moves.push([y.ino, r.oldParent]);
      }
      const chk = this.checkMovesLocal(part, moves);
      if (chk) return chk;
      // Follow-ups need a route for every inode that lives elsewhere.
      for (const d of [x, y]) {
        if (!d || part.owns(d.ino)) continue;
        if (d === y && !exchange && d.type === FileType.TYPE_DIRECTORY) {
          return fail(StatusCode.TX_FAILED, `replaced directory ${d.ino} lives in another partition: rename needs a transaction`);
        }
        if (!entry.routes.some((rt) => rt.inode === d.ino)) return fail(StatusCode.TX_FAILED, `no route for inode ${d.ino}: plan again`);
      }
    }
    const res = part.apply({
      kind: 'rename', fsId, requestId: id, srcParent: r.oldParent, srcName: r.oldName, dstParent: r.newParent, dstName: r.newName,
      flags: r.flags, time: ts(r.time),
    });
    if (res.status !== StatusCode.OK || res.noop) return res;
    const followup = buildRenameFollowups(this, part, entry, res);
    return answer(OpType.Rename, followup ? ok({ ...res, followup }) : res);
  }

  /**
   * Each [dir, newParent] of `moves`: the fs rename lock must be free, and walking up from
   * newParent to the root — all inside this partition — must not meet dir (docs/rename.md §3.3).
   * TX_FAILED when the walk leaves the partition: the rename then needs a transaction.
   */
  private checkMovesLocal(part: Partition, moves: [number, number][]): SmResult | undefined {
    if (moves.length === 0) return undefined;
    const fsId = part.fsId;
    if (!part.owns(ROOT_INODE_ID)) return fail(StatusCode.TX_FAILED, 'the rename lock lives in another partition: rename needs a transaction');
    const holder = this.tx.fsLock(fsId);
    if (holder) return fail(StatusCode.TX_KEY_LOCKED, `the rename lock of fs ${fsId} is held by tx ${holder}`);
    for (const [dir, target] of moves) {
      let cur = target;
      for (let depth = 0; cur !== ROOT_INODE_ID; depth++) {
        if (cur === dir) return fail(StatusCode.INVALID_RENAME, `directory ${dir} would move into its own subtree`);
        if (depth > MAX_DEPTH) return fail(StatusCode.INVALID_RENAME, `directory chain above ${target} deeper than ${MAX_DEPTH}`);
        const a = part.getInodeAttr(cur);
        if (a.status !== StatusCode.OK || a.inode.parent.length === 0) {
          return fail(StatusCode.TX_FAILED, `ancestor ${cur} lives in another partition: rename needs a transaction`);
        }
        cur = a.inode.parent[0]!;
      }
    }
    return undefined;
  }

  // ---- admin ---------------------------------------------------------------------------------

  private createPartition(info: PartitionInfo | undefined): SmResult {
    if (!info) return fail(StatusCode.PARAM_ERROR, 'CreatePartition without a partition');
    if (info.poolId !== this.poolId || info.copysetId !== this.copysetId) {
      return fail(StatusCode.PARAM_ERROR, `partition ${info.partitionId} names copyset ${info.poolId}:${info.copysetId}, not this one`);
    }
    const old = this.partitions.get(info.partitionId);
    if (old) {
      if (old.fsId === info.fsId && old.start === info.start && old.end === info.end) return answer(OpType.CreatePartition, ok({ existed: true }));
      return fail(StatusCode.PARTITION_EXIST, `partition ${info.partitionId} exists with another fs or range`);
    }
    let p: Partition;
    try {
      p = new Partition({
        partitionId: info.partitionId,
        fsId: info.fsId,
        start: info.start,
        end: info.end,
        nextId: info.nextId > 0 ? info.nextId : undefined,
      });
    } catch (e) {
      return fail(StatusCode.PARAM_ERROR, (e as Error).message);
    }
    this.addPartition(p);
    return { status: StatusCode.OK };
  }

  /** Adds a partition (created or loaded from a snapshot); its request table shares the session view. */
  addPartition(p: Partition): void {
    p.requests.sessions = this.sessions;
    this.partitions.set(p.partitionId, p);
  }

  private deletePartition(ref: PartitionRef | undefined): SmResult {
    const part = this.partition(ref);
    if (!(part instanceof Partition)) return part.status === StatusCode.PARTITION_NOT_FOUND ? { status: StatusCode.OK } : part;
    if (part.inodeCount === 0 || part.status === PartitionStatus.DELETING && part.inodeCount === part.deleted.size) {
      this.dropPartition(part);
      return { status: StatusCode.OK };
    }
    if (part.status !== PartitionStatus.DELETING) part.apply({ kind: 'setStatus', fsId: part.fsId, status: PartitionStatus.DELETING });
    return fail(StatusCode.PARTITION_DELETING, `partition ${part.partitionId} still holds ${part.inodeCount} inodes`);
  }

  private dropPartition(part: Partition): void {
    this.partitions.delete(part.partitionId);
    this.handles.delete(part.partitionId);
    this.fileLocks.delete(part.partitionId);
    this.reclaiming.delete(part.partitionId);
    this.tx.dropPartition(part.partitionId, part.fsId);
  }

  /**
   * Sessions that ended. `ids` name them one by one (their handles and locks go); a view
   * (`max` > 0 and the live ids) says every session up to `max` that is not live has ended: its
   * request windows, handles and locks go, and its requests are refused from now on.
   */
  private expireSessions(ids: number[], max: number, live: number[]): SmResult {
    const isSession = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;
    if (!ids.every(isSession) || !isSession(max) || !live.every(isSession)) return fail(StatusCode.PARAM_ERROR, 'bad session id in ExpireSessions');
    if (max > 0) this.sessions.update(max, live);
    const set = new Set(ids);
    const ended = (id: number): boolean => set.has(id) || this.sessions.expired(id);
    let handles = 0;
    let locks = 0;
    let windows = 0;
    for (const t of this.handles.values()) handles += t.expireSessions(new Set([...t.allSessions()].filter(ended)));
    for (const t of this.fileLocks.values()) {
      const held = new Set<number>();
      for (const [, list] of t.entries()) for (const l of list) if (ended(l.sessionId)) held.add(l.sessionId);
      locks += t.expireSessions(held);
    }
    for (const p of this.partitions.values()) windows += p.requests.dropExpired();
    return ok({ handles, locks, windows });
  }

  /** Sessions that hold something here (request windows, open handles, file locks). */
  sessionsWithState(): Set<number> {
    const out = new Set<number>();
    for (const p of this.partitions.values()) for (const id of p.requests.clients.keys()) out.add(id);
    for (const t of this.handles.values()) for (const id of t.allSessions()) out.add(id);
    for (const t of this.fileLocks.values()) for (const [, locks] of t.entries()) for (const l of locks) out.add(l.sessionId);
    return out;
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** Partitions of this copyset as PartitionInfo (with counts), sorted by id. */
  partitionInfos(): PartitionInfo[] {
    return [...this.partitions.values()]
      .sort((a, b) => a.partitionId - b.partitionId)
      .map((p) => {
        const s = p.stats();
        return {
          $typeName: 'curvefs.common.PartitionInfo',
          fsId: p.fsId,
          poolId: this.poolId,
          copysetId: this.copysetId,
          partitionId: p.partitionId,
          start: p.start,
          end: p.end,
          txId: 0,
          nextId: p.nextId,
          status: p.status,
          inodeNum: s.inodes,
          dentryNum: s.dentries,
          manageFlag: p.owns(2),
          fileBytes: s.fileBytes,
        } satisfies PartitionInfo;
      });
  }
}

/** An append's slices filed by chunk index (offset / chunk size); undefined for a bad chunk size. */
function chunksOf(r: { slices: ChunkSlice[]; chunkSize: number }): ChunkAppend[] | undefined {
  const chunkSize = r.chunkSize > 0 ? r.chunkSize : DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize)) return undefined;
  const byIndex = new Map<number, ChunkSlice[]>();
  for (const s of r.slices) {
    const index = Math.floor(s.offset / chunkSize);
    let list = byIndex.get(index);
    if (!list) byIndex.set(index, (list = []));
    list.push(plainSlice(s));
  }
  return [...byIndex].map(([index, slices]) => ({ index, slices }));
}

export function plainSlice(s: ChunkSlice): ChunkSlice {
  return { chunkId: s.chunkId, compaction: s.compaction, offset: s.offset, len: s.len, size: s.size, zero: s.zero };
}

function checkLock(l: FileLock): SmResult | undefined {
  if (!Number.isSafeInteger(l.start) || !Number.isSafeInteger(l.end) || l.start < 0 || l.end < l.start) {
    return fail(StatusCode.PARAM_ERROR, `bad lock range [${l.start}, ${l.end}]`);
  }
  if (l.type !== LockType.LOCK_UNLOCK && l.type !== LockType.LOCK_READ && l.type !== LockType.LOCK_WRITE) {
    return fail(StatusCode.PARAM_ERROR, `bad lock type ${l.type}`);
  }
  if (!Number.isSafeInteger(l.owner) || !Number.isSafeInteger(l.sessionId)) return fail(StatusCode.PARAM_ERROR, 'bad lock owner');
  return undefined;
}

export function emptyLock(): FileLock {
  return create(FileLockSchema, {});
}

export type { PartitionOp };
