// The coordinator side of docs/rename.md, run by the leader of the source parent's partition:
// plans a rename or rmdir, runs it as one log entry when one partition holds everything, or as a
// two-phase transaction otherwise (TxBegin, prepares, the ancestor walk under the fs rename lock,
// TxDecide, TxFinish at the participants, TxForget), and recovers transactions left behind by a
// crashed or deposed leader.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode, createLogger, systemClock, systemRandom, systemTimer, type Clock, type Random, type Timer } from '../../common/index.ts';
import { FileType } from '../../gen/common_pb.ts';
import {
  PartitionRefSchema,
  RenameEntrySchema,
  TxDentryActionSchema,
  TxInodeActionSchema,
  TxKind,
  TxParticipantSchema,
  TxPartSchema,
  TxRecordSchema,
  TxState,
  type InodeRoute,
  type PartitionRef,
  type CreateDentryRequest,
  type RenameRequest,
  type RenameResponse,
  type RmdirRequest,
  type RmdirResponse,
  type TxId,
  type UnlinkRequest,
  type TxPart,
  type TxRecord,
} from '../../gen/metaserver_pb.ts';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { InodeAttrSchema, RenameResponseSchema, RmdirResponseSchema, UnlinkResponseSchema } from '../../gen/metaserver_pb.ts';
import { checkName, ROOT_INODE_ID, sessionExpired, type Partition, type RenameResult } from '../partition/index.ts';
import type { Copyset } from '../copyset/copyset.ts';
import { OpType } from '../copyset/op-codec.ts';
import { MAX_DEPTH, type SmResult } from '../copyset/state-machine.ts';
import type { Cluster } from '../cluster.ts';
import { ridKey, txKey } from './tx-store.ts';
import { outcomeOf } from './tx-apply.ts';

const log = createLogger('metaserver-tx');

const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

type RenameOut = MessageInitShape<typeof RenameResponseSchema>;
type RmdirOut = MessageInitShape<typeof RmdirResponseSchema>;
type RemoteUnlinkOut = MessageInitShape<typeof UnlinkResponseSchema>;
type LinkedInode = MessageInitShape<typeof InodeAttrSchema>;

/** A conflict that makes the coordinator plan again (after waiting a little). */
class Replan extends Error {
  constructor(
    readonly status: StatusCode,
    detail: string,
    readonly lockEpoch?: number,
  ) {
    super(detail);
  }
}

/** Crash-injection points for tests: the hook may throw or kill the process. */
export type TxStep = 'after-begin' | 'after-prepare' | 'after-decide' | 'after-finish' | 'participant-prepared' | 'participant-finished';

export interface CoordinatorOptions {
  cluster: Cluster;
  clock?: Clock;
  timer?: Timer;
  /** How often a leader re-drives leftover transactions. */
  recoveryIntervalMs?: number;
  random?: Random;
  /** Test hook called at each protocol step of a transaction. */
  stepHook?: (step: TxStep, rec?: TxRecord) => void | Promise<void>;
}

function partRef(part: Partition, cs: Copyset): PartitionRef {
  return create(PartitionRefSchema, { poolId: cs.poolId, copysetId: cs.copysetId, partitionId: part.partitionId, fsId: part.fsId });
}

function isRegular(t: number): boolean {
  return t === FileType.TYPE_S3 || t === FileType.TYPE_FILE;
}

function sameRef(a: PartitionRef, b: PartitionRef): boolean {
  return a.partitionId === b.partitionId && a.poolId === b.poolId && a.copysetId === b.copysetId;
}

function renameOut(res: SmResult): RenameOut {
  if (res.status !== StatusCode.OK) throw new CurveError(res.status, res.message);
  const r = res as SmResult & RenameResult;
  return { movedInodeId: r.moved.ino, replacedInodeId: r.replaced?.ino ?? r.exchanged?.ino ?? 0 };
}

type Known = { result: SmResult } | { movedInode: number; replacedInode: number };

/** A rename between two names of the same inode: nothing to do. */
class Noop extends Error {
  constructor(readonly ino: number) {
    super('rename between two names of one inode');
  }
}

interface LocalPlan {
  kind: 'local';
  routes: InodeRoute[];
}
interface TxPlan {
  kind: 'tx';
  rec: TxRecord;
  /** [directory, its new parent] pairs to check for loops after taking the fs rename lock. */
  moves: [number, number][];
}

export class TxCoordinator {
  private readonly cluster: Cluster;
  private readonly clock: Clock;
  private readonly timer: Timer;
  private readonly recoveryIntervalMs: number;
  private readonly stepHook: CoordinatorOptions['stepHook'];
  private readonly random: Random;
  /** Transactions this process is driving (recovery leaves them alone). */
  private readonly running = new Set<string>();
  /** Requests whose TxBegin is in flight. */
  private readonly beginning = new Set<string>();
  private readonly recovering = new Set<string>();
  private recoveryTimer: ReturnType<Timer['setInterval']> | undefined;

  constructor(opts: CoordinatorOptions) {
    this.cluster = opts.cluster;
    this.clock = opts.clock ?? systemClock;
    this.timer = opts.timer ?? systemTimer;
    this.recoveryIntervalMs = opts.recoveryIntervalMs ?? 1000;
    this.stepHook = opts.stepHook;
    this.random = opts.random ?? systemRandom;
  }

  // ---- rename ---------------------------------------------------------------------------------

  async rename(cs: Copyset, req: RenameRequest, deadline: number): Promise<RenameOut> {
    await cs.group.readBarrier(this.remaining(deadline));
    const known = await this.knownOutcome(cs, req.p, req.rid, deadline);
    if (known) return this.renameFromKnown(known);
    let forceTx = false;
    for (let attempt = 0; ; attempt++) {
      const part = this.partition(cs, req.p);
      try {
        const plan = await this.planRename(cs, part, req, deadline, forceTx);
        if (plan.kind === 'local') {
          const r = await cs.propose(OpType.Rename, create(RenameEntrySchema, { req, routes: plan.routes }), this.remaining(deadline));
          if (r.status === StatusCode.TX_KEY_LOCKED) throw new Replan(r.status, r.message ?? '', (r as { lockEpoch?: number }).lockEpoch);
          if (r.status === StatusCode.TX_FAILED) {
            forceTx = true;
            continue;
          }
          const out = renameOut(r);
          const follow = (r as { followup?: TxId }).followup;
          if (follow) void this.recoverOne(cs, txKey(follow));
          return out;
        }
        const rec = await this.runTx(cs, plan, deadline);
        return { movedInodeId: rec.movedInode, replacedInodeId: rec.replacedInode };
      } catch (e) {
        if (e instanceof Noop) return { movedInodeId: e.ino, replacedInodeId: 0 };
        if (!(e instanceof Replan)) throw e;
        await this.backoff(cs, e, attempt, deadline);
      }
    }
  }

  private async planRename(cs: Copyset, part: Partition, req: RenameRequest, deadline: number, forceTx: boolean): Promise<LocalPlan | TxPlan> {
    const fsId = part.fsId;
    for (const n of [req.oldName, req.newName]) {
      const c = checkName(n);
      if (c !== StatusCode.OK) throw new CurveError(c, `bad name ${JSON.stringify(n)}`);
    }
    if ((req.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0 || req.flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
      throw new CurveError(StatusCode.PARAM_ERROR, `bad rename flags ${req.flags}`);
    }
    const newRef = req.newP ?? req.p!;
    if (newRef.fsId !== fsId) throw new CurveError(StatusCode.CROSS_DEVICE, `rename from fs ${fsId} to fs ${newRef.fsId}`);
    const here = partRef(part, cs);
    const same = sameRef(newRef, here);
    const s = part.getDentry(req.oldParent, req.oldName);
    if (s.status !== StatusCode.OK) throw new CurveError(s.status, s.message);
    const x = s.dentry.ino;
    const xt = s.dentry.type;
    let r: { ino: number; type: number } | undefined;
    if (same) {
      const d = part.getDentry(req.newParent, req.newName);
      if (d.status === StatusCode.OK) r = { ino: d.dentry.ino, type: d.dentry.type };
      else if (d.status !== StatusCode.NOT_FOUND) throw new CurveError(d.status, d.message);
    } else {
      r = await this.cluster.getDentry(newRef, req.newParent, req.newName, deadline);
    }
    const exchange = (req.flags & RENAME_EXCHANGE) !== 0;
    if (r && r.ino === x) {
      // Two names of one inode: POSIX says do nothing.
      if (same) return { kind: 'local', routes: [] };
      throw new Noop(x);
    }
    if (req.flags & RENAME_NOREPLACE && r) throw new CurveError(StatusCode.DENTRY_EXIST, `${JSON.stringify(req.newName)} exists`);
    if (exchange && !r) throw new CurveError(StatusCode.NOT_FOUND, `${JSON.stringify(req.newName)} not found`);
    const xDir = xt === FileType.TYPE_DIRECTORY;
    const rDir = r?.type === FileType.TYPE_DIRECTORY;
    if (!exchange && r) {
      if (xDir && !rDir) throw new CurveError(StatusCode.NOT_DIRECTORY, `${JSON.stringify(req.newName)} is not a directory`);
      if (!xDir && rDir) throw new CurveError(StatusCode.IS_DIRECTORY, `${JSON.stringify(req.newName)} is a directory`);
    }
    if (xDir && x === req.newParent) throw new CurveError(StatusCode.INVALID_RENAME, 'directory into itself');
    if (exchange && rDir && r!.ino === req.oldParent) throw new CurveError(StatusCode.INVALID_RENAME, 'directory into itself');
    const moved = req.oldParent !== req.newParent;
    const moves: [number, number][] = [];
    if (moved && xDir) moves.push([x, req.newParent]);
    if (moved && exchange && rDir) moves.push([r!.ino, req.oldParent]);

    const xRef = part.owns(x) ? here : await this.cluster.locate(fsId, x);
    const rRef = r ? (part.owns(r.ino) ? here : await this.cluster.locate(fsId, r.ino)) : undefined;

    if (same && !forceTx) {
      const remoteDirR = r && !exchange && rDir && !sameRef(rRef!, here);
      const walkLocal = moves.length === 0 || (part.owns(ROOT_INODE_ID) && moves.every(([d, t]) => part.owns(d) && localWalk(part, t)));
      if (!remoteDirR && walkLocal) {
        const routes: InodeRoute[] = [];
        if (!sameRef(xRef, here)) routes.push({ $typeName: 'curvefs.metaserver.InodeRoute', inode: x, p: xRef });
        if (r && !sameRef(rRef!, here)) routes.push({ $typeName: 'curvefs.metaserver.InodeRoute', inode: r.ino, p: rRef });
        return { kind: 'local', routes };
      }
    }

    // Lengths of regular files, for the directories' byte counters.
    const xLen = isRegular(xt) ? (sameRef(xRef, here) ? lengthOf(part, x) : (await this.cluster.getInodeAttr(xRef, x, deadline)).length) : 0;
    const rLen = r && isRegular(r.type) ? (sameRef(rRef!, here) ? lengthOf(part, r.ino) : (await this.cluster.getInodeAttr(rRef!, r.ino, deadline)).length) : 0;

    const shares = new Map<string, TxPart>();
    const share = (ref: PartitionRef): TxPart => {
      const k = `${ref.poolId}:${ref.copysetId}:${ref.partitionId}`;
      let s = shares.get(k);
      if (!s) shares.set(k, (s = create(TxPartSchema, { p: ref })));
      return s;
    };
    const local = share(here);
    local.dentries.push(create(TxDentryActionSchema, {
      parent: req.oldParent, name: req.oldName, expectInode: x, expectType: xt,
      setInode: exchange ? r!.ino : 0, setType: exchange ? r!.type : 0, expectLength: xLen, setLength: exchange ? rLen : 0,
    }));
    share(newRef).dentries.push(create(TxDentryActionSchema, {
      parent: req.newParent, name: req.newName, expectInode: r?.ino ?? 0, expectType: r?.type ?? 0,
      setInode: x, setType: xt, expectLength: rLen, setLength: xLen,
    }));
    // In a one-partition rename the partition's own rename op updates local inodes; their
    // actions there only lock (and seal) them.
    const effects = (ref: PartitionRef): boolean => !(same && sameRef(ref, here));
    if (moved) {
      const eff = effects(xRef);
      share(xRef).inodes.push(create(TxInodeActionSchema, { inode: x, unlinkParent: eff ? req.oldParent : 0, linkParent: eff ? req.newParent : 0 }));
    }
    if (r && !exchange) {
      const eff = effects(rRef!);
      if (eff || rDir) share(rRef!).inodes.push(create(TxInodeActionSchema, { inode: r.ino, unlinkParent: eff ? req.newParent : 0, seal: rDir }));
    }
    if (r && exchange && moved) {
      const eff = effects(rRef!);
      share(rRef!).inodes.push(create(TxInodeActionSchema, { inode: r.ino, unlinkParent: eff ? req.newParent : 0, linkParent: eff ? req.oldParent : 0 }));
    }
    if (moves.length > 0) {
      const rootRef = part.owns(ROOT_INODE_ID) ? here : await this.cluster.locate(fsId, ROOT_INODE_ID);
      share(rootRef).fsLock = true;
    }
    const rec = create(TxRecordSchema, {
      rid: req.rid,
      kind: TxKind.TX_RENAME,
      local,
      participants: [...shares.values()].filter((s) => s !== local).map((s) => create(TxParticipantSchema, { part: s, prepared: true })),
      time: req.time,
      movedInode: x,
      replacedInode: r?.ino ?? 0,
      beganMs: this.clock.wallTime()[0] * 1000,
    });
    return { kind: 'tx', rec, moves };
  }

  // ---- rmdir ----------------------------------------------------------------------------------

  async rmdir(cs: Copyset, req: RmdirRequest, deadline: number): Promise<RmdirOut> {
    await cs.group.readBarrier(this.remaining(deadline));
    const fsIdOf = (): number => this.partition(cs, req.p).fsId;
    const dentryOut = (ino: number): RmdirOut => ({
      dentry: { fsId: fsIdOf(), inodeId: ino, parentInodeId: req.parentInodeId, name: req.name, type: FileType.TYPE_DIRECTORY },
    });
    const k = await this.knownOutcome(cs, req.p, req.rid, deadline);
    if (k) {
      if ('result' in k) {
        const res = k.result as SmResult & { dentry?: { ino: number } };
        if (res.status !== StatusCode.OK) throw new CurveError(res.status, res.message);
        return dentryOut(res.dentry?.ino ?? 0);
      }
      return dentryOut(k.movedInode);
    }
    for (let attempt = 0; ; attempt++) {
      const part = this.partition(cs, req.p);
      try {
        const d = part.getDentry(req.parentInodeId, req.name);
        if (d.status !== StatusCode.OK) throw new CurveError(d.status, d.message);
        if (d.dentry.type !== FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_DIRECTORY, `${JSON.stringify(req.name)} is not a directory`);
        const c = d.dentry.ino;
        if (part.owns(c)) {
          const r = await cs.propose(OpType.Rmdir, req, this.remaining(deadline));
          if (r.status === StatusCode.TX_KEY_LOCKED) throw new Replan(r.status, r.message ?? '', (r as { lockEpoch?: number }).lockEpoch);
          if (r.status === StatusCode.TX_FAILED) throw new Replan(r.status, r.message ?? '');
          if (r.status !== StatusCode.OK) throw new CurveError(r.status, r.message);
          return dentryOut(c);
        }
        const cRef = await this.cluster.locate(part.fsId, c);
        const rec = create(TxRecordSchema, {
          rid: req.rid,
          kind: TxKind.TX_RMDIR,
          local: create(TxPartSchema, {
            p: partRef(part, cs),
            dentries: [create(TxDentryActionSchema, { parent: req.parentInodeId, name: req.name, expectInode: c, expectType: FileType.TYPE_DIRECTORY, toTrash: req.toTrash })],
          }),
          // Into the trash: the directory keeps its links and stays sealed (architecture.md §6c).
          participants: [create(TxParticipantSchema, {
            part: create(TxPartSchema, { p: cRef, inodes: [create(TxInodeActionSchema, { inode: c, unlinkParent: req.toTrash ? 0 : req.parentInodeId, seal: true })] }),
            prepared: true,
          })],
          time: req.time,
          movedInode: c,
          beganMs: this.clock.wallTime()[0] * 1000,
        });
        await this.runTx(cs, { kind: 'tx', rec, moves: [] }, deadline);
        return dentryOut(c);
      } catch (e) {
        if (!(e instanceof Replan)) throw e;
        await this.backoff(cs, e, attempt, deadline);
      }
    }
  }

  // ---- unlink of a remote inode -------------------------------------------------------------------

  /**
   * unlink(2) of a name whose inode lives in another partition, as one transaction (dentry
   * removed here, the link dropped there), so that no client step is left to crash before
   * (issue [H] scenario 4; docs/rename.md §4a). Undefined when the one-entry Unlink applies: the
   * inode is local, the name is missing or a directory (the Unlink op gives the precise error),
   * or this request already has a result (the Unlink op returns it from the request table). The
   * one-entry Unlink refuses a name whose inode turned remote after this look (TX_FAILED), and
   * the caller asks again.
   */
  async unlinkRemote(cs: Copyset, req: UnlinkRequest, deadline: number): Promise<RemoteUnlinkOut | undefined> {
    await cs.group.readBarrier(this.remaining(deadline));
    if (await this.knownOutcome(cs, req.p, req.rid, deadline)) return undefined;
    for (let attempt = 0; ; attempt++) {
      const part = this.partition(cs, req.p);
      // A locked name is about to change (a rename may be landing on it, from a partition where
      // it is already acknowledged): what it names decides the path, so look after the release.
      const lock = cs.sm.tx.dentryLock(part.fsId, req.parentInodeId, req.name);
      if (lock) {
        await cs.waitRelease(cs.sm.lockEpoch, deadline, `(${req.parentInodeId}, ${JSON.stringify(req.name)}) is locked by tx ${lock.tx}`);
        continue;
      }
      const d = part.getDentry(req.parentInodeId, req.name);
      if (d.status !== StatusCode.OK || d.dentry.type === FileType.TYPE_DIRECTORY || part.owns(d.dentry.ino)) return undefined;
      const x = d.dentry.ino;
      const type = d.dentry.type;
      try {
        const xRef = await this.cluster.locate(part.fsId, x);
        const attr = await this.cluster.getInodeAttr(xRef, x, deadline);
        const len = isRegular(type) ? attr.length : 0;
        // The fs's trash takes a last name (a clone or a file whose parent's partition was full):
        // the name goes to this partition's trash and the inode keeps its link (§6c).
        const trash = req.toTrash && attr.nlink === 1;
        const rec = create(TxRecordSchema, {
          rid: req.rid,
          kind: TxKind.TX_UNLINK,
          local: create(TxPartSchema, {
            p: partRef(part, cs),
            dentries: [create(TxDentryActionSchema, { parent: req.parentInodeId, name: req.name, expectInode: x, expectType: type, expectLength: len, toTrash: trash })],
          }),
          participants: [create(TxParticipantSchema, {
            part: create(TxPartSchema, { p: xRef, inodes: [create(TxInodeActionSchema, { inode: x, unlinkParent: trash ? 0 : req.parentInodeId })] }),
            prepared: true,
          })],
          time: req.time,
          movedInode: x,
          beganMs: this.clock.wallTime()[0] * 1000,
        });
        await this.runTx(cs, { kind: 'tx', rec, moves: [] }, deadline);
        return { dentry: { fsId: part.fsId, inodeId: x, parentInodeId: req.parentInodeId, name: req.name, type }, inodeUnlinked: !trash, trashed: trash };
      } catch (e) {
        if (!(e instanceof Replan)) throw e;
        await this.backoff(cs, e, attempt, deadline);
      }
    }
  }

  // ---- link(2) ----------------------------------------------------------------------------------

  /**
   * link(2) in one call: the new name here and the inode's new link, as one transaction
   * (docs/rename.md §4b; issue [H] scenario 4) — before, the client sent LinkInode and then
   * CreateDentry, and a crash between them left a link no name accounts for, never reclaimed.
   * A local inode needs no participant: both changes are in the commit entry. Answers the
   * inode's attributes after it (first parent only, as LinkInode answers).
   */
  async link(cs: Copyset, req: CreateDentryRequest, deadline: number): Promise<LinkedInode> {
    const ino = await this.linkOnce(cs, req, deadline);
    const part = this.partition(cs, req.p);
    let a: LinkedInode;
    if (part.owns(ino)) {
      const r = part.getInodeAttr(ino);
      if (r.status !== StatusCode.OK) throw new CurveError(r.status, r.message);
      a = r.inode;
    } else {
      // Waits, at the inode's leader, for the participant's share if it is still being delivered.
      a = await this.cluster.getInodeAttr(await this.cluster.locate(part.fsId, ino), ino, deadline);
    }
    return a.parent && a.parent.length > 1 ? { ...a, parent: a.parent.slice(0, 1) } : a;
  }

  /** Runs (or finds the outcome of) the link's transaction; answers the inode id. */
  private async linkOnce(cs: Copyset, req: CreateDentryRequest, deadline: number): Promise<number> {
    const dentry = req.dentry;
    if (!dentry) throw new CurveError(StatusCode.PARAM_ERROR, 'CreateDentry without a dentry');
    const { inodeId: x, parentInodeId: parent, name } = dentry;
    const bad = checkName(name);
    if (bad !== StatusCode.OK) throw new CurveError(bad, `bad name ${JSON.stringify(name)}`);
    await cs.group.readBarrier(this.remaining(deadline));
    const known = await this.knownOutcome(cs, req.p, req.rid, deadline);
    if (known) {
      if (!('result' in known)) return known.movedInode;
      const res = known.result as SmResult & { dentry?: { ino: number } };
      if (res.status !== StatusCode.OK) throw new CurveError(res.status, res.message);
      return res.dentry?.ino ?? x;
    }
    for (let attempt = 0; ; attempt++) {
      const part = this.partition(cs, req.p);
      try {
        if (!part.owns(parent)) throw new CurveError(StatusCode.ID_OUT_OF_RANGE, `directory ${parent} is not in partition ${part.partitionId}`);
        const dir = part.getInodeAttr(parent);
        if (dir.status !== StatusCode.OK) throw new CurveError(dir.status, dir.message);
        if (dir.inode.type !== FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_DIRECTORY, `${parent} is not a directory`);
        if (part.getDentry(parent, name).status === StatusCode.OK) throw new CurveError(StatusCode.DENTRY_EXIST, `${JSON.stringify(name)} exists`);
        const local = part.owns(x);
        const xRef = local ? partRef(part, cs) : await this.cluster.locate(part.fsId, x);
        const attr = local ? part.getInodeAttr(x) : undefined;
        if (attr && attr.status !== StatusCode.OK) throw new CurveError(attr.status, attr.message);
        const a = attr?.inode ?? (await this.cluster.getInodeAttr(xRef, x, deadline));
        if (a.type === FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_PERMITTED, 'hard link to a directory');
        const newLink = create(TxInodeActionSchema, { inode: x, linkParent: parent });
        const rec = create(TxRecordSchema, {
          rid: req.rid,
          kind: TxKind.TX_LINK,
          local: create(TxPartSchema, {
            p: partRef(part, cs),
            dentries: [create(TxDentryActionSchema, { parent, name, expectInode: 0, setInode: x, setType: a.type, setLength: isRegular(a.type) ? a.length : 0 })],
            inodes: local ? [newLink] : [],
          }),
          participants: local ? [] : [create(TxParticipantSchema, { part: create(TxPartSchema, { p: xRef, inodes: [newLink] }), prepared: true })],
          time: req.time,
          movedInode: x,
          beganMs: this.clock.wallTime()[0] * 1000,
        });
        await this.runTx(cs, { kind: 'tx', rec, moves: [] }, deadline);
        return x;
      } catch (e) {
        if (!(e instanceof Replan)) throw e;
        await this.backoff(cs, e, attempt, deadline);
      }
    }
  }

  // ---- the transaction ------------------------------------------------------------------------

  /** Runs a planned transaction to its decision; returns the committed record or throws. */
  private async runTx(cs: Copyset, plan: TxPlan, deadline: number): Promise<TxRecord> {
    const rk = plan.rec.rid ? ridKey(plan.rec.rid.clientId, plan.rec.rid.seq) : undefined;
    if (rk) this.beginning.add(`${cs.groupId}/${rk}`);
    let begin: SmResult & { txId?: TxId; joined?: boolean; finished?: unknown };
    try {
      begin = await cs.propose(OpType.TxBegin, plan.rec, this.remaining(deadline));
    } finally {
      if (rk) this.beginning.delete(`${cs.groupId}/${rk}`);
    }
    if (begin.status === StatusCode.TX_KEY_LOCKED || begin.status === StatusCode.TX_WRITE_CONFLICT) {
      throw new Replan(begin.status, begin.message ?? '', (begin as { lockEpoch?: number }).lockEpoch);
    }
    if (begin.status !== StatusCode.OK) throw new CurveError(begin.status, begin.message);
    if (begin.finished || begin.joined) {
      // Another attempt of the same request got there first.
      const done = await this.awaitDecision(cs, begin.joined ? txKey(begin.txId) : undefined, plan.rec, deadline);
      return done;
    }
    const k = txKey(begin.txId);
    const rec = cs.sm.tx.records.get(k)!;
    this.running.add(k);
    try {
      await this.stepHook?.('after-begin', rec);
      let status: StatusCode = StatusCode.OK;
      let detail = '';
      const participants = rec.participants.map((p) => p.part!);
      const lockFirst = participants.filter((p) => p.fsLock);
      const rest = participants.filter((p) => !p.fsLock);
      for (const p of lockFirst) {
        const s = await this.prepareOne(cs, rec, p, deadline);
        if (s.status !== StatusCode.OK) ({ status, detail } = s);
      }
      if (status === StatusCode.OK && plan.moves.length > 0) {
        const s = await this.walk(cs, rec.local!.p!.fsId, plan.moves, deadline);
        if (s.status !== StatusCode.OK) ({ status, detail } = s);
      }
      if (status === StatusCode.OK) {
        const results = await Promise.all(rest.map((p) => this.prepareOne(cs, rec, p, deadline)));
        const bad = results.find((r) => r.status !== StatusCode.OK);
        if (bad) ({ status, detail } = bad);
      }
      await this.stepHook?.('after-prepare', rec);
      const dec = await cs.propose(OpType.TxDecide, { $typeName: 'curvefs.metaserver.TxDecideEntry', id: rec.id, commit: status === StatusCode.OK, error: status }, this.remaining(deadline, 1000));
      if (dec.status !== StatusCode.OK) throw new CurveError(dec.status, dec.message);
      const state = (dec as { state?: TxState }).state;
      const decided = cs.sm.tx.records.get(k) ?? rec;
      await this.stepHook?.('after-decide', decided);
      const acked = await this.finishAll(cs, decided, state === TxState.TX_COMMITTED, deadline);
      await this.stepHook?.('after-finish', decided);
      if (acked && decided.participants.length > 0) void this.forget(cs, decided.id!);
      if (state === TxState.TX_COMMITTED) return decided;
      const why = status !== StatusCode.OK ? status : decided.error;
      if (why === StatusCode.TX_KEY_LOCKED || why === StatusCode.TX_WRITE_CONFLICT || why === StatusCode.TX_ROLLBACKED) {
        throw new Replan(why, detail);
      }
      throw new CurveError(why, detail || `transaction ${k} aborted`);
    } finally {
      this.running.delete(k);
    }
  }

  private async prepareOne(cs: Copyset, rec: TxRecord, part: TxPart, deadline: number): Promise<{ status: StatusCode; detail: string }> {
    try {
      await this.cluster.prepare(part.p!, {
        $typeName: 'curvefs.metaserver.TxPrepareRequest',
        tx: { $typeName: 'curvefs.metaserver.TxPrepared', id: rec.id, coordinator: rec.local!.p, part, time: rec.time },
        coordinatorFloor: coordinatorFloor(cs, rec.id!.partitionId),
      }, deadline);
      return { status: StatusCode.OK, detail: '' };
    } catch (e) {
      if (e instanceof CurveError) return { status: e.status === StatusCode.TIMEOUT ? StatusCode.TX_TIMEOUT : e.status, detail: e.message };
      return { status: StatusCode.TX_FAILED, detail: String(e) };
    }
  }

  /**
   * The loop check (docs/rename.md §3.3), run while this transaction holds the fs rename lock:
   * walk from each new parent up to the root; meeting the moving directory is a loop.
   */
  private async walk(cs: Copyset, fsId: number, moves: [number, number][], deadline: number): Promise<{ status: StatusCode; detail: string }> {
    try {
      for (const [dir, target] of moves) {
        let cur = target;
        for (let depth = 0; cur !== ROOT_INODE_ID; depth++) {
          if (cur === dir) return { status: StatusCode.INVALID_RENAME, detail: `directory ${dir} would move into its own subtree` };
          if (depth > MAX_DEPTH) return { status: StatusCode.INVALID_RENAME, detail: `directory chain deeper than ${MAX_DEPTH}` };
          const localPart = [...cs.sm.partitions.values()].find((p) => p.fsId === fsId && p.owns(cur));
          let parents: number[];
          if (localPart && cs.isLeader()) {
            const a = localPart.getInodeAttr(cur);
            if (a.status !== StatusCode.OK) return { status: a.status, detail: a.message };
            parents = a.inode.parent;
          } else {
            const ref = await this.cluster.locate(fsId, cur);
            parents = (await this.cluster.getInodeAttr(ref, cur, deadline)).parent;
          }
          if (parents.length === 0) return { status: StatusCode.NOT_FOUND, detail: `directory ${cur} has no parent` };
          cur = parents[0]!;
        }
      }
      return { status: StatusCode.OK, detail: '' };
    } catch (e) {
      return { status: e instanceof CurveError ? e.status : StatusCode.TX_FAILED, detail: String(e) };
    }
  }

  /**
   * Sends the decision to every participant that has not acknowledged it yet; true when all
   * have. Acknowledgements are recorded in the record (a TxForget entry with acks), so neither
   * this leader nor a later one sends the decision again to a participant that applied it — a
   * participant forgets its tombstone once the coordinator's floor passes the transaction. The
   * holder of the fs rename lock is told last, once the others (the moved directory's parent
   * pointer among them) applied the decision.
   */
  private async finishAll(cs: Copyset, rec: TxRecord, commit: boolean, deadline: number): Promise<boolean> {
    const first = await this.finishSome(cs, rec, rec.participants.filter((pp) => !pp.part?.fsLock), commit, deadline);
    let acked = first.acked;
    if (first.all) {
      const lockHolders = rec.participants.filter((pp) => pp.part?.fsLock);
      const last = await this.finishSome(cs, rec, lockHolders, commit, deadline);
      // Everyone acknowledged: the caller forgets the record, which needs no acks.
      if (last.all) return true;
      acked = [...acked, ...last.acked];
    }
    if (acked.length > 0) {
      await cs.propose(OpType.TxForget, {
        $typeName: 'curvefs.metaserver.TxForgetEntry',
        ids: [],
        acks: acked.map((partitionId) => ({ $typeName: 'curvefs.metaserver.TxAck', id: rec.id, partitionId })),
      }).catch((e: unknown) => log.debug('recording acknowledgements failed; those participants hear again', { tx: txKey(rec.id), error: String(e) }));
    }
    return false;
  }

  private async finishSome(
    cs: Copyset,
    rec: TxRecord,
    list: TxRecord['participants'],
    commit: boolean,
    deadline: number,
  ): Promise<{ all: boolean; acked: number[] }> {
    const floor = coordinatorFloor(cs, rec.id!.partitionId);
    const todo = list.filter((pp) => !pp.acked);
    const results = await Promise.all(
      todo.map(async (pp) => {
        const part = pp.part!;
        try {
          await this.cluster.finish(part.p!, {
            $typeName: 'curvefs.metaserver.TxFinishRequest',
            p: part.p,
            id: rec.id,
            commit,
            time: rec.time,
            part: pp.prepared ? undefined : part,
            unprepared: !pp.prepared,
            coordinatorFloor: floor,
          }, deadline);
          return true;
        } catch (e) {
          log.info('participant did not apply the decision yet', { tx: txKey(rec.id), partition: part.p?.partitionId, error: String(e) });
          return false;
        }
      }),
    );
    return { all: results.every(Boolean), acked: todo.filter((_, i) => results[i]).map((pp) => pp.part!.p!.partitionId) };
  }

  private async forget(cs: Copyset, id: TxId): Promise<void> {
    try {
      await cs.propose(OpType.TxForget, { $typeName: 'curvefs.metaserver.TxForgetEntry', ids: [id], acks: [] });
    } catch (e) {
      log.debug('forget failed; recovery retries', { tx: txKey(id), error: String(e) });
    }
  }

  /** Waits for a record to be decided (another attempt or the recovery is driving it). */
  private async awaitDecision(cs: Copyset, k: string | undefined, rec: TxRecord, deadline: number): Promise<TxRecord> {
    for (let i = 0; ; i++) {
      const cur = k ? cs.sm.tx.records.get(k) : undefined;
      if (cur && cur.state === TxState.TX_COMMITTED) return cur;
      if (cur && cur.state === TxState.TX_ABORTED) throw new Replan(StatusCode.TX_ROLLBACKED, 'the earlier attempt aborted');
      if (!cur) {
        const part = cs.sm.partition(rec.local?.p);
        const out = rec.rid && 'partitionId' in part ? outcomeOf(cs.sm, part, rec.rid.clientId, rec.rid.seq) : undefined;
        if (out) return create(TxRecordSchema, { ...rec, state: TxState.TX_COMMITTED, movedInode: out.movedInode, replacedInode: out.replacedInode });
        throw new Replan(StatusCode.TX_ROLLBACKED, 'the earlier attempt left no outcome');
      }
      await this.delay(Math.min(50, 2 + i * 2), deadline);
    }
  }

  // ---- request ids ------------------------------------------------------------------------------

  /**
   * The outcome of an earlier attempt of this request, if any (after waiting for it to be
   * decided); undefined when there was none or it aborted (then this attempt runs it again).
   */
  private async knownOutcome(
    cs: Copyset,
    p: PartitionRef | undefined,
    rid: { clientId: number; seq: number } | undefined,
    deadline: number,
  ): Promise<Known | undefined> {
    if (!rid || (rid.clientId === 0 && rid.seq === 0)) return undefined;
    const part = this.partition(cs, p);
    const seen = part.requests.lookup(rid.clientId, rid.seq);
    if (seen.kind === 'duplicate') return { result: seen.result as SmResult };
    if (seen.kind === 'stale') throw new CurveError(StatusCode.STALE, `request ${rid.clientId}/${rid.seq} is older than the retained window`);
    if (seen.kind === 'expired') {
      const e = sessionExpired(rid.clientId, rid.seq);
      throw new CurveError(e.status, e.message);
    }
    const out = cs.sm.tx.outcome(rid.clientId, rid.seq);
    if (out) return out;
    const rec = cs.sm.tx.recordByRid(rid.clientId, rid.seq);
    if (!rec) return undefined;
    try {
      const r = await this.awaitDecision(cs, txKey(rec.id), rec, deadline);
      return { movedInode: r.movedInode, replacedInode: r.replacedInode };
    } catch (e) {
      if (e instanceof Replan) return undefined;
      throw e;
    }
  }

  private renameFromKnown(k: Known): RenameOut {
    if ('result' in k) return renameOut(k.result);
    return { movedInodeId: k.movedInode, replacedInodeId: k.replacedInode };
  }

  /** The partition holding inode `ino` (the trash routes entries whose inode lives elsewhere). */
  locate(fsId: number, ino: number): Promise<PartitionRef> {
    return this.cluster.locate(fsId, ino);
  }

  // ---- recovery -------------------------------------------------------------------------------

  /** Starts re-driving leftover transactions of every copyset this process leads. */
  startRecovery(copysets: () => Iterable<Copyset>): void {
    this.stopRecovery();
    this.recoveryTimer = this.timer.setInterval(() => {
      for (const cs of copysets()) if (cs.isLeader()) void this.recover(cs);
    }, this.recoveryIntervalMs);
  }

  stopRecovery(): void {
    if (this.recoveryTimer) this.timer.clear(this.recoveryTimer);
    this.recoveryTimer = undefined;
  }

  /** One recovery pass over a copyset (on leadership and periodically). */
  async recover(cs: Copyset): Promise<void> {
    for (const rec of [...cs.sm.tx.records.values()]) await this.recoverOne(cs, txKey(rec.id));
  }

  async recoverOne(cs: Copyset, k: string): Promise<void> {
    const key = `${cs.groupId}/${k}`;
    if (this.running.has(k) || this.recovering.has(key)) return;
    const rec = cs.sm.tx.records.get(k);
    if (!rec || !cs.isLeader()) return;
    if (rec.rid && this.beginning.has(`${cs.groupId}/${ridKey(rec.rid.clientId, rec.rid.seq)}`)) return;
    this.recovering.add(key);
    try {
      const deadline = this.clock.now() + 5000;
      if (rec.state === TxState.TX_PREPARING) {
        log.info('aborting an undecided transaction left by an earlier leader', { tx: k });
        await cs.propose(OpType.TxDecide, { $typeName: 'curvefs.metaserver.TxDecideEntry', id: rec.id, commit: false, error: StatusCode.TX_TIMEOUT }, 5000);
      }
      const decided = cs.sm.tx.records.get(k);
      if (!decided || decided.state === TxState.TX_PREPARING) return;
      if (await this.finishAll(cs, decided, decided.state === TxState.TX_COMMITTED, deadline)) await this.forget(cs, decided.id!);
    } catch (e) {
      log.debug('recovery pass failed; will retry', { tx: k, error: String(e) });
    } finally {
      this.recovering.delete(key);
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private partition(cs: Copyset, p: PartitionRef | undefined): Partition {
    const part = cs.sm.partition(p);
    if (!('partitionId' in part)) throw new CurveError(part.status, part.message);
    return part;
  }

  private remaining(deadline: number, floor = 0): number {
    const ms = deadline - this.clock.now();
    if (ms <= 0 && floor === 0) throw new CurveError(StatusCode.TX_INPROGRESS, 'deadline passed while the operation waited');
    return Math.max(floor, Math.ceil(ms));
  }

  private async backoff(cs: Copyset, e: Replan, attempt: number, deadline: number): Promise<void> {
    if (this.clock.now() >= deadline) throw new CurveError(StatusCode.TX_INPROGRESS, `still conflicting: ${e.message}`);
    if (e.lockEpoch !== undefined) {
      await cs.waitRelease(e.lockEpoch, deadline, e.message);
      return;
    }
    await this.delay(Math.min(100, 2 * 2 ** Math.min(attempt, 6)) * (0.5 + this.random.next()), deadline);
  }

  private delay(ms: number, deadline: number): Promise<void> {
    const t = Math.max(0, Math.min(ms, deadline - this.clock.now()));
    if (t <= 0) return Promise.reject(new CurveError(StatusCode.TX_INPROGRESS, 'deadline passed while waiting for a transaction'));
    return new Promise((r) => this.timer.setTimeout(r, t));
  }
}

/**
 * The floor a coordinator partition announces to its participants: every transaction of it with
 * a log index at or below it is decided and acknowledged by all participants (records are
 * forgotten only then). Below the oldest record it still holds, or its applied index when it
 * holds none (a later TxBegin gets a higher index). Read from applied state, so a lagging or
 * deposed leader can only announce a lower floor, which participants ignore.
 */
export function coordinatorFloor(cs: Copyset, partitionId: number): number {
  let floor = cs.sm.appliedIndex;
  for (const rec of cs.sm.tx.records.values()) {
    if (rec.id?.partitionId === partitionId && rec.id.index - 1 < floor) floor = rec.id.index - 1;
  }
  return Math.max(0, floor);
}

function lengthOf(part: Partition, ino: number): number {
  const a = part.getInodeAttr(ino);
  return a.status === StatusCode.OK ? a.inode.length : 0;
}

/** True when the chain from `start` to the root lies entirely in `part`. */
function localWalk(part: Partition, start: number): boolean {
  let cur = start;
  for (let depth = 0; cur !== ROOT_INODE_ID; depth++) {
    if (depth > MAX_DEPTH) return false;
    const a = part.getInodeAttr(cur);
    if (a.status !== StatusCode.OK || a.inode.parent.length === 0) return false;
    cur = a.inode.parent[0]!;
  }
  return true;
}

export { RENAME_EXCHANGE, RENAME_NOREPLACE };
export type { RenameResponse, RmdirResponse };
