// The partition state machine: all inodes whose ids lie in [start, end] of one file system and
// the dentries of the directories among them. apply(op) is a pure function of (state, op): no
// clock, no I/O, no randomness — times arrive inside ops — so every replica computes the same
// state and the same result. Every op checks everything before it mutates anything, so an error
// result leaves the state exactly as it was.
import { checkName, compareNames, utf8Length } from './names.ts';
import { Directory } from './directory.ts';
import {
  Cow,
  F_ATIME,
  F_CTIME,
  F_LENGTH,
  F_MTIME,
  F_PARENT,
  F64_STRIDE,
  InodeExtra,
  InodeStore,
  Page,
  U_ATIME_NS,
  U_CTIME_NS,
  U_GID,
  U_MODE,
  U_MTIME_NS,
  U_NLINK,
  U_UID,
  U32_STRIDE,
} from './inode-store.ts';
import { DEFAULT_REQUEST_LIMITS, RequestTable, type RequestTableLimits } from './request-table.ts';
import { PartitionView } from './view.ts';
import {
  DIR_LENGTH,
  FileType,
  FIRST_NORMAL_ID,
  MAX_INODE_ID,
  MAX_LINKS,
  MAX_SYMLINK_BYTES,
  MAX_XATTR_NAME_BYTES,
  MAX_XATTR_TOTAL_BYTES,
  MAX_XATTR_VALUE_BYTES,
  PartitionStatus,
  RECYCLE_INODE_ID,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  ROOT_INODE_ID,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SetAttr,
  SETATTR_ALL,
  StatusCode,
  XATTR_CREATE,
  XATTR_REPLACE,
  type AdjustDirStatsOp,
  type AppendChunksOp,
  type AppendSetattrOp,
  type ChunkSlice,
  type CreateDentryOp,
  type CreateFileOp,
  type CloneInodeOp,
  type CreateInodeOp,
  type CreateRecycleInodeOp,
  type CreateRootInodeOp,
  type DeletedInode,
  type DeleteDentryOp,
  type TrashEntry,
  type TrashPurgeOp,
  type TrashRestoreOp,
  type DeleteInodeOp,
  type DentryInfo,
  type DirStats,
  type ErrorResult,
  type Inode,
  type InodeAttr,
  type LinkOp,
  type ListOptions,
  type OpResult,
  type PartitionOp,
  type PartitionStats,
  type RemoveXattrOp,
  type RenameOp,
  type ReplaceChunksOp,
  type ReplaceParentOp,
  type Result,
  type SealDirectoryOp,
  type SetAttrOp,
  type SetStatusOp,
  type SetXattrOp,
  type Timestamp,
  type TrimChunksOp,
  type UnlinkOp,
  type UnsealDirectoryOp,
} from './types.ts';

export interface PartitionConfig {
  partitionId: number;
  fsId: number;
  /** Inclusive inode-id range. */
  start: number;
  end: number;
  /** Default max(start, 3). */
  nextId?: number;
  status?: PartitionStatus;
  requestLimits?: RequestTableLimits;
  /** Hard links per non-directory inode (default MAX_LINKS); part of the snapshot. */
  maxLinks?: number;
}

export interface PartitionInfoView {
  partitionId: number;
  fsId: number;
  start: number;
  end: number;
  nextId: number;
  status: PartitionStatus;
}

const XATTR_NAMESPACES = ['user.', 'trusted.', 'security.', 'system.'];
const MAX_U32 = 0xffffffff;

function err(status: ErrorResult['status'], message: string): ErrorResult {
  return { status, message };
}

/** A request of a session that ended: its window is gone, so a retry could apply twice. */
export function sessionExpired(clientId: number, seq: number): ErrorResult {
  return err(StatusCode.SESSION_EXPIRED, `request ${clientId}/${seq}: session ${clientId} has expired; register a new session`);
}

function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x < MAX_INODE_ID;
}
function isU64(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
function isU32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_U32;
}
function isTime(t: Timestamp | undefined): t is Timestamp {
  return t !== undefined && t !== null && isU64(t.sec) && isU32(t.nsec) && t.nsec < 1e9;
}
function isRegular(type: number): boolean {
  return type === FileType.TYPE_S3 || type === FileType.TYPE_FILE;
}
function isKnownType(type: unknown): type is FileType {
  return typeof type === 'number' && Number.isInteger(type) && type >= FileType.TYPE_DIRECTORY && type <= FileType.TYPE_BLOCK_DEVICE;
}
/** S_IFMT bits of a file type. */
export function typeMode(type: FileType): number {
  switch (type) {
    case FileType.TYPE_DIRECTORY:
      return S_IFDIR;
    case FileType.TYPE_SYM_LINK:
      return S_IFLNK;
    case FileType.TYPE_FIFO:
      return S_IFIFO;
    case FileType.TYPE_SOCKET:
      return S_IFSOCK;
    case FileType.TYPE_CHAR_DEVICE:
      return S_IFCHR;
    case FileType.TYPE_BLOCK_DEVICE:
      return S_IFBLK;
    default:
      return S_IFREG;
  }
}
function isSlice(s: ChunkSlice): boolean {
  return (
    s !== null &&
    typeof s === 'object' &&
    isU64(s.chunkId) &&
    isU64(s.compaction) &&
    isU64(s.offset) &&
    isU64(s.len) &&
    isU64(s.size) &&
    Number.isSafeInteger(s.offset + s.len) &&
    typeof s.zero === 'boolean'
  );
}
/** A stored copy of a request's slice, with the append sequence `seq` (what it carried is ignored). */
function copySlice(s: ChunkSlice, seq: number): ChunkSlice {
  return { chunkId: s.chunkId, seq, compaction: s.compaction, offset: s.offset, len: s.len, size: s.size, zero: s.zero };
}
/** A copy of a stored slice (with its owner: a request's slices never carry one). */
function sameSlice(s: ChunkSlice): ChunkSlice {
  const c = copySlice(s, s.seq ?? 0);
  if (s.owner) c.owner = s.owner;
  return c;
}
/** The newest append sequence of a chunk list (0 when empty). */
function topSeq(list: readonly ChunkSlice[]): number {
  let top = 0;
  for (const s of list) if ((s.seq ?? 0) > top) top = s.seq!;
  return top;
}
function sameSlices(a: readonly ChunkSlice[], b: readonly ChunkSlice[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (
      x.chunkId !== y.chunkId ||
      x.compaction !== y.compaction ||
      x.offset !== y.offset ||
      x.len !== y.len ||
      x.size !== y.size ||
      x.zero !== y.zero
    )
      return false;
  }
  return true;
}
/** Block map cut at `length`: slices beyond are dropped, a slice crossing it is shortened. */
function trimMap(chunks: ReadonlyMap<number, readonly ChunkSlice[]>, length: number): Map<number, ChunkSlice[]> {
  const out = new Map<number, ChunkSlice[]>();
  for (const [index, list] of chunks) {
    const kept: ChunkSlice[] = [];
    for (const s of list) {
      if (s.offset >= length) continue;
      if (s.offset + s.len > length) kept.push({ ...s, len: length - s.offset });
      else kept.push(s);
    }
    if (kept.length > 0) out.set(index, kept);
  }
  return out;
}

/** The inodes other than its own whose objects a block map's slices name. */
function sliceOwners(chunks: ReadonlyMap<number, readonly ChunkSlice[]>): Set<number> {
  const owners = new Set<number>();
  for (const list of chunks.values()) for (const s of list) if (s.owner) owners.add(s.owner);
  return owners;
}

/** StatusCode.OK or why `name` cannot be an xattr name. */
function checkXattrName(name: string): StatusCode {
  if (typeof name !== 'string' || name.length === 0) return StatusCode.XATTR_RANGE;
  const bytes = utf8Length(name);
  if (bytes < 0 || name.indexOf('\0') !== -1) return StatusCode.INVALID_NAME;
  if (bytes > MAX_XATTR_NAME_BYTES) return StatusCode.XATTR_RANGE;
  const ns = XATTR_NAMESPACES.find((p) => name.startsWith(p));
  if (ns === undefined) return StatusCode.NOT_SUPPORTED;
  if (name.length === ns.length) return StatusCode.INVALID_NAME;
  return StatusCode.OK;
}

export class Partition {
  readonly partitionId: number;
  readonly fsId: number;
  readonly start: number;
  readonly end: number;
  nextId: number;
  status: PartitionStatus;
  readonly maxLinks: number;

  // Internal state, shared with view.ts and snapshot-records.ts (same folder); not exported.
  readonly cow = new Cow();
  readonly store: InodeStore;
  readonly requests: RequestTable;
  /** ino → dtime of inodes with nlink 0. */
  readonly deleted = new Map<number, number>();
  /**
   * ino → the name an unlink moved to the trash (docs/architecture.md §6c). The inode keeps its
   * one link (so the reclaimer leaves it and its bytes stay counted) and its parent; only the
   * dentry is gone. Persisted as TRASH snapshot records.
   */
  readonly trash = new Map<number, TrashEntry>();
  inodeCount = 0;
  /**
   * Sum of the lengths of the regular files here, nlink-0 ones waiting for the reclaimer
   * included (their blocks are still stored): the fs's used bytes, summed by the MDS from the
   * heartbeat. Derived state: kept in step by every length change and recomputed when a
   * snapshot loads, so the snapshot format does not carry it.
   */
  fileBytes = 0;
  dentryCount = 0;
  /**
   * owner ino → the other inodes here whose slices share its objects (clones, §6d), kept after
   * the owner itself is deleted: the reclaimer deletes an owner's objects only when none is left.
   * Derived state: updated by CloneInode and DeleteInode, rebuilt from the slices when a
   * snapshot loads.
   */
  readonly sharers = new Map<number, Set<number>>();
  /**
   * The reverse of `sharers`: ino → the owners its slices named when it was cloned. A superset of
   * what its slices name now (a truncate or compaction may drop shared slices): an entry too many
   * keeps objects longer, never deletes one too early.
   */
  readonly shares = new Map<number, Set<number>>();
  /** Number of (inode, chunk index) lists with at least one slice. */
  chunkLists = 0;
  readonly typeCounts: number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0];

  constructor(cfg: PartitionConfig) {
    if (!isU32(cfg.partitionId) || !isU32(cfg.fsId)) throw new RangeError('partitionId and fsId are u32');
    if (!isU64(cfg.start) || !isU64(cfg.end) || cfg.end < cfg.start || cfg.end - cfg.start >= 2 ** 32 || cfg.end >= MAX_INODE_ID) {
      throw new RangeError(`bad inode range [${cfg.start}, ${cfg.end}] (at most 2^32 ids, below 2^48)`);
    }
    this.partitionId = cfg.partitionId;
    this.fsId = cfg.fsId;
    this.start = cfg.start;
    this.end = cfg.end;
    this.nextId = cfg.nextId ?? Math.max(cfg.start, FIRST_NORMAL_ID);
    this.status = cfg.status ?? (this.nextId > this.end ? PartitionStatus.READONLY : PartitionStatus.READWRITE);
    this.maxLinks = cfg.maxLinks ?? MAX_LINKS;
    if (!isU32(this.maxLinks) || this.maxLinks < 1) throw new RangeError('bad maxLinks');
    this.store = new InodeStore(cfg.start, this.cow);
    this.requests = new RequestTable(cfg.requestLimits ?? DEFAULT_REQUEST_LIMITS, this.cow);
  }

  info(): PartitionInfoView {
    return {
      partitionId: this.partitionId,
      fsId: this.fsId,
      start: this.start,
      end: this.end,
      nextId: this.nextId,
      status: this.status,
    };
  }

  /** True when `id` lies in this partition's range. */
  owns(id: number): boolean {
    return id >= this.start && id <= this.end;
  }

  // ---------------------------------------------------------------------------------------------
  // apply

  apply<O extends PartitionOp>(op: O): OpResult<O>;
  apply(op: PartitionOp): OpResult {
    const rid = op.requestId;
    if (rid !== undefined) {
      if (!isU64(rid.clientId) || !isU64(rid.seq)) return err(StatusCode.PARAM_ERROR, 'bad requestId');
      const seen = this.requests.lookup(rid.clientId, rid.seq);
      if (seen.kind === 'duplicate') return seen.result;
      if (seen.kind === 'stale') return err(StatusCode.STALE, `request ${rid.clientId}/${rid.seq} is older than the retained window`);
      if (seen.kind === 'expired') return sessionExpired(rid.clientId, rid.seq);
    }
    const result = this.dispatch(op);
    if (rid !== undefined) this.requests.record(rid.clientId, rid.seq, result);
    return result;
  }

  private dispatch(op: PartitionOp): OpResult {
    if (op === null || typeof op !== 'object') return err(StatusCode.PARAM_ERROR, 'op is not an object');
    if (op.fsId !== this.fsId) return err(StatusCode.FS_ID_MISMATCH, `fs ${op.fsId} is not this partition's fs ${this.fsId}`);
    if (this.status === PartitionStatus.DELETING && op.kind !== 'deleteInode' && op.kind !== 'setStatus') {
      return err(StatusCode.PARTITION_DELETING, `partition ${this.partitionId} is being deleted`);
    }
    switch (op.kind) {
      case 'createInode':
        return this.createInode(op);
      case 'cloneInode':
        return this.cloneInode(op);
      case 'createRootInode':
        return this.createFixedDir(op, ROOT_INODE_ID, 0);
      case 'createRecycleInode':
        return this.createFixedDir(op, RECYCLE_INODE_ID, ROOT_INODE_ID);
      case 'createFile':
        return this.createFile(op);
      case 'createDentry':
        return this.createDentry(op);
      case 'deleteDentry':
        return this.deleteDentry(op);
      case 'link':
        return this.link(op);
      case 'unlink':
        return this.unlinkOp(op);
      case 'replaceParent':
        return this.replaceParent(op);
      case 'setattr':
        return this.setattr(op);
      case 'setXattr':
        return this.setXattr(op);
      case 'removeXattr':
        return this.removeXattr(op);
      case 'rename':
        return this.rename(op);
      case 'appendChunks':
        return this.appendChunks(op);
      case 'appendSetattr':
        return this.appendSetattr(op);
      case 'trimChunks':
        return this.trimChunks(op);
      case 'replaceChunks':
        return this.replaceChunks(op);
      case 'sealDirectory':
        return this.sealDirectory(op, true);
      case 'unsealDirectory':
        return this.sealDirectory(op, false);
      case 'adjustDirStats':
        return this.adjustDirStats(op);
      case 'deleteInode':
        return this.deleteInode(op);
      case 'trashRestore':
        return this.trashRestore(op);
      case 'trashPurge':
        return this.trashPurge(op);
      case 'setStatus':
        return this.setStatus(op);
      default:
        return err(StatusCode.PARAM_ERROR, `unknown op ${(op as { kind: unknown }).kind}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // checks shared by ops (each returns an ErrorResult or undefined)

  /** `id` must be an inode of this partition that exists. */
  private checkInode(id: number): ErrorResult | undefined {
    if (!isU64(id)) return err(StatusCode.PARAM_ERROR, `bad inode id ${id}`);
    if (!this.owns(id)) return err(StatusCode.ID_OUT_OF_RANGE, `inode ${id} is outside [${this.start}, ${this.end}]`);
    if (!this.store.exists(id)) return err(StatusCode.NOT_FOUND, `inode ${id} not found`);
    return undefined;
  }

  /** `id` must be a linked directory of this partition. */
  private checkDir(id: number): ErrorResult | undefined {
    const e = this.checkInode(id);
    if (e) return e;
    if (this.typeOf(id) !== FileType.TYPE_DIRECTORY) return err(StatusCode.NOT_DIRECTORY, `inode ${id} is not a directory`);
    if (this.nlinkOf(id) === 0) return err(StatusCode.NOT_FOUND, `directory ${id} was removed`);
    return undefined;
  }

  /** Parent directory that can take a new entry. */
  private checkCreateParent(id: number): ErrorResult | undefined {
    const e = this.checkDir(id);
    if (e) return e;
    if (this.dir(id)?.sealed) return err(StatusCode.DIRECTORY_REMOVED, `directory ${id} is being removed`);
    return undefined;
  }

  private checkNameArg(name: string): ErrorResult | undefined {
    const c = checkName(name);
    if (c === StatusCode.OK) return undefined;
    return err(c as ErrorResult['status'], c === StatusCode.NAME_TOO_LONG ? 'name longer than 255 bytes' : `invalid name ${JSON.stringify(name)}`);
  }

  private checkTime(t: Timestamp | undefined, what = 'time'): ErrorResult | undefined {
    return isTime(t) ? undefined : err(StatusCode.PARAM_ERROR, `bad ${what}`);
  }

  /** Validates the inode fields of createInode/createFile; returns the final mode or an error. */
  private checkNewInode(op: CreateInodeOp | CreateFileOp): ErrorResult | number {
    if (!isKnownType(op.type)) return err(StatusCode.PARAM_ERROR, `bad file type ${op.type}`);
    if (!isU32(op.mode) || op.mode > 0o177777) return err(StatusCode.PARAM_ERROR, 'bad mode');
    const fmt = op.mode & S_IFMT;
    if (fmt !== 0 && fmt !== typeMode(op.type)) return err(StatusCode.PARAM_ERROR, 'mode file-type bits do not match type');
    if (!isU32(op.uid) || !isU32(op.gid)) return err(StatusCode.PARAM_ERROR, 'bad uid/gid');
    if (op.rdev !== undefined && !isU64(op.rdev)) return err(StatusCode.PARAM_ERROR, 'bad rdev');
    if (op.length !== undefined) {
      if (!isU64(op.length)) return err(StatusCode.PARAM_ERROR, 'bad length');
      if (op.type !== FileType.TYPE_DIRECTORY && op.length !== 0) return err(StatusCode.WRONG_TYPE, 'only directories take a length at create');
    }
    const e = this.checkTime(op.time);
    if (e) return e;
    if (op.type === FileType.TYPE_SYM_LINK) {
      if (typeof op.symlink !== 'string' || op.symlink.length === 0) return err(StatusCode.SYM_LINK_EMPTY, 'symlink without a target');
      const n = utf8Length(op.symlink);
      if (n < 0 || op.symlink.indexOf('\0') !== -1) return err(StatusCode.PARAM_ERROR, 'symlink target is not valid UTF-8');
      if (n > MAX_SYMLINK_BYTES) return err(StatusCode.NAME_TOO_LONG, 'symlink target longer than 4096 bytes');
    } else if (op.symlink !== undefined && op.symlink !== '') {
      return err(StatusCode.WRONG_TYPE, 'a symlink target on a non-symlink');
    }
    if (this.status !== PartitionStatus.READWRITE || this.nextId > this.end) {
      return err(StatusCode.PARTITION_ALLOC_ID_FAIL, `partition ${this.partitionId} has no free inode ids`);
    }
    return typeMode(op.type) | (op.mode & 0o7777);
  }

  // ---------------------------------------------------------------------------------------------
  // low-level accessors

  private typeOf(id: number): number {
    const p = this.store.page(id);
    return p === undefined ? 0 : p.type[this.store.index(id)]!;
  }
  private nlinkOf(id: number): number {
    const p = this.store.page(id)!;
    return p.u32[this.store.index(id) * U32_STRIDE + U_NLINK]!;
  }
  private modeOf(id: number): number {
    const p = this.store.page(id)!;
    return p.u32[this.store.index(id) * U32_STRIDE + U_MODE]!;
  }
  private lengthOf(id: number): number {
    const p = this.store.page(id)!;
    return p.f64[this.store.index(id) * F64_STRIDE + F_LENGTH]!;
  }
  private extraOf(id: number): InodeExtra {
    const p = this.store.page(id);
    return p?.extras?.[this.store.index(id)] ?? InodeExtra.EMPTY;
  }
  /** Directory entries of `id` (undefined while it never had any state). */
  dir(id: number): Directory | undefined {
    const p = this.store.page(id);
    return p?.dirs?.[this.store.index(id)];
  }
  /** True when `id` is an existing inode of this partition. */
  private isLocal(id: number): boolean {
    return this.owns(id) && this.store.exists(id);
  }

  private setExtra(id: number, ex: InodeExtra): void {
    const p = this.store.writable(id);
    const i = this.store.index(id);
    if (ex.isEmpty) {
      if (p.extras) p.extras[i] = undefined;
      return;
    }
    if (p.extras === null) p.extras = [];
    p.extras[i] = ex;
  }

  private writableDir(id: number): Directory {
    const p = this.store.writable(id);
    const i = this.store.index(id);
    if (p.dirs === null) p.dirs = [];
    let d = p.dirs[i];
    const cow = this.cow;
    if (d === undefined) {
      d = new Directory(cow.epoch);
      p.dirs[i] = d;
    } else if (d.epoch !== cow.epoch) {
      if (cow.liveViews > 0) {
        d = d.copy(cow.epoch);
        p.dirs[i] = d;
      } else {
        d.epoch = cow.epoch;
      }
    }
    return d;
  }

  private parentsOf(id: number): number[] {
    const p = this.store.page(id)!;
    const p0 = p.f64[this.store.index(id) * F64_STRIDE + F_PARENT]!;
    if (p0 === 0) return [];
    const more = p.extras?.[this.store.index(id)]?.parents;
    return more ? [p0, ...more] : [p0];
  }

  private setParents(id: number, list: number[]): void {
    const p = this.store.writable(id);
    p.f64[this.store.index(id) * F64_STRIDE + F_PARENT] = list.length > 0 ? list[0]! : 0;
    const ex = this.extraOf(id);
    const more = list.length > 1 ? list.slice(1) : null;
    if (more !== null || ex.parents !== null) this.setExtra(id, ex.with({ parents: more }));
  }

  /** Appends `parent` to the parent list: one copy of the extra parents (the list is immutable: snapshots share it). */
  private addParent(id: number, parent: number): void {
    const p = this.store.writable(id);
    const k = this.store.index(id) * F64_STRIDE + F_PARENT;
    if (p.f64[k] === 0) {
      p.f64[k] = parent;
      return;
    }
    const ex = this.extraOf(id);
    this.setExtra(id, ex.with({ parents: ex.parents ? ex.parents.concat(parent) : [parent] })); // concat: a block copy (spread iterates)
  }

  private setNlink(id: number, nlink: number): void {
    const p = this.store.writable(id);
    p.u32[this.store.index(id) * U32_STRIDE + U_NLINK] = nlink;
  }

  private touch(id: number, t: Timestamp, mtime: boolean, ctime: boolean): void {
    const p = this.store.writable(id);
    const i = this.store.index(id);
    if (mtime) {
      p.f64[i * F64_STRIDE + F_MTIME] = t.sec;
      p.u32[i * U32_STRIDE + U_MTIME_NS] = t.nsec;
    }
    if (ctime) {
      p.f64[i * F64_STRIDE + F_CTIME] = t.sec;
      p.u32[i * U32_STRIDE + U_CTIME_NS] = t.nsec;
    }
  }

  /** nlink 0: into the deletion list with dtime. */
  private markDeleted(id: number, t: Timestamp): void {
    this.setExtra(id, this.extraOf(id).with({ dtime: t.sec }));
    this.deleted.set(id, t.sec);
  }

  /** Adds `delta` bytes to every parent of `id` that is a directory here (once per link). */
  private adjustParentsBytes(id: number, delta: number): void {
    if (delta === 0) return;
    for (const parent of this.parentsOf(id)) {
      if (this.isLocal(parent) && this.typeOf(parent) === FileType.TYPE_DIRECTORY) {
        const d = this.writableDir(parent);
        d.bytes = Math.max(0, d.bytes + delta);
      }
    }
  }

  /** Length of a child for DirStats.bytes: the inode's own when local, else the op's hint. */
  private childBytes(ino: number, type: number, hint: number | undefined): number {
    if (!isRegular(type)) return 0;
    if (this.isLocal(ino)) return this.lengthOf(ino);
    return hint !== undefined && isU64(hint) ? hint : 0;
  }

  /** Writes a brand-new inode into an empty slot. */
  private writeInode(
    id: number,
    type: FileType,
    mode: number,
    uid: number,
    gid: number,
    nlink: number,
    length: number,
    parent: number,
    t: Timestamp,
    symlink: string,
    rdev: number,
  ): void {
    const p = this.store.writable(id);
    const i = this.store.index(id);
    const f = i * F64_STRIDE;
    const u = i * U32_STRIDE;
    const f64 = p.f64;
    const u32 = p.u32;
    f64[f + F_LENGTH] = length;
    f64[f + F_CTIME] = t.sec;
    f64[f + F_MTIME] = t.sec;
    f64[f + F_ATIME] = t.sec;
    f64[f + F_PARENT] = parent;
    u32[u + U_CTIME_NS] = t.nsec;
    u32[u + U_MTIME_NS] = t.nsec;
    u32[u + U_ATIME_NS] = t.nsec;
    u32[u + U_UID] = uid;
    u32[u + U_GID] = gid;
    u32[u + U_MODE] = mode;
    u32[u + U_NLINK] = nlink;
    p.type[i] = type;
    if (symlink !== '' || rdev !== 0) {
      if (p.extras === null) p.extras = [];
      p.extras[i] = InodeExtra.EMPTY.with({ symlink, rdev });
    }
    this.inodeCount++;
    this.typeCounts[type]!++;
    if (isRegular(type)) this.fileBytes += length;
  }

  private newInode(op: CreateInodeOp | CreateFileOp, mode: number, parent: number): number {
    const id = this.nextId++;
    if (this.nextId > this.end) this.status = PartitionStatus.READONLY;
    const dir = op.type === FileType.TYPE_DIRECTORY;
    const symlink = op.type === FileType.TYPE_SYM_LINK ? op.symlink! : '';
    const length = dir ? (op.length ?? DIR_LENGTH) : symlink !== '' ? utf8Length(symlink) : 0;
    this.writeInode(id, op.type, mode, op.uid, op.gid, dir ? 2 : 1, length, parent, op.time, symlink, op.rdev ?? 0);
    return id;
  }

  // ---------------------------------------------------------------------------------------------
  // ops

  private createInode(op: CreateInodeOp): OpResult {
    if (!isId(op.parent)) return err(StatusCode.PARAM_ERROR, 'bad parent id');
    const mode = this.checkNewInode(op);
    if (typeof mode !== 'number') return mode;
    const id = this.newInode(op, mode, op.parent);
    return { status: StatusCode.OK, inode: this.attr(id) };
  }

  private cloneInode(op: CloneInodeOp): OpResult {
    const e = this.checkInode(op.source) ?? this.checkTime(op.time);
    if (e) return e;
    if (!isRegular(this.typeOf(op.source))) return err(StatusCode.WRONG_TYPE, `inode ${op.source} is not a regular file`);
    if (this.nlinkOf(op.source) === 0) return err(StatusCode.NOT_FOUND, `inode ${op.source} was removed`);
    if (!isId(op.parent)) return err(StatusCode.PARAM_ERROR, 'bad parent id');
    const named = this.isLocal(op.parent);
    if (named) {
      const pe = this.checkCreateParent(op.parent) ?? this.checkNameArg(op.name);
      if (pe) return pe;
      if (this.dir(op.parent)!.lookup(op.name) >= 0) return err(StatusCode.DENTRY_EXIST, `${JSON.stringify(op.name)} exists`);
    }
    if (this.status !== PartitionStatus.READWRITE || this.nextId > this.end) {
      return err(StatusCode.PARTITION_ALLOC_ID_FAIL, `partition ${this.partitionId} has no free inode ids`);
    }
    const src = this.attr(op.source, false);
    const id = this.nextId++;
    if (this.nextId > this.end) this.status = PartitionStatus.READONLY;
    this.writeInode(id, src.type, this.modeOf(op.source), src.uid, src.gid, 1, src.length, op.parent, op.time, '', 0);
    const from = this.extraOf(op.source);
    const chunks = new Map<number, ChunkSlice[]>();
    for (const [k, list] of from.chunks ?? []) chunks.set(k, list.map((s) => ({ ...sameSlice(s), owner: s.owner || op.source })));
    this.setExtra(id, InodeExtra.EMPTY.with({ xattrs: from.xattrs, xattrBytes: from.xattrBytes }));
    if (chunks.size > 0) this.setChunks(id, this.extraOf(id), chunks);
    this.addSharer(id, chunks);
    if (!named) return { status: StatusCode.OK, inode: this.attr(id) };
    this.addEntry(op.parent, op.name, id, src.type, src.length, op.time);
    return { status: StatusCode.OK, inode: this.attr(id), parent: this.attr(op.parent) };
  }

  /** Records `ino` as a sharer of every owner its block map names (§6d). */
  private addSharer(ino: number, chunks: ReadonlyMap<number, readonly ChunkSlice[]>): void {
    for (const owner of sliceOwners(chunks)) {
      let set = this.sharers.get(owner);
      if (!set) this.sharers.set(owner, (set = new Set()));
      set.add(ino);
      let mine = this.shares.get(ino);
      if (!mine) this.shares.set(ino, (mine = new Set()));
      mine.add(owner);
    }
  }

  /** Forgets deleted inode `ino` as a sharer (it stays an owner while others share its objects). */
  private dropSharer(ino: number): void {
    for (const owner of this.shares.get(ino) ?? []) {
      const set = this.sharers.get(owner);
      set?.delete(ino);
      if (set?.size === 0) this.sharers.delete(owner);
    }
    this.shares.delete(ino);
  }

  /** Rebuilds `sharers` for one loaded inode (snapshot load). */
  loadedChunks(ino: number, chunks: ReadonlyMap<number, readonly ChunkSlice[]>): void {
    this.addSharer(ino, chunks);
  }

  private createFixedDir(op: CreateRootInodeOp | CreateRecycleInodeOp, id: number, parent: number): OpResult {
    if (!this.owns(id)) return err(StatusCode.ID_OUT_OF_RANGE, `inode ${id} is outside [${this.start}, ${this.end}]`);
    if (!isU32(op.mode) || op.mode > 0o177777 || ((op.mode & S_IFMT) !== 0 && (op.mode & S_IFMT) !== S_IFDIR)) {
      return err(StatusCode.PARAM_ERROR, 'bad mode');
    }
    if (!isU32(op.uid) || !isU32(op.gid)) return err(StatusCode.PARAM_ERROR, 'bad uid/gid');
    const e = this.checkTime(op.time);
    if (e) return e;
    if (this.store.exists(id)) return err(StatusCode.INODE_EXIST, `inode ${id} exists`);
    this.writeInode(id, FileType.TYPE_DIRECTORY, S_IFDIR | (op.mode & 0o7777), op.uid, op.gid, 2, DIR_LENGTH, parent, op.time, '', 0);
    return { status: StatusCode.OK, inode: this.attr(id) };
  }

  private createFile(op: CreateFileOp): OpResult {
    const e = this.checkCreateParent(op.parent) ?? this.checkNameArg(op.name);
    if (e) return e;
    const mode = this.checkNewInode(op);
    if (typeof mode !== 'number') return mode;
    const d = this.dir(op.parent);
    if (d !== undefined && d.lookup(op.name) >= 0) return err(StatusCode.DENTRY_EXIST, `${JSON.stringify(op.name)} exists`);
    const id = this.newInode(op, mode, op.parent);
    this.addEntry(op.parent, op.name, id, op.type, 0, op.time);
    return { status: StatusCode.OK, inode: this.attr(id), parent: this.attr(op.parent) };
  }

  /** Inserts a dentry and updates the parent (counts, nlink for a dir child, mtime/ctime). */
  private addEntry(parent: number, name: string, ino: number, type: number, bytes: number, t: Timestamp): void {
    const d = this.writableDir(parent);
    d.insert(name, ino, type, this.cow);
    d.bytes += bytes;
    this.dentryCount++;
    if (type === FileType.TYPE_DIRECTORY) this.setNlink(parent, this.nlinkOf(parent) + 1);
    this.touch(parent, t, true, true);
  }

  private createDentry(op: CreateDentryOp): OpResult {
    const e = this.checkCreateParent(op.parent) ?? this.checkNameArg(op.name) ?? this.checkTime(op.time);
    if (e) return e;
    if (!isId(op.ino) || op.ino === op.parent) return err(StatusCode.PARAM_ERROR, `bad child inode ${op.ino}`);
    if (!isKnownType(op.type)) return err(StatusCode.PARAM_ERROR, `bad file type ${op.type}`);
    if (op.length !== undefined && !isU64(op.length)) return err(StatusCode.PARAM_ERROR, 'bad length');
    const d = this.dir(op.parent);
    const existing = d ? d.lookup(op.name) : -1;
    if (existing >= 0) {
      // A retry of the same create is a success that changes nothing (CurveFS's IDEMPOTENCE_OK).
      if (existing === op.ino && d!.lastType === op.type) return { status: StatusCode.OK, parent: this.attr(op.parent) };
      return err(StatusCode.DENTRY_EXIST, `${JSON.stringify(op.name)} exists`);
    }
    if (this.owns(op.ino)) {
      if (!this.store.exists(op.ino) || this.nlinkOf(op.ino) === 0) return err(StatusCode.NOT_FOUND, `inode ${op.ino} not found`);
      if (this.typeOf(op.ino) !== op.type) return err(StatusCode.WRONG_TYPE, `inode ${op.ino} is not of type ${op.type}`);
    }
    this.addEntry(op.parent, op.name, op.ino, op.type, this.childBytes(op.ino, op.type, op.length), op.time);
    return { status: StatusCode.OK, parent: this.attr(op.parent) };
  }

  private deleteDentry(op: DeleteDentryOp): OpResult {
    const e = this.checkDir(op.parent) ?? this.checkNameArg(op.name) ?? this.checkTime(op.time);
    if (e) return e;
    if (op.length !== undefined && !isU64(op.length)) return err(StatusCode.PARAM_ERROR, 'bad length');
    const d = this.dir(op.parent);
    const ino = d ? d.lookup(op.name) : -1;
    if (ino < 0) return err(StatusCode.NOT_FOUND, `${JSON.stringify(op.name)} not found`);
    const type = d!.lastType as FileType;
    if (op.ino !== undefined && op.ino !== ino) return err(StatusCode.NOT_FOUND, `${JSON.stringify(op.name)} is not inode ${op.ino}`);
    const isDir = type === FileType.TYPE_DIRECTORY;
    if (op.expectDir === true && !isDir) return err(StatusCode.NOT_DIRECTORY, `${JSON.stringify(op.name)} is not a directory`);
    if (op.expectDir === false && isDir) return err(StatusCode.IS_DIRECTORY, `${JSON.stringify(op.name)} is a directory`);
    const local = this.isLocal(ino);
    const move = op.move === true;
    if (isDir && local && !move && (this.dir(ino)?.entries ?? 0) > 0) {
      return err(StatusCode.DIRECTORY_NOT_EMPTY, `directory ${ino} is not empty`);
    }
    let unlink = op.unlinkInode === true && !move && local && this.nlinkOf(ino) > 0;
    const trashIt = op.toTrash === true && this.trashable(ino, isDir, local, unlink);
    if (trashIt) unlink = false;

    const bytes = this.childBytes(ino, type, op.length);
    const w = this.writableDir(op.parent);
    w.remove(op.name, this.cow);
    w.bytes = Math.max(0, w.bytes - bytes);
    this.dentryCount--;
    if (isDir) this.setNlink(op.parent, Math.max(2, this.nlinkOf(op.parent) - 1));
    this.touch(op.parent, op.time, true, true);
    if (unlink) this.dropLink(ino, op.parent, op.time);
    if (trashIt) {
      this.trash.set(ino, { ino, parent: op.parent, name: op.name, type, trashedAt: op.time.sec });
      if (local) {
        this.touch(ino, op.time, false, true);
        // A kept directory takes no entry until it is restored (as during an rmdir transaction).
        if (isDir) this.writableDir(ino).sealed = true;
      }
    }
    const result: OpResult<DeleteDentryOp> = {
      status: StatusCode.OK,
      dentry: { parent: op.parent, name: op.name, ino, type },
      parent: this.attr(op.parent),
      effect: trashIt ? { ino, type, unlinked: false, trashed: true } : { ino, type, unlinked: unlink },
    };
    if (unlink) result.inode = this.attr(ino);
    return result;
  }

  /**
   * Whether a removed name goes to the trash (§6c): the last name of a file that lives here, an
   * empty directory that lives here, or any name whose inode lives elsewhere (only transaction
   * commits ask for these, and their share there keeps the link). Other names of a hard-linked
   * file are removed as before; an inode already in this trash (a second name of a remote inode)
   * too.
   */
  private trashable(ino: number, isDir: boolean, local: boolean, unlink: boolean): boolean {
    if (this.trash.has(ino)) return false;
    if (!local) return true;
    return unlink && (isDir || this.nlinkOf(ino) === 1);
  }

  /** nlink−1 (a directory goes straight to 0), one `parent` occurrence removed, ctime = t. */
  private dropLink(id: number, parent: number, t: Timestamp): void {
    const isDir = this.typeOf(id) === FileType.TYPE_DIRECTORY;
    const nlink = isDir ? 0 : this.nlinkOf(id) - 1;
    this.setNlink(id, nlink);
    const parents = this.parentsOf(id);
    const k = parents.indexOf(parent);
    if (k >= 0) {
      parents.splice(k, 1);
      this.setParents(id, parents);
    }
    this.touch(id, t, false, true);
    if (nlink === 0) this.markDeleted(id, t);
  }

  private link(op: LinkOp): OpResult {
    const e = this.checkInode(op.ino) ?? this.checkTime(op.time);
    if (e) return e;
    if (!isId(op.parent)) return err(StatusCode.PARAM_ERROR, 'bad parent id');
    const nlink = this.nlinkOf(op.ino);
    if (nlink === 0) return err(StatusCode.NOT_FOUND, `inode ${op.ino} has no links left`);
    if (this.typeOf(op.ino) === FileType.TYPE_DIRECTORY) return err(StatusCode.NOT_PERMITTED, 'hard link to a directory');
    if (nlink >= this.maxLinks) return err(StatusCode.TOO_MANY_LINKS, `inode ${op.ino} has ${nlink} links`);
    this.setNlink(op.ino, nlink + 1);
    this.addParent(op.ino, op.parent);
    this.touch(op.ino, op.time, false, true);
    // DirStats.bytes of the new parent is counted by its createDentry (from this inode's length).
    // The answer (kept per request id, sent to the client) names the first parent only: it must
    // not grow with the link count (the whole list: getInodeAttr).
    return { status: StatusCode.OK, inode: this.attr(op.ino, false) };
  }

  private unlinkOp(op: UnlinkOp): OpResult {
    const e = this.checkInode(op.ino) ?? this.checkTime(op.time);
    if (e) return e;
    if (!isId(op.parent)) return err(StatusCode.PARAM_ERROR, 'bad parent id');
    if (this.nlinkOf(op.ino) === 0) return err(StatusCode.NOT_FOUND, `inode ${op.ino} has no links left`);
    if (this.typeOf(op.ino) === FileType.TYPE_DIRECTORY && (this.dir(op.ino)?.entries ?? 0) > 0) {
      return err(StatusCode.DIRECTORY_NOT_EMPTY, `directory ${op.ino} is not empty`);
    }
    this.dropLink(op.ino, op.parent, op.time);
    return { status: StatusCode.OK, inode: this.attr(op.ino, false) }; // first parent only, as link's
  }

  private replaceParent(op: ReplaceParentOp): OpResult {
    const e = this.checkInode(op.ino) ?? this.checkTime(op.time);
    if (e) return e;
    if (!isId(op.oldParent) || !isId(op.newParent)) return err(StatusCode.PARAM_ERROR, 'bad parent id');
    const parents = this.parentsOf(op.ino);
    const k = parents.indexOf(op.oldParent);
    if (k < 0) return err(StatusCode.NOT_FOUND, `${op.oldParent} is not a parent of ${op.ino}`);
    parents[k] = op.newParent;
    this.setParents(op.ino, parents);
    this.touch(op.ino, op.time, false, true);
    return { status: StatusCode.OK, inode: this.attr(op.ino) };
  }

  private setattr(op: SetAttrOp): OpResult {
    const e = this.checkInode(op.ino) ?? this.checkSetattr(op);
    if (e) return e;
    const lengthDelta = this.applySetattr(op);
    return { status: StatusCode.OK, inode: this.attr(op.ino), lengthDelta };
  }

  /** Checks a setattr of an existing inode (nothing changes). */
  private checkSetattr(op: Omit<SetAttrOp, 'kind' | 'fsId'>): ErrorResult | undefined {
    const e = this.checkTime(op.time);
    if (e) return e;
    const m = op.mask;
    if (!isU32(m) || (m & ~SETATTR_ALL) !== 0) return err(StatusCode.PARAM_ERROR, 'bad setattr mask');
    const type = this.typeOf(op.ino);
    if (m & SetAttr.MODE) {
      if (!isU32(op.mode) || op.mode > 0o177777) return err(StatusCode.PARAM_ERROR, 'bad mode');
      const fmt = op.mode & S_IFMT;
      if (fmt !== 0 && fmt !== (this.modeOf(op.ino) & S_IFMT)) return err(StatusCode.PARAM_ERROR, 'mode cannot change the file type');
    }
    if (m & SetAttr.UID && !isU32(op.uid)) return err(StatusCode.PARAM_ERROR, 'bad uid');
    if (m & SetAttr.GID && !isU32(op.gid)) return err(StatusCode.PARAM_ERROR, 'bad gid');
    if (m & SetAttr.SIZE) {
      if (!isU64(op.length)) return err(StatusCode.PARAM_ERROR, 'bad length');
      if (type === FileType.TYPE_DIRECTORY) return err(StatusCode.IS_DIRECTORY, 'truncate of a directory');
      if (!isRegular(type)) return err(StatusCode.WRONG_TYPE, 'truncate of a non-regular file');
    }
    if (m & SetAttr.ATIME && !isTime(op.atime)) return err(StatusCode.PARAM_ERROR, 'bad atime');
    if (m & SetAttr.MTIME && !isTime(op.mtime)) return err(StatusCode.PARAM_ERROR, 'bad mtime');
    if (m & SetAttr.CTIME && !isTime(op.ctime)) return err(StatusCode.PARAM_ERROR, 'bad ctime');
    return undefined;
  }

  /** Applies a checked setattr; answers the change of length. */
  private applySetattr(op: Omit<SetAttrOp, 'kind' | 'fsId'>): number {
    const m = op.mask;
    if (m === 0) return 0;
    let lengthDelta = 0;
    const i = this.store.index(op.ino);
    const curMode = this.modeOf(op.ino);
    const p = this.store.writable(op.ino);
    const f = i * F64_STRIDE;
    const u = i * U32_STRIDE;
    if (m & SetAttr.MODE) p.u32[u + U_MODE] = (curMode & S_IFMT) | (op.mode! & 0o7777);
    if (m & SetAttr.UID) p.u32[u + U_UID] = op.uid!;
    if (m & SetAttr.GID) p.u32[u + U_GID] = op.gid!;
    if (m & SetAttr.SIZE) {
      const old = p.f64[f + F_LENGTH]!;
      const len = op.length!;
      lengthDelta = len - old;
      if (len !== old) {
        p.f64[f + F_LENGTH] = len;
        this.fileBytes += lengthDelta;
        this.touch(op.ino, op.time, true, true);
        const ex = this.extraOf(op.ino);
        if (len < old && ex.chunks !== null) this.setChunks(op.ino, ex, trimMap(ex.chunks, len));
        this.adjustParentsBytes(op.ino, lengthDelta);
      }
    }
    const q = this.store.writable(op.ino);
    if (m & SetAttr.ATIME) {
      q.f64[f + F_ATIME] = op.atime!.sec;
      q.u32[u + U_ATIME_NS] = op.atime!.nsec;
    }
    if (m & SetAttr.MTIME) {
      q.f64[f + F_MTIME] = op.mtime!.sec;
      q.u32[u + U_MTIME_NS] = op.mtime!.nsec;
    }
    const c = m & SetAttr.CTIME ? op.ctime! : op.time;
    q.f64[f + F_CTIME] = c.sec;
    q.u32[u + U_CTIME_NS] = c.nsec;
    return lengthDelta;
  }

  /** Replaces the block map, keeping chunkLists in step. */
  private setChunks(id: number, ex: InodeExtra, chunks: Map<number, ChunkSlice[]> | ReadonlyMap<number, readonly ChunkSlice[]>): void {
    this.chunkLists += chunks.size - (ex.chunks?.size ?? 0);
    this.setExtra(id, ex.with({ chunks: chunks.size > 0 ? chunks : null }));
  }

  private checkXattrTarget(ino: number, name: string): ErrorResult | undefined {
    const e = this.checkInode(ino);
    if (e) return e;
    const c = checkXattrName(name);
    if (c !== StatusCode.OK) return err(c as ErrorResult['status'], `bad xattr name ${JSON.stringify(name)}`);
    return undefined;
  }

  private setXattr(op: SetXattrOp): OpResult {
    const e = this.checkXattrTarget(op.ino, op.name) ?? this.checkTime(op.time);
    if (e) return e;
    if (!(op.value instanceof Uint8Array)) return err(StatusCode.PARAM_ERROR, 'xattr value is not bytes');
    if (op.value.length > MAX_XATTR_VALUE_BYTES) return err(StatusCode.XATTR_RANGE, 'xattr value larger than 64 KiB');
    if (!isU32(op.flags) || (op.flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) return err(StatusCode.PARAM_ERROR, 'bad xattr flags');
    const type = this.typeOf(op.ino);
    if (op.name.startsWith('user.') && type !== FileType.TYPE_DIRECTORY && !isRegular(type)) {
      return err(StatusCode.NOT_PERMITTED, 'user xattrs only on regular files and directories');
    }
    const ex = this.extraOf(op.ino);
    const old = ex.xattrs?.get(op.name);
    if (op.flags & XATTR_CREATE && old !== undefined) return err(StatusCode.XATTR_EXIST, `xattr ${op.name} exists`);
    if (op.flags & XATTR_REPLACE && old === undefined) return err(StatusCode.NO_XATTR, `no xattr ${op.name}`);
    const nameBytes = utf8Length(op.name);
    const total = ex.xattrBytes - (old !== undefined ? nameBytes + old.length : 0) + nameBytes + op.value.length;
    if (total > MAX_XATTR_TOTAL_BYTES) return err(StatusCode.NO_SPACE, 'xattrs of this inode exceed 1 MiB');
    const xattrs = new Map(ex.xattrs ?? []);
    xattrs.set(op.name, op.value.slice());
    this.setExtra(op.ino, ex.with({ xattrs, xattrBytes: total }));
    this.touch(op.ino, op.time, false, true);
    return { status: StatusCode.OK };
  }

  private removeXattr(op: RemoveXattrOp): OpResult {
    const e = this.checkXattrTarget(op.ino, op.name) ?? this.checkTime(op.time);
    if (e) return e;
    const ex = this.extraOf(op.ino);
    const old = ex.xattrs?.get(op.name);
    if (old === undefined) return err(StatusCode.NO_XATTR, `no xattr ${op.name}`);
    const xattrs = new Map(ex.xattrs!);
    xattrs.delete(op.name);
    const total = ex.xattrBytes - utf8Length(op.name) - old.length;
    this.setExtra(op.ino, ex.with({ xattrs: xattrs.size > 0 ? xattrs : null, xattrBytes: total }));
    this.touch(op.ino, op.time, false, true);
    return { status: StatusCode.OK };
  }

  private rename(op: RenameOp): OpResult {
    const e =
      this.checkDir(op.srcParent) ??
      this.checkDir(op.dstParent) ??
      this.checkNameArg(op.srcName) ??
      this.checkNameArg(op.dstName) ??
      this.checkTime(op.time);
    if (e) return e;
    if (!isU32(op.flags) || (op.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0) {
      return err(StatusCode.PARAM_ERROR, 'bad rename flags');
    }
    if (op.flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) return err(StatusCode.PARAM_ERROR, 'RENAME_NOREPLACE with RENAME_EXCHANGE');
    if ((op.srcLength !== undefined && !isU64(op.srcLength)) || (op.dstLength !== undefined && !isU64(op.dstLength))) {
      return err(StatusCode.PARAM_ERROR, 'bad length');
    }
    const exchange = (op.flags & RENAME_EXCHANGE) !== 0;
    const sd = this.dir(op.srcParent);
    const src = sd ? sd.lookup(op.srcName) : -1;
    if (src < 0) return err(StatusCode.NOT_FOUND, `${JSON.stringify(op.srcName)} not found`);
    const srcType = sd!.lastType as FileType;
    const dd = this.dir(op.dstParent);
    const dst = dd ? dd.lookup(op.dstName) : -1;
    const dstType = dst >= 0 ? (dd!.lastType as FileType) : FileType.FILE_TYPE_UNKNOWN;
    if (exchange && dst < 0) return err(StatusCode.NOT_FOUND, `${JSON.stringify(op.dstName)} not found`);
    if (op.flags & RENAME_NOREPLACE && dst >= 0) return err(StatusCode.DENTRY_EXIST, `${JSON.stringify(op.dstName)} exists`);
    const srcLocal = this.isLocal(src);
    const dstLocal = dst >= 0 && this.isLocal(dst);
    const noop = { status: StatusCode.OK as const, moved: { ino: src, type: srcType, local: srcLocal }, noop: true };
    if (op.srcParent === op.dstParent && op.srcName === op.dstName) return noop;
    if (dst === src) return noop;
    if (!exchange && dd?.sealed) return err(StatusCode.DIRECTORY_REMOVED, `directory ${op.dstParent} is being removed`);
    if (srcType === FileType.TYPE_DIRECTORY && src === op.dstParent) return err(StatusCode.INVALID_RENAME, 'directory into itself');
    if (exchange && dstType === FileType.TYPE_DIRECTORY && dst === op.srcParent) {
      return err(StatusCode.INVALID_RENAME, 'directory into itself');
    }
    if (!exchange && dst >= 0) {
      if (srcType === FileType.TYPE_DIRECTORY && dstType !== FileType.TYPE_DIRECTORY) {
        return err(StatusCode.NOT_DIRECTORY, `${JSON.stringify(op.dstName)} is not a directory`);
      }
      if (srcType !== FileType.TYPE_DIRECTORY && dstType === FileType.TYPE_DIRECTORY) {
        return err(StatusCode.IS_DIRECTORY, `${JSON.stringify(op.dstName)} is a directory`);
      }
      if (dstType === FileType.TYPE_DIRECTORY && dstLocal && (this.dir(dst)?.entries ?? 0) > 0) {
        return err(StatusCode.DIRECTORY_NOT_EMPTY, `directory ${dst} is not empty`);
      }
    }

    // All checks passed: mutate.
    const t = op.time;
    const srcBytes = this.childBytes(src, srcType, op.srcLength);
    const dstBytes = dst >= 0 ? this.childBytes(dst, dstType, op.dstLength) : 0;
    const sub0 = this.dir(op.srcParent)?.subdirs ?? 0;
    const dsub0 = this.dir(op.dstParent)?.subdirs ?? 0;
    const sw = this.writableDir(op.srcParent);
    const dw = op.dstParent === op.srcParent ? sw : this.writableDir(op.dstParent);
    const result: OpResult<RenameOp> = { status: StatusCode.OK, moved: { ino: src, type: srcType, local: srcLocal }, noop: false };
    if (exchange) {
      sw.replace(op.srcName, dst, dstType, this.cow);
      dw.replace(op.dstName, src, srcType, this.cow);
      sw.bytes = Math.max(0, sw.bytes - srcBytes + dstBytes);
      dw.bytes = Math.max(0, dw.bytes - dstBytes + srcBytes);
      result.exchanged = { ino: dst, type: dstType, local: dstLocal };
    } else {
      sw.remove(op.srcName, this.cow);
      if (dst >= 0) dw.replace(op.dstName, src, srcType, this.cow);
      else dw.insert(op.dstName, src, srcType, this.cow);
      sw.bytes = Math.max(0, sw.bytes - srcBytes);
      dw.bytes = Math.max(0, dw.bytes + srcBytes - dstBytes);
      this.dentryCount--;
      if (dst < 0) this.dentryCount++;
    }
    // Parent link counts follow their subdirectory counts (nlink = 2 + subdirs).
    const sdelta = sw.subdirs - sub0;
    this.setNlink(op.srcParent, this.nlinkOf(op.srcParent) + sdelta);
    if (op.dstParent !== op.srcParent) this.setNlink(op.dstParent, this.nlinkOf(op.dstParent) + (dw.subdirs - dsub0));
    this.touch(op.srcParent, t, true, true);
    this.touch(op.dstParent, t, true, true);
    if (srcLocal) this.moveParent(src, op.srcParent, op.dstParent, t);
    if (exchange) {
      if (dstLocal) this.moveParent(dst, op.dstParent, op.srcParent, t);
    } else if (dst >= 0) {
      const unlinked = dstLocal && this.nlinkOf(dst) > 0;
      if (unlinked) this.dropLink(dst, op.dstParent, t);
      result.replaced = { ino: dst, type: dstType, unlinked };
    }
    return result;
  }

  private moveParent(id: number, from: number, to: number, t: Timestamp): void {
    if (from !== to) {
      const parents = this.parentsOf(id);
      const k = parents.indexOf(from);
      if (k >= 0) {
        parents[k] = to;
        this.setParents(id, parents);
      }
    }
    this.touch(id, t, false, true);
  }

  private checkRegular(ino: number): ErrorResult | undefined {
    const e = this.checkInode(ino);
    if (e) return e;
    if (!isRegular(this.typeOf(ino))) return err(StatusCode.WRONG_TYPE, `inode ${ino} is not a regular file`);
    return undefined;
  }

  private appendChunks(op: AppendChunksOp): OpResult {
    const e = this.checkRegular(op.ino) ?? this.checkTime(op.time);
    if (e) return e;
    const end = this.appendEnd(op);
    if (typeof end !== 'number') return end;
    const lengthDelta = this.applyAppend(op, end);
    return { status: StatusCode.OK, inode: this.attr(op.ino), lengthDelta };
  }

  /** Checks an append's slices; answers the length they need (at least minLength), or the error. */
  private appendEnd(op: Pick<AppendChunksOp, 'chunks' | 'minLength'>): number | ErrorResult {
    if (!Array.isArray(op.chunks)) return err(StatusCode.PARAM_ERROR, 'chunks is not a list');
    if (op.minLength !== undefined && !isU64(op.minLength)) return err(StatusCode.PARAM_ERROR, 'bad minLength');
    let end = op.minLength ?? 0;
    for (const c of op.chunks) {
      if (c === null || typeof c !== 'object' || !isU64(c.index) || !Array.isArray(c.slices)) {
        return err(StatusCode.PARAM_ERROR, 'bad chunk list');
      }
      for (const s of c.slices) {
        if (!isSlice(s)) return err(StatusCode.PARAM_ERROR, 'bad chunk slice');
        if (s.offset + s.len > end) end = s.offset + s.len;
      }
    }
    return end;
  }

  /** Applies a checked append (`end` from appendEnd); answers the change of length. */
  private applyAppend(op: Omit<AppendChunksOp, 'kind' | 'fsId'>, end: number): number {
    const ex = this.extraOf(op.ino);
    const chunks = new Map<number, readonly ChunkSlice[]>(ex.chunks ?? []);
    for (const c of op.chunks) {
      if (c.slices.length === 0) continue;
      // The order of appends, not the chunk ids (leased per client, in any order), decides
      // which of two overlapping slices reads: each gets the next sequence of its chunk.
      const old = chunks.get(c.index) ?? [];
      const first = topSeq(old) + 1;
      chunks.set(c.index, [...old, ...c.slices.map((s, k) => copySlice(s, first + k))]);
    }
    this.setChunks(op.ino, ex, chunks);
    const old = this.lengthOf(op.ino);
    let lengthDelta = 0;
    if (end > old) {
      const p = this.store.writable(op.ino);
      p.f64[this.store.index(op.ino) * F64_STRIDE + F_LENGTH] = end;
      lengthDelta = end - old;
      this.fileBytes += lengthDelta;
      this.adjustParentsBytes(op.ino, lengthDelta);
    }
    this.touch(op.ino, op.time, true, true);
    return lengthDelta;
  }

  /** AppendChunks then SetAttr as one op: both checked first, so an error changes nothing. */
  private appendSetattr(op: AppendSetattrOp): OpResult {
    const { append, setattr } = op;
    if (append === null || typeof append !== 'object' || setattr === null || typeof setattr !== 'object') {
      return err(StatusCode.PARAM_ERROR, 'appendSetattr needs an append and a setattr');
    }
    if (append.ino !== setattr.ino) return err(StatusCode.PARAM_ERROR, 'append and setattr name different inodes');
    const e = this.checkRegular(append.ino) ?? this.checkTime(append.time) ?? this.checkSetattr(setattr);
    if (e) return e;
    if (setattr.mask & (SetAttr.SIZE | SetAttr.CTIME)) return err(StatusCode.PARAM_ERROR, 'no size or ctime with an append');
    const end = this.appendEnd(append);
    if (typeof end !== 'number') return end;
    const lengthDelta = this.applyAppend(append, end) + this.applySetattr(setattr);
    return { status: StatusCode.OK, inode: this.attr(append.ino), lengthDelta };
  }

  private trimChunks(op: TrimChunksOp): OpResult {
    const e = this.checkRegular(op.ino);
    if (e) return e;
    if (!isU64(op.length)) return err(StatusCode.PARAM_ERROR, 'bad length');
    const ex = this.extraOf(op.ino);
    if (ex.chunks !== null) this.setChunks(op.ino, ex, trimMap(ex.chunks, op.length));
    return { status: StatusCode.OK };
  }

  private replaceChunks(op: ReplaceChunksOp): OpResult {
    const e = this.checkRegular(op.ino);
    if (e) return e;
    if (!isU64(op.index) || !Array.isArray(op.expected) || !Array.isArray(op.slices)) return err(StatusCode.PARAM_ERROR, 'bad chunk list');
    for (const s of op.slices) if (!isSlice(s)) return err(StatusCode.PARAM_ERROR, 'bad chunk slice');
    const ex = this.extraOf(op.ino);
    const cur = ex.chunks?.get(op.index) ?? [];
    if (!sameSlices(cur, op.expected)) return err(StatusCode.TX_WRITE_CONFLICT, `chunk ${op.index} of inode ${op.ino} changed`);
    const chunks = new Map<number, readonly ChunkSlice[]>(ex.chunks ?? []);
    // The replacement (a compaction's merge) stands where the newest slice it replaces stood:
    // its last slice takes that sequence, earlier ones the ones below (never below 1), so
    // slices appended later still shadow it.
    const n = op.slices.length;
    const last = Math.max(topSeq(cur), n);
    if (n > 0) chunks.set(op.index, op.slices.map((s, k) => copySlice(s, last - (n - 1 - k))));
    else chunks.delete(op.index);
    this.setChunks(op.ino, ex, chunks);
    return { status: StatusCode.OK };
  }

  private sealDirectory(op: SealDirectoryOp | UnsealDirectoryOp, seal: boolean): OpResult {
    const e = this.checkInode(op.ino);
    if (e) return e;
    if (this.typeOf(op.ino) !== FileType.TYPE_DIRECTORY) return err(StatusCode.NOT_DIRECTORY, `inode ${op.ino} is not a directory`);
    const d = this.dir(op.ino);
    if (seal && (d?.entries ?? 0) > 0) return err(StatusCode.DIRECTORY_NOT_EMPTY, `directory ${op.ino} is not empty`);
    if ((d?.sealed ?? false) !== seal) this.writableDir(op.ino).sealed = seal;
    return { status: StatusCode.OK };
  }

  private adjustDirStats(op: AdjustDirStatsOp): OpResult {
    const e = this.checkInode(op.ino);
    if (e) return e;
    if (this.typeOf(op.ino) !== FileType.TYPE_DIRECTORY) return err(StatusCode.NOT_DIRECTORY, `inode ${op.ino} is not a directory`);
    if (typeof op.bytesDelta !== 'number' || !Number.isSafeInteger(op.bytesDelta)) return err(StatusCode.PARAM_ERROR, 'bad bytesDelta');
    if (op.bytesDelta !== 0) {
      const d = this.writableDir(op.ino);
      d.bytes = Math.max(0, d.bytes + op.bytesDelta);
    }
    return { status: StatusCode.OK, stats: this.statsOf(op.ino) };
  }

  private deleteInode(op: DeleteInodeOp): OpResult {
    const e = this.checkInode(op.ino);
    if (e) return e;
    if (this.nlinkOf(op.ino) !== 0) return err(StatusCode.BUSY, `inode ${op.ino} still has links`);
    const type = this.typeOf(op.ino);
    // The blocks are gone (the reclaimer deletes them before proposing this): the space is free.
    if (isRegular(type)) this.fileBytes -= this.lengthOf(op.ino);
    const ex = this.extraOf(op.ino);
    this.chunkLists -= ex.chunks?.size ?? 0;
    this.dropSharer(op.ino);
    const p = this.store.writable(op.ino);
    const i = this.store.index(op.ino);
    p.f64.fill(0, i * F64_STRIDE, (i + 1) * F64_STRIDE);
    p.u32.fill(0, i * U32_STRIDE, (i + 1) * U32_STRIDE);
    p.type[i] = 0;
    if (p.extras) p.extras[i] = undefined;
    if (p.dirs) p.dirs[i] = undefined;
    this.deleted.delete(op.ino);
    this.inodeCount--;
    this.typeCounts[type]!--;
    return { status: StatusCode.OK };
  }

  private trashRestore(op: TrashRestoreOp): OpResult {
    const e = this.checkTime(op.time);
    if (e) return e;
    const t = this.trash.get(op.ino);
    if (t === undefined) return err(StatusCode.NOT_FOUND, `inode ${op.ino} is not in the trash`);
    const parent = op.parent ?? t.parent;
    const name = op.name ?? t.name;
    if (op.parent === undefined) {
      if (this.checkDir(parent) !== undefined) return err(StatusCode.NOT_FOUND, `inode ${op.ino}: its directory ${parent} is gone`);
    } else {
      if (!isId(parent)) return err(StatusCode.PARAM_ERROR, 'bad parent id');
      // The dentry and the inode's parent list change in this one log entry (or, for an inode
      // elsewhere, by its follow-up), so the directory must be here; moving across partitions
      // would need a transaction (restore, then mv).
      if (!this.owns(parent)) {
        return err(StatusCode.CROSS_DEVICE, `inode ${op.ino}: directory ${parent} lives in another partition than the trash entry (ids ${this.start}..${this.end})`);
      }
    }
    // A directory being removed (sealed by an rmdir transaction, or itself in the trash) takes
    // no new entry: restore the parent first.
    const refused = this.checkCreateParent(parent) ?? (op.name === undefined ? undefined : this.checkNameArg(name));
    if (refused) return refused;
    const d = this.dir(parent);
    if (d !== undefined && d.lookup(name) >= 0) {
      return err(StatusCode.DENTRY_EXIST, `inode ${op.ino}: ${JSON.stringify(name)} already exists in directory ${parent}`);
    }
    const isDir = t.type === FileType.TYPE_DIRECTORY;
    const local = this.isLocal(op.ino);
    if (!local && isDir && parent !== t.parent) {
      // Its `..` would change only by the follow-up, after its new name is visible: a directory
      // move needs the rename's ancestor walk (restore in place, then mv).
      return err(StatusCode.CROSS_DEVICE, `directory ${op.ino} lives in another partition: restore it in place, then move it`);
    }
    this.trash.delete(op.ino);
    if (local && parent !== t.parent) {
      // The trashed name kept its old parent in the inode's list: the new directory replaces it.
      const parents = this.parentsOf(op.ino);
      const k = parents.indexOf(t.parent);
      if (k >= 0) parents[k] = parent;
      else parents.push(parent);
      this.setParents(op.ino, parents);
    }
    this.addEntry(parent, name, op.ino, t.type, this.childBytes(op.ino, t.type, undefined), op.time);
    const result: OpResult<TrashRestoreOp> = { status: StatusCode.OK, dentry: { parent, name, ino: op.ino, type: t.type }, parent: this.attr(parent) };
    if (local) {
      this.touch(op.ino, op.time, false, true);
      if (isDir) this.writableDir(op.ino).sealed = false;
    } else if (isDir || parent !== t.parent) {
      const moved = parent !== t.parent;
      result.remote = { ino: op.ino, unlinkParent: moved ? t.parent : 0, linkParent: moved ? parent : 0, unseal: isDir };
    }
    return result;
  }

  private trashPurge(op: TrashPurgeOp): OpResult {
    const e = this.checkTime(op.time);
    if (e) return e;
    const t = this.trash.get(op.ino);
    if (t === undefined) return err(StatusCode.NOT_FOUND, `inode ${op.ino} is not in the trash`);
    this.trash.delete(op.ino);
    if (!this.isLocal(op.ino)) return { status: StatusCode.OK, remote: { ino: op.ino, unlinkParent: t.parent, linkParent: 0, unseal: false } };
    // A directory goes straight to nlink 0 (it is empty: sealed since its rmdir).
    this.dropLink(op.ino, t.parent, op.time);
    return { status: StatusCode.OK, inode: this.attr(op.ino, false) };
  }

  /** The trash, by inode id (a copy). */
  trashList(): TrashEntry[] {
    return [...this.trash.values()].sort((a, b) => a.ino - b.ino).map((t) => ({ ...t }));
  }

  private setStatus(op: SetStatusOp): OpResult {
    const to = op.status;
    const from = this.status;
    const ok =
      to === from ||
      (from === PartitionStatus.READWRITE && to === PartitionStatus.READONLY) ||
      (from !== PartitionStatus.DELETING && to === PartitionStatus.DELETING);
    if (!ok) return err(StatusCode.PARAM_ERROR, `partition status cannot go from ${from} to ${to}`);
    this.status = to;
    return { status: StatusCode.OK, partitionStatus: to };
  }

  // ---------------------------------------------------------------------------------------------
  // reads

  /** An inode's attributes; `allParents` false: the parent list cut to its first entry. */
  private attr(id: number, allParents = true): InodeAttr {
    const p = this.store.page(id)!;
    const i = this.store.index(id);
    const f = i * F64_STRIDE;
    const u = i * U32_STRIDE;
    const f64 = p.f64;
    const u32 = p.u32;
    const ex = p.extras?.[i];
    const p0 = f64[f + F_PARENT]!;
    const parent: number[] = p0 === 0 ? [] : allParents && ex?.parents ? [p0, ...ex.parents] : [p0];
    return {
      inodeId: id,
      fsId: this.fsId,
      length: f64[f + F_LENGTH]!,
      ctime: f64[f + F_CTIME]!,
      ctimeNs: u32[u + U_CTIME_NS]!,
      mtime: f64[f + F_MTIME]!,
      mtimeNs: u32[u + U_MTIME_NS]!,
      atime: f64[f + F_ATIME]!,
      atimeNs: u32[u + U_ATIME_NS]!,
      uid: u32[u + U_UID]!,
      gid: u32[u + U_GID]!,
      mode: u32[u + U_MODE]!,
      nlink: u32[u + U_NLINK]!,
      type: p.type[i]! as FileType,
      symlink: ex?.symlink ?? '',
      rdev: ex?.rdev ?? 0,
      dtime: ex?.dtime ?? 0,
      parent,
    };
  }

  private readInode(id: number): ErrorResult | undefined {
    if (!isU64(id)) return err(StatusCode.PARAM_ERROR, `bad inode id ${id}`);
    if (!this.owns(id)) return err(StatusCode.ID_OUT_OF_RANGE, `inode ${id} is outside [${this.start}, ${this.end}]`);
    if (!this.store.exists(id)) return err(StatusCode.NOT_FOUND, `inode ${id} not found`);
    return undefined;
  }

  getInodeAttr(ino: number): Result<{ inode: InodeAttr }> {
    return this.readInode(ino) ?? { status: StatusCode.OK, inode: this.attr(ino) };
  }

  /** Whole inode: attributes, xattrs and block map (copies). */
  getInode(ino: number): Result<{ inode: Inode }> {
    const e = this.readInode(ino);
    if (e) return e;
    const ex = this.extraOf(ino);
    const chunks = new Map<number, ChunkSlice[]>();
    if (ex.chunks) for (const [k, v] of [...ex.chunks].sort((a, b) => a[0] - b[0])) chunks.set(k, v.map(sameSlice));
    const xattrs = new Map<string, Uint8Array>();
    if (ex.xattrs) for (const k of [...ex.xattrs.keys()].sort(compareNames)) xattrs.set(k, ex.xattrs.get(k)!.slice());
    return { status: StatusCode.OK, inode: { ...this.attr(ino), xattrs, chunks } };
  }

  /** Attributes of the ids that exist here, in request order; others are skipped. */
  batchGetInodeAttr(ids: readonly number[]): InodeAttr[] {
    const out: InodeAttr[] = [];
    for (const id of ids) if (isU64(id) && this.isLocal(id)) out.push(this.attr(id));
    return out;
  }

  getDentry(parent: number, name: string): Result<{ dentry: DentryInfo }> {
    const e = this.checkDirRead(parent) ?? this.checkNameArg(name);
    if (e) return e;
    const d = this.dir(parent);
    const ino = d ? d.lookup(name) : -1;
    if (ino < 0) return err(StatusCode.NOT_FOUND, `${JSON.stringify(name)} not found`);
    return { status: StatusCode.OK, dentry: { parent, name, ino, type: d!.lastType as FileType } };
  }

  private checkDirRead(id: number): ErrorResult | undefined {
    const e = this.readInode(id);
    if (e) return e;
    if (this.typeOf(id) !== FileType.TYPE_DIRECTORY) return err(StatusCode.NOT_DIRECTORY, `inode ${id} is not a directory`);
    return undefined;
  }

  /** Entries of a directory in UTF-8 byte order of name, after `startAfter`, at most `limit`. */
  listDentry(parent: number, opts: ListOptions = {}): Result<{ entries: DentryInfo[]; more: boolean }> {
    const e = this.checkDirRead(parent);
    if (e) return e;
    const limit = opts.limit ?? Infinity;
    if (!(limit >= 0)) return err(StatusCode.PARAM_ERROR, 'bad limit');
    const entries: DentryInfo[] = [];
    let more = false;
    const onlyDir = opts.onlyDir === true;
    this.dir(parent)?.scan(opts.startAfter, (name, ino, type) => {
      if (onlyDir && type !== FileType.TYPE_DIRECTORY) return true;
      if (entries.length >= limit) {
        more = true;
        return false;
      }
      entries.push({ parent, name, ino, type: type as FileType });
      return true;
    });
    return { status: StatusCode.OK, entries, more };
  }

  getXattr(ino: number, name: string): Result<{ value: Uint8Array }> {
    const e = this.readInode(ino);
    if (e) return e;
    const c = checkXattrName(name);
    if (c !== StatusCode.OK) return err(c as ErrorResult['status'], `bad xattr name ${JSON.stringify(name)}`);
    const v = this.extraOf(ino).xattrs?.get(name);
    if (v === undefined) return err(StatusCode.NO_XATTR, `no xattr ${name}`);
    return { status: StatusCode.OK, value: v.slice() };
  }

  /** Xattr names in UTF-8 byte order. */
  listXattr(ino: number): Result<{ names: string[] }> {
    const e = this.readInode(ino);
    if (e) return e;
    const x = this.extraOf(ino).xattrs;
    return { status: StatusCode.OK, names: x ? [...x.keys()].sort(compareNames) : [] };
  }

  readlink(ino: number): Result<{ target: string }> {
    const e = this.readInode(ino);
    if (e) return e;
    if (this.typeOf(ino) !== FileType.TYPE_SYM_LINK) return err(StatusCode.WRONG_TYPE, `inode ${ino} is not a symlink`);
    return { status: StatusCode.OK, target: this.extraOf(ino).symlink };
  }

  /** Block map of inode `ino` as stored (no copy, not to be changed): null when it has none. */
  chunksView(ino: number): ReadonlyMap<number, readonly ChunkSlice[]> | null {
    return this.extraOf(ino).chunks;
  }

  /** Block map of a regular file, by chunk index (ascending), copies. */
  getChunks(ino: number): Result<{ chunks: Map<number, ChunkSlice[]> }> {
    const e = this.readInode(ino);
    if (e) return e;
    if (!isRegular(this.typeOf(ino))) return err(StatusCode.WRONG_TYPE, `inode ${ino} is not a regular file`);
    const out = new Map<number, ChunkSlice[]>();
    const c = this.extraOf(ino).chunks;
    if (c) for (const [k, v] of [...c].sort((a, b) => a[0] - b[0])) out.set(k, v.map(sameSlice));
    return { status: StatusCode.OK, chunks: out };
  }

  private statsOf(ino: number): DirStats {
    const d = this.dir(ino);
    return d ? { entries: d.entries, files: d.files, subdirs: d.subdirs, bytes: d.bytes } : { entries: 0, files: 0, subdirs: 0, bytes: 0 };
  }

  dirStats(ino: number): Result<{ stats: DirStats; sealed: boolean }> {
    const e = this.checkDirRead(ino);
    if (e) return e;
    return { status: StatusCode.OK, stats: this.statsOf(ino), sealed: this.dir(ino)?.sealed ?? false };
  }

  /** Inodes with nlink 0 waiting for the reclaimer, by inode id. */
  deletionList(): DeletedInode[] {
    return [...this.deleted].sort((a, b) => a[0] - b[0]).map(([ino, dtime]) => ({ ino, dtime }));
  }

  stats(): PartitionStats {
    const byType: Record<number, number> = {};
    this.typeCounts.forEach((n, t) => {
      if (n > 0) byType[t] = n;
    });
    return {
      inodes: this.inodeCount,
      dentries: this.dentryCount,
      fileBytes: this.fileBytes,
      byType,
      deleted: this.deleted.size,
      nextId: this.nextId,
      status: this.status,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // snapshots

  /**
   * A point-in-time view for the snapshot writer, O(pages + clients): later ops copy what they
   * touch instead of changing what the view sees. Call view.release() when done.
   */
  freeze(): PartitionView {
    const view = new PartitionView(this, this.store.pages.slice(), this.requests.freeze());
    this.cow.epoch++;
    this.cow.liveViews++;
    return view;
  }
}

export type { Page };
