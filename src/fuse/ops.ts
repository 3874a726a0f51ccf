// The inode-based operations a file system implements to be mounted (go-fuse raw-layer style).
//
// Every call names inodes by inode id (the session maps kernel node ids to inode ids and keeps
// the kernel's lookup counts), carries the caller's credentials and an AbortSignal that fires
// when the caller is interrupted, and may answer synchronously or with a promise.
// Failure is always an errno: throw `Errno` (or a CurveError, whose errno is used; or a node
// system error, whose code is used). Any method left out answers ENOSYS.
//
// Names are UTF-8 strings; the kernel hands bytes, and a name that is not valid UTF-8 is refused
// with EILSEQ before it reaches the ops.

import { constants as osConstants } from 'node:os';
import type { PosixAttr, PosixFileLock, PosixStatFs } from '../common/index.ts';

export const E = osConstants.errno;
const NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(E)) if (!NAMES.has(value)) NAMES.set(value, name);

/**
 * A failure with a positive errno number. Thrown on hot paths (every negative lookup), so it
 * captures no stack trace: the errno and the message say what happened.
 */
export class Errno extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number, message?: string) {
    const code = NAMES.get(errno) ?? `E${errno}`;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ? `${code}: ${message}` : code);
    Error.stackTraceLimit = limit;
    this.name = 'Errno';
    this.errno = errno;
    this.code = code;
  }
}

/** The caller of one request. */
export interface RequestContext {
  uid: number;
  gid: number;
  pid: number;
  /** Aborted when the kernel interrupts the request (the caller got a signal). */
  readonly signal: AbortSignal;
}

export type MaybePromise<T> = T | Promise<T>;

/** struct stat, as the kernel wants it (one shape with the VFS and the SDK). */
export type Attr = PosixAttr;

/** The answer to a name lookup (and to everything that creates a name). */
export interface Entry {
  attr: Attr;
  /** nodeid:generation must be unique over the file system's life; 0 when inode ids are never reused. */
  generation?: number;
  /** Override the mount's timeouts for this entry. */
  entryTimeoutSec?: number;
  attrTimeoutSec?: number;
}

/** The answer to getattr/setattr. */
export interface AttrReply {
  attr: Attr;
  attrTimeoutSec?: number;
}

/** Time to set: an explicit value or "now" (utimensat with UTIME_NOW). */
export type TimeSet = { sec: number; nsec: number } | 'now';

/** The fields SETATTR changes; absent means unchanged. */
export interface SetAttrRequest {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
  ctime?: { sec: number; nsec: number };
  /** The open handle the change came through (ftruncate, fchmod), if any. */
  fh?: number;
}

export interface OpenReply {
  fh: number;
  /** Bypass the page cache for this handle. */
  directIo?: boolean;
  /** Keep the kernel's cached data from a previous open (the file has not changed). */
  keepCache?: boolean;
  nonSeekable?: boolean;
}

export interface CreateReply {
  entry: Entry;
  open: OpenReply;
}

/** One directory entry. `cookie` is the offset to resume after this entry: stable under inserts and removals. */
export interface DirEntry {
  name: string;
  ino: number;
  /** File type bits (mode & S_IFMT). */
  type: number;
  cookie: number;
}
export interface DirEntryPlus {
  name: string;
  cookie: number;
  entry: Entry;
}

export type StatFs = PosixStatFs;

/** A byte-range lock. `end` is inclusive; OFFSET_MAX (Number.MAX_SAFE_INTEGER) is "to end of file". */
export type FileLock = PosixFileLock;
export { F_RDLCK, F_WRLCK, F_UNLCK, RENAME_NOREPLACE, RENAME_EXCHANGE } from '../common/index.ts';

export const RENAME_WHITEOUT = 4;
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

// ---- one small interface per capability ----

export interface LookupOps {
  /**
   * An entry whose `attr.ino` is 0 is a negative answer: the kernel remembers that the name does
   * not exist for the entry timeout (throwing ENOENT makes it ask again at the next access).
   */
  lookup(ctx: RequestContext, parent: number, name: string): MaybePromise<Entry>;
  /**
   * The kernel dropped its last reference to `ino` (its lookup count reached zero); `nlookup`
   * is the count released by that final FORGET. Only a hint for caches: no reply is possible.
   */
  forget?(ino: number, nlookup: number): void;
  /** Called once at mount with what the file system may tell the kernel unasked (notifications). */
  attachNotifier?(notifier: FuseNotifier): void;
}
/**
 * Messages from the file system to the kernel. A notification may wait on kernel locks (the
 * parent directory's, for an entry): it is written off the main thread and its promise settles
 * when the kernel has taken it.
 */
export interface FuseNotifier {
  /** FUSE_NOTIFY_INVAL_ENTRY: the kernel drops its dentry of `name` in `parent` (if it has one). */
  invalEntry(parent: number, name: string): Promise<void>;
}
export interface AttrOps {
  getattr(ctx: RequestContext, ino: number, fh?: number): MaybePromise<AttrReply>;
  setattr(ctx: RequestContext, ino: number, set: SetAttrRequest): MaybePromise<AttrReply>;
}
export interface SymlinkOps {
  readlink(ctx: RequestContext, ino: number): MaybePromise<string>;
  symlink(ctx: RequestContext, parent: number, name: string, target: string): MaybePromise<Entry>;
}
export interface NodeCreateOps {
  mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number): MaybePromise<Entry>;
  mkdir(ctx: RequestContext, parent: number, name: string, mode: number): MaybePromise<Entry>;
  create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number): MaybePromise<CreateReply>;
}
export interface NodeRemoveOps {
  unlink(ctx: RequestContext, parent: number, name: string): MaybePromise<void>;
  rmdir(ctx: RequestContext, parent: number, name: string): MaybePromise<void>;
}
export interface RenameOps {
  /** flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE (RENAME_WHITEOUT may be refused with EINVAL). */
  rename(
    ctx: RequestContext,
    parent: number,
    name: string,
    newParent: number,
    newName: string,
    flags: number,
  ): MaybePromise<void>;
}
export interface LinkOps {
  link(ctx: RequestContext, ino: number, newParent: number, newName: string): MaybePromise<Entry>;
}
export interface FileOps {
  /** flags: the open(2) flags (O_ACCMODE, O_TRUNC, O_APPEND ...; O_CREAT/O_EXCL already handled). */
  open(ctx: RequestContext, ino: number, flags: number): MaybePromise<OpenReply>;
  read(ctx: RequestContext, ino: number, fh: number, offset: number, size: number): MaybePromise<Uint8Array>;
  /** Returns the number of bytes written (all of data, unless an error). */
  write(ctx: RequestContext, ino: number, fh: number, offset: number, data: Uint8Array): MaybePromise<number>;
  /** Each close(2) of a descriptor; lockOwner identifies the closing file table (POSIX locks go with it). */
  flush?(ctx: RequestContext, ino: number, fh: number, lockOwner: bigint): MaybePromise<void>;
  /** The last close of the open file description. `flockOwner` is set when flock locks must be dropped. */
  release?(ctx: RequestContext, ino: number, fh: number, flags: number, flockOwner?: bigint): MaybePromise<void>;
  fsync?(ctx: RequestContext, ino: number, fh: number, datasync: boolean): MaybePromise<void>;
  fallocate?(ctx: RequestContext, ino: number, fh: number, offset: number, length: number, mode: number): MaybePromise<void>;
  /** SEEK_DATA / SEEK_HOLE (the kernel handles SET/CUR/END itself). ENXIO past the end. */
  lseek?(ctx: RequestContext, ino: number, fh: number, offset: number, whence: number): MaybePromise<number>;
}
export interface DirOps {
  opendir?(ctx: RequestContext, ino: number, flags: number): MaybePromise<OpenReply>;
  /**
   * Entries after `offset` (0 = from the start), in cookie order, "." and ".." included (they
   * are the file system's to list). `sizeHint` is the kernel's buffer size in bytes: return
   * about that much; entries that do not fit are asked for again from the last cookie sent.
   */
  readdir(ctx: RequestContext, ino: number, fh: number, offset: number, sizeHint: number): MaybePromise<DirEntry[]>;
  /** As readdir, with attributes ("." and ".." get no lookup reference from the kernel). */
  readdirplus?(ctx: RequestContext, ino: number, fh: number, offset: number, sizeHint: number): MaybePromise<DirEntryPlus[]>;
  releasedir?(ctx: RequestContext, ino: number, fh: number): MaybePromise<void>;
  fsyncdir?(ctx: RequestContext, ino: number, fh: number, datasync: boolean): MaybePromise<void>;
}
export interface StatfsOps {
  statfs(ctx: RequestContext, ino: number): MaybePromise<StatFs>;
}
/**
 * Extended attributes. The session does the size-probe protocol (size 0 → needed size, too small
 * → ERANGE), so getxattr/listxattr just return the whole value / list. A missing name is ENODATA.
 */
export interface XattrOps {
  setxattr(ctx: RequestContext, ino: number, name: string, value: Uint8Array, flags: number): MaybePromise<void>;
  getxattr(ctx: RequestContext, ino: number, name: string): MaybePromise<Uint8Array>;
  listxattr(ctx: RequestContext, ino: number): MaybePromise<string[]>;
  removexattr(ctx: RequestContext, ino: number, name: string): MaybePromise<void>;
}
export interface AccessOps {
  /** mask: R_OK 4 | W_OK 2 | X_OK 1, or F_OK 0. Only sent when the mount lacks default_permissions. */
  access(ctx: RequestContext, ino: number, mask: number): MaybePromise<void>;
}
/**
 * Locks. POSIX byte-range locks are owned by `owner` (the kernel's per-file-table id); flock
 * locks (flock=true) by the open file description, also passed as `owner`. The range is
 * ignored for flock. setlk with sleep=true waits (until granted or ctx.signal aborts → EINTR).
 */
export interface LockOps {
  getlk(ctx: RequestContext, ino: number, fh: number, owner: bigint, lock: FileLock): MaybePromise<FileLock>;
  setlk(
    ctx: RequestContext,
    ino: number,
    fh: number,
    owner: bigint,
    lock: FileLock,
    sleep: boolean,
    flock: boolean,
  ): MaybePromise<void>;
}
export interface LifecycleOps {
  /** After INIT is answered: the negotiated protocol. */
  init?(info: { major: number; minor: number; flags: number; maxWrite: number }): void;
  /** The kernel is done with the file system (unmount). */
  destroy?(): MaybePromise<void>;
}

/** Everything a mounted file system may implement; anything missing answers ENOSYS. */
export type FuseOps = Partial<
  LookupOps &
    AttrOps &
    SymlinkOps &
    NodeCreateOps &
    NodeRemoveOps &
    RenameOps &
    LinkOps &
    FileOps &
    DirOps &
    StatfsOps &
    XattrOps &
    AccessOps &
    LockOps &
    LifecycleOps
>;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
