// Conversions between the wire's InodeAttr and what callers see (a node:fs-like Stats).
import { FileType } from '../gen/common_pb.ts';
import type { PosixAttr } from '../common/index.ts';
import type { InodeAttr } from '../gen/metaserver_pb.ts';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

export function fileTypeOfMode(mode: number): FileType {
  switch (mode & S_IFMT) {
    case S_IFDIR: return FileType.TYPE_DIRECTORY;
    case S_IFLNK: return FileType.TYPE_SYM_LINK;
    case S_IFIFO: return FileType.TYPE_FIFO;
    case S_IFSOCK: return FileType.TYPE_SOCKET;
    case S_IFCHR: return FileType.TYPE_CHAR_DEVICE;
    case S_IFBLK: return FileType.TYPE_BLOCK_DEVICE;
    default: return FileType.TYPE_S3;
  }
}

export function modeBitsOfType(type: FileType): number {
  switch (type) {
    case FileType.TYPE_DIRECTORY: return S_IFDIR;
    case FileType.TYPE_SYM_LINK: return S_IFLNK;
    case FileType.TYPE_FIFO: return S_IFIFO;
    case FileType.TYPE_SOCKET: return S_IFSOCK;
    case FileType.TYPE_CHAR_DEVICE: return S_IFCHR;
    case FileType.TYPE_BLOCK_DEVICE: return S_IFBLK;
    default: return S_IFREG;
  }
}


/** A node:fs.Stats-like view of an inode. Times are in milliseconds plus exact ns fields. */
export class Stat {
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly size: number;
  readonly blksize: number;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly atimeNs: [number, number];
  readonly mtimeNs: [number, number];
  readonly ctimeNs: [number, number];
  readonly type: FileType;
  readonly symlink: string;

  constructor(a: InodeAttr, blksize = 4096) {
    this.ino = a.inodeId;
    this.mode = a.mode;
    this.nlink = a.nlink;
    this.uid = a.uid;
    this.gid = a.gid;
    this.rdev = a.rdev;
    this.size = a.length;
    this.blksize = blksize;
    this.blocks = Math.ceil(a.length / 512);
    this.atimeNs = [a.atime, a.atimeNs];
    this.mtimeNs = [a.mtime, a.mtimeNs];
    this.ctimeNs = [a.ctime, a.ctimeNs];
    this.atimeMs = a.atime * 1000 + a.atimeNs / 1e6;
    this.mtimeMs = a.mtime * 1000 + a.mtimeNs / 1e6;
    this.ctimeMs = a.ctime * 1000 + a.ctimeNs / 1e6;
    this.type = a.type;
    this.symlink = a.symlink;
  }
  /** From the VFS's attributes (st_blocks as allocated, unsaved writes of this client included). */
  static fromAttr(a: PosixAttr, type: FileType, symlink = ''): Stat {
    const s = Object.create(Stat.prototype) as { -readonly [K in keyof Stat]: Stat[K] };
    s.ino = a.ino;
    s.mode = a.mode;
    s.nlink = a.nlink;
    s.uid = a.uid;
    s.gid = a.gid;
    s.rdev = a.rdev;
    s.size = a.size;
    s.blksize = a.blksize;
    s.blocks = a.blocks;
    s.atimeNs = [a.atimeSec, a.atimeNsec];
    s.mtimeNs = [a.mtimeSec, a.mtimeNsec];
    s.ctimeNs = [a.ctimeSec, a.ctimeNsec];
    s.atimeMs = a.atimeSec * 1000 + a.atimeNsec / 1e6;
    s.mtimeMs = a.mtimeSec * 1000 + a.mtimeNsec / 1e6;
    s.ctimeMs = a.ctimeSec * 1000 + a.ctimeNsec / 1e6;
    s.type = type;
    s.symlink = symlink;
    return s as Stat;
  }
  isDirectory(): boolean { return (this.mode & S_IFMT) === S_IFDIR; }
  isFile(): boolean { return (this.mode & S_IFMT) === S_IFREG; }
  isSymbolicLink(): boolean { return (this.mode & S_IFMT) === S_IFLNK; }
  isFIFO(): boolean { return (this.mode & S_IFMT) === S_IFIFO; }
  isSocket(): boolean { return (this.mode & S_IFMT) === S_IFSOCK; }
  isCharacterDevice(): boolean { return (this.mode & S_IFMT) === S_IFCHR; }
  isBlockDevice(): boolean { return (this.mode & S_IFMT) === S_IFBLK; }
}

export interface DirEntry {
  name: string;
  ino: number;
  type: FileType;
}
