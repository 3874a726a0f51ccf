// The FUSE kernel ABI (linux/fuse.h), protocol 7.x: opcodes, flag bits and the byte layout of
// every request and reply struct we speak. Little-endian, 64-bit aligned, exactly as the header.
//
// Decoders read from a DataView at an offset and return plain objects; encoders write into a
// caller-owned DataView (the session keeps one reusable reply buffer). 64-bit fields become JS
// numbers: node ids, file handles, offsets and sizes stay far below 2^53 in practice; lock
// ranges clamp to OFFSET_MAX and lock owners (opaque kernel values) stay bigint.
import type { PosixStatFs } from '../common/index.ts';

/** The protocol we implement: 7.31. The kernel's minor is taken when lower (see negotiateInit). */
export const FUSE_KERNEL_VERSION = 7;
export const FUSE_MAX_MINOR = 31;
/** Oldest minor we accept: 7.23 has the 64-byte fuse_init_out, RENAME2 and modern struct sizes. */
export const FUSE_MIN_MINOR = 23;
export const FUSE_ROOT_ID = 1;
export const FUSE_MIN_READ_BUFFER = 8192;

export enum Op {
  LOOKUP = 1,
  FORGET = 2,
  GETATTR = 3,
  SETATTR = 4,
  READLINK = 5,
  SYMLINK = 6,
  MKNOD = 8,
  MKDIR = 9,
  UNLINK = 10,
  RMDIR = 11,
  RENAME = 12,
  LINK = 13,
  OPEN = 14,
  READ = 15,
  WRITE = 16,
  STATFS = 17,
  RELEASE = 18,
  FSYNC = 20,
  SETXATTR = 21,
  GETXATTR = 22,
  LISTXATTR = 23,
  REMOVEXATTR = 24,
  FLUSH = 25,
  INIT = 26,
  OPENDIR = 27,
  READDIR = 28,
  RELEASEDIR = 29,
  FSYNCDIR = 30,
  GETLK = 31,
  SETLK = 32,
  SETLKW = 33,
  ACCESS = 34,
  CREATE = 35,
  INTERRUPT = 36,
  BMAP = 37,
  DESTROY = 38,
  IOCTL = 39,
  POLL = 40,
  NOTIFY_REPLY = 41,
  BATCH_FORGET = 42,
  FALLOCATE = 43,
  READDIRPLUS = 44,
  RENAME2 = 45,
  LSEEK = 46,
  COPY_FILE_RANGE = 47,
  SETUPMAPPING = 48,
  REMOVEMAPPING = 49,
  SYNCFS = 50,
  TMPFILE = 51,
}

const OP_NAMES: Record<number, string> = {
  1: 'LOOKUP', 2: 'FORGET', 3: 'GETATTR', 4: 'SETATTR', 5: 'READLINK', 6: 'SYMLINK', 8: 'MKNOD',
  9: 'MKDIR', 10: 'UNLINK', 11: 'RMDIR', 12: 'RENAME', 13: 'LINK', 14: 'OPEN', 15: 'READ',
  16: 'WRITE', 17: 'STATFS', 18: 'RELEASE', 20: 'FSYNC', 21: 'SETXATTR', 22: 'GETXATTR',
  23: 'LISTXATTR', 24: 'REMOVEXATTR', 25: 'FLUSH', 26: 'INIT', 27: 'OPENDIR', 28: 'READDIR',
  29: 'RELEASEDIR', 30: 'FSYNCDIR', 31: 'GETLK', 32: 'SETLK', 33: 'SETLKW', 34: 'ACCESS',
  35: 'CREATE', 36: 'INTERRUPT', 37: 'BMAP', 38: 'DESTROY', 39: 'IOCTL', 40: 'POLL',
  41: 'NOTIFY_REPLY', 42: 'BATCH_FORGET', 43: 'FALLOCATE', 44: 'READDIRPLUS', 45: 'RENAME2',
  46: 'LSEEK', 47: 'COPY_FILE_RANGE', 48: 'SETUPMAPPING', 49: 'REMOVEMAPPING', 50: 'SYNCFS',
  51: 'TMPFILE',
};
export function opName(op: number): string {
  return OP_NAMES[op] ?? `OP_${op}`;
}

// INIT flags (fuse_init_in.flags / fuse_init_out.flags).
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  FILE_OPS: 1 << 2,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  HAS_IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  HANDLE_KILLPRIV: 1 << 19,
  POSIX_ACL: 1 << 20,
  ABORT_ERROR: 1 << 21,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
  MAP_ALIGNMENT: 1 << 26,
  // Bit 31 shifted left would be negative in JS: keep flags as unsigned via >>> 0.
} as const;

// fuse_setattr_in.valid
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_LOCKOWNER = 1 << 9;
export const FATTR_CTIME = 1 << 10;

// fuse_open_out.open_flags
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;

export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_LK_FLOCK = 1 << 0;
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_READ_LOCKOWNER = 1 << 1;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;

/** The largest file offset the kernel uses for "to end of file" in lock ranges (2^63 - 1). */
export const OFFSET_MAX = Number.MAX_SAFE_INTEGER;
const OFFSET_MAX_BIG = 0x7fffffffffffffffn;

// Struct sizes.
export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE; // 128
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE; // 104
export const OPEN_OUT_SIZE = 16;
export const WRITE_OUT_SIZE = 8;
export const STATFS_OUT_SIZE = 80;
export const GETXATTR_OUT_SIZE = 8;
export const LK_OUT_SIZE = 24;
export const LSEEK_OUT_SIZE = 8;
export const INIT_OUT_SIZE = 64;
export const DIRENT_HEADER_SIZE = 24;
export const DIRENTPLUS_HEADER_SIZE = ENTRY_OUT_SIZE + DIRENT_HEADER_SIZE; // 152
export const WRITE_IN_SIZE = 40;
export const BATCH_FORGET_ONE_SIZE = 16;

// ---- primitive helpers ----

export function u64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 0x1_0000_0000;
}
/** u64 that may be near 2^64 (lock ranges): clamps to OFFSET_MAX. */
export function u64Clamped(dv: DataView, off: number): number {
  const hi = dv.getUint32(off + 4, true);
  if (hi >= 0x200000) return OFFSET_MAX;
  return dv.getUint32(off, true) + hi * 0x1_0000_0000;
}
export function setU64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, Math.floor(v / 0x1_0000_0000) >>> 0, true);
}
function setOffset(dv: DataView, off: number, v: number): void {
  if (v >= OFFSET_MAX) dv.setBigUint64(off, OFFSET_MAX_BIG, true);
  else setU64(dv, off, v);
}
export function setI64(dv: DataView, off: number, v: number): void {
  dv.setBigInt64(off, BigInt(Math.trunc(v)), true);
}

/** Reads a NUL-terminated name starting at `off` within `bytes`; returns it and the offset past the NUL. */
export function cstring(bytes: Uint8Array, off: number, end: number): { value: Uint8Array; next: number } {
  let i = off;
  while (i < end && bytes[i] !== 0) i++;
  return { value: bytes.subarray(off, i), next: i + 1 };
}

// ---- request header ----

export interface InHeader {
  len: number;
  opcode: number;
  unique: number;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
}
export function decodeInHeader(dv: DataView): InHeader {
  return {
    len: dv.getUint32(0, true),
    opcode: dv.getUint32(4, true),
    unique: u64(dv, 8),
    nodeid: u64(dv, 16),
    uid: dv.getUint32(24, true),
    gid: dv.getUint32(28, true),
    pid: dv.getUint32(32, true),
  };
}
export function encodeOutHeader(dv: DataView, len: number, error: number, unique: number): void {
  dv.setUint32(0, len, true);
  dv.setInt32(4, error, true);
  setU64(dv, 8, unique);
}

// ---- notifications (unique 0, the code in the error field) ----

export const FUSE_NOTIFY_INVAL_ENTRY = 3;

/** fuse_out_header + fuse_notify_inval_entry_out { parent, namelen, flags } + name + NUL. */
export function encodeNotifyInvalEntry(parent: number, name: string): Uint8Array {
  const nm = Buffer.from(name);
  const buf = new Uint8Array(OUT_HEADER_SIZE + 16 + nm.length + 1);
  const dv = new DataView(buf.buffer);
  encodeOutHeader(dv, buf.length, FUSE_NOTIFY_INVAL_ENTRY, 0);
  setU64(dv, OUT_HEADER_SIZE, parent);
  dv.setUint32(OUT_HEADER_SIZE + 8, nm.length, true);
  dv.setUint32(OUT_HEADER_SIZE + 12, 0, true);
  buf.set(nm, OUT_HEADER_SIZE + 16);
  return buf;
}

// ---- INIT ----

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}
export function decodeInitIn(dv: DataView, off: number): InitIn {
  return {
    major: dv.getUint32(off, true),
    minor: dv.getUint32(off + 4, true),
    maxReadahead: dv.getUint32(off + 8, true),
    flags: dv.getUint32(off + 12, true),
  };
}
export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
}
export function encodeInitOut(dv: DataView, off: number, o: InitOut): number {
  for (let i = 0; i < INIT_OUT_SIZE; i += 4) dv.setUint32(off + i, 0, true);
  dv.setUint32(off, o.major, true);
  dv.setUint32(off + 4, o.minor, true);
  dv.setUint32(off + 8, o.maxReadahead, true);
  dv.setUint32(off + 12, o.flags >>> 0, true);
  dv.setUint16(off + 16, o.maxBackground, true);
  dv.setUint16(off + 18, o.congestionThreshold, true);
  dv.setUint32(off + 20, o.maxWrite, true);
  dv.setUint32(off + 24, o.timeGran, true);
  dv.setUint16(off + 28, o.maxPages, true);
  return INIT_OUT_SIZE;
}

export interface InitChoice {
  /** Optional features, each enabled only if the kernel offers it. */
  writebackCache: boolean;
  /** The file system answers READDIRPLUS (without it the kernel must be told to send READDIR only). */
  readdirplus: boolean;
  maxWrite: number;
  maxReadahead: number;
  maxBackground: number;
}
/**
 * Picks the reply to the kernel's INIT. The minor is the kernel's, capped at FUSE_MAX_MINOR; a
 * kernel older than FUSE_MIN_MINOR or a different major is refused (null).
 *
 * Flags, each only if the kernel offers it:
 *  - ASYNC_READ: several reads of one file in flight (the reader workers serve them in parallel).
 *  - POSIX_LOCKS, FLOCK_LOCKS: fcntl and flock locks go to the file system (cluster-wide locks);
 *    without them the kernel would keep locks local to this mount.
 *  - ATOMIC_O_TRUNC: O_TRUNC arrives in OPEN instead of a separate SETATTR(size=0).
 *  - BIG_WRITES + MAX_PAGES: writes up to maxWrite (1 MiB) in one request.
 *  - DO_READDIRPLUS + READDIRPLUS_AUTO, when the file system has readdirplus: the first
 *    READDIR of a listing, and the next ones once the caller looked entries up (`ls -l`), carry
 *    each entry's attributes and an entry reference — no LOOKUP per name; a plain `ls` or
 *    `find` gets plain READDIR after the first batch, so it does not pay for attributes.
 *  - PARALLEL_DIROPS: lookups and readdirs in one directory are not serialised by the kernel.
 *  - CACHE_SYMLINKS: the kernel caches readlink results (invalidated with the attributes).
 *  - WRITEBACK_CACHE only on request: with it the kernel owns mtime and size during writes,
 *    which breaks close-to-open between mounts unless the fs flushes on every close.
 *  - not set: EXPORT_SUPPORT (NFS re-export needs lookups of "." / ".."), DONT_MASK (the kernel
 *    applies the umask), POSIX_ACL, SPLICE_* (we copy through JS buffers anyway).
 */
export function negotiateInit(kernel: InitIn, choice: InitChoice): InitOut | null {
  if (kernel.major !== FUSE_KERNEL_VERSION || kernel.minor < FUSE_MIN_MINOR) return null;
  const minor = Math.min(kernel.minor, FUSE_MAX_MINOR);
  let want =
    InitFlag.ASYNC_READ |
    InitFlag.POSIX_LOCKS |
    InitFlag.FLOCK_LOCKS |
    InitFlag.ATOMIC_O_TRUNC |
    InitFlag.BIG_WRITES |
    InitFlag.PARALLEL_DIROPS |
    InitFlag.MAX_PAGES |
    InitFlag.CACHE_SYMLINKS;
  if (choice.writebackCache) want |= InitFlag.WRITEBACK_CACHE;
  if (choice.readdirplus) want |= InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO;
  const flags = (want & kernel.flags) >>> 0;
  const maxPagesOk = (flags & InitFlag.MAX_PAGES) !== 0;
  const maxWrite = maxPagesOk ? choice.maxWrite : Math.min(choice.maxWrite, 128 * 1024);
  return {
    major: FUSE_KERNEL_VERSION,
    minor,
    maxReadahead: Math.min(kernel.maxReadahead, choice.maxReadahead),
    flags,
    maxBackground: choice.maxBackground,
    congestionThreshold: Math.floor((choice.maxBackground * 3) / 4),
    maxWrite,
    timeGran: 1,
    maxPages: maxPagesOk ? Math.ceil(maxWrite / 4096) : 0,
  };
}

// ---- attributes and entries ----

/** struct fuse_attr, in the field order of the header. */
export interface AttrFields {
  ino: number;
  size: number;
  blocks: number;
  atimeSec: number;
  mtimeSec: number;
  ctimeSec: number;
  atimeNsec: number;
  mtimeNsec: number;
  ctimeNsec: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}
export function encodeAttr(dv: DataView, off: number, a: AttrFields): void {
  setU64(dv, off, a.ino);
  setU64(dv, off + 8, a.size);
  setU64(dv, off + 16, a.blocks);
  setI64time(dv, off + 24, a.atimeSec);
  setI64time(dv, off + 32, a.mtimeSec);
  setI64time(dv, off + 40, a.ctimeSec);
  dv.setUint32(off + 48, a.atimeNsec, true);
  dv.setUint32(off + 52, a.mtimeNsec, true);
  dv.setUint32(off + 56, a.ctimeNsec, true);
  dv.setUint32(off + 60, a.mode, true);
  dv.setUint32(off + 64, a.nlink, true);
  dv.setUint32(off + 68, a.uid, true);
  dv.setUint32(off + 72, a.gid, true);
  dv.setUint32(off + 76, a.rdev, true);
  dv.setUint32(off + 80, a.blksize, true);
  dv.setUint32(off + 84, 0, true);
}
function setI64time(dv: DataView, off: number, sec: number): void {
  if (sec >= 0 && sec < 0x1_0000_0000 * 0x20_0000) setU64(dv, off, sec);
  else setI64(dv, off, sec);
}

/** Splits a timeout in seconds into the (u64 sec, u32 nsec) pair of entry_valid / attr_valid. */
export function encodeValid(dv: DataView, secOff: number, nsecOff: number, timeoutSec: number): void {
  const t = timeoutSec > 0 ? timeoutSec : 0;
  const sec = Math.floor(t);
  setU64(dv, secOff, sec);
  dv.setUint32(nsecOff, Math.round((t - sec) * 1e9) % 1_000_000_000, true);
}

export function encodeEntryOut(
  dv: DataView,
  off: number,
  nodeid: number,
  generation: number,
  entryTimeoutSec: number,
  attrTimeoutSec: number,
  attr: AttrFields,
): number {
  setU64(dv, off, nodeid);
  setU64(dv, off + 8, generation);
  encodeValid(dv, off + 16, off + 32, entryTimeoutSec);
  encodeValid(dv, off + 24, off + 36, attrTimeoutSec);
  encodeAttr(dv, off + 40, attr);
  return ENTRY_OUT_SIZE;
}

export function encodeAttrOut(dv: DataView, off: number, attrTimeoutSec: number, attr: AttrFields): number {
  encodeValid(dv, off, off + 8, attrTimeoutSec);
  dv.setUint32(off + 12, 0, true);
  encodeAttr(dv, off + 16, attr);
  return ATTR_OUT_SIZE;
}

// ---- request bodies ----

export interface GetattrIn {
  flags: number;
  fh: number;
}
export function decodeGetattrIn(dv: DataView, off: number): GetattrIn {
  return { flags: dv.getUint32(off, true), fh: u64(dv, off + 8) };
}

export interface SetattrIn {
  valid: number;
  fh: number;
  size: number;
  lockOwner: bigint;
  atimeSec: number;
  mtimeSec: number;
  ctimeSec: number;
  atimeNsec: number;
  mtimeNsec: number;
  ctimeNsec: number;
  mode: number;
  uid: number;
  gid: number;
}
export function decodeSetattrIn(dv: DataView, off: number): SetattrIn {
  return {
    valid: dv.getUint32(off, true),
    fh: u64(dv, off + 8),
    size: u64(dv, off + 16),
    lockOwner: dv.getBigUint64(off + 24, true),
    atimeSec: Number(dv.getBigInt64(off + 32, true)),
    mtimeSec: Number(dv.getBigInt64(off + 40, true)),
    ctimeSec: Number(dv.getBigInt64(off + 48, true)),
    atimeNsec: dv.getUint32(off + 56, true),
    mtimeNsec: dv.getUint32(off + 60, true),
    ctimeNsec: dv.getUint32(off + 64, true),
    mode: dv.getUint32(off + 68, true),
    uid: dv.getUint32(off + 76, true),
    gid: dv.getUint32(off + 80, true),
  };
}

export interface MknodIn {
  mode: number;
  rdev: number;
  umask: number;
}
export const MKNOD_IN_SIZE = 16;
export function decodeMknodIn(dv: DataView, off: number): MknodIn {
  return { mode: dv.getUint32(off, true), rdev: dv.getUint32(off + 4, true), umask: dv.getUint32(off + 8, true) };
}
export const MKDIR_IN_SIZE = 8;
export function decodeMkdirIn(dv: DataView, off: number): { mode: number; umask: number } {
  return { mode: dv.getUint32(off, true), umask: dv.getUint32(off + 4, true) };
}
export const RENAME_IN_SIZE = 8;
export const RENAME2_IN_SIZE = 16;
export function decodeRename2In(dv: DataView, off: number): { newdir: number; flags: number } {
  return { newdir: u64(dv, off), flags: dv.getUint32(off + 8, true) };
}
export const LINK_IN_SIZE = 8;

export interface OpenIn {
  flags: number;
}
export const OPEN_IN_SIZE = 8;
export function decodeOpenIn(dv: DataView, off: number): OpenIn {
  return { flags: dv.getUint32(off, true) };
}
export const CREATE_IN_SIZE = 16;
export function decodeCreateIn(dv: DataView, off: number): { flags: number; mode: number; umask: number } {
  return { flags: dv.getUint32(off, true), mode: dv.getUint32(off + 4, true), umask: dv.getUint32(off + 8, true) };
}
export function encodeOpenOut(dv: DataView, off: number, fh: number, openFlags: number): number {
  setU64(dv, off, fh);
  dv.setUint32(off + 8, openFlags, true);
  dv.setUint32(off + 12, 0, true);
  return OPEN_OUT_SIZE;
}

export interface ReleaseIn {
  fh: number;
  flags: number;
  releaseFlags: number;
  lockOwner: bigint;
}
export function decodeReleaseIn(dv: DataView, off: number): ReleaseIn {
  return {
    fh: u64(dv, off),
    flags: dv.getUint32(off + 8, true),
    releaseFlags: dv.getUint32(off + 12, true),
    lockOwner: dv.getBigUint64(off + 16, true),
  };
}
export function decodeFlushIn(dv: DataView, off: number): { fh: number; lockOwner: bigint } {
  return { fh: u64(dv, off), lockOwner: dv.getBigUint64(off + 16, true) };
}

export interface ReadIn {
  fh: number;
  offset: number;
  size: number;
  readFlags: number;
  lockOwner: bigint;
  flags: number;
}
export function decodeReadIn(dv: DataView, off: number): ReadIn {
  return {
    fh: u64(dv, off),
    offset: u64(dv, off + 8),
    size: dv.getUint32(off + 16, true),
    readFlags: dv.getUint32(off + 20, true),
    lockOwner: dv.getBigUint64(off + 24, true),
    flags: dv.getUint32(off + 32, true),
  };
}
export type WriteIn = ReadIn; // same layout: fh, offset, size, write_flags, lock_owner, flags
export const decodeWriteIn = decodeReadIn;
export function encodeWriteOut(dv: DataView, off: number, size: number): number {
  dv.setUint32(off, size, true);
  dv.setUint32(off + 4, 0, true);
  return WRITE_OUT_SIZE;
}

export function decodeFsyncIn(dv: DataView, off: number): { fh: number; fsyncFlags: number } {
  return { fh: u64(dv, off), fsyncFlags: dv.getUint32(off + 8, true) };
}

/** fuse_setxattr_in without FUSE_SETXATTR_EXT (not negotiated): size, flags. */
export const SETXATTR_IN_SIZE = 8;
export function decodeSetxattrIn(dv: DataView, off: number): { size: number; flags: number } {
  return { size: dv.getUint32(off, true), flags: dv.getUint32(off + 4, true) };
}
export const GETXATTR_IN_SIZE = 8;
export function decodeGetxattrIn(dv: DataView, off: number): { size: number } {
  return { size: dv.getUint32(off, true) };
}
export function encodeGetxattrOut(dv: DataView, off: number, size: number): number {
  dv.setUint32(off, size, true);
  dv.setUint32(off + 4, 0, true);
  return GETXATTR_OUT_SIZE;
}

export function decodeAccessIn(dv: DataView, off: number): { mask: number } {
  return { mask: dv.getUint32(off, true) };
}

export type StatfsFields = PosixStatFs;
export function encodeStatfsOut(dv: DataView, off: number, s: StatfsFields): number {
  setU64(dv, off, s.blocks);
  setU64(dv, off + 8, s.bfree);
  setU64(dv, off + 16, s.bavail);
  setU64(dv, off + 24, s.files);
  setU64(dv, off + 32, s.ffree);
  dv.setUint32(off + 40, s.bsize, true);
  dv.setUint32(off + 44, s.namelen, true);
  dv.setUint32(off + 48, s.frsize, true);
  for (let i = 52; i < STATFS_OUT_SIZE; i += 4) dv.setUint32(off + i, 0, true);
  return STATFS_OUT_SIZE;
}

// ---- locks ----

export interface FileLockFields {
  start: number;
  /** Inclusive end; OFFSET_MAX means "to end of file". */
  end: number;
  /** F_RDLCK (0), F_WRLCK (1) or F_UNLCK (2). */
  type: number;
  pid: number;
}
export interface LkIn {
  fh: number;
  owner: bigint;
  lk: FileLockFields;
  lkFlags: number;
}
export function decodeLkIn(dv: DataView, off: number): LkIn {
  return {
    fh: u64(dv, off),
    owner: dv.getBigUint64(off + 8, true),
    lk: {
      start: u64Clamped(dv, off + 16),
      end: u64Clamped(dv, off + 24),
      type: dv.getUint32(off + 32, true),
      pid: dv.getUint32(off + 36, true),
    },
    lkFlags: dv.getUint32(off + 40, true),
  };
}
export function encodeLkOut(dv: DataView, off: number, lk: FileLockFields): number {
  setOffset(dv, off, lk.start);
  setOffset(dv, off + 8, lk.end);
  dv.setUint32(off + 16, lk.type, true);
  dv.setUint32(off + 20, lk.pid, true);
  return LK_OUT_SIZE;
}

export function decodeInterruptIn(dv: DataView, off: number): { unique: number } {
  return { unique: u64(dv, off) };
}
export function decodeForgetIn(dv: DataView, off: number): { nlookup: number } {
  return { nlookup: u64(dv, off) };
}
export function decodeBatchForgetCount(dv: DataView, off: number): number {
  return dv.getUint32(off, true);
}
export function decodeForgetOne(dv: DataView, off: number): { nodeid: number; nlookup: number } {
  return { nodeid: u64(dv, off), nlookup: u64(dv, off + 8) };
}

export function decodeFallocateIn(dv: DataView, off: number): { fh: number; offset: number; length: number; mode: number } {
  return { fh: u64(dv, off), offset: u64(dv, off + 8), length: u64(dv, off + 16), mode: dv.getUint32(off + 24, true) };
}
export function decodeLseekIn(dv: DataView, off: number): { fh: number; offset: number; whence: number } {
  return { fh: u64(dv, off), offset: u64(dv, off + 8), whence: dv.getUint32(off + 16, true) };
}
export function encodeLseekOut(dv: DataView, off: number, offset: number): number {
  setU64(dv, off, offset);
  return LSEEK_OUT_SIZE;
}

// ---- directory records ----

export function direntSize(nameLen: number): number {
  return (DIRENT_HEADER_SIZE + nameLen + 7) & ~7;
}
export function direntplusSize(nameLen: number): number {
  return (DIRENTPLUS_HEADER_SIZE + nameLen + 7) & ~7;
}
/** Writes one fuse_dirent (header, name, zero padding); returns its aligned size. */
export function encodeDirent(
  bytes: Uint8Array,
  dv: DataView,
  off: number,
  ino: number,
  cookie: number,
  type: number,
  name: Uint8Array,
): number {
  setU64(dv, off, ino);
  setU64(dv, off + 8, cookie);
  dv.setUint32(off + 16, name.length, true);
  dv.setUint32(off + 20, type, true);
  bytes.set(name, off + DIRENT_HEADER_SIZE);
  const size = direntSize(name.length);
  bytes.fill(0, off + DIRENT_HEADER_SIZE + name.length, off + size);
  return size;
}
