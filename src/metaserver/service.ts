// MetaServerService: the client's data path. Every call names its copyset and partition; a
// replica that does not lead answers NOT_LEADER with the leader's address (from the consensus
// group); reads are linearizable (ReadIndex, then local state); mutations go through the log
// with the proposer's time stamped in, and are idempotent by RequestId (partition request table).
// Rename and cross-partition rmdir are run by the transaction coordinator (tx/coordinator.ts).
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CurveError, StatusCode, systemClock, type Clock } from '../common/index.ts';
import { FileType, TimespecSchema, type Timespec } from '../gen/common_pb.ts';
import {
  ChunkSliceListSchema,
  DentrySchema,
  InodeAttrSchema,
  InodeSchema,
  MetaServerInternalService,
  MetaServerService,
  XAttrSchema,
  type PartitionRef,
} from '../gen/metaserver_pb.ts';
import type { ServiceImplOf } from '../rpc/types.ts';
import type { DentryInfo, InodeAttr as PInodeAttr, Partition } from './partition/index.ts';
import type { Copyset } from './copyset/copyset.ts';
import { OpType, type OpMsg } from './copyset/op-codec.ts';
import type { OpAnswer, OpOk } from './copyset/op-results.ts';
import type { CopysetStateMachine } from './copyset/state-machine.ts';
import { DEFAULT_CHUNK_SIZE } from './copyset/state-machine.ts';
import type { TxCoordinator, TxStep } from './tx/coordinator.ts';
import { txKey } from './tx/tx-store.ts';
import type { OpMetrics } from './metrics.ts';
import { listDentriesPage, listInodesPage } from './scan-service.ts';
import { noTrash, type TrashRetention } from './trash-policy.ts';
import { proposeTrashOp } from './reclaim/trash-entry.ts';
// st_blocks by the client's rule (one place for it): a pure module over the data layer's slice overlay.
import { blocksOfMap } from '../vfs/allocation.ts';

/** Finds hosted copysets. */
export interface CopysetRegistry {
  get(poolId: number, copysetId: number): Copyset | undefined;
}

export interface ServiceOptions {
  copysets: CopysetRegistry;
  coordinator: TxCoordinator;
  clock?: Clock;
  /** Deadline for calls that carry none, and the longest wait for a transaction lock. */
  defaultTimeoutMs?: number;
  /** Chunk size of an fs (from the MDS fs info); default 64 MiB. */
  chunkSizeOf?: (fsId: number) => number;
  /** Entries per ListDentry page when the request says 0. */
  defaultListLimit?: number;
  metrics?: OpMetrics;
  /** Test hook: called after a participant applied a prepare or a finish (crash injection). */
  stepHook?: (step: TxStep) => void;
  /** Trash retention per fs (trash-policy.ts); default: no trash. */
  trash?: TrashRetention;
}

export const DEFAULT_LIST_LIMIT = 65536;

/** Error results become CurveErrors (the RPC layer puts the status in the frame). */
export function check<R extends { status: StatusCode; message?: string }>(r: R): Extract<R, { status: StatusCode.OK }> {
  if (r.status !== StatusCode.OK) throw new CurveError(r.status, r.message);
  return r as Extract<R, { status: StatusCode.OK }>;
}

/** An entry's answer, or its refusal as a CurveError. */
function checkSm<T extends OpType>(r: OpAnswer<T>): OpOk<T> {
  if (r.status !== StatusCode.OK) throw new CurveError(r.status, r.message);
  return r as OpOk<T>;
}

/**
 * Response parts are plain init objects: the RPC layer builds the message once when it encodes
 * (building it here too would copy every field twice per call).
 */
export function wireAttr(a: PInodeAttr): MessageInitShape<typeof InodeAttrSchema> {
  return a;
}

/**
 * Attributes in a client's answer: the parent list cut to its first entry. A file's list has
 * one entry per hard link; carrying it made every answer about the file (each link(2), stat,
 * write commit) grow with its link count (160 KB per LinkInode at 20,000 links). Clients use
 * only the first parent (a directory's ".."); GetInode and the admin scans answer the whole list.
 */
export function answerAttr(a: PInodeAttr): MessageInitShape<typeof InodeAttrSchema> {
  return a.parent.length > 1 ? { ...a, parent: a.parent.slice(0, 1) } : a;
}

/**
 * Attributes in the answer to a read: with whether the inode has extended attributes and, for a
 * regular file, its st_blocks (counted by the client's own rule, so `ls -l` needs no GETATTR per file).
 */
function readAttr(part: Partition, a: PInodeAttr): MessageInitShape<typeof InodeAttrSchema> {
  const names = part.listXattr(a.inodeId);
  const hasXattrs = names.status === StatusCode.OK ? names.names.length > 0 : undefined;
  if (a.type !== FileType.TYPE_S3 && a.type !== FileType.TYPE_FILE) return { ...answerAttr(a), hasXattrs };
  const chunks = part.chunksView(a.inodeId);
  return { ...answerAttr(a), hasXattrs, blocks: chunks ? blocksOfMap(chunks) : 0 };
}

export function wireDentry(fsId: number, d: DentryInfo): MessageInitShape<typeof DentrySchema> {
  return { fsId, inodeId: d.ino, parentInodeId: d.parent, name: d.name, type: d.type };
}

function safeId(x: number, what: string): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new CurveError(StatusCode.PARAM_ERROR, `bad ${what} ${x}`);
}

export class MetaService {
  private readonly copysets: CopysetRegistry;
  private readonly coordinator: TxCoordinator;
  private readonly clock: Clock;
  private readonly defaultTimeoutMs: number;
  private readonly chunkSizeOf: (fsId: number) => number;
  private readonly listLimit: number;
  private readonly metrics: OpMetrics | undefined;
  private readonly trash: TrashRetention;
  private readonly stepHook: ((step: TxStep) => void) | undefined;
  private implCache: ServiceImplOf<typeof MetaServerService> | undefined;
  private internalCache: ServiceImplOf<typeof MetaServerInternalService> | undefined;

  constructor(opts: ServiceOptions) {
    this.stepHook = opts.stepHook;
    this.copysets = opts.copysets;
    this.coordinator = opts.coordinator;
    this.clock = opts.clock ?? systemClock;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 10_000;
    this.chunkSizeOf = opts.chunkSizeOf ?? (() => DEFAULT_CHUNK_SIZE);
    this.listLimit = opts.defaultListLimit ?? DEFAULT_LIST_LIMIT;
    this.metrics = opts.metrics;
    this.trash = opts.trash ?? noTrash;
  }

  /** The copyset of `p`, which must be hosted here. */
  copysetOf(p: PartitionRef | undefined): Copyset {
    if (!p) throw new CurveError(StatusCode.PARAM_ERROR, 'request without a partition header');
    const cs = this.copysets.get(p.poolId, p.copysetId);
    if (!cs) throw new CurveError(StatusCode.COPYSET_NOTEXIST, `copyset ${p.poolId}:${p.copysetId} is not on this metaserver`);
    return cs;
  }

  deadline(ctxDeadline: number | undefined): number {
    const d = this.clock.now() + this.defaultTimeoutMs;
    return ctxDeadline !== undefined && Number.isFinite(ctxDeadline) ? Math.min(ctxDeadline, d) : d;
  }

  now(t: Timespec | undefined): Timespec {
    if (t && (t.sec !== 0 || t.nsec !== 0)) return t;
    const [sec, nsec] = this.clock.wallTime();
    return create(TimespecSchema, { sec, nsec });
  }

  private partitionIn(sm: CopysetStateMachine, p: PartitionRef | undefined): Partition {
    const part = sm.partition(p);
    if ('status' in part && !('partitionId' in part)) throw new CurveError(part.status, part.message);
    return part as Partition;
  }

  /**
   * A directory's attributes right after a rename or rmdir this leader coordinated, for the
   * answer (the client then answers the kernel's GETATTR of the directory without a read).
   * Only when they surely include the change: it ran as one log entry here, or as a transaction
   * whose record is gone (forgotten only after its local part was applied) — so only while
   * the copyset holds no coordinator record at all. Undefined otherwise; the client reads then.
   */
  private attrAfterChange(cs: Copyset, p: PartitionRef | undefined, dir: number): MessageInitShape<typeof InodeAttrSchema> | undefined {
    if (cs.sm.tx.records.size > 0) return undefined;
    return this.dirAttrNow(cs, p, dir);
  }

  /** A directory's attributes as this replica has them now (undefined when it cannot say). */
  private dirAttrNow(cs: Copyset, p: PartitionRef | undefined, dir: number): MessageInitShape<typeof InodeAttrSchema> | undefined {
    const part = cs.sm.partition(p);
    if ('status' in part && !('partitionId' in part)) return undefined;
    const a = (part as Partition).getInodeAttr(dir);
    return a.status === StatusCode.OK ? readAttr(part as Partition, a.inode) : undefined;
  }

  /** Timed wrapper for metrics. */
  private async timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (!this.metrics) return fn();
    const start = this.clock.now();
    try {
      const r = await fn();
      this.metrics.observe(op, this.clock.now() - start, StatusCode.OK);
      return r;
    } catch (e) {
      this.metrics.observe(op, this.clock.now() - start, e instanceof CurveError ? e.status : StatusCode.UNKNOWN_ERROR);
      throw e;
    }
  }

  /** A linearizable read of partition `p`, waiting while `blocked` names a participant lock. */
  private read<R>(op: string, p: PartitionRef | undefined, deadline: number, fn: (part: Partition, sm: CopysetStateMachine) => R, blocked?: (sm: CopysetStateMachine, fsId: number) => string | undefined): Promise<R> {
    return this.timed(op, async () => {
      const cs = this.copysetOf(p);
      return cs.read(
        (sm) => fn(this.partitionIn(sm, p), sm),
        deadline,
        blocked ? (sm) => blocked(sm, p!.fsId) : undefined,
      );
    });
  }

  /** Proposes `msg` as an entry of `type` in p's copyset; its OK answer, typed by the op. */
  private mutate<T extends OpType>(op: string, p: PartitionRef | undefined, deadline: number, type: T, msg: OpMsg<T>): Promise<OpOk<T>> {
    return this.timed(op, async () => {
      const cs = this.copysetOf(p);
      return checkSm(await cs.proposeWaiting(type, msg, deadline));
    });
  }

  /** Whether the fs of `p` keeps a trash now (the leader stamps unlinks and rmdirs with it). */
  private async trashOn(p: PartitionRef | undefined): Promise<boolean> {
    if (!p) return false;
    const retention = this.trash.retentionSec(p.fsId);
    return (typeof retention === 'number' ? retention : await retention) > 0;
  }

  /** The RPC implementation. */
  impl(): ServiceImplOf<typeof MetaServerService> {
    return (this.implCache ??= this.buildImpl());
  }

  private buildImpl(): ServiceImplOf<typeof MetaServerService> {
    const participantDentry = (parent: number, name: string) => (sm: CopysetStateMachine, fsId: number) => {
      const h = sm.tx.dentryLock(fsId, parent, name);
      return h?.role === 'participant' ? `(${parent}, ${JSON.stringify(name)}) is being renamed by tx ${h.tx}` : undefined;
    };
    const participantInodes = (ids: readonly number[]) => (sm: CopysetStateMachine, fsId: number) => {
      for (const id of ids) {
        const h = sm.tx.inodeLock(fsId, id);
        if (h?.role === 'participant') return `inode ${id} is being renamed by tx ${h.tx}`;
      }
      return undefined;
    };
    return {
      getDentry: (req, ctx) =>
        this.read('GetDentry', req.p, this.deadline(ctx.deadline), (part, sm) => {
          const r = check(part.getDentry(req.parentInodeId, req.name));
          const dentry = wireDentry(part.fsId, r.dentry);
          if (!(req.withAttr || req.withChunks) || !part.owns(r.dentry.ino)) return { dentry };
          // The same read answers the inode: stat through a lookup is one round trip. A dentry
          // whose inode is being renamed answers without it (the client then asks GetInode,
          // which waits for the rename like any read of that inode).
          if (sm.tx.inodeLock(part.fsId, r.dentry.ino)?.role === 'participant') return { dentry };
          const i = part.getInode(r.dentry.ino);
          if (i.status !== StatusCode.OK) return { dentry };
          const { xattrs, chunks, ...attr } = i.inode;
          const inode = create(InodeSchema, { attr: { ...answerAttr(attr), hasXattrs: xattrs.size > 0 } });
          if (req.withChunks) for (const [k, v] of chunks) inode.chunks[k] = create(ChunkSliceListSchema, { slices: v });
          return { dentry, inode };
        }, participantDentry(req.parentInodeId, req.name)),

      listDentry: (req, ctx) =>
        this.read('ListDentry', req.p, this.deadline(ctx.deadline), (part) => {
          const limit = req.count > 0 ? req.count : this.listLimit;
          const r = check(part.listDentry(req.dirInodeId, { startAfter: req.last || undefined, limit, onlyDir: req.onlyDir }));
          const attrs = req.withAttr ? part.batchGetInodeAttr(r.entries.filter((e) => part.owns(e.ino)).map((e) => e.ino)).map((a) => readAttr(part, a)) : [];
          return { dentrys: r.entries.map((e) => wireDentry(part.fsId, e)), attrs, more: r.more };
        }, (sm, fsId) => (sm.tx.hasParticipantLocksUnder(fsId, req.dirInodeId) ? `an entry of ${req.dirInodeId} is being renamed` : undefined)),

      getInode: (req, ctx) =>
        this.read('GetInode', req.p, this.deadline(ctx.deadline), (part) => {
          const r = check(part.getInode(req.inodeId));
          const { xattrs, chunks, ...attr } = r.inode;
          const wire = create(InodeSchema, { attr: req.firstParentOnly ? answerAttr(attr) : wireAttr(attr) });
          for (const [k, v] of chunks) wire.chunks[k] = create(ChunkSliceListSchema, { slices: v });
          for (const [k, v] of xattrs) wire.xattr[k] = v;
          return { inode: wire };
        }, participantInodes([req.inodeId])),

      batchGetInodeAttr: (req, ctx) =>
        this.read('BatchGetInodeAttr', req.p, this.deadline(ctx.deadline), (part) => {
          for (const id of req.inodeId) safeId(id, 'inode id');
          return { attr: part.batchGetInodeAttr(req.inodeId).map((a) => readAttr(part, a)) };
        }, participantInodes(req.inodeId)),

      batchGetXAttr: (req, ctx) =>
        this.read('BatchGetXAttr', req.p, this.deadline(ctx.deadline), (part) => {
          const xattr = [];
          for (const id of req.inodeId) {
            safeId(id, 'inode id');
            const names = part.listXattr(id);
            if (names.status !== StatusCode.OK) continue;
            const x = create(XAttrSchema, { inodeId: id, fsId: part.fsId });
            for (const n of names.names) {
              const v = part.getXattr(id, n);
              if (v.status === StatusCode.OK) x.xattrs[n] = v.value;
            }
            xattr.push(x);
          }
          return { xattr };
        }),

      getXAttr: (req, ctx) =>
        this.read('GetXAttr', req.p, this.deadline(ctx.deadline), (part) => ({ value: check(part.getXattr(req.inodeId, req.name)).value })),

      listXAttr: (req, ctx) =>
        this.read('ListXAttr', req.p, this.deadline(ctx.deadline), (part) => ({ names: check(part.listXattr(req.inodeId)).names })),

      getDirStats: (req, ctx) =>
        this.read('GetDirStats', req.p, this.deadline(ctx.deadline), (part) => ({ stats: check(part.dirStats(req.inodeId)).stats })),

      createInode: async (req, ctx) => {
        const r = await this.mutate('CreateInode', req.p, this.deadline(ctx.deadline), OpType.CreateInode, { ...req, time: this.now(req.time) });
        return { inode: answerAttr(r.inode) };
      },

      cloneInode: async (req, ctx) => {
        const r = await this.mutate('CloneInode', req.p, this.deadline(ctx.deadline), OpType.CloneInode, { ...req, time: this.now(req.time) });
        return { inode: answerAttr(r.inode), named: r.parent !== undefined, parent: r.parent ? answerAttr(r.parent) : undefined };
      },

      createFile: async (req, ctx) => {
        const r = await this.mutate('CreateFile', req.p, this.deadline(ctx.deadline), OpType.CreateFile, { ...req, time: this.now(req.time) });
        return { inode: answerAttr(r.inode), parent: answerAttr(r.parent) };
      },

      createRootInode: async (req, ctx) => {
        await this.mutate('CreateRootInode', req.p, this.deadline(ctx.deadline), OpType.CreateRootInode, { ...req, time: this.now(req.time) });
        return {};
      },

      createDentry: async (req, ctx) => {
        if (!req.dentry) throw new CurveError(StatusCode.PARAM_ERROR, 'CreateDentry without a dentry');
        if (req.link) {
          // link(2): the name and the inode's new link in one transaction (rename.md §4b).
          return this.timed('Link', async () => {
            const cs = this.copysetOf(req.p);
            const inode = await this.coordinator.link(cs, { ...req, time: this.now(req.time) }, this.deadline(ctx.deadline));
            // The link's record may still be here (forgotten off the latency path), but its
            // commit entry — the name and the directory's change — is applied: link answered.
            return { inode, parent: this.dirAttrNow(cs, req.p, req.dentry!.parentInodeId) };
          });
        }
        const r = await this.mutate('CreateDentry', req.p, this.deadline(ctx.deadline), OpType.CreateDentry, { ...req, time: this.now(req.time) });
        return { parent: answerAttr(r.parent) };
      },

      deleteDentry: async (req, ctx) => {
        const r = await this.mutate('DeleteDentry', req.p, this.deadline(ctx.deadline), OpType.DeleteDentry, { ...req, time: this.now(req.time) });
        return { dentry: wireDentry(req.p!.fsId, r.dentry) };
      },

      unlink: (req, ctx) =>
        this.timed('Unlink', async () => {
          const deadline = this.deadline(ctx.deadline);
          const time = this.now(req.time);
          const cs = this.copysetOf(req.p);
          let answer: OpAnswer<OpType.Unlink>;
          // The leader decides, never the client: every client's unlink gets the fs's trash.
          const toTrash = await this.trashOn(req.p);
          for (;;) {
            // A name whose inode lives elsewhere: one transaction drops both (no second client step).
            const viaTx = await this.coordinator.unlinkRemote(cs, { ...req, toTrash, time }, deadline);
            if (viaTx) return viaTx;
            answer = await cs.proposeWaiting(OpType.Unlink, { ...req, toTrash, localInodeOnly: true, time }, deadline);
            // TX_FAILED: a rename landed on the name meanwhile and its inode lives elsewhere now.
            if (answer.status !== StatusCode.TX_FAILED) break;
          }
          const r = checkSm(answer);
          return {
            dentry: wireDentry(req.p!.fsId, r.dentry),
            inodeUnlinked: r.effect.unlinked,
            trashed: r.effect.trashed === true,
            inode: r.inode ? answerAttr(r.inode) : undefined,
            parent: r.parent ? answerAttr(r.parent) : undefined,
          };
        }),

      rmdir: (req, ctx) =>
        this.timed('Rmdir', async () => {
          const cs = this.copysetOf(req.p);
          // As unlink: the leader stamps the fs's trash; the directory keeps its inode there.
          const toTrash = await this.trashOn(req.p);
          const out = await this.coordinator.rmdir(cs, { ...req, toTrash, time: this.now(req.time) }, this.deadline(ctx.deadline));
          return { dentry: out.dentry, parent: this.attrAfterChange(cs, req.p, req.parentInodeId) };
        }),

      linkInode: async (req, ctx) => {
        const r = await this.mutate('LinkInode', req.p, this.deadline(ctx.deadline), OpType.LinkInode, { ...req, time: this.now(req.time) });
        return { inode: answerAttr(r.inode) };
      },

      unlinkInode: async (req, ctx) => {
        const r = await this.mutate('UnlinkInode', req.p, this.deadline(ctx.deadline), OpType.UnlinkInode, { ...req, time: this.now(req.time) });
        return { inode: answerAttr(r.inode) };
      },

      updateInode: async (req, ctx) => {
        const r = await this.mutate('UpdateInode', req.p, this.deadline(ctx.deadline), OpType.UpdateInode, { ...req, time: this.now(req.time) });
        return { inode: answerAttr(r.inode) };
      },

      deleteInode: async (req, ctx) => {
        await this.mutate('DeleteInode', req.p, this.deadline(ctx.deadline), OpType.DeleteInode, req);
        return {};
      },

      setXAttr: async (req, ctx) => {
        await this.mutate('SetXAttr', req.p, this.deadline(ctx.deadline), OpType.SetXAttr, { ...req, time: this.now(req.time) });
        return {};
      },

      removeXAttr: async (req, ctx) => {
        await this.mutate('RemoveXAttr', req.p, this.deadline(ctx.deadline), OpType.RemoveXAttr, { ...req, time: this.now(req.time) });
        return {};
      },

      appendChunks: async (req, ctx) => {
        const chunkSize = req.chunkSize > 0 ? req.chunkSize : this.chunkSizeOf(req.p?.fsId ?? 0);
        const r = await this.mutate('AppendChunks', req.p, this.deadline(ctx.deadline), OpType.AppendChunks, { ...req, chunkSize, time: this.now(req.time) });
        return { inode: answerAttr(r.inode) };
      },

      appendAndUpdateInode: async (req, ctx) => {
        const chunkSize = req.chunkSize > 0 ? req.chunkSize : this.chunkSizeOf(req.p?.fsId ?? 0);
        const time = this.now(req.time);
        const writeTime = req.writeTime && (req.writeTime.sec !== 0 || req.writeTime.nsec !== 0) ? req.writeTime : time;
        const r = await this.mutate('AppendAndUpdateInode', req.p, this.deadline(ctx.deadline), OpType.AppendAndUpdateInode, { ...req, chunkSize, time, writeTime });
        return { inode: answerAttr(r.inode) };
      },

      replaceChunks: async (req, ctx) => {
        await this.mutate('ReplaceChunks', req.p, this.deadline(ctx.deadline), OpType.ReplaceChunks, req);
        return {};
      },

      rename: (req, ctx) =>
        this.timed('Rename', async () => {
          const cs = this.copysetOf(req.p);
          const out = await this.coordinator.rename(cs, { ...req, time: this.now(req.time) }, this.deadline(ctx.deadline));
          const newP = req.newP ?? req.p!;
          const samePart = newP.poolId === req.p!.poolId && newP.copysetId === req.p!.copysetId && newP.partitionId === req.p!.partitionId;
          return {
            movedInodeId: out.movedInodeId,
            replacedInodeId: out.replacedInodeId,
            oldParentAttr: this.attrAfterChange(cs, req.p, req.oldParent),
            newParentAttr: samePart ? this.attrAfterChange(cs, req.p, req.newParent) : undefined,
          };
        }),

      openHandle: async (req, ctx) => {
        await this.mutate('OpenHandle', req.p, this.deadline(ctx.deadline), OpType.OpenHandle, req);
        return {};
      },

      listInodes: (req, ctx) =>
        this.read('ListInodes', req.p, this.deadline(ctx.deadline), (part, sm) => ({
          ...listInodesPage(part, req.after, req.count),
          appliedIndex: sm.appliedIndex,
        })),

      listDentries: (req, ctx) =>
        this.read('ListDentries', req.p, this.deadline(ctx.deadline), (part, sm) => ({
          ...listDentriesPage(part, req.afterParent, req.afterName, req.count),
          appliedIndex: sm.appliedIndex,
        })),

      listTrash: (req, ctx) =>
        this.read('ListTrash', req.p, this.deadline(ctx.deadline), (part) => ({
          entries: part.trashList().map((t) => {
            const a = part.getInodeAttr(t.ino);
            return {
              partitionId: part.partitionId, inodeId: t.ino, parentInodeId: t.parent, name: t.name, type: t.type,
              trashedAtSec: t.trashedAt, length: a.status === StatusCode.OK && t.type !== FileType.TYPE_SYM_LINK ? a.inode.length : 0,
            };
          }),
        })),

      restoreTrash: (req, ctx) =>
        this.timed('RestoreTrash', async () => {
          const cs = this.copysetOf(req.p);
          const r = checkSm(await proposeTrashOp(cs, this.coordinator, OpType.TrashRestore, { ...req, time: this.now(req.time) }, this.deadline(ctx.deadline)));
          return { dentry: wireDentry(req.p!.fsId, r.dentry) };
        }),

      purgeTrash: (req, ctx) =>
        this.timed('PurgeTrash', async () => {
          const cs = this.copysetOf(req.p);
          checkSm(await proposeTrashOp(cs, this.coordinator, OpType.TrashPurge, { ...req, time: this.now(req.time) }, this.deadline(ctx.deadline)));
          return {};
        }),

      lock: async (req, ctx) => {
        const deadline = this.deadline(ctx.deadline);
        if (req.testOnly) {
          return this.read('Lock', req.p, deadline, (part, sm) => {
            if (!req.lock) throw new CurveError(StatusCode.PARAM_ERROR, 'Lock without a lock');
            check(part.getInodeAttr(req.inodeId));
            const out = sm.locksOf(part.partitionId).test(req.inodeId, req.lock);
            return { granted: out.granted, conflict: out.conflict };
          });
        }
        const r = await this.mutate('Lock', req.p, deadline, OpType.Lock, req);
        return { granted: r.granted, conflict: r.conflict };
      },
    };
  }

  /** Transaction calls from other metaservers (docs/rename.md). */
  internalImpl(): ServiceImplOf<typeof MetaServerInternalService> {
    return (this.internalCache ??= this.buildInternal());
  }

  private buildInternal(): ServiceImplOf<typeof MetaServerInternalService> {
    return {
      txPrepare: async (req, ctx) => {
        const p = req.tx?.part?.p;
        await this.mutate('TxPrepare', p, this.deadline(ctx.deadline), OpType.TxPrepare, req);
        this.stepHook?.('participant-prepared');
        return {};
      },
      txFinish: async (req, ctx) => {
        await this.timed('TxFinish', async () => {
          const cs = this.copysetOf(req.p);
          // Finishing releases locks: never refused for a lock, so no waiting.
          checkSm(await cs.propose(OpType.TxFinish, req, Math.max(1, this.deadline(ctx.deadline) - this.clock.now())));
        });
        this.stepHook?.('participant-finished');
        return {};
      },
    };
  }
}

export { txKey, FileType };
