// The POSIX shapes the VFS answers in, independent of any front-end: the FUSE adapter passes them
// to the kernel as they are (src/fuse's types have the same fields), the SDK wraps them in Stat.
import { constants as osConstants } from 'node:os';
import type { PosixAttr, PosixFileLock, PosixStatFs } from '../common/index.ts';
import { CurveError, StatusCode } from '../common/index.ts';

/** errno numbers of this platform (what the kernel and node:fs use). */
export const E = osConstants.errno;

/**
 * Who makes a call: the kernel's request credentials for the mount, the SDK's configured
 * identity (root unless told otherwise) for the path API.
 */
export interface Caller {
  uid: number;
  gid: number;
  /** Supplementary groups (the SDK's; the kernel does not send them: it checks permissions itself). */
  groups?: readonly number[];
  /** Process id, for lock owners' F_GETLK answers. */
  pid?: number;
  /** Aborted when the caller gives up (a signal interrupted the system call). */
  signal?: AbortSignal;
}

/** Root, the SDK's default identity. */
export const ROOT_CALLER: Caller = { uid: 0, gid: 0 };

/** struct stat (src/common's PosixAttr: one shape with the FUSE layer and the SDK). */
export type Attr = PosixAttr;

/** Time to set: an explicit value or "now" (utimensat with UTIME_NOW). */
export type TimeSet = { sec: number; nsec: number } | 'now';

/** The fields a setattr changes; absent means unchanged. */
export interface SetAttrRequest {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
}

export type FileLock = PosixFileLock;

export type StatFs = PosixStatFs;

/** One directory entry; `cookie` is the offset to resume after it. `attr` only when asked for. */
export interface DirEntry {
  name: string;
  ino: number;
  /** File type bits (mode & S_IFMT). */
  type: number;
  cookie: number;
}

export { F_RDLCK, F_WRLCK, F_UNLCK, RENAME_NOREPLACE, RENAME_EXCHANGE } from '../common/index.ts';
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const NAME_MAX = 255;
/** Access masks (access(2)). */
export const R_OK = 4;
export const W_OK = 2;
export const X_OK = 1;

/**
 * A failure with an errno (`code` is its name, like node's system errors, which is what the
 * FUSE dispatcher and SDK callers read). Thrown on hot paths, so it captures no stack trace.
 */
export class PosixError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(code: keyof typeof E, message?: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ? `${code}: ${message}` : code);
    Error.stackTraceLimit = limit;
    this.name = 'PosixError';
    this.errno = E[code];
    this.code = code;
  }
}

/** The status that says each errno the VFS reports, so that SDK callers see CurveErrors. */
const STATUS_OF: Partial<Record<keyof typeof E, StatusCode>> = {
  EACCES: StatusCode.PERMISSION_DENIED,
  EPERM: StatusCode.NOT_PERMITTED,
  ENOENT: StatusCode.NOT_FOUND,
  EISDIR: StatusCode.IS_DIRECTORY,
  ENOTDIR: StatusCode.NOT_DIRECTORY,
  EINVAL: StatusCode.PARAM_ERROR,
  ENOTEMPTY: StatusCode.DIRECTORY_NOT_EMPTY,
  ENAMETOOLONG: StatusCode.NAME_TOO_LONG,
  ERANGE: StatusCode.XATTR_RANGE,
  EOPNOTSUPP: StatusCode.NOT_SUPPORTED,
  ENODATA: StatusCode.NO_XATTR,
  EEXIST: StatusCode.DENTRY_EXIST,
};

/** A failure with errno `code`: a CurveError when a status says it (what SDK callers test), else a PosixError. */
export function posixError(code: keyof typeof E, message?: string): Error {
  const status = STATUS_OF[code];
  return status !== undefined ? new CurveError(status, message) : new PosixError(code, message);
}
