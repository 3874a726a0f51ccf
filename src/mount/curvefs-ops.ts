// The FUSE operations of a curvefs mount, over the client library (FsCore by inode id) and the
// data layer (FileDataIO). Kernel node ids are inode ids (the session keeps the lookup counts;
// FORGET drops what this layer caches per inode).
//
// Decisions:
//  - Permissions: the mount uses default_permissions, so the kernel checks mode bits with the
//    caller's supplementary groups and capabilities, the sticky-directory rule (may_delete), and
//    ownership for chmod/chown/utimes (setattr_prepare) — for root and non-root callers alike.
//    What the kernel leaves to the file system is done here: owner and group of new nodes
//    (caller's fsuid/fsgid; group and S_ISGID inherited from a setgid directory). `access` is
//    answered too, for mounts without default_permissions.
//  - The kernel is the metadata cache (entry/attr timeouts); FsCore caches nothing, so every
//    request the kernel sends sees the metaserver's current state.
//  - Close-to-open: open re-reads the inode (length and block map) and keeps the kernel's page
//    cache only when the file did not change since this mount last saw it.
//  - Open-unlinked files: the client's open registry (FsCore.opens, src/client/open-registry.ts)
//    registers an open with the metaserver (OpenHandle) only when it can matter — when this
//    mount removes the last name of a file open here (FsCore's unlink and rename do it), when
//    an nlink-0 inode is opened, or once an open has lasted a few seconds (another client may
//    unlink it; the metaserver's reclaim grace covers that delay) — so a create is one commit.
//  - Lookups answer with the inode read with its dentry (one round trip when the inode lives
//    in the parent's partition). A missing name is answered as a negative entry (node id 0)
//    that the kernel keeps for the entry timeout: creates through this mount replace it in the
//    kernel's cache at once; another client's create becomes visible here within the entry
//    timeout, as a changed entry already does.
//  - st_blocks, SEEK_DATA and SEEK_HOLE follow tmpfs (allocation.ts), page by page. The block
//    map cannot hold slices past the file's length (AppendChunks raises the length to cover
//    them), so pages preallocated past the end (FALLOC_FL_KEEP_SIZE) are remembered by this
//    mount only, until a truncate cuts them or the mount ends.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode, createLogger } from '../common/index.ts';
import { blockMapOf, checkName, modeBitsOfType, type ClientSession, type FsCore, type FsView, type OpenRegistry, type SetAttrArgs } from '../client/index.ts';
import type { FileDataIO } from '../data/index.ts';
import { FileType } from '../gen/common_pb.ts';
import { InodeSchema, type Inode, type InodeAttr } from '../gen/metaserver_pb.ts';
import {
  E,
  Errno,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFDIR,
  S_IFMT,
  S_ISGID,
  type Attr,
  type AttrReply,
  type CreateReply,
  type DirEntry,
  type DirEntryPlus,
  type Entry,
  type FileLock,
  type FuseOps,
  type OpenReply,
  type RequestContext,
  type SetAttrRequest,
  type StatFs,
  type TimeSet,
} from '../fuse/index.ts';
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
import { DirCursor, type ListedEntry } from './dir-cursor.ts';
import { OpenFile } from './open-file.ts';
import { statfsOf } from './statfs.ts';

const log = createLogger('mount');

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const NAME_MAX = 255;
const ROOT = 1;
const CAPABILITY_XATTR = 'security.capability';

/** What the ops need from a connection (connectFs's result fits). */
export interface CurvefsConnection {
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

export interface CurvefsOpsOptions {
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

function isRegular(type: FileType): boolean {
  return type === FileType.TYPE_S3 || type === FileType.TYPE_FILE;
}

function fileTypeOfMode(mode: number): FileType {
  switch (mode & S_IFMT) {
    case 0o040000: return FileType.TYPE_DIRECTORY;
    case 0o120000: return FileType.TYPE_SYM_LINK;
    case 0o010000: return FileType.TYPE_FIFO;
    case 0o140000: return FileType.TYPE_SOCKET;
    case 0o020000: return FileType.TYPE_CHAR_DEVICE;
    case 0o060000: return FileType.TYPE_BLOCK_DEVICE;
    default: return FileType.TYPE_S3;
  }
}

/** What tells "the file changed" for keeping the kernel's page cache across opens. */
function signature(a: InodeAttr): string {
  return `${a.length}:${a.mtime}.${a.mtimeNs}:${a.ctime}.${a.ctimeNs}`;
}

function timeArg(t: TimeSet): [number, number] | 'now' {
  return t === 'now' ? 'now' : [t.sec, t.nsec];
}

function checkXattrName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name, 'utf8') > NAME_MAX) throw new Errno(E.ERANGE, 'xattr name');
  // system.* names the kernel does not handle itself (ACLs) are not supported, as on tmpfs.
  if (!/^(user|trusted|security)\./.test(name)) throw new Errno(E.EOPNOTSUPP, `xattr namespace of ${name}`);
}

/**
 * The answer to a lookup of a missing name: node id 0 with the entry timeout, which the kernel
 * keeps as a negative dentry (no LOOKUP for the name until it expires or a create here fills it).
 */
const NEGATIVE_ENTRY: Entry = {
  attr: {
    ino: 0, size: 0, blocks: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
    mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: PAGE_SIZE,
  },
};

export class CurvefsOps implements FuseOps {
  private readonly core: FsCore;
  private readonly io: FileDataIO;
  private readonly randomIo: FileDataIO | undefined;
  readonly locks: ClusterLocks;
  /** This client's opens and their registrations (shared with FsCore's unlink and rename). */
  private readonly opens: OpenRegistry;
  private readonly handles = new Map<number, HandleState>();
  private nextFh = 1;
  /** Regular files open in this mount, by inode. */
  private readonly files = new Map<number, OpenFile>();
  /** File type of inodes the kernel knows (from lookups), so getattr picks the right call. */
  private readonly types = new Map<number, FileType>();
  /** st_blocks last computed for a regular file (dropped on FORGET). */
  private readonly blocks = new Map<number, number>();
  /** Signature of a file when its last handle closed: decides FOPEN_KEEP_CACHE at reopen. */
  private readonly lastSeen = new Map<number, string>();
  /** Pages preallocated past the end of a file (fallocate KEEP_SIZE), as byte ranges. */
  private readonly pastEof = new Map<number, [number, number][]>();
  /** Mode and group of directories, for setgid inheritance. */
  private readonly dirInfo = new Map<number, { mode: number; gid: number; at: number }>();
  private readonly opts: Required<CurvefsOpsOptions>;
  /** Directories' attributes as this mount's own last change answered them (dir-attrs.ts). */
  private readonly dirAttrs: DirChangeAttrs<InodeAttr>;

  constructor(conn: CurvefsConnection, opts: CurvefsOpsOptions = {}) {
    this.core = conn.core;
    this.io = conn.data;
    this.randomIo = conn.randomData;
    if (conn.view.rootInodeId !== ROOT) throw new Error(`fs root inode is ${conn.view.rootInodeId}, the mount needs ${ROOT}`);
    const session = conn.session;
    this.locks = new ClusterLocks(conn.core.meta, session ? () => session.id : conn.sessionId);
    session?.onRenewed(() => this.locks.sessionLost());
    this.opens = conn.core.opens ?? conn.core.trackOpens(conn.sessionId);
    this.opts = {
      commitBytes: opts.commitBytes ?? 16 * 1024 * 1024,
      commitAgeMs: opts.commitAgeMs ?? 5000,
      bufferBytes: opts.bufferBytes ?? 64 * 1024 * 1024,
      dirInfoTtlMs: opts.dirInfoTtlMs ?? 1000,
      listPageSize: opts.listPageSize ?? 512,
    };
    this.dirAttrs = new DirChangeAttrs(this.opts.dirInfoTtlMs);
  }

  /** Open handles and open files (for tests and status). */
  stats(): { handles: number; files: number; locks: number } {
    return { handles: this.handles.size, files: this.files.size, locks: this.locks.held };
  }

  // ---- attributes ----

  private toAttr(a: InodeAttr, blocks: number): Attr {
    const type = a.mode & S_IFMT;
    if (type === S_IFDIR) this.dirInfo.set(a.inodeId, { mode: a.mode, gid: a.gid, at: performance.now() });
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

  /** Attributes of a file open here: fresh from the metaserver, with this mount's unsaved writes on top. */
  private openFileAttr(file: OpenFile, fresh: InodeAttr): Attr {
    const out = this.toAttr(fresh, blocksOf(this.allocationOf(file).allocated));
    if (file.dirtyData) {
      out.size = Math.max(fresh.length, file.size);
      if (file.dirtyMtime) {
        out.mtimeSec = out.ctimeSec = file.dirtyMtime.sec;
        out.mtimeNsec = out.ctimeNsec = file.dirtyMtime.nsec;
      }
    }
    return out;
  }

  /** Attributes of a regular file from its whole inode (the block map gives st_blocks). */
  private inodeAttr(inode: Inode): Attr {
    const a = inode.attr!;
    const blocks = blocksOf(this.allocationOfInode(inode).allocated);
    this.blocks.set(a.inodeId, blocks);
    return this.toAttr(a, blocks);
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
  private async attrOf(ino: number, type = this.types.get(ino)): Promise<Attr> {
    const file = this.files.get(ino);
    if (file) return this.openFileAttr(file, await this.core.getattr(ino));
    if (type !== undefined && isRegular(type)) return this.inodeAttr(await this.core.getInode(ino));
    const a = await this.core.getattr(ino);
    this.types.set(ino, a.type);
    if (isRegular(a.type)) return this.inodeAttr(await this.core.getInode(ino));
    return this.toAttr(a, 0);
  }

  /** Attributes after a change that returned `a`: st_blocks from what is known, else fetched. */
  private async attrAfterChange(a: InodeAttr, sizeChanged: boolean): Promise<Attr> {
    this.types.set(a.inodeId, a.type);
    if (!isRegular(a.type)) return this.toAttr(a, 0);
    const file = this.files.get(a.inodeId);
    if (file) return this.openFileAttr(file, a);
    const known = sizeChanged ? undefined : this.blocks.get(a.inodeId);
    if (known !== undefined) return this.toAttr(a, known);
    return this.inodeAttr(await this.core.getInode(a.inodeId));
  }

  private entry(attr: Attr): Entry {
    return { attr };
  }

  // ---- lookup ----

  async lookup(_ctx: RequestContext, parent: number, name: string): Promise<Entry> {
    if (name === '.') return this.entry(await this.attrOf(parent));
    if (name === '..') {
      const p = await this.core.getattr(parent);
      return this.entry(await this.attrOf(parent === ROOT ? ROOT : (p.parent[0] ?? ROOT)));
    }
    checkName(name);
    let inode: Inode;
    try {
      inode = await this.core.lookupInode(parent, name);
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return NEGATIVE_ENTRY;
      throw e;
    }
    const a = inode.attr!;
    this.types.set(a.inodeId, a.type);
    const file = this.files.get(a.inodeId);
    if (file) return this.entry(this.openFileAttr(file, a));
    return this.entry(isRegular(a.type) ? this.inodeAttr(inode) : this.toAttr(a, 0));
  }

  forget(ino: number): void {
    this.types.delete(ino);
    this.blocks.delete(ino);
    this.lastSeen.delete(ino);
    this.dirInfo.delete(ino);
  }

  async getattr(_ctx: RequestContext, ino: number): Promise<AttrReply> {
    const dir = this.dirAttrs.get(ino);
    if (dir) return { attr: this.toAttr(dir, 0) };
    return { attr: await this.attrOf(ino) };
  }

  setattr(_ctx: RequestContext, ino: number, set: SetAttrRequest): Promise<AttrReply> {
    return this.dirAttrs.change(ino, () => this.setattrNow(ino, set), () => undefined);
  }

  private async setattrNow(ino: number, set: SetAttrRequest): Promise<AttrReply> {
    const args: SetAttrArgs = {};
    if (set.mode !== undefined) args.mode = set.mode & 0o7777;
    if (set.uid !== undefined) args.uid = set.uid;
    if (set.gid !== undefined) args.gid = set.gid;
    if (set.size !== undefined) args.size = set.size;
    if (set.atime !== undefined) args.atime = timeArg(set.atime);
    if (set.mtime !== undefined) args.mtime = timeArg(set.mtime);
    const file = this.files.get(ino);
    if (file) {
      // Unsaved writes go first: a later commit must neither undo a truncate nor overwrite mtime.
      const a = await file.exclusive(async () => {
        await file.commitNow();
        if (set.size !== undefined) return this.truncateNow(ino, args, set.size, file);
        const attr = await this.core.setattr(ino, args);
        file.attr = attr;
        return attr;
      });
      return { attr: this.openFileAttr(file, a) };
    }
    if (set.size !== undefined && this.types.get(ino) !== FileType.TYPE_DIRECTORY) {
      const a = await this.truncateNow(ino, args, set.size, undefined);
      return { attr: await this.attrAfterChange(a, true) };
    }
    const a = await this.core.setattr(ino, args);
    return { attr: await this.attrAfterChange(a, set.size !== undefined) };
  }

  /**
   * setattr with a new size. Shrinking keeps the page the new end falls in as it was — holding
   * data, or only preallocated — even when everything left of it in the block map was cut (as
   * tmpfs keeps the page): a zero slice of the right kind over its remaining holes records that.
   * For an open file, call inside its `exclusive` with nothing dirty.
   */
  private async truncateNow(ino: number, args: SetAttrArgs, size: number, file: OpenFile | undefined): Promise<InodeAttr> {
    let before: Allocation = { data: [], allocated: [] };
    let oldSize = 0;
    if (file) {
      before = this.allocationOf(file);
      oldSize = file.size;
    } else {
      const inode = await this.core.getInode(ino);
      if (isRegular(inode.attr!.type)) {
        before = this.allocationOfInode(inode);
        oldSize = inode.attr!.length;
      }
    }
    // Growing a file counts against the capacity like a write (the length is what is counted).
    const grown = Math.max(0, size - oldSize);
    this.core.space.admit(grown);
    let a: InodeAttr;
    try {
      a = await this.core.setattr(ino, args);
    } catch (e) {
      this.core.space.release(grown);
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
          const res = await this.core.meta.callForInode('appendChunks', ino, { inodeId: ino, slices, minLength: 0, time: this.core.now() });
          if (res.inode) a = res.inode;
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

  async readlink(_ctx: RequestContext, ino: number): Promise<string> {
    return this.core.readlink(ino);
  }

  // ---- creating names ----

  /** Group and setgid bit a new node under `parent` inherits. */
  private async inherit(ctx: RequestContext, parent: number): Promise<{ gid: number; setgid: boolean }> {
    let info = this.dirInfo.get(parent);
    if (!info || performance.now() - info.at > this.opts.dirInfoTtlMs) {
      const a = await this.core.getattr(parent);
      if (a.type !== FileType.TYPE_DIRECTORY) throw new Errno(E.ENOTDIR);
      info = { mode: a.mode, gid: a.gid, at: performance.now() };
      this.dirInfo.set(parent, info);
    }
    return info.mode & S_ISGID ? { gid: info.gid, setgid: true } : { gid: ctx.gid, setgid: false };
  }

  private async createNode(
    ctx: RequestContext,
    parent: number,
    name: string,
    type: FileType,
    mode: number,
    extra: { rdev?: number; symlink?: string } = {},
  ): Promise<InodeAttr> {
    checkName(name);
    const { gid, setgid } = await this.inherit(ctx, parent);
    let bits = mode & 0o7777;
    if (setgid && type === FileType.TYPE_DIRECTORY) bits |= S_ISGID;
    const { attr: a } = await this.dirAttrs.change(
      parent,
      () => this.core.createWithParent(parent, name, { type, mode: bits, uid: ctx.uid, gid, ...extra }),
      (r) => r.parent,
    );
    this.types.set(a.inodeId, a.type);
    if (isRegular(a.type)) this.blocks.set(a.inodeId, 0);
    return a;
  }

  async mkdir(ctx: RequestContext, parent: number, name: string, mode: number): Promise<Entry> {
    return this.entry(this.toAttr(await this.createNode(ctx, parent, name, FileType.TYPE_DIRECTORY, mode), 0));
  }

  async mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number): Promise<Entry> {
    const type = fileTypeOfMode(mode);
    if (type === FileType.TYPE_DIRECTORY) throw new Errno(E.EINVAL, 'mknod of a directory');
    return this.entry(this.toAttr(await this.createNode(ctx, parent, name, type, mode, { rdev }), 0));
  }

  async symlink(ctx: RequestContext, parent: number, name: string, target: string): Promise<Entry> {
    if (Buffer.byteLength(target, 'utf8') >= 4096) throw new Errno(E.ENAMETOOLONG, 'symlink target');
    return this.entry(this.toAttr(await this.createNode(ctx, parent, name, FileType.TYPE_SYM_LINK, 0o777, { symlink: target }), 0));
  }

  async create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number): Promise<CreateReply> {
    let a: InodeAttr;
    try {
      a = await this.createNode(ctx, parent, name, FileType.TYPE_S3, mode);
    } catch (e) {
      // Someone else created the name since the kernel looked: open theirs (unless O_EXCL).
      if (!(e instanceof CurveError) || e.status !== StatusCode.DENTRY_EXIST || flags & O_EXCL) throw e;
      const entry = await this.lookup(ctx, parent, name);
      if (entry.attr.ino === 0) throw new Errno(E.ENOENT, name); // and removed again since
      if ((entry.attr.mode & S_IFMT) === S_IFDIR) throw new Errno(E.EISDIR, name);
      return { entry, open: await this.open(ctx, entry.attr.ino, flags) };
    }
    const file = this.openFileFor(create(InodeSchema, { attr: a }));
    const open = await this.openHandle(file, flags, false);
    return { entry: this.entry(this.toAttr(a, 0)), open };
  }

  async link(_ctx: RequestContext, ino: number, newParent: number, newName: string): Promise<Entry> {
    const a = await this.dirAttrs.change(newParent, () => this.core.link(ino, newParent, newName), () => undefined);
    return this.entry(await this.attrAfterChange(a, false));
  }

  // ---- removing names ----

  async unlink(_ctx: RequestContext, parent: number, name: string): Promise<void> {
    checkName(name);
    // FsCore registers an open file here whose last name this was.
    await this.dirAttrs.change(parent, () => this.core.unlink(parent, name), (r) => r.parent);
  }

  async rmdir(_ctx: RequestContext, parent: number, name: string): Promise<void> {
    if (name === '.') throw new Errno(E.EINVAL);
    if (name === '..') throw new Errno(E.ENOTEMPTY);
    const gone = await this.dirAttrs.change(parent, () => this.core.rmdir(parent, name), () => undefined);
    this.dirAttrs.drop(gone);
  }

  async rename(_ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new Errno(E.EINVAL, 'rename flags');
    checkName(name);
    checkName(newName);
    // FsCore registers a replaced file open here. Both directories change (and the moved
    // directory's "..", which is not cached here).
    const run = () => this.core.rename(parent, name, newParent, newName, flags);
    const none = () => undefined;
    const r = parent === newParent
      ? await this.dirAttrs.change(parent, run, none)
      : await this.dirAttrs.change(parent, () => this.dirAttrs.change(newParent, run, none), none);
    // Their ctime (and a directory's "..") changed too.
    this.dirAttrs.drop(r.moved);
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
  private async openHandle(file: OpenFile, flags: number, keepCache: boolean): Promise<OpenReply> {
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

  async open(_ctx: RequestContext, ino: number, flags: number): Promise<OpenReply> {
    const inode = await this.core.getInode(ino); // close-to-open: always fresh
    const a = inode.attr!;
    this.types.set(ino, a.type);
    if (a.type === FileType.TYPE_DIRECTORY) throw new Errno(E.EISDIR);
    if (!isRegular(a.type)) throw new Errno(E.EINVAL, 'not a regular file');
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
    const acc = flags & O_ACCMODE;
    const reply = await this.openHandle(file, flags, keepCache);
    if (flags & O_TRUNC && (acc === O_WRONLY || acc === O_RDWR)) {
      try {
        await file.exclusive(async () => {
          await file.commitNow();
          this.cutPastEof(ino, 0);
          if (file.size === 0) return;
          await this.core.setattr(ino, { size: 0 });
          await file.reloadNow();
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
    if (!h || h.kind !== 'file') throw new Errno(E.EBADF, `handle ${fh}`);
    return h;
  }

  async read(_ctx: RequestContext, _ino: number, fh: number, offset: number, size: number): Promise<Uint8Array> {
    return this.fileHandle(fh).file.read(offset, size);
  }

  async write(_ctx: RequestContext, _ino: number, fh: number, offset: number, data: Uint8Array): Promise<number> {
    const h = this.fileHandle(fh);
    return h.file.write(offset, data, (h.flags & O_APPEND) !== 0);
  }

  async flush(_ctx: RequestContext, ino: number, fh: number, lockOwner: bigint): Promise<void> {
    const h = this.handles.get(fh);
    try {
      if (h?.kind === 'file') await h.file.commit();
    } finally {
      await this.locks.releasePosix(ino, lockOwner);
    }
  }

  async fsync(_ctx: RequestContext, _ino: number, fh: number): Promise<void> {
    await this.fileHandle(fh).file.commit();
  }

  async release(_ctx: RequestContext, ino: number, fh: number, _flags: number, flockOwner?: bigint): Promise<void> {
    if (flockOwner !== undefined) {
      await this.locks.releaseFlock(ino, flockOwner).catch((e: unknown) => log.warn('flock release failed', { ino, error: String(e) }));
    }
    await this.releaseHandle(fh);
  }

  /** Drops handle `fh`; `opened` says the open registry counted it (it did unless opening failed). */
  private async releaseHandle(fh: number, opened = true): Promise<void> {
    const h = this.handles.get(fh);
    if (!h || h.kind !== 'file') return;
    this.handles.delete(fh);
    const file = h.file;
    const released = opened ? this.opens.closed(file.ino) : Promise.resolve();
    if (--file.handles > 0) return released;
    if (this.files.get(file.ino) === file) this.files.delete(file.ino);
    await this.closeFile(file);
    await released;
  }

  private async closeFile(file: OpenFile): Promise<void> {
    try {
      await file.close();
    } catch (e) {
      log.warn('data of a closed file could not be saved', { ino: file.ino, error: String(e) });
    }
    this.lastSeen.set(file.ino, signature(file.attr));
    this.blocks.set(file.ino, blocksOf(this.allocationOf(file).allocated));
  }

  async fallocate(_ctx: RequestContext, _ino: number, fh: number, offset: number, length: number, mode: number): Promise<void> {
    const file = this.fileHandle(fh).file;
    if (length <= 0 || offset < 0) throw new Errno(E.EINVAL);
    const punch = (mode & FALLOC_FL_PUNCH_HOLE) !== 0;
    const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
    if (punch ? mode !== (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) : mode & ~FALLOC_FL_KEEP_SIZE) throw new Errno(E.EOPNOTSUPP);
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

  async lseek(_ctx: RequestContext, _ino: number, fh: number, offset: number, whence: number): Promise<number> {
    const file = this.fileHandle(fh).file;
    const pos = seekDataHole(this.allocationOf(file).data, file.size, offset, whence);
    if (pos === undefined) throw new Errno(E.ENXIO);
    return pos;
  }

  // ---- directories ----

  async opendir(_ctx: RequestContext, ino: number): Promise<OpenReply> {
    const a = await this.core.getattr(ino);
    if (a.type !== FileType.TYPE_DIRECTORY) throw new Errno(E.ENOTDIR);
    const parent = ino === ROOT ? ROOT : (a.parent[0] ?? ROOT);
    const cursor = new DirCursor<InodeAttr>(ino, parent, (after, withAttr) => this.listPage(ino, after, withAttr));
    const fh = this.nextFh++;
    this.handles.set(fh, { kind: 'dir', ino, cursor });
    return { fh };
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
    if (!h || h.kind !== 'dir') throw new Errno(E.EBADF, `directory handle ${fh}`);
    return h.cursor;
  }

  async readdir(_ctx: RequestContext, _ino: number, fh: number, offset: number, sizeHint: number): Promise<DirEntry[]> {
    const list = await this.dirCursor(fh).list(offset, Math.ceil(sizeHint / 32) + 1, false);
    return list.map((e) => ({ name: e.name, ino: e.ino, type: e.type, cookie: e.cookie }));
  }

  async readdirplus(_ctx: RequestContext, _ino: number, fh: number, offset: number, sizeHint: number): Promise<DirEntryPlus[]> {
    const list = await this.dirCursor(fh).list(offset, Math.ceil(sizeHint / 160) + 1, true);
    const out: DirEntryPlus[] = [];
    for (const e of list) {
      if (e.name === '.' || e.name === '..') {
        // The kernel takes no reference and ignores the attributes of these two.
        out.push({ name: e.name, cookie: e.cookie, entry: { attr: this.placeholderAttr(e.ino) } });
        continue;
      }
      const a = e.attr;
      if (!a) continue; // removed between the listing and the attribute fetch
      this.types.set(a.inodeId, a.type);
      if (isRegular(a.type)) {
        const file = this.files.get(a.inodeId);
        // st_blocks needs the block map: the kernel asks for the attributes when it wants them.
        if (file) out.push({ name: e.name, cookie: e.cookie, entry: { attr: this.openFileAttr(file, a) } });
        else out.push({ name: e.name, cookie: e.cookie, entry: { attr: this.toAttr(a, this.blocks.get(a.inodeId) ?? 0), attrTimeoutSec: 0 } });
      } else {
        out.push({ name: e.name, cookie: e.cookie, entry: { attr: this.toAttr(a, 0) } });
      }
    }
    return out;
  }

  private placeholderAttr(ino: number): Attr {
    return {
      ino, size: 0, blocks: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
      mode: S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0, rdev: 0, blksize: PAGE_SIZE,
    };
  }

  releasedir(_ctx: RequestContext, _ino: number, fh: number): void {
    this.handles.delete(fh);
  }

  fsyncdir(): void {
    // Every namespace change is committed to the metaserver's Raft log before it is answered.
  }

  // ---- the file system ----

  /**
   * Used bytes and inodes as the MDS last answered (the partitions' own counts, at most a
   * heartbeat + a session refresh old), against the capacity (2^50 bytes when unlimited) and
   * 2^40 inodes (no inode limit).
   */
  statfs(): StatFs {
    return statfsOf(this.core.space, PAGE_SIZE, NAME_MAX);
  }

  async access(ctx: RequestContext, ino: number, mask: number): Promise<void> {
    const a = await this.core.getattr(ino);
    const isDir = a.type === FileType.TYPE_DIRECTORY;
    if (mask === 0) return;
    if (ctx.uid === 0) {
      // root may do anything except execute a file nobody may execute
      if (mask & 1 && !isDir && (a.mode & 0o111) === 0) throw new Errno(E.EACCES);
      return;
    }
    const bits = ctx.uid === a.uid ? (a.mode >> 6) & 7 : ctx.gid === a.gid ? (a.mode >> 3) & 7 : a.mode & 7;
    if ((bits & mask) !== mask) throw new Errno(E.EACCES);
  }

  // ---- extended attributes ----

  async setxattr(_ctx: RequestContext, ino: number, name: string, value: Uint8Array, flags: number): Promise<void> {
    checkXattrName(name);
    await this.dirAttrs.change(ino, () => this.core.setxattr(ino, name, value, flags), () => undefined);
    this.files.get(ino)?.xattrs.set(name, Uint8Array.from(value));
  }

  async getxattr(_ctx: RequestContext, ino: number, name: string): Promise<Uint8Array> {
    checkXattrName(name);
    // The kernel asks for security.capability before every write (to drop file capabilities):
    // for a file open here the xattrs read at open answer it, saving a round trip per write.
    const file = name === CAPABILITY_XATTR ? this.files.get(ino) : undefined;
    if (file) {
      const v = file.xattrs.get(name);
      if (!v) throw new Errno(E.ENODATA, name);
      return v;
    }
    return this.core.getxattr(ino, name);
  }

  async listxattr(_ctx: RequestContext, ino: number): Promise<string[]> {
    return this.core.listxattr(ino);
  }

  async removexattr(_ctx: RequestContext, ino: number, name: string): Promise<void> {
    checkXattrName(name);
    await this.dirAttrs.change(ino, () => this.core.removexattr(ino, name), () => undefined);
    this.files.get(ino)?.xattrs.delete(name);
  }

  // ---- locks ----

  async getlk(_ctx: RequestContext, ino: number, _fh: number, owner: bigint, lock: FileLock): Promise<FileLock> {
    return this.locks.test(ino, owner, lock);
  }

  async setlk(ctx: RequestContext, ino: number, _fh: number, owner: bigint, lock: FileLock, sleep: boolean, flock: boolean): Promise<void> {
    await this.locks.set(ino, owner, { ...lock, pid: lock.pid || ctx.pid }, { flock, sleep, signal: sleep ? ctx.signal : undefined });
  }

  // ---- lifecycle ----

  async destroy(): Promise<void> {
    await this.shutdown();
  }

  /** Saves every open file's data and releases its registration (the mount is going away). */
  async shutdown(): Promise<void> {
    const files = [...this.files.values()];
    for (const h of this.handles.values()) if (h.kind === 'file') void this.opens.closed(h.ino);
    this.files.clear();
    this.handles.clear();
    await Promise.all(files.map((f) => this.closeFile(f)));
    await this.opens.settle();
  }
}
