// The VFS: one POSIX file system by inode over the client library (FsCore) and the data layer
// (FileDataIO), with the caller's identity on every call. Both front-ends are thin layers over
// it: the FUSE adapter (src/mount/curvefs-ops.ts: kernel node ids are inode ids) and the SDK's
// path API (src/client/fs.ts: a path walk, then these calls). One place therefore decides
// attributes (st_blocks as tmpfs counts them), permissions and setgid inheritance, the one
// open-file/write path (write buffer -> chunk commits, open-file.ts), allocation and truncate,
// handles, directory cursors, cluster locks and space checks.
//
// Decisions:
//  - Permissions: with `checkPermissions` off (the mount: default_permissions) the kernel checks
//    mode bits with the caller's supplementary groups and capabilities, the sticky-directory
//    rule and ownership for chmod/chown/utimes; the SDK turns it on and the VFS checks the same
//    rules itself (permissions.ts), from attributes it has anyway where it can. What is left to
//    the file system either way is done here: owner and group of new nodes (caller's uid/gid;
//    group and S_ISGID inherited from a setgid directory).
//  - FsCore caches nothing the mount relies on (the kernel is the mount's cache), so every call
//    sees the metaserver's current state.
//  - Close-to-open: open re-reads the inode (length and block map) and keeps the kernel's page
//    cache only when the file did not change since this client last saw it.
//  - Open-unlinked files: the client's open registry (FsCore.opens, src/client/open-registry.ts)
//    registers an open with the metaserver (OpenHandle) only when it can matter — when this
//    client removes the last name of a file open here (FsCore's unlink and rename do it), when
//    an nlink-0 inode is opened, or once an open has lasted a few seconds (another client may
//    unlink it; the metaserver's reclaim grace covers that delay) — so a create is one commit.
//  - Lookups answer with the inode read with its dentry (one round trip when the inode lives
//    in the parent's partition); a missing name is `undefined` (the mount makes it a negative
//    entry the kernel keeps for the entry timeout).
//  - st_blocks, SEEK_DATA and SEEK_HOLE follow tmpfs (allocation.ts), page by page. The block
//    map cannot hold slices past the file's length (AppendChunks raises the length to cover
//    them), so pages preallocated past the end (FALLOC_FL_KEEP_SIZE) are remembered by this
//    client only, until a truncate cuts them or the client ends.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode, createLogger, type QuotaId } from '../common/index.ts';
import { blockMapOf, checkName, fileTypeOfMode, modeBitsOfType, type ClientSession, type FsCore, type FsView, type OpenRegistry, type SetAttrArgs } from '../client/index.ts';
import type { FileDataIO } from '../data/index.ts';
import { FileType } from '../gen/common_pb.ts';
import { InodeSchema, type Inode, type InodeAttr } from '../gen/metaserver_pb.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  NAME_MAX,
  O_ACCMODE,
  O_APPEND,
  O_EXCL,
  O_RDWR,
  O_TRUNC,
  O_RDONLY,
  O_WRONLY,
  posixError,
  PosixError,
  R_OK,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFDIR,
  S_IFMT,
  S_ISGID,
  S_ISVTX,
  W_OK,
  X_OK,
  type Attr,
  type Caller,
  type DirEntry,
  type FileLock,
  type SetAttrRequest,
  type StatFs,
  type TimeSet,
} from './types.ts';
import { checkAccess, checkSetattr, checkSticky, isPrivileged, setgidCleared } from './permissions.ts';
import {
  allocationOf,
  blocksOf,
  mergeRanges,
  nonDataPieces,
  pageAllocated,
  PAGE_SIZE,
  seekDataHole,
  unallocatedPages,
  ZERO_DATA,
  ZERO_HOLE,
  ZERO_PREALLOC,
  zeroSliceOf,
  type Allocation,
} from './allocation.ts';
import { ClusterLocks } from './cluster-locks.ts';
import { DirChangeAttrs } from './dir-attrs.ts';
import { XattrAbsence } from './xattr-absence.ts';
import { NewDirs } from './new-dirs.ts';
import { DirCursor, type ListedEntry } from './dir-cursor.ts';
import { OpenFile } from './open-file.ts';
import { statfsOf } from './statfs.ts';
import { bytesOf, statfsOfQuota, usageOfNode, withCharge, type Charge, type Owner, type Usage } from './quota.ts';

const log = createLogger('vfs');

const ROOT = 1;
const CAPABILITY_XATTR = 'security.capability';

/** What the VFS needs from a connection (connectFs's result fits). */
export interface VfsConnection {
  core: FsCore;
  /** Data I/O for writes and sequential reads (a whole-object cache with readahead). */
  data: FileDataIO;
  /** Data I/O for random reads (no cache: ranged reads of the bytes asked for). */
  randomData?: FileDataIO;
  sessionId: number;
  /**
   * The session that replaces an ended one (connectFs's): locks and open registrations follow
   * it, and the locks held under an ended session are marked lost (cluster-locks.ts).
   */
  session?: ClientSession;
  view: FsView;
}

export interface VfsOptions {
  /**
   * Check mode bits, ownership and the sticky rule here (the SDK). Off for the mount, whose
   * kernel checks them (default_permissions) with the caller's groups and capabilities.
   */
  checkPermissions?: boolean;
  /**
   * Keep what is learnt per inode (type, st_blocks, close-to-open signature, a directory's
   * mode and group) until `forget` (the kernel's FORGET). Off for the SDK, which has no
   * FORGET: then only open files are remembered.
   */
  rememberInodes?: boolean;
  /**
   * When a new node's parent's mode and group are not known, create first and take the group
   * (and a directory's S_ISGID) from the create's own answer — one more commit, only in a
   * setgid directory — instead of reading the parent first (a read per create). The SDK: its
   * path walk rarely brings a directory's attributes. The mount reads first: the kernel looked
   * the parent up, so it is usually known.
   */
  inheritAfterCreate?: boolean;
  /** Bytes written to a file since its last commit that trigger a commit. Default 16 MiB. */
  commitBytes?: number;
  /** A write is committed at most this long after it was made (ms). Default 5000. */
  commitAgeMs?: number;
  /** Per-file write buffer bound (bytes). Default 64 MiB. */
  bufferBytes?: number;
  /**
   * How long a directory's mode/group is trusted for setgid inheritance, and its attributes as
   * answered by this mount's own change to it (ms): keep at the kernel's attribute timeout. Default 1000.
   */
  dirInfoTtlMs?: number;
  /**
   * How long a directory this client made answers names it did not put there as absent without
   * a read (ms, new-dirs.ts): keep at the kernel's entry timeout. Only with `rememberInodes`
   * (the mount). Default 1000.
   */
  newDirTtlMs?: number;
  /** Entries per ListDentry page. Default 512. */
  listPageSize?: number;
}

interface FileHandleState {
  kind: 'file';
  ino: number;
  flags: number;
  file: OpenFile;
}
interface DirHandleState {
  kind: 'dir';
  ino: number;
  cursor: DirCursor<InodeAttr>;
}
type HandleState = FileHandleState | DirHandleState;

/** What is remembered of a directory (setgid inheritance, permission checks, opendir's ".."). */
interface DirInfo {
  mode: number;
  uid: number;
  gid: number;
  /** Its parent (answers carry the first parent; a directory has one). */
  parent: number | undefined;
  /** When it was seen (performance.now()). */
  at: number;
}

function isRegular(type: FileType): boolean {
  return type === FileType.TYPE_S3 || type === FileType.TYPE_FILE;
}

/** What tells "the file changed" for keeping the kernel's page cache across opens. */
function signature(a: InodeAttr): string {
  return `${a.length}:${a.mtime}.${a.mtimeNs}:${a.ctime}.${a.ctimeNs}`;
}

function timeArg(t: TimeSet): [number, number] | 'now' {
  return t === 'now' ? 'now' : [t.sec, t.nsec];
}

function checkXattrName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name, 'utf8') > NAME_MAX) throw posixError('ERANGE', 'xattr name');
  // system.* names the kernel does not handle itself (ACLs) are not supported, as on tmpfs.
  if (!/^(user|trusted|security)\./.test(name)) throw posixError('EOPNOTSUPP', `xattr namespace of ${name}`);
}

/** An open handle's answer: its number, and whether the data cached from the last open is still good. */
export interface OpenResult {
  fh: number;
  keepCache: boolean;
}

/** A directory entry of readdir; with `plus`, its attributes (absent for "." and ".."). */
export interface DirEntryPlus extends DirEntry {
  attr?: Attr;
  /** st_blocks of `attr` is not known (an old metaserver said nothing of it): cache the attributes for no time. */
  blocksUnknown?: boolean;
}

export class Vfs {
  readonly core: FsCore;
  /** Data I/O for writes and sequential reads. */
  readonly io: FileDataIO;
  private readonly randomIo: FileDataIO | undefined;
  readonly locks: ClusterLocks;
  /** This client's opens and their registrations (shared with FsCore's unlink and rename). */
  private readonly opens: OpenRegistry;
  private readonly handles = new Map<number, HandleState>();
  private nextFh = 1;
  /** Regular files open in this client, by inode. */
  private readonly files = new Map<number, OpenFile>();
  /** File type of inodes the kernel knows (from lookups), so getattr picks the right call. */
  private readonly types = new Map<number, FileType>();
  /** st_blocks last computed for a regular file (dropped on FORGET). */
  private readonly blocks = new Map<number, number>();
  /** Signature of a file when its last handle closed: decides FOPEN_KEEP_CACHE at reopen. */
  private readonly lastSeen = new Map<number, string>();
  /** Pages preallocated past the end of a file (fallocate KEEP_SIZE), as byte ranges. */
  private readonly pastEof = new Map<number, [number, number][]>();
  /** Mode, owner and group of directories, for setgid inheritance and permission checks. */
  private readonly dirInfo = new Map<number, DirInfo>();
  /** Inodes a read said have no extended attributes, and when (xattr-absence.ts). */
  private readonly noXattrs: XattrAbsence;
  private readonly opts: Required<VfsOptions>;
  /** Directories' attributes as this client's own last change answered them (dir-attrs.ts). */
  private readonly dirAttrs: DirChangeAttrs<InodeAttr>;
  /** Directories this client just made: names it did not put there are absent (new-dirs.ts). */
  private readonly newDirs: NewDirs;

  constructor(conn: VfsConnection, opts: VfsOptions = {}) {
    this.core = conn.core;
    this.io = conn.data;
    this.randomIo = conn.randomData;
    if (conn.view.rootInodeId !== ROOT) throw new Error(`fs root inode is ${conn.view.rootInodeId}, the VFS needs ${ROOT}`);
    const session = conn.session;
    this.locks = new ClusterLocks(conn.core.meta, session ? () => session.id : conn.sessionId);
    session?.onRenewed(() => this.locks.sessionLost());
    this.opens = conn.core.opens ?? conn.core.trackOpens(conn.sessionId);
    this.opts = {
      checkPermissions: opts.checkPermissions ?? false,
      rememberInodes: opts.rememberInodes ?? true,
      inheritAfterCreate: opts.inheritAfterCreate ?? false,
      commitBytes: opts.commitBytes ?? 16 * 1024 * 1024,
      commitAgeMs: opts.commitAgeMs ?? 5000,
      bufferBytes: opts.bufferBytes ?? 64 * 1024 * 1024,
      dirInfoTtlMs: opts.dirInfoTtlMs ?? 1000,
      newDirTtlMs: opts.newDirTtlMs ?? 1000,
      listPageSize: opts.listPageSize ?? 512,
    };
    this.dirAttrs = new DirChangeAttrs(this.opts.dirInfoTtlMs);
    this.noXattrs = new XattrAbsence(this.opts.rememberInodes ? this.opts.dirInfoTtlMs : 0);
    this.newDirs = new NewDirs(this.opts.rememberInodes ? this.opts.newDirTtlMs : 0);
  }

  /** Open handles and open files (for tests and status). */
  stats(): { handles: number; files: number; locks: number } {
    return { handles: this.handles.size, files: this.files.size, locks: this.locks.held };
  }

  /** A per-inode fact, kept only when this VFS remembers inodes until FORGET (the mount). */
  private note<V>(map: Map<number, V>, ino: number, v: V): void {
    if (this.opts.rememberInodes) map.set(ino, v);
  }

  /**
   * Runs a change of directory `dir` (dir-attrs.ts keeps what its answer says of the directory
   * for the mount's next GETATTR); without remembered inodes, just runs it.
   */
  private dirChange<T>(dir: number, fn: () => Promise<T>, parentOf: (r: T) => InodeAttr | undefined): Promise<T> {
    if (!this.opts.rememberInodes) return fn();
    return this.dirAttrs.change(dir, fn, parentOf);
  }

  private get checking(): boolean {
    return this.opts.checkPermissions;
  }

  // ---- attributes ----

  /** Learns a directory's mode, owner and group from any attributes seen (a walk's, a lookup's). */
  noteDir(a: InodeAttr): void {
    if ((a.mode & S_IFMT) === S_IFDIR) this.dirInfo.set(a.inodeId, { mode: a.mode, uid: a.uid, gid: a.gid, parent: a.parent[0], at: performance.now() });
    if (!this.opts.rememberInodes && this.dirInfo.size > 4096) this.dirInfo.clear(); // the SDK: a bounded hint cache
  }

  private toAttr(a: InodeAttr, blocks: number): Attr {
    if ((a.mode & S_IFMT) === S_IFDIR) this.noteDir(a);
    if (a.hasXattrs !== undefined) this.noXattrs.saw(a.inodeId, a.hasXattrs);
    return {
      ino: a.inodeId,
      size: a.type === FileType.TYPE_SYM_LINK ? Buffer.byteLength(a.symlink, 'utf8') : a.length,
      blocks,
      atimeSec: a.atime,
      atimeNsec: a.atimeNs,
      mtimeSec: a.mtime,
      mtimeNsec: a.mtimeNs,
      ctimeSec: a.ctime,
      ctimeNsec: a.ctimeNs,
      mode: a.mode,
      nlink: a.nlink,
      uid: a.uid,
      gid: a.gid,
      rdev: a.rdev,
      blksize: PAGE_SIZE,
    };
  }

  /** Attributes of a file open here: fresh from the metaserver, with this client's unsaved writes on top. */
  private openFileAttr(file: OpenFile, fresh: InodeAttr): Attr {
    const out = this.toAttr(file.withDeferred(fresh), blocksOf(this.allocationOf(file).allocated));
    if (file.dirtyData) {
      out.size = Math.max(fresh.length, file.size);
      const w = file.dirtyMtime;
      if (w) {
        // A deferred utimensat after the last write sets mtime (tar: write, then utimensat);
        // ctime is the later of the write and the last deferred change.
        if (!file.deferredMtime) {
          out.mtimeSec = w.sec;
          out.mtimeNsec = w.nsec;
        }
        const c = file.deferredAt;
        if (!c || c.sec < w.sec || (c.sec === w.sec && c.nsec < w.nsec)) {
          out.ctimeSec = w.sec;
          out.ctimeNsec = w.nsec;
        }
      }
    }
    return out;
  }

  /** Attributes of a regular file from its whole inode (the block map gives st_blocks). */
  private inodeAttr(inode: Inode): Attr {
    const a = inode.attr!;
    const blocks = blocksOf(this.allocationOfInode(inode).allocated);
    this.note(this.blocks, a.inodeId, blocks);
    return this.toAttr(a, blocks);
  }

  /**
   * Attributes of a whole inode (as a lookup with the block map brings it): st_blocks from the
   * block map, this client's unsaved writes on top when the file is open here.
   */
  attrOfInode(inode: Inode): Attr {
    const a = inode.attr!;
    this.note(this.types, a.inodeId, a.type);
    const file = this.files.get(a.inodeId);
    if (file) return this.openFileAttr(file, a);
    return isRegular(a.type) ? this.inodeAttr(inode) : this.toAttr(a, 0);
  }

  /** Data and space of an open file (committed, buffered, preallocated past the end). */
  private allocationOf(file: OpenFile): Allocation {
    return this.withPastEof(file.ino, file.allocation());
  }

  private allocationOfInode(inode: Inode): Allocation {
    return this.withPastEof(inode.attr!.inodeId, allocationOf(blockMapOf(inode)));
  }

  private withPastEof(ino: number, a: Allocation): Allocation {
    const extra = this.pastEof.get(ino);
    return extra ? { data: a.data, allocated: mergeRanges([...a.allocated, ...extra]) } : a;
  }

  /** Current attributes of `ino`; `type` when known saves a round trip for regular files. */
  async attrOf(ino: number, type = this.types.get(ino)): Promise<Attr> {
    const file = this.files.get(ino);
    if (file) return this.openFileAttr(file, await this.core.getattr(ino));
    if (type !== undefined && isRegular(type)) return this.inodeAttr(await this.core.getInode(ino));
    const a = await this.core.getattr(ino);
    this.note(this.types, ino, a.type);
    if (isRegular(a.type)) return this.inodeAttr(await this.core.getInode(ino));
    return this.toAttr(a, 0);
  }

  /** Attributes after a change that returned `a`: st_blocks from what is known, else fetched. */
  private async attrAfterChange(a: InodeAttr, sizeChanged: boolean): Promise<Attr> {
    this.note(this.types, a.inodeId, a.type);
    if (!isRegular(a.type)) return this.toAttr(a, 0);
    const file = this.files.get(a.inodeId);
    if (file) return this.openFileAttr(file, a);
    const known = sizeChanged ? undefined : this.blocks.get(a.inodeId);
    if (known !== undefined) return this.toAttr(a, known);
    return this.inodeAttr(await this.core.getInode(a.inodeId));
  }

  // ---- permissions (only with checkPermissions; root passes without a round trip) ----

  /** Mode, owner and group of directory `dir` (remembered, else read). */
  private async dirOf(dir: number, fresh = false): Promise<{ mode: number; uid: number; gid: number }> {
    const info = fresh ? undefined : this.dirInfo.get(dir);
    if (info && performance.now() - info.at <= this.opts.dirInfoTtlMs) return info;
    const a = await this.core.getattr(dir);
    if (a.type !== FileType.TYPE_DIRECTORY) throw posixError('ENOTDIR');
    this.noteDir(a);
    return a;
  }

  /** Search (and, for a change, write) permission on directory `dir`. */
  async checkDir(caller: Caller, dir: number, mask: number): Promise<void> {
    if (!this.checking || isPrivileged(caller)) return;
    checkAccess({ ...(await this.dirOf(dir)), isDir: true }, caller, mask, `directory ${dir}`);
  }

  /** Write and search permission on `dir` and the sticky rule for removing `name` from it. */
  private async checkRemove(caller: Caller, dir: number, name: string): Promise<void> {
    if (!this.checking || isPrivileged(caller)) return;
    const d = await this.dirOf(dir);
    checkAccess({ ...d, isDir: true }, caller, W_OK | X_OK, `directory ${dir}`);
    if (d.mode & S_ISVTX) checkSticky(d, await this.core.lookup(dir, name), caller, name);
  }

  // ---- lookup ----

  /** The attributes of `name` in `parent`; undefined when there is no such name. */
  async lookup(caller: Caller, parent: number, name: string): Promise<Attr | undefined> {
    if (name === '.') return this.attrOf(parent);
    if (name === '..') {
      const p = await this.core.getattr(parent);
      return this.attrOf(parent === ROOT ? ROOT : (p.parent[0] ?? ROOT));
    }
    checkName(name);
    await this.checkDir(caller, parent, X_OK);
    let inode: Inode;
    try {
      inode = await this.core.lookupInode(parent, name);
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
      throw e;
    }
    return this.attrOfInode(inode);
  }

  /**
   * Milliseconds for which `name` in `parent` is known absent without a read — a directory this
   * client made within the entry timeout, and a name it did not put there (new-dirs.ts) — or
   * undefined: look it up.
   */
  knownAbsentMs(parent: number, name: string): number | undefined {
    if (name === '.' || name === '..') return undefined;
    checkName(name);
    return this.newDirs.absentFor(parent, name);
  }

  /** The kernel dropped `ino`: forget what is kept of it. */
  forget(ino: number): void {
    this.types.delete(ino);
    this.blocks.delete(ino);
    this.lastSeen.delete(ino);
    this.dirInfo.delete(ino);
    this.noXattrs.forget(ino);
    this.dirAttrs.drop(ino);
    this.newDirs.forget(ino);
  }

  /**
   * Attributes of `ino`: when this client's own last change of it answered them within the
   * attribute timeout (dir-attrs.ts), from that answer — the kernel asks again after each change
   * (and before a chown, to recompute set-user-id) — else read. A file open here answers from
   * its open state, which every commit, truncate and setattr through it keeps current.
   */
  async getattr(_caller: Caller, ino: number): Promise<Attr> {
    const kept = this.dirAttrs.get(ino);
    if (kept) {
      if (!isRegular(kept.type)) return this.toAttr(kept, 0);
      const file = this.files.get(ino);
      if (file) return this.openFileAttr(file, file.attr);
      const blocks = this.blocks.get(ino);
      if (blocks !== undefined) return this.toAttr(kept, blocks);
    }
    return this.attrOf(ino);
  }

  /** `inode`: the whole inode when the caller just read it (a path walk), which a truncate needs. */
  async setattr(caller: Caller, ino: number, set: SetAttrRequest, inode?: Inode): Promise<Attr> {
    const owners = await this.quotaOfOwnerChange(ino, set, inode);
    const r = await withCharge(owners, () => this.dirChange(ino, () => this.setattrNow(caller, ino, set, inode?.attr?.inodeId === ino ? inode : undefined), (res) => res.inode));
    return r.attr;
  }

  /** The setattr; answers the inode after it and the attributes for the caller. */
  private async setattrNow(caller: Caller, ino: number, set: SetAttrRequest, inode: Inode | undefined): Promise<{ inode: InodeAttr; attr: Attr }> {
    const args: SetAttrArgs = {};
    if (set.mode !== undefined) args.mode = set.mode & 0o7777;
    if (set.uid !== undefined) args.uid = set.uid;
    if (set.gid !== undefined) args.gid = set.gid;
    if (set.size !== undefined) args.size = set.size;
    if (set.atime !== undefined) args.atime = timeArg(set.atime);
    if (set.mtime !== undefined) args.mtime = timeArg(set.mtime);
    const file = this.files.get(ino);
    if (this.checking && !isPrivileged(caller)) {
      // A file with deferred setattrs: its owner and mode are those this client shows.
      const cur = file?.dirtyAttrs ? file.attr : (inode?.attr ?? (await this.core.getattr(ino, true)));
      const explicit = (set.atime !== undefined && set.atime !== 'now') || (set.mtime !== undefined && set.mtime !== 'now');
      checkSetattr(cur, { mode: set.mode, uid: set.uid, gid: set.gid, times: explicit ? 'explicit' : undefined }, caller, `inode ${ino}`);
      const isDir = cur.type === FileType.TYPE_DIRECTORY;
      if (set.size !== undefined || ((set.atime === 'now' || set.mtime === 'now') && caller.uid !== cur.uid)) {
        checkAccess({ ...cur, isDir }, caller, W_OK, `inode ${ino}`);
      }
      if (args.mode !== undefined) args.mode = setgidCleared(cur, args.mode, caller);
    }
    if (file?.deferSetattrs && set.size === undefined) {
      // Created here and open: saved with the data at the next commit (deferred-attrs.ts).
      const a = file.deferSetattr(args);
      return { inode: a, attr: this.openFileAttr(file, a) };
    }
    if (file) {
      // Unsaved writes go first: a later commit must neither undo a truncate nor overwrite mtime.
      // Without a size, the unsaved writes and the change are one commit.
      const a = await file.exclusive(async () => {
        if (set.size === undefined) return (await file.commitNow(args))!;
        await file.commitNow();
        return this.truncateNow(ino, args, set.size, file);
      });
      return { inode: a, attr: this.openFileAttr(file, a) };
    }
    if (set.size !== undefined && this.types.get(ino) !== FileType.TYPE_DIRECTORY) {
      const a = await this.truncateNow(ino, args, set.size, undefined, inode);
      return { inode: a, attr: await this.attrAfterChange(a, true) };
    }
    const a = await this.core.setattr(ino, args);
    return { inode: a, attr: await this.attrAfterChange(a, set.size !== undefined) };
  }

  /**
   * setattr with a new size — the one truncate. Shrinking keeps the page the new end falls in as
   * it was — holding data, or only preallocated — even when everything left of it in the block
   * map was cut (as tmpfs keeps the page): a zero slice of the right kind over its remaining
   * holes records that. Growing counts against the capacity like a write. For an open file,
   * call inside its `exclusive` with nothing dirty.
   */
  private async truncateNow(ino: number, args: SetAttrArgs, size: number, file: OpenFile | undefined, fresh?: Inode): Promise<InodeAttr> {
    let before: Allocation = { data: [], allocated: [] };
    let oldSize = 0;
    let parent = file?.attr.parent[0] ?? 0;
    let owner: Owner | undefined = file?.attr;
    if (file) {
      before = this.allocationOf(file);
      oldSize = file.size;
    } else {
      const inode = fresh ?? (await this.core.getInode(ino));
      const t = inode.attr!.type;
      if (t === FileType.TYPE_DIRECTORY) throw posixError('EISDIR', `inode ${ino}`);
      if (!isRegular(t)) throw posixError('EINVAL', `inode ${ino} is not a regular file`);
      before = this.allocationOfInode(inode);
      oldSize = inode.attr!.length;
      parent = inode.attr!.parent[0] ?? 0;
      owner = inode.attr;
    }
    // Growing a file counts against the capacity like a write (the length is what is counted),
    // and a length change against the quotas above the file (src/vfs/quota.ts).
    const grown = Math.max(0, size - oldSize);
    const charge = await this.core.quota?.admit(parent, { bytes: size - oldSize, inodes: 0 }, owner);
    let a: InodeAttr;
    try {
      this.core.space.admit(grown);
    } catch (e) {
      charge?.undo();
      throw e;
    }
    try {
      a = await this.core.setattr(ino, args);
    } catch (e) {
      this.core.space.release(grown);
      charge?.undo();
      throw e;
    }
    this.core.space.settle(grown);
    if (file) await file.reloadNow();
    this.cutPastEof(ino, size);
    const page = Math.floor(size / PAGE_SIZE);
    const kind = pageAllocated(before.data, page) ? ZERO_DATA : pageAllocated(before.allocated, page) ? ZERO_PREALLOC : undefined;
    if (size < oldSize && size % PAGE_SIZE !== 0 && kind !== undefined) {
      const map = file ? file.map : blockMapOf(await this.core.getInode(ino));
      const after = allocationOf(map);
      if (!pageAllocated(kind === ZERO_DATA ? after.data : after.allocated, page)) {
        const slices = [];
        for (const [lo, hi] of nonDataPieces(map, page * PAGE_SIZE, size)) {
          slices.push(...(await this.io.writeZeros(ino, lo, hi - lo)).map((z) => zeroSliceOf(z, kind)));
        }
        if (file) await file.appendNow(slices, 0);
        else if (slices.length > 0) {
          a = (await this.core.appendChunks(ino, slices, 0)) ?? a;
        }
      }
    }
    return file ? file.attr : a;
  }

  /** Forgets preallocated pages from the page after `size` up to `end` (truncate, punch). */
  private cutPastEof(ino: number, size: number, end = Infinity): void {
    const list = this.pastEof.get(ino);
    if (!list) return;
    const keepTo = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const out: [number, number][] = [];
    for (const [a, b] of list) {
      if (a < keepTo) out.push([a, Math.min(b, keepTo)]);
      if (b > end) out.push([Math.max(a, end), b]);
    }
    const merged = mergeRanges(out);
    if (merged.length > 0) this.pastEof.set(ino, merged);
    else this.pastEof.delete(ino);
  }

  async readlink(_caller: Caller, ino: number): Promise<string> {
    return this.core.readlink(ino);
  }

  // ---- creating names ----

  /** Mode, owner and group of `dir` when remembered within the TTL. */
  private knownDir(dir: number): DirInfo | undefined {
    const info = this.dirInfo.get(dir);
    return info && performance.now() - info.at <= this.opts.dirInfoTtlMs ? info : undefined;
  }

  /**
   * Group and setgid bit a new node under `parent` inherits (and write permission on it);
   * undefined when they are to be taken from the create's answer (inheritAfterCreate).
   */
  private async inherit(caller: Caller, parent: number, hint?: InodeAttr): Promise<{ gid: number; setgid: boolean } | undefined> {
    let info: { mode: number; uid: number; gid: number } | undefined = hint ?? this.knownDir(parent);
    if (this.checking && !isPrivileged(caller)) {
      info ??= await this.dirOf(parent, true);
      checkAccess({ ...info, isDir: true }, caller, W_OK | X_OK, `directory ${parent}`);
    }
    if (!info && this.opts.inheritAfterCreate) return undefined;
    info ??= await this.dirOf(parent, true);
    return info.mode & S_ISGID ? { gid: info.gid, setgid: true } : { gid: caller.gid, setgid: false };
  }

  /**
   * Creates a node. `parentAttr`: the parent's attributes when the caller just read them (a
   * path walk), which saves reading them for setgid and permissions.
   */
  private async createNode(
    caller: Caller,
    parent: number,
    name: string,
    type: FileType,
    mode: number,
    extra: { rdev?: number; symlink?: string; parentAttr?: InodeAttr } = {},
  ): Promise<InodeAttr> {
    checkName(name);
    const hint = extra.parentAttr?.inodeId === parent ? extra.parentAttr : undefined;
    const inherited = await this.inherit(caller, parent, hint);
    let bits = mode & 0o7777;
    if (inherited?.setgid && type === FileType.TYPE_DIRECTORY) bits |= S_ISGID;
    const gid = inherited?.gid ?? caller.gid;
    const charge = await this.core.quota?.admit(parent, { bytes: 0, inodes: 1 }, { uid: caller.uid, gid }); // EDQUOT at an inode limit
    this.newDirs.adding(parent, name);
    const sentAt = this.newDirs.sending();
    const r = await withCharge(charge, () => this.dirChange(
      parent,
      () => this.core.createWithParent(parent, name, { type, mode: bits, uid: caller.uid, gid, rdev: extra.rdev, symlink: extra.symlink }),
      (res) => res.parent,
    ));
    let a = r.attr;
    if (!inherited) {
      // The parent was not known: its attributes after the create say whether it is setgid.
      const p = r.parent ?? (await this.core.getattr(parent, true));
      this.noteDir(p);
      if (p.mode & S_ISGID) {
        const dirBit = type === FileType.TYPE_DIRECTORY ? S_ISGID : 0;
        if (a.gid !== p.gid || (a.mode & dirBit) !== dirBit) {
          a = await this.core.setattr(a.inodeId, { gid: p.gid, mode: (a.mode & 0o7777) | dirBit });
          this.core.quota?.transfer({ uid: caller.uid, gid }, a, { bytes: 0, inodes: 1 }, false);
        }
      }
    }
    this.note(this.types, a.inodeId, a.type);
    if (isRegular(a.type)) this.note(this.blocks, a.inodeId, 0);
    if (a.type === FileType.TYPE_DIRECTORY) this.newDirs.made(a.inodeId, sentAt);
    return a;
  }

  async mkdir(caller: Caller, parent: number, name: string, mode: number, parentAttr?: InodeAttr): Promise<Attr> {
    return this.toAttr(await this.createNode(caller, parent, name, FileType.TYPE_DIRECTORY, mode, { parentAttr }), 0);
  }

  async mknod(caller: Caller, parent: number, name: string, mode: number, rdev: number): Promise<Attr> {
    const type = fileTypeOfMode(mode);
    if (type === FileType.TYPE_DIRECTORY) throw posixError('EINVAL', 'mknod of a directory');
    return this.toAttr(await this.createNode(caller, parent, name, type, mode, { rdev }), 0);
  }

  async symlink(caller: Caller, parent: number, name: string, target: string, parentAttr?: InodeAttr): Promise<Attr> {
    if (Buffer.byteLength(target, 'utf8') >= 4096) throw posixError('ENAMETOOLONG', 'symlink target');
    return this.toAttr(await this.createNode(caller, parent, name, FileType.TYPE_SYM_LINK, 0o777, { symlink: target, parentAttr }), 0);
  }

  /**
   * Creates and opens a regular file. When the name exists already: with O_EXCL the error
   * (EEXIST), else the existing file is opened — unless `openExisting` is false, for a caller
   * that resolves the existing name itself (the SDK follows a symlink there).
   */
  async create(
    caller: Caller,
    parent: number,
    name: string,
    mode: number,
    flags: number,
    opts: { openExisting?: boolean; parentAttr?: InodeAttr } = {},
  ): Promise<{ attr: Attr } & OpenResult> {
    const openExisting = opts.openExisting ?? true;
    let a: InodeAttr;
    try {
      a = await this.createNode(caller, parent, name, FileType.TYPE_S3, mode, { parentAttr: opts.parentAttr });
    } catch (e) {
      // Someone else created the name since the kernel looked: open theirs (unless O_EXCL).
      if (!(e instanceof CurveError) || e.status !== StatusCode.DENTRY_EXIST || flags & O_EXCL || !openExisting) throw e;
      const attr = await this.lookup(caller, parent, name);
      if (!attr) throw posixError('ENOENT', name); // and removed again since
      if ((attr.mode & S_IFMT) === S_IFDIR) throw posixError('EISDIR', name);
      return { attr, ...(await this.open(caller, attr.ino, flags)) };
    }
    const file = this.openFileFor(create(InodeSchema, { attr: a }));
    file.deferSetattrs = true;
    const open = await this.openHandle(file, flags, false);
    return { attr: this.toAttr(a, 0), ...open };
  }

  async link(caller: Caller, ino: number, newParent: number, newName: string): Promise<Attr> {
    await this.checkDir(caller, newParent, W_OK | X_OK);
    // A hard link counts in the quotas above its new name like a new file of that length.
    const charge = this.core.quota?.active ? await this.core.quota.admit(newParent, { bytes: bytesOf(await this.core.getattr(ino, true)), inodes: 1 }) : undefined;
    this.newDirs.adding(newParent, newName);
    const r = await withCharge(charge, () => this.dirChange(newParent, () => this.core.link(ino, newParent, newName), (res) => res.parent));
    this.dirAttrs.drop(ino); // its link count and ctime changed
    return this.attrAfterChange(r.inode, false);
  }

  // ---- removing names ----

  async unlink(caller: Caller, parent: number, name: string): Promise<void> {
    checkName(name);
    await this.checkRemove(caller, parent, name);
    const gone = await this.quotaBelow(parent, name);
    // FsCore registers an open file here whose last name this was.
    const r = await this.dirChange(parent, () => this.core.unlink(parent, name), (res) => res.parent);
    if (r.ino) this.dirAttrs.drop(r.ino); // its link count and ctime changed
    if (gone) this.core.quota!.charge(gone.dirs, { bytes: -bytesOf(gone.attr), inodes: -1 });
  }

  async rmdir(caller: Caller, parent: number, name: string): Promise<void> {
    if (name === '.') throw posixError('EINVAL');
    if (name === '..') throw posixError('ENOTEMPTY');
    await this.checkRemove(caller, parent, name);
    const quota = await this.quotaBelow(parent, name);
    const gone = await this.dirChange(parent, () => this.core.rmdir(parent, name), (r) => r.parent);
    this.dirAttrs.drop(gone.ino);
    if (quota) this.core.quota!.charge(quota.dirs, { bytes: 0, inodes: -1 });
  }

  async rename(caller: Caller, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw posixError('EINVAL', 'rename flags');
    checkName(name);
    checkName(newName);
    if (this.checking && !isPrivileged(caller)) {
      await this.checkRemove(caller, parent, name);
      await this.checkDir(caller, newParent, W_OK | X_OK);
      // A name replaced in a sticky directory is removed from it: the same rule.
      const to = await this.dirOf(newParent);
      if (to.mode & S_ISVTX) {
        const target = await this.core.lookup(newParent, newName).catch((e: unknown) => {
          if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
          throw e;
        });
        if (target) checkSticky(to, target, caller, newName);
      }
    }
    // FsCore registers a replaced file open here. Both directories change (and the moved
    // directory's "..", which is not cached here); the answer carries their attributes when the
    // leader could vouch for them.
    // Both names may exist afterwards (RENAME_EXCHANGE keeps the old one).
    this.newDirs.adding(newParent, newName);
    this.newDirs.adding(parent, name);
    const run = () => this.core.rename(parent, name, newParent, newName, flags);
    const quota = await this.quotaOfRename(parent, name, newParent, newName, flags);
    const r = await withCharge(quota?.charge, () => parent === newParent
      ? this.dirChange(parent, run, (res) => res.oldParentAttr)
      : this.dirChange(parent, () => this.dirChange(newParent, run, (res) => res.newParentAttr), (res) => res.oldParentAttr));
    quota?.done();
    // Their ctime (and a directory's "..") changed too.
    this.dirAttrs.drop(r.moved);
    this.dirInfo.delete(r.moved);
    if (r.replaced) this.dirAttrs.drop(r.replaced);
  }

  // ---- open files ----

  private openFileFor(inode: Inode): OpenFile {
    const ino = inode.attr!.inodeId;
    let file = this.files.get(ino);
    if (!file) {
      file = new OpenFile(this.core, this.io, inode, {
        commitBytes: this.opts.commitBytes,
        commitAgeMs: this.opts.commitAgeMs,
        bufferBytes: this.opts.bufferBytes,
        randomIo: this.randomIo,
      });
      this.files.set(ino, file);
    }
    return file;
  }

  /** A new handle on `file` (already in `files`). */
  private async openHandle(file: OpenFile, flags: number, keepCache: boolean): Promise<OpenResult> {
    file.handles++;
    const fh = this.nextFh++;
    this.handles.set(fh, { kind: 'file', ino: file.ino, flags, file });
    try {
      await this.opens.opened(file.ino, file.attr.nlink);
    } catch (e) {
      await this.releaseHandle(fh, false);
      throw e;
    }
    return { fh, keepCache };
  }

  async open(caller: Caller, ino: number, flags: number): Promise<OpenResult> {
    const inode = await this.core.getInode(ino); // close-to-open: always fresh
    return this.openInode(caller, inode, flags);
  }

  /** open of an inode just read (close-to-open: the caller read it fresh). */
  async openInode(caller: Caller, inode: Inode, flags: number): Promise<OpenResult> {
    const ino = inode.attr!.inodeId;
    const open = this.files.get(ino);
    if (open?.dirtyAttrs) {
      // Close-to-open for every opener: setattrs deferred by a creator's handle are saved first.
      await open.commit();
      inode = await this.core.getInode(ino);
    }
    const a = inode.attr!;
    this.note(this.types, ino, a.type);
    if (a.type === FileType.TYPE_DIRECTORY) throw posixError('EISDIR');
    if (!isRegular(a.type)) throw posixError('EINVAL', 'not a regular file');
    const acc = flags & O_ACCMODE;
    if (this.checking) {
      const mask = (acc === O_RDONLY ? R_OK : acc === O_WRONLY ? W_OK : R_OK | W_OK) | (flags & O_TRUNC ? W_OK : 0);
      checkAccess({ ...a, isDir: false }, caller, mask, `inode ${ino}`);
    }
    const existing = this.files.get(ino);
    let keepCache: boolean;
    let file: OpenFile;
    if (existing) {
      file = existing;
      keepCache = signature(file.attr) === signature(a);
      if (!keepCache && !file.dirtyData) file.reset(inode);
    } else {
      keepCache = this.lastSeen.get(ino) === signature(a);
      file = this.openFileFor(inode);
    }
    const reply = await this.openHandle(file, flags, keepCache);
    if (flags & O_TRUNC && (acc === O_WRONLY || acc === O_RDWR)) {
      try {
        await file.exclusive(async () => {
          await file.commitNow();
          this.cutPastEof(ino, 0);
          if (file.size === 0) return;
          const cut = file.size;
          await this.core.setattr(ino, { size: 0 });
          await file.reloadNow();
          await this.chargeQuotas(file.attr.parent[0] ?? 0, { bytes: -cut, inodes: 0 }, file.attr);
        });
      } catch (e) {
        await this.releaseHandle(reply.fh);
        throw e;
      }
      reply.keepCache = false;
    }
    return reply;
  }

  private fileHandle(fh: number): FileHandleState {
    const h = this.handles.get(fh);
    if (!h || h.kind !== 'file') throw posixError('EBADF', `handle ${fh}`);
    return h;
  }

  /** The size of the file open as `fh` as this client sees it (buffered writes included). */
  sizeOf(fh: number): number {
    return this.fileHandle(fh).file.size;
  }

  async read(fh: number, offset: number, size: number): Promise<Uint8Array> {
    return this.fileHandle(fh).file.read(offset, size);
  }

  /** Writes at `offset` (at the end with O_APPEND, or when `offset` is null). */
  async write(fh: number, offset: number | null, data: Uint8Array): Promise<number> {
    const h = this.fileHandle(fh);
    if (offset !== null && (!Number.isSafeInteger(offset) || offset < 0)) throw posixError('EINVAL', `offset ${offset}`);
    return h.file.write(offset ?? 0, data, offset === null || (h.flags & O_APPEND) !== 0);
  }

  /** close(2) of one descriptor: saves the data written so far, drops the owner's POSIX locks. */
  async flush(ino: number, fh: number, lockOwner?: bigint): Promise<void> {
    const h = this.handles.get(fh);
    try {
      if (h?.kind === 'file') await h.file.commit();
    } finally {
      if (lockOwner !== undefined) await this.locks.releasePosix(ino, lockOwner);
    }
  }

  async fsync(fh: number): Promise<void> {
    await this.fileHandle(fh).file.commit();
  }

  /** The last close of a handle; saves what is left. */
  async release(ino: number, fh: number, flockOwner?: bigint): Promise<void> {
    if (flockOwner !== undefined) {
      await this.locks.releaseFlock(ino, flockOwner).catch((e: unknown) => log.warn('flock release failed', { ino, error: String(e) }));
    }
    await this.releaseHandle(fh);
  }

  /**
   * Drops handle `fh`; `opened` says the open registry counted it (it did unless opening failed).
   * The last handle of a file saves its data first; `waitRelease` false leaves the release of
   * its registration in the background (nobody observes it through a name).
   */
  private async releaseHandle(fh: number, opened = true, waitRelease = true): Promise<void> {
    const h = this.handles.get(fh);
    if (!h || h.kind !== 'file') return;
    this.handles.delete(fh);
    const file = h.file;
    const released = opened ? this.opens.closed(file.ino) : Promise.resolve();
    if (--file.handles > 0) return waitRelease ? released : undefined;
    if (this.files.get(file.ino) === file) this.files.delete(file.ino);
    try {
      await this.closeFile(file, !waitRelease);
    } finally {
      if (waitRelease) await released;
    }
  }

  /** Saves what is left of a file whose last handle closed; `report` throws a failure to save. */
  private async closeFile(file: OpenFile, report = false): Promise<void> {
    try {
      await file.close();
    } catch (e) {
      if (report) throw e;
      log.warn('data of a closed file could not be saved', { ino: file.ino, error: String(e) });
    } finally {
      // A setattr's answer kept while the file was open predates its writes and truncates.
      this.dirAttrs.drop(file.ino);
      this.note(this.lastSeen, file.ino, signature(file.attr));
      this.note(this.blocks, file.ino, blocksOf(this.allocationOf(file).allocated));
    }
  }

  /**
   * close of an SDK handle: saves the data (a failure to save is the close's error), then
   * releases the handle; the open's registration is released in the background.
   */
  async close(fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (!h || h.kind !== 'file') return;
    if (h.file.handles > 1) await h.file.commit();
    await this.releaseHandle(fh, true, false);
  }

  /** ftruncate through an open handle (the SDK's FileHandle.truncate). */
  async ftruncate(caller: Caller, fh: number, size: number): Promise<Attr> {
    const h = this.fileHandle(fh);
    if (!Number.isSafeInteger(size) || size < 0) throw posixError('EINVAL', `size ${size}`);
    if ((h.flags & O_ACCMODE) === O_RDONLY) throw posixError('EBADF', 'handle not open for writing');
    return this.setattr({ ...caller, uid: 0 }, h.ino, { size }); // permission was checked at open
  }

  async fallocate(fh: number, offset: number, length: number, mode: number): Promise<void> {
    const file = this.fileHandle(fh).file;
    if (length <= 0 || offset < 0) throw posixError('EINVAL');
    const punch = (mode & FALLOC_FL_PUNCH_HOLE) !== 0;
    const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
    if (punch ? mode !== (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) : mode & ~FALLOC_FL_KEEP_SIZE) throw posixError('EOPNOTSUPP');
    const end = offset + length;
    await file.exclusive(async () => {
      await file.commitNow();
      const alloc = this.allocationOf(file);
      const size = file.size;
      if (punch) {
        this.cutPastEof(file.ino, offset, Math.floor(end / PAGE_SIZE) * PAGE_SIZE);
        // Whole pages become holes; the part of a data page at either edge becomes zeroed data
        // (the page stays), and a merely preallocated edge page stays as it is.
        const fullLo = Math.ceil(offset / PAGE_SIZE) * PAGE_SIZE;
        const fullHi = Math.floor(end / PAGE_SIZE) * PAGE_SIZE;
        const pieces: { lo: number; hi: number; kind: number }[] = [];
        if (fullLo < fullHi) pieces.push({ lo: fullLo, hi: fullHi, kind: ZERO_HOLE });
        const headEnd = Math.min(end, fullLo);
        if (offset < headEnd) pieces.push({ lo: offset, hi: headEnd, kind: ZERO_DATA });
        const tailStart = Math.max(fullHi, offset);
        if (fullHi >= fullLo && tailStart < end) pieces.push({ lo: tailStart, hi: end, kind: ZERO_DATA });
        const slices = [];
        for (const p of pieces) {
          const hi = Math.min(p.hi, size);
          if (p.lo >= hi) continue;
          if (p.kind === ZERO_DATA && !pageAllocated(alloc.data, Math.floor(p.lo / PAGE_SIZE))) continue;
          slices.push(...(await this.io.writeZeros(file.ino, p.lo, hi - p.lo)).map((z) => zeroSliceOf(z, p.kind)));
        }
        if (slices.length > 0) await file.appendNow(slices, 0);
        return;
      }
      const newSize = keep ? size : Math.max(size, end);
      const slices = [];
      const past: [number, number][] = [];
      for (const [a, b] of unallocatedPages(alloc.allocated, offset, end)) {
        const lo = a * PAGE_SIZE;
        const hi = Math.min(b * PAGE_SIZE, newSize);
        if (Math.max(lo, hi) < b * PAGE_SIZE) past.push([Math.max(lo, hi), b * PAGE_SIZE]);
        if (lo >= hi) continue;
        slices.push(...(await this.io.writeZeros(file.ino, lo, hi - lo)).map((z) => zeroSliceOf(z, ZERO_PREALLOC)));
      }
      if (past.length > 0) this.pastEof.set(file.ino, mergeRanges([...(this.pastEof.get(file.ino) ?? []), ...past]));
      if (slices.length > 0 || newSize > size) await file.appendNow(slices, keep ? 0 : end);
    });
  }

  async lseek(fh: number, offset: number, whence: number): Promise<number> {
    const file = this.fileHandle(fh).file;
    const pos = seekDataHole(this.allocationOf(file).data, file.size, offset, whence);
    if (pos === undefined) throw posixError('ENXIO');
    return pos;
  }

  // ---- directories ----

  /** Opens a directory for readdir; `attr`: its attributes when the caller just read them. */
  async opendir(caller: Caller, ino: number, attr?: InodeAttr): Promise<number> {
    // A directory seen within the attribute timeout (a lookup, a listing, a change of ours)
    // opens without a read: its mode, owner and parent are known (rm -rf opens each twice).
    let info = attr?.inodeId === ino ? undefined : this.knownDir(ino);
    if (info?.parent === undefined) {
      const a = attr?.inodeId === ino ? attr : await this.core.getattr(ino);
      if (a.type !== FileType.TYPE_DIRECTORY) throw posixError('ENOTDIR');
      this.noteDir(a);
      info = { mode: a.mode, uid: a.uid, gid: a.gid, parent: a.parent[0], at: 0 };
    }
    if (this.checking) checkAccess({ ...info, isDir: true }, caller, R_OK, `directory ${ino}`);
    const parent = ino === ROOT ? ROOT : (info.parent ?? ROOT);
    const cursor = new DirCursor<InodeAttr>(ino, parent, (after, withAttr) => this.listPage(ino, after, withAttr));
    const fh = this.nextFh++;
    this.handles.set(fh, { kind: 'dir', ino, cursor });
    return fh;
  }

  private async listPage(dir: number, after: string, withAttr: boolean): Promise<{ entries: Omit<ListedEntry<InodeAttr>, 'cookie'>[]; more: boolean }> {
    const page = await this.core.listPage(dir, after, this.opts.listPageSize, withAttr);
    const attrs = new Map<number, InodeAttr>();
    if (withAttr) {
      for (const a of page.attrs) attrs.set(a.inodeId, a);
      const missing = page.entries.filter((d) => !attrs.has(d.inodeId)).map((d) => d.inodeId);
      if (missing.length > 0) for (const [ino, a] of await this.core.batchGetattr(missing)) attrs.set(ino, a);
    }
    return {
      more: page.more,
      entries: page.entries.map((d) => ({
        name: d.name,
        ino: d.inodeId,
        type: modeBitsOfType(d.type),
        attr: attrs.get(d.inodeId),
      })),
    };
  }

  private dirCursor(fh: number): DirCursor<InodeAttr> {
    const h = this.handles.get(fh);
    if (!h || h.kind !== 'dir') throw posixError('EBADF', `directory handle ${fh}`);
    return h.cursor;
  }

  /**
   * Up to `count` entries of the directory open as `fh` from cookie `offset` ("." and ".."
   * first); with `plus`, each with its attributes (the kernel's READDIRPLUS). An entry removed
   * between the listing and the attribute fetch is left out.
   */
  async readdir(fh: number, offset: number, count: number, plus = false): Promise<DirEntryPlus[]> {
    const list = await this.dirCursor(fh).list(offset, count, plus);
    if (!plus) return list.map((e) => ({ name: e.name, ino: e.ino, type: e.type, cookie: e.cookie }));
    const out: DirEntryPlus[] = [];
    for (const e of list) {
      const base = { name: e.name, ino: e.ino, type: e.type, cookie: e.cookie };
      if (e.name === '.' || e.name === '..') {
        out.push(base);
        continue;
      }
      const a = e.attr;
      if (!a) continue; // removed between the listing and the attribute fetch
      this.note(this.types, a.inodeId, a.type);
      if (isRegular(a.type)) {
        const file = this.files.get(a.inodeId);
        if (file) out.push({ ...base, attr: this.openFileAttr(file, a) });
        else {
          // st_blocks: the metaserver's count of the block map (the rule GETATTR uses, so both
          // answer alike), unless this client preallocated past the end; else what is remembered;
          // else unknown, and the kernel asks for the attributes when it wants them.
          const fromServer = a.blocks !== undefined && !this.pastEof.has(a.inodeId) ? a.blocks : undefined;
          if (fromServer !== undefined) this.note(this.blocks, a.inodeId, fromServer);
          const known = fromServer ?? (this.opts.rememberInodes ? this.blocks.get(a.inodeId) : undefined);
          out.push({ ...base, attr: this.toAttr(a, known ?? 0), blocksUnknown: known === undefined });
        }
      } else {
        out.push({ ...base, attr: this.toAttr(a, 0) });
      }
    }
    return out;
  }

  releasedir(fh: number): void {
    this.handles.delete(fh);
  }

  // ---- the file system ----

  /**
   * Used bytes and inodes as the MDS last answered (the partitions' own counts, at most a
   * heartbeat + a session refresh old), against the capacity (2^50 bytes when unlimited) and
   * 2^40 inodes (no inode limit).
   */
  statfs(bsize = PAGE_SIZE): StatFs {
    return statfsOf(this.core.space, bsize, NAME_MAX);
  }

  /** statfs at inode `ino`: inside a quota directory, the nearest quota's size and usage. */
  async statfsAt(ino: number, bsize = PAGE_SIZE): Promise<StatFs> {
    const fs = this.statfs(bsize);
    const quota = this.core.quota;
    if (!quota?.active) return fs;
    const [nearest] = await quota.quotasAt(ino);
    return nearest === undefined ? fs : statfsOfQuota(fs, quota.usage(nearest)!);
  }

  // ---- directory, user and group quotas (src/vfs/quota.ts) ----

  /**
   * Charges a change that happened (never refused: it gives back) to the quotas above `dir` and
   * those of the changed inode's `owner`.
   */
  private async chargeQuotas(dir: number, u: Usage, owner?: Owner): Promise<void> {
    const quota = this.core.quota;
    if (quota?.active) quota.charge(await quota.quotasAt(dir, owner), u);
  }

  /**
   * What removing `name` from `parent` frees: the quotas above `parent`, and its owner's when it
   * is the inode's last name; and what the name stands for. Undefined when no quota is concerned.
   */
  private async quotaBelow(parent: number, name: string): Promise<{ dirs: QuotaId[]; attr: InodeAttr } | undefined> {
    const quota = this.core.quota;
    if (!quota?.active) return undefined;
    const dirs = await quota.quotasAt(parent);
    if (dirs.length === 0 && !quota.ownersActive) return undefined;
    const attr = await this.core.lookup(parent, name);
    return { dirs: [...dirs, ...quota.freedBy(attr)], attr };
  }

  /** chown/chgrp: the inode's usage moves to the new owner's quotas (EDQUOT past a limit there). */
  private async quotaOfOwnerChange(ino: number, set: SetAttrRequest, inode?: Inode): Promise<Charge | undefined> {
    const quota = this.core.quota;
    if ((set.uid === undefined && set.gid === undefined) || !quota?.ownersActive) return undefined;
    const file = this.files.get(ino);
    const cur = file?.attr ?? (inode?.attr?.inodeId === ino ? inode.attr : await this.core.getattr(ino, true));
    const length = file ? Math.max(file.size, cur.length) : cur.length;
    return quota.transfer(cur, { uid: set.uid ?? cur.uid, gid: set.gid ?? cur.gid }, { bytes: bytesOf({ type: cur.type, length }), inodes: 1 });
  }

  /**
   * The quota side of a rename: the moved tree's usage moves from the quotas above `parent` to
   * those above `newParent` (EDQUOT when one would pass its limit), an exchanged one the other
   * way; a replaced name leaves its quotas once the rename is done (`done`).
   */
  private async quotaOfRename(parent: number, name: string, newParent: number, newName: string, flags: number): Promise<{ charge: Charge; done: () => void } | undefined> {
    const quota = this.core.quota;
    if (!quota?.active) return undefined;
    const moved = await this.core.lookup(parent, name);
    const target = await this.core.lookup(newParent, newName).catch((e: unknown) => {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
      throw e;
    });
    const charges = [await quota.move(parent, newParent, () => usageOfNode(this.core, moved))];
    const exchange = target && flags & RENAME_EXCHANGE;
    try {
      if (exchange) charges.push(await quota.move(newParent, parent, () => usageOfNode(this.core, target)));
    } catch (e) {
      charges[0]!.undo();
      throw e;
    }
    const replacedDirs = target && !exchange ? [...(await quota.quotasAt(newParent)), ...quota.freedBy(target)] : [];
    return {
      charge: { undo: () => charges.forEach((c) => c.undo()) },
      done: () => {
        if (moved.type === FileType.TYPE_DIRECTORY) quota.setParent(moved.inodeId, newParent);
        if (exchange && target.type === FileType.TYPE_DIRECTORY) quota.setParent(target.inodeId, parent);
        if (target && !exchange) quota.charge(replacedDirs, { bytes: -bytesOf(target), inodes: -1 });
      },
    };
  }

  async access(caller: Caller, ino: number, mask: number): Promise<void> {
    const a = await this.core.getattr(ino);
    checkAccess({ ...a, isDir: a.type === FileType.TYPE_DIRECTORY }, caller, mask);
  }

  // ---- extended attributes ----

  async setxattr(_caller: Caller, ino: number, name: string, value: Uint8Array, flags: number): Promise<void> {
    checkXattrName(name);
    await this.noXattrs.change(ino, () => this.dirChange(ino, () => this.core.setxattr(ino, name, value, flags), () => undefined));
    this.files.get(ino)?.xattrs.set(name, Uint8Array.from(value));
  }

  async getxattr(_caller: Caller, ino: number, name: string): Promise<Uint8Array> {
    checkXattrName(name);
    // The kernel asks for security.capability before every write (to drop file capabilities):
    // for a file open here the xattrs read at open answer it, saving a round trip per write.
    const file = name === CAPABILITY_XATTR ? this.files.get(ino) : undefined;
    if (file) {
      const v = file.xattrs.get(name);
      if (!v) throw new PosixError('ENODATA', name); // no stack trace: this is every write's path
      return v;
    }
    // ls -l asks security.selinux of every entry: a read that just said "none" answers it.
    if (this.noXattrs.has(ino)) throw new PosixError('ENODATA', name);
    return this.core.getxattr(ino, name);
  }

  async listxattr(_caller: Caller, ino: number): Promise<string[]> {
    return this.core.listxattr(ino);
  }

  async removexattr(_caller: Caller, ino: number, name: string): Promise<void> {
    checkXattrName(name);
    await this.noXattrs.change(ino, () => this.dirChange(ino, () => this.core.removexattr(ino, name), () => undefined));
    this.files.get(ino)?.xattrs.delete(name);
  }

  // ---- locks ----

  async getlk(ino: number, owner: bigint, lock: FileLock): Promise<FileLock> {
    return this.locks.test(ino, owner, lock);
  }

  async setlk(caller: Caller, ino: number, owner: bigint, lock: FileLock, sleep: boolean, flock: boolean): Promise<void> {
    await this.locks.set(ino, owner, { ...lock, pid: lock.pid || (caller.pid ?? 0) }, { flock, sleep, signal: sleep ? caller.signal : undefined });
  }

  // ---- lifecycle ----

  /** Saves every open file's data and releases its registration (the client is going away). */
  async shutdown(): Promise<void> {
    const files = [...this.files.values()];
    for (const h of this.handles.values()) if (h.kind === 'file') void this.opens.closed(h.ino);
    this.files.clear();
    this.handles.clear();
    await Promise.all(files.map((f) => this.closeFile(f)));
    await this.opens.settle();
  }
}
