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
