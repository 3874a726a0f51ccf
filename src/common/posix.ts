/**
 * struct stat, as the kernel and node:fs want it — one shape for the FUSE protocol layer, the VFS
 * and the SDK. Times are seconds + nanoseconds since the epoch.
 */
export interface PosixAttr {
  ino: number;
  size: number;
  /** 512-byte blocks allocated (tmpfs's count: whole 4 KiB pages holding data or preallocated). */
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /** File type and permission bits (S_IFREG | 0644 ...). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

/** struct statvfs, as statfs(2) and the kernel's STATFS answer want it. */
export interface PosixStatFs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** A byte-range lock. `end` is inclusive; Number.MAX_SAFE_INTEGER is "to end of file". */
export interface PosixFileLock {
  start: number;
  end: number;
  /** F_RDLCK 0, F_WRLCK 1, F_UNLCK 2. */
  type: number;
  pid: number;
}
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

/** renameat2(2) flags. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
