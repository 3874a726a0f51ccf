// Applying the transaction entries of docs/rename.md to a copyset's state: TxBegin (coordinator
// records and locks its share), TxPrepare (a participant checks and locks its share), TxDecide
// (the coordinator's commit or abort — the commit point), TxFinish (a participant applies the
// decision), TxForget (the coordinator drops a finished record). Deterministic: every check reads
// replicated state only, and every change is made after all checks passed.
import { create } from '@bufbuild/protobuf';
import { StatusCode } from '../../common/index.ts';
import { FileType } from '../../gen/common_pb.ts';
import {
  TxIdSchema,
  TxInodeActionSchema,
  TxKind,
  TxParticipantSchema,
  TxPartSchema,
  TxRecordSchema,
  TxState,
  type PartitionRef,
  type RenameEntry,
  type TxId,
  type TxPart,
  type TxFinishRequest,
  type TxRecord,
} from '../../gen/metaserver_pb.ts';
import { ROOT_INODE_ID, sessionExpired, type OpResult, type Partition, type RenameResult, type Timestamp, type TrashFollowup } from '../partition/index.ts';
import type { CopysetStateMachine, SmResult } from '../copyset/state-machine.ts';
import { OpType, type Op, type OpOf } from '../copyset/op-codec.ts';
import { txKey, type LockRole, type TxOutcome } from './tx-store.ts';

export type TxOp = OpOf<OpType.TxBegin> | OpOf<OpType.TxPrepare> | OpOf<OpType.TxDecide> | OpOf<OpType.TxFinish> | OpOf<OpType.TxForget>;

export function isTxOp(op: Op): op is TxOp {
  return op.type >= OpType.TxBegin && op.type <= OpType.TxForget;
}

function fail(status: StatusCode, message: string): SmResult {
  return { status, message };
}

function ok<T extends object>(data: T): SmResult & T {
  return { status: StatusCode.OK, ...data };
}

function ts(t: { sec: number; nsec: number } | undefined): Timestamp {
  return t ? { sec: t.sec, nsec: t.nsec } : { sec: 0, nsec: 0 };
}

export function applyTxOp(sm: CopysetStateMachine, index: number, op: TxOp): SmResult {
  switch (op.type) {
    case OpType.TxBegin:
      return begin(sm, index, op.msg);
    case OpType.TxPrepare: {
      const prepared = op.msg.tx;
      if (!prepared?.part?.p || !prepared.id) return fail(StatusCode.PARAM_ERROR, 'TxPrepare without a tx');
      const part = sm.partition(prepared.part.p);
      if (!('partitionId' in part)) return part;
      const pid = part.partitionId;
      const floor = op.msg.coordinatorFloor;
      if (!isIndex(floor)) return fail(StatusCode.PARAM_ERROR, `bad coordinator floor ${floor}`);
      const coordinator = prepared.id.partitionId;
      // A Prepare of a finished tx (a duplicate, or one that lost the race with an abort) must
      // not take locks: nobody would ever release them.
      if (sm.tx.isTombstoned(pid, prepared.id)) {
        sm.tx.advanceFloor(coordinator, floor);
        return fail(StatusCode.TX_ROLLBACKED, `tx ${txKey(prepared.id)} already finished here`);
      }
      if (sm.tx.prepared.has(`${pid}@${txKey(prepared.id)}`)) {
        sm.tx.advanceFloor(coordinator, floor);
        return ok({});
      }
      const k = txKey(prepared.id);
      const bad = checkPart(sm, part, prepared.part, k);
      sm.tx.advanceFloor(coordinator, floor);
      if (bad) return bad;
      lockPart(sm, part, prepared.part, k, 'participant');
      sm.tx.addPrepared(pid, prepared);
      return ok({});
    }
    case OpType.TxDecide: {
      const k = txKey(op.msg.id);
      const rec = sm.tx.records.get(k);
      if (!rec) return fail(StatusCode.NOT_FOUND, `no tx ${k}`);
      if (rec.state !== TxState.TX_PREPARING) return ok({ state: rec.state });
      const part = sm.partition(rec.local?.p);
      if (!('partitionId' in part)) return part;
      const warnings: string[] = [];
      if (op.msg.commit) {
        commitPart(part, rec.local!, ts(rec.time), rec, warnings);
        rec.state = TxState.TX_COMMITTED;
        // The outcome joins the request's window in the coordinator partition's request table:
        // a retry finds it for as long as the client's session lives, like any other mutation.
        if (rec.rid && (rec.rid.clientId !== 0 || rec.rid.seq !== 0) && part.requests.lookup(rec.rid.clientId, rec.rid.seq).kind === 'new') {
          part.requests.record(rec.rid.clientId, rec.rid.seq, txResult(rec));
        }
      } else {
        abortPart(part, rec.local!, ts(rec.time));
        rec.state = TxState.TX_ABORTED;
        rec.error = op.msg.error === StatusCode.OK ? StatusCode.TX_FAILED : op.msg.error;
      }
      // The fs rename lock stays until TxForget, i.e. until every participant applied the
      // decision: the moved directory's parent pointer must be current before another directory
      // move may walk the tree (docs/rename.md §3.3).
      sm.tx.unlockPart(part.fsId, create(TxPartSchema, { ...rec.local!, fsLock: false }), k);
      // No participant (a link of an inode in this partition): nobody is left to tell, so the
      // record goes now — no TxForget entry (a committed outcome is in the request table).
      if (rec.participants.length === 0 && !rec.local!.fsLock) sm.tx.forget(k);
      return ok({ state: rec.state, warnings });
    }
    case OpType.TxFinish: {
      const m = op.msg;
      const part = sm.partition(m.p);
      if (!('partitionId' in part)) return part;
      if (!m.id) return fail(StatusCode.PARAM_ERROR, 'TxFinish without a tx');
      if (!isIndex(m.coordinatorFloor)) return fail(StatusCode.PARAM_ERROR, `bad coordinator floor ${m.coordinatorFloor}`);
      const r = finishHere(sm, part, m, []);
      // After this tx's own record was handled: the floor is below every tx still open.
      sm.tx.advanceFloor(m.id.partitionId, m.coordinatorFloor);
      return r;
    }
    case OpType.TxForget: {
      let acked = 0;
      for (const a of op.msg.acks) if (sm.tx.ack(txKey(a.id), a.partitionId)) acked++;
      let forgotten = 0;
      for (const id of op.msg.ids) {
        const k = txKey(id);
        const rec = sm.tx.records.get(k);
        if (rec && rec.state !== TxState.TX_PREPARING) {
          const part = rec.local?.p ? sm.partitions.get(rec.local.p.partitionId) : undefined;
          if (part && rec.local?.fsLock) sm.tx.unlockPart(part.fsId, rec.local, k);
          sm.tx.forget(k);
          forgotten++;
        }
      }
      return ok({ forgotten, acked });
    }
  }
}

function isIndex(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/** A participant applies a decision (or a one-entry rename's share), once. */
function finishHere(sm: CopysetStateMachine, part: Partition, m: TxFinishRequest, warnings: string[]): SmResult {
  const pid = part.partitionId;
  if (m.unprepared) {
    // A one-entry rename's follow-up: apply once.
    if (!m.part || sm.tx.isTombstoned(pid, m.id)) return ok({ applied: false });
    commitPart(part, m.part, ts(m.time), undefined, warnings);
    sm.tx.addTombstone(pid, m.id);
    return ok({ applied: true, warnings });
  }
  const rec = sm.tx.removePrepared(pid, m.id);
  sm.tx.addTombstone(pid, m.id);
  if (!rec || !rec.part) return ok({ applied: false });
  if (m.commit) commitPart(part, rec.part, ts(rec.time), undefined, warnings);
  else abortPart(part, rec.part, ts(rec.time));
  sm.tx.unlockPart(part.fsId, rec.part, txKey(m.id));
  return ok({ applied: true, warnings });
}

/**
 * What a committed transaction answers a retry of its request, in the shape of the one-entry
 * op's result (rename: moved/replaced inodes; rmdir: the removed dentry's inode).
 */
export function txResult(rec: TxRecord): OpResult {
  if (rec.kind === TxKind.TX_RMDIR || rec.kind === TxKind.TX_LINK) return { status: StatusCode.OK, dentry: { ino: rec.movedInode } } as unknown as OpResult;
  if (rec.kind === TxKind.TX_UNLINK) {
    // The shape of the one-entry Unlink's result, which a retry through that op returns.
    const d = rec.local?.dentries[0];
    return {
      status: StatusCode.OK,
      dentry: { parent: d?.parent ?? 0, name: d?.name ?? '', ino: rec.movedInode, type: d?.expectType ?? 0 },
      effect: { unlinked: true },
    } as unknown as OpResult;
  }
  return {
    status: StatusCode.OK,
    moved: { ino: rec.movedInode },
    ...(rec.replacedInode ? { replaced: { ino: rec.replacedInode } } : {}),
  } as unknown as OpResult;
}

/** The first outcome of a request, as (moved, replaced) inodes, when it is known. */
export function outcomeOf(sm: CopysetStateMachine, part: Partition, clientId: number, seq: number): TxOutcome | undefined {
  const seen = part.requests.lookup(clientId, seq);
  if (seen.kind === 'duplicate') {
    const r = seen.result as { status: StatusCode; moved?: { ino: number }; replaced?: { ino: number }; exchanged?: { ino: number }; dentry?: { ino: number } };
    return { status: r.status, movedInode: r.moved?.ino ?? r.dentry?.ino ?? 0, replacedInode: r.replaced?.ino ?? r.exchanged?.ino ?? 0 };
  }
  return sm.tx.outcome(clientId, seq);
}

function begin(sm: CopysetStateMachine, index: number, rec: TxRecord): SmResult {
  if (!rec.local?.p) return fail(StatusCode.PARAM_ERROR, 'TxBegin without a coordinator partition');
  const part = sm.partition(rec.local.p);
  if (!('partitionId' in part)) return part;
  if (rec.rid && (rec.rid.clientId !== 0 || rec.rid.seq !== 0)) {
    const running = sm.tx.recordByRid(rec.rid.clientId, rec.rid.seq);
    if (running) return ok({ txId: running.id, state: running.state, joined: true });
    const seen = part.requests.lookup(rec.rid.clientId, rec.rid.seq);
    if (seen.kind === 'expired') return sessionExpired(rec.rid.clientId, rec.rid.seq);
    if (seen.kind === 'stale') return fail(StatusCode.STALE, `request ${rec.rid.clientId}/${rec.rid.seq} is older than the retained window`);
    const done = outcomeOf(sm, part, rec.rid.clientId, rec.rid.seq);
    if (done) return ok({ finished: done });
  }
  const id = create(TxIdSchema, { partitionId: part.partitionId, index });
  const k = txKey(id);
  const bad = checkPart(sm, part, rec.local, k);
  if (bad) return bad;
  for (const pp of rec.participants) {
    if (!pp.part?.p) return fail(StatusCode.PARAM_ERROR, 'participant without a partition');
    if (pp.part.p.partitionId === part.partitionId) return fail(StatusCode.PARAM_ERROR, 'the coordinator is listed as a participant');
  }
  const stored = create(TxRecordSchema, { ...rec, id, state: TxState.TX_PREPARING });
  lockPart(sm, part, rec.local, k, 'coordinator');
  sm.tx.addRecord(stored);
  return ok({ txId: id, state: TxState.TX_PREPARING });
}

/** Checks that `txPart` can be locked by tx `k` in `part` (nothing changes). */
function checkPart(sm: CopysetStateMachine, part: Partition, txPart: TxPart, k: string): SmResult | undefined {
  const fsId = part.fsId;
  if (txPart.p && txPart.p.partitionId !== part.partitionId) return fail(StatusCode.PARAM_ERROR, 'tx part names another partition');
  const conflict = sm.tx.conflict(fsId, txPart, k);
  if (conflict) return fail(StatusCode.TX_KEY_LOCKED, conflict);
  for (const d of txPart.dentries) {
    if (!part.owns(d.parent)) return fail(StatusCode.ID_OUT_OF_RANGE, `directory ${d.parent} is not in partition ${part.partitionId}`);
    const cur = part.getDentry(d.parent, d.name);
    if (cur.status !== StatusCode.OK && cur.status !== StatusCode.NOT_FOUND) return cur;
    const curIno = cur.status === StatusCode.OK ? cur.dentry.ino : 0;
    if (curIno !== d.expectInode) {
      return fail(StatusCode.TX_WRITE_CONFLICT, `(${d.parent}, ${JSON.stringify(d.name)}) is ${curIno || 'absent'}, expected ${d.expectInode || 'absent'}`);
    }
    if (d.setInode !== 0 && d.setInode !== d.expectInode) {
      const parent = part.getInodeAttr(d.parent);
      if (parent.status !== StatusCode.OK) return parent;
      if (parent.inode.nlink === 0) return fail(StatusCode.NOT_FOUND, `directory ${d.parent} was removed`);
      const stats = part.dirStats(d.parent);
      if (stats.status === StatusCode.OK && stats.sealed) return fail(StatusCode.DIRECTORY_REMOVED, `directory ${d.parent} is being removed`);
    }
  }
  for (const i of txPart.inodes) {
    const a = part.getInodeAttr(i.inode);
    if (a.status !== StatusCode.OK) return a;
    if (a.inode.nlink === 0) return fail(StatusCode.NOT_FOUND, `inode ${i.inode} has no links left`);
    if (i.unlinkParent !== 0 && !a.inode.parent.includes(i.unlinkParent)) {
      return fail(StatusCode.TX_WRITE_CONFLICT, `${i.unlinkParent} is no longer a parent of ${i.inode}`);
    }
    if (i.linkParent !== 0 && i.unlinkParent === 0) {
      // A new link (link(2)): the partition's own link op would refuse these at commit.
      if (a.inode.type === FileType.TYPE_DIRECTORY) return fail(StatusCode.NOT_PERMITTED, `inode ${i.inode} is a directory: no hard link`);
      if (a.inode.nlink >= part.maxLinks) return fail(StatusCode.TOO_MANY_LINKS, `inode ${i.inode} has ${a.inode.nlink} links`);
    }
    if (i.seal) {
      if (a.inode.type !== FileType.TYPE_DIRECTORY) return fail(StatusCode.NOT_DIRECTORY, `inode ${i.inode} is not a directory`);
      const st = part.dirStats(i.inode);
      if (st.status !== StatusCode.OK) return st;
      if (st.stats.entries > 0) return fail(StatusCode.DIRECTORY_NOT_EMPTY, `directory ${i.inode} is not empty`);
      if (sm.tx.hasLocksUnder(fsId, i.inode)) return fail(StatusCode.TX_KEY_LOCKED, `an entry is being renamed into ${i.inode}`);
    }
  }
  if (txPart.fsLock && !part.owns(ROOT_INODE_ID)) {
    return fail(StatusCode.PARAM_ERROR, `partition ${part.partitionId} does not hold the root inode (the rename lock)`);
  }
  return undefined;
}

function lockPart(sm: CopysetStateMachine, part: Partition, txPart: TxPart, k: string, role: LockRole): void {
  for (const i of txPart.inodes) {
    if (i.seal) part.apply({ kind: 'sealDirectory', fsId: part.fsId, ino: i.inode });
  }
  sm.tx.lockPart(part.fsId, txPart, k, role);
}

function abortPart(part: Partition, txPart: TxPart, _t: Timestamp): void {
  for (const i of txPart.inodes) {
    if (i.seal) part.apply({ kind: 'unsealDirectory', fsId: part.fsId, ino: i.inode });
  }
}

/**
 * Applies a share's effects. They were checked at prepare and the keys stayed locked since, so
 * a failure here is a bug; it is reported in `warnings` (the result) rather than half-stopping.
 */
function commitPart(part: Partition, txPart: TxPart, t: Timestamp, rec: TxRecord | undefined, warnings: string[]): void {
  const fsId = part.fsId;
  const note = (what: string, r: SmResult): void => {
    if (r.status !== StatusCode.OK) warnings.push(`${what}: ${StatusCode[r.status]} ${r.message ?? ''}`);
  };
  const ds = txPart.dentries;
  if (ds.length === 2 && rec?.kind === TxKind.TX_RENAME) {
    // Both dentries of a rename in this partition: the partition's own rename does it all.
    const [s, d] = ds as [typeof ds[0], typeof ds[0]];
    const exchange = s.setInode !== 0;
    note('rename', part.apply({
      kind: 'rename', fsId, srcParent: s.parent, srcName: s.name, dstParent: d.parent, dstName: d.name,
      flags: exchange ? 2 : 0, srcLength: s.expectLength || undefined, dstLength: d.expectLength || undefined, time: t,
    }));
  } else {
    for (const d of ds) {
      if (d.expectInode !== 0 && d.setInode !== d.expectInode) {
        // to_trash: the name goes to this partition's trash (architecture.md §6c).
        if (d.setInode === 0 && rec?.kind === TxKind.TX_RMDIR) {
          note('rmdir', part.apply({ kind: 'deleteDentry', fsId, parent: d.parent, name: d.name, ino: d.expectInode, expectDir: true, toTrash: d.toTrash, time: t }));
        } else {
          // The entry moves (or is replaced): no emptiness check, the child keeps its links.
          note('remove', part.apply({
            kind: 'deleteDentry', fsId, parent: d.parent, name: d.name, ino: d.expectInode, move: true,
            length: d.expectLength || undefined, toTrash: d.toTrash, time: t,
          }));
        }
      }
      if (d.setInode !== 0 && d.setInode !== d.expectInode) {
        note('create', part.apply({
          kind: 'createDentry', fsId, parent: d.parent, name: d.name, ino: d.setInode, type: d.setType,
          length: d.setLength || undefined, time: t,
        }));
      }
    }
  }
  for (const i of txPart.inodes) {
    if (i.unlinkParent !== 0 && i.linkParent !== 0) {
      note('replaceParent', part.apply({ kind: 'replaceParent', fsId, ino: i.inode, oldParent: i.unlinkParent, newParent: i.linkParent, time: t }));
    } else if (i.unlinkParent !== 0) {
      note('unlink', part.apply({ kind: 'unlink', fsId, ino: i.inode, parent: i.unlinkParent, time: t }));
    } else if (i.linkParent !== 0) {
      note('link', part.apply({ kind: 'link', fsId, ino: i.inode, parent: i.linkParent, time: t }));
    }
    if (i.unseal) note('unseal', part.apply({ kind: 'unsealDirectory', fsId, ino: i.inode }));
  }
}

/**
 * After a one-entry rename: the shares of inodes that live in other partitions (their parent
 * lists, a replaced file's link) become a decided record whose follow-ups the leader delivers.
 */
export function buildRenameFollowups(sm: CopysetStateMachine, part: Partition, entry: RenameEntry, res: RenameResult): TxId | undefined {
  const r = entry.req!;
  const shares = new Map<number, TxPart>();
  const add = (ino: number, unlinkParent: number, linkParent: number): void => {
    const route = entry.routes.find((rt) => rt.inode === ino)?.p;
    if (!route) return; // checked before the rename was applied
    let s = shares.get(route.partitionId);
    if (!s) shares.set(route.partitionId, (s = create(TxPartSchema, { p: route })));
    s.inodes.push(create(TxInodeActionSchema, { inode: ino, unlinkParent, linkParent }));
  };
  const moved = r.oldParent !== r.newParent;
  if (!res.moved.local && moved) add(res.moved.ino, r.oldParent, r.newParent);
  if (res.exchanged && !res.exchanged.local && moved) add(res.exchanged.ino, r.newParent, r.oldParent);
  if (res.replaced && !res.replaced.unlinked && !part.owns(res.replaced.ino)) add(res.replaced.ino, r.newParent, 0);
  if (shares.size === 0) return undefined;
  const rec = create(TxRecordSchema, {
    id: create(TxIdSchema, { partitionId: part.partitionId, index: sm.appliedIndex }),
    rid: r.rid,
    kind: TxKind.TX_RENAME,
    state: TxState.TX_COMMITTED,
    local: create(TxPartSchema, { p: r.p as PartitionRef }),
    participants: [...shares.values()].map((s) => create(TxParticipantSchema, { part: s, prepared: false })),
    time: r.time,
    movedInode: res.moved.ino,
    replacedInode: res.replaced?.ino ?? 0,
  });
  sm.tx.addRecord(rec);
  return rec.id;
}

/**
 * After a TrashRestore or TrashPurge of an entry whose inode lives in another partition (`route`):
 * its share there (unseal, new parent, dropped link) becomes a decided record whose follow-up the
 * leader delivers until acknowledged, like a one-entry rename's (architecture.md §6c).
 */
export function buildTrashFollowup(sm: CopysetStateMachine, coordinator: PartitionRef, route: PartitionRef, f: TrashFollowup, time: Timestamp): TxId {
  const share = create(TxPartSchema, {
    p: route,
    inodes: [create(TxInodeActionSchema, { inode: f.ino, unlinkParent: f.unlinkParent, linkParent: f.linkParent, unseal: f.unseal })],
  });
  const rec = create(TxRecordSchema, {
    id: create(TxIdSchema, { partitionId: coordinator.partitionId, index: sm.appliedIndex }),
    kind: TxKind.TX_UNLINK,
    state: TxState.TX_COMMITTED,
    local: create(TxPartSchema, { p: coordinator }),
    participants: [create(TxParticipantSchema, { part: share, prepared: false })],
    time: { $typeName: 'curvefs.common.Timespec', sec: time.sec, nsec: time.nsec },
    movedInode: f.ino,
  });
  sm.tx.addRecord(rec);
  return rec.id!;
}

export type { TxId };
