// Status codes are values: every failure on the wire or in the state machines is a StatusCode
// (proto/common.proto), and this file is the one place that maps them to errno for clients.
import { StatusCode } from '../gen/common_pb.ts';
import { constants as osConstants } from 'node:os';

export { StatusCode };

const E = osConstants.errno;

/** errno (positive) for every status a client can see; anything unlisted is EIO. */
const ERRNO: Partial<Record<StatusCode, number>> = {
  [StatusCode.OK]: 0,
  [StatusCode.PARAM_ERROR]: E.EINVAL,
  [StatusCode.NOT_FOUND]: E.ENOENT,
  [StatusCode.INODE_EXIST]: E.EEXIST,
  [StatusCode.DENTRY_EXIST]: E.EEXIST,
  [StatusCode.SYM_LINK_EMPTY]: E.ENOENT,
  [StatusCode.OVERLOAD]: E.EAGAIN,
  [StatusCode.TARGET_DIRECTORY_EXIST]: E.EEXIST,
  [StatusCode.PARTITION_ID_MISSMATCH]: E.EINVAL,
  [StatusCode.FS_EXIST]: E.EEXIST,
  [StatusCode.FS_NOT_FOUND]: E.ENOENT,
  [StatusCode.FS_BUSY]: E.EBUSY,
  [StatusCode.FSNAME_INVALID]: E.EINVAL,
  [StatusCode.MOUNT_POINT_EXIST]: E.EEXIST,
  [StatusCode.MOUNT_POINT_NOT_EXIST]: E.ENOENT,
  [StatusCode.INVALID_NAME]: E.EINVAL,
  [StatusCode.NAME_TOO_LONG]: E.ENAMETOOLONG,
  [StatusCode.NOT_DIRECTORY]: E.ENOTDIR,
  [StatusCode.IS_DIRECTORY]: E.EISDIR,
  [StatusCode.DIRECTORY_NOT_EMPTY]: E.ENOTEMPTY,
  [StatusCode.NO_XATTR]: E.ENODATA,
  [StatusCode.XATTR_RANGE]: E.ERANGE,
  [StatusCode.XATTR_EXIST]: E.EEXIST,
  [StatusCode.TOO_MANY_LINKS]: E.EMLINK,
  [StatusCode.INVALID_RENAME]: E.EINVAL,
  [StatusCode.DIRECTORY_REMOVED]: E.ENOENT,
  [StatusCode.WRONG_TYPE]: E.EINVAL,
  [StatusCode.NO_SPACE]: E.ENOSPC,
  [StatusCode.QUOTA_EXCEEDED]: E.EDQUOT,
  [StatusCode.PERMISSION_DENIED]: E.EACCES,
  [StatusCode.NOT_PERMITTED]: E.EPERM,
  [StatusCode.CROSS_DEVICE]: E.EXDEV,
  [StatusCode.BUSY]: E.EBUSY,
  [StatusCode.NOT_SUPPORTED]: E.EOPNOTSUPP,
  [StatusCode.ID_OUT_OF_RANGE]: E.EINVAL,
  [StatusCode.STALE]: E.ESTALE,
  [StatusCode.TOO_MANY_SYMLINKS]: E.ELOOP,
  [StatusCode.TIMEOUT]: E.ETIMEDOUT,
  [StatusCode.CANCELLED]: E.ECANCELED,
  [StatusCode.UNKNOWN_METHOD]: E.ENOSYS,
  [StatusCode.UNAVAILABLE]: E.EAGAIN,
  [StatusCode.UNAUTHENTICATED]: E.EACCES,
  [StatusCode.FORBIDDEN]: E.EPERM,
};

export function statusToErrno(code: StatusCode): number {
  return ERRNO[code] ?? E.EIO;
}

export function statusName(code: StatusCode): string {
  return StatusCode[code] ?? `STATUS_${code}`;
}

/** Errno name ("ENOENT") for a positive errno number. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** errno → its first name in os.constants.errno (asked for every CurveError: no walk per call). */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(E)) if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);

/**
 * An error that carries a StatusCode. Thrown by RPC clients for non-OK responses and by
 * library code; `errno` and `code` (the errno name, like node's fs errors) let callers treat it
 * like a system error.
 */
/** Statuses that answer a question rather than report a failure (see CurveError). */
const ANSWER_STATUSES: ReadonlySet<StatusCode> = new Set([
  StatusCode.NOT_FOUND,
  StatusCode.INODE_EXIST,
  StatusCode.DENTRY_EXIST,
  StatusCode.TARGET_DIRECTORY_EXIST,
  StatusCode.DIRECTORY_NOT_EMPTY,
  StatusCode.XATTR_EXIST,
]);

export class CurveError extends Error {
  readonly status: StatusCode;
  readonly errno: number;
  readonly code: string;
  /** Leader address for NOT_LEADER / REDIRECTED, when known. */
  readonly leaderHint: string | undefined;

  constructor(status: StatusCode, message?: string, leaderHint?: string) {
    // An answer a caller expects (no such name, name exists, directory not empty) needs no stack:
    // capturing one was ~3 % of the mount's CPU on a create loop (every create starts with a
    // lookup that finds nothing). Every other status keeps its stack for debugging.
    const limit = Error.stackTraceLimit;
    if (ANSWER_STATUSES.has(status)) Error.stackTraceLimit = 0;
    super(message ? `${statusName(status)}: ${message}` : statusName(status));
    Error.stackTraceLimit = limit;
    this.name = 'CurveError';
    this.status = status;
    this.errno = statusToErrno(status);
    this.code = errnoName(this.errno);
    this.leaderHint = leaderHint;
  }
}

export function isCurveError(e: unknown, status?: StatusCode): e is CurveError {
  return e instanceof CurveError && (status === undefined || e.status === status);
}
