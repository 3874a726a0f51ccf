// An in-memory file system implementing the FUSE ops with POSIX semantics: the reference the
// session is tested with, and what the differential test validates against tmpfs (like go-fuse's
// memnode / loopback).
//
// Permission bits are checked by the kernel (the mount uses default_permissions, which sees the
// caller's supplementary groups and capabilities); memfs answers ACCESS with the same rules for
// mounts without it, using the caller's primary group only.
// File data lives in 4 KiB pages, present only where written or allocated: holes read as zeros,
// st_blocks counts pages, SEEK_DATA/SEEK_HOLE see pages — the same granularity as tmpfs.
// Inodes die when unlinked, closed and forgotten by the kernel, in any order.

import { systemClock, type Clock } from '../common/index.ts';
import { LockTable } from './locks.ts';
import {
  E,
  Errno,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_ISGID,
  SEEK_DATA,
  SEEK_HOLE,
  XATTR_CREATE,
  XATTR_REPLACE,
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
} from './ops.ts';

const PAGE = 4096;
const NAME_MAX = 255;
const PATH_MAX = 4096;
const XATTR_SIZE_MAX = 65536;
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_EXCL = 0o200;

interface Child {
  ino: number;
  cookie: number;
}

interface MemNode {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  size: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  xattrs: Map<string, Uint8Array>;
  /** Regular files: page index → 4 KiB page. */
  pages?: Map<number, Uint8Array>;
  /** Pages allocated by fallocate and not written since: counted in st_blocks, holes to SEEK_DATA (as tmpfs). */
  unwritten?: Set<number>;
  /** Symlinks. */
  target?: string;
  /** Directories: name → child, in cookie order (Map keeps insertion order). */
  children?: Map<string, Child>;
  nextCookie?: number;
  parent?: number;
  /** Open handles. */
  opens: number;
  /** The kernel may hold references (an entry was handed out and not yet forgotten). */
  known: boolean;
}

interface Handle {
  ino: number;
  flags: number;
  dir: boolean;
  /** Directory handles: the last batch returned and the live iterator after it. */
  batch?: DirEntry[];
  iter?: Iterator<[string, Child]>;
}

export interface MemFsOptions {
  clock?: Clock;
  /** Owner of the root directory. */
  rootUid?: number;
  rootGid?: number;
  rootMode?: number;
  /** Capacity reported by statfs (bytes). */
  capacityBytes?: number;
}

const COOKIE_DOT = 1;
const COOKIE_DOTDOT = 2;
const FIRST_COOKIE = 3;

export class MemFs implements FuseOps {
  private readonly nodes = new Map<number, MemNode>();
  private readonly handles = new Map<number, Handle>();
  readonly locks = new LockTable();
  private nextIno = 2;
  private nextFh = 1;
  private readonly clock: Clock;
  private readonly capacity: number;
  private usedPages = 0;

  constructor(opts: MemFsOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.capacity = opts.capacityBytes ?? 64 * 1024 ** 3;
    const root = this.newNode(S_IFDIR | (opts.rootMode ?? 0o755), opts.rootUid ?? 0, opts.rootGid ?? 0);
    root.ino = 1;
    root.nlink = 2;
    root.parent = 1;
    root.known = true;
    this.nodes.set(1, root);
  }

  /** Number of live inodes (for tests: unlinked + closed + forgotten inodes are gone). */
  get inodeCount(): number {
    return this.nodes.size;
  }
  get openHandleCount(): number {
    return this.handles.size;
  }

  // ---- helpers ----

  private now(): [number, number] {
    return this.clock.wallTime();
  }

  private newNode(mode: number, uid: number, gid: number): MemNode {
    const [s, ns] = this.now();
    const n: MemNode = {
      ino: 0,
      mode,
      uid,
      gid,
      nlink: 1,
      rdev: 0,
      size: 0,
      atimeSec: s,
      atimeNsec: ns,
      mtimeSec: s,
      mtimeNsec: ns,
      ctimeSec: s,
      ctimeNsec: ns,
      xattrs: new Map(),
      opens: 0,
      known: false,
    };
    const type = mode & S_IFMT;
    if (type === S_IFDIR) {
      n.children = new Map();
      n.nextCookie = FIRST_COOKIE;
      n.nlink = 2;
    } else if (type === S_IFREG) n.pages = new Map();
    return n;
  }

  private get(ino: number): MemNode {
    const n = this.nodes.get(ino);
    if (!n) throw new Errno(E.ENOENT, `inode ${ino}`);
    return n;
  }
  private dir(ino: number): MemNode {
    const n = this.get(ino);
    if (!n.children) throw new Errno(E.ENOTDIR, `inode ${ino}`);
    return n;
  }
  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw new Errno(E.EBADF, `handle ${fh}`);
    return h;
  }

  private checkName(name: string): void {
    if (name.length === 0 || name === '.' || name === '..' || name.includes('/')) throw new Errno(E.EINVAL, 'name');
    if (Buffer.byteLength(name, 'utf8') > NAME_MAX) throw new Errno(E.ENAMETOOLONG, 'name');
  }

  private touchM(n: MemNode): void {
    const [s, ns] = this.now();
    n.mtimeSec = n.ctimeSec = s;
    n.mtimeNsec = n.ctimeNsec = ns;
  }
  private touchC(n: MemNode): void {
    const [s, ns] = this.now();
    n.ctimeSec = s;
    n.ctimeNsec = ns;
  }

  private attr(n: MemNode): Attr {
    const type = n.mode & S_IFMT;
    return {
      ino: n.ino,
      size: type === S_IFLNK ? Buffer.byteLength(n.target!, 'utf8') : n.size,
      blocks: n.pages ? n.pages.size * (PAGE / 512) : 0,
      atimeSec: n.atimeSec,
      atimeNsec: n.atimeNsec,
      mtimeSec: n.mtimeSec,
      mtimeNsec: n.mtimeNsec,
      ctimeSec: n.ctimeSec,
      ctimeNsec: n.ctimeNsec,
      mode: n.mode,
      nlink: n.nlink,
      uid: n.uid,
      gid: n.gid,
      rdev: n.rdev,
      blksize: PAGE,
    };
  }
  private entry(n: MemNode): Entry {
    n.known = true;
    return { attr: this.attr(n) };
  }

  /** Frees an inode nobody can reach any more. */
  private maybeFree(n: MemNode): void {
    if (n.ino === 1 || n.nlink > 0 || n.opens > 0 || n.known) return;
    if (n.pages) this.usedPages -= n.pages.size;
    this.nodes.delete(n.ino);
  }

  /** Links a new inode under parent: owner from the caller, group from a setgid parent. */
  private createChild(ctx: RequestContext, parentIno: number, name: string, mode: number): MemNode {
    this.checkName(name);
    const parent = this.dir(parentIno);
    if (parent.nlink === 0) throw new Errno(E.ENOENT, 'directory was removed');
    if (parent.children!.has(name)) throw new Errno(E.EEXIST, name);
    let gid = ctx.gid;
    if (parent.mode & S_ISGID) {
      gid = parent.gid;
      if ((mode & S_IFMT) === S_IFDIR) mode |= S_ISGID;
    }
    const n = this.newNode(mode, ctx.uid, gid);
    n.ino = this.nextIno++;
    this.nodes.set(n.ino, n);
    if (n.children) {
      n.parent = parent.ino;
      parent.nlink++;
    }
    this.addChild(parent, name, n.ino);
    this.touchM(parent);
    return n;
  }

  private addChild(parent: MemNode, name: string, ino: number): void {
    parent.children!.set(name, { ino, cookie: parent.nextCookie!++ });
  }

  private isDescendant(ino: number, ancestor: number): boolean {
    let cur = ino;
    for (;;) {
      if (cur === ancestor) return true;
      if (cur === 1) return false;
      const n = this.nodes.get(cur);
      if (!n || n.parent === undefined || n.parent === cur) return false;
      cur = n.parent;
    }
  }

  // ---- lookup, attributes ----

  lookup(_ctx: RequestContext, parent: number, name: string): Entry {
    if (Buffer.byteLength(name, 'utf8') > NAME_MAX) throw new Errno(E.ENAMETOOLONG, 'name');
    const p = this.dir(parent);
    let ino: number | undefined;
    if (name === '.') ino = p.ino;
    else if (name === '..') ino = p.parent;
    else ino = p.children!.get(name)?.ino;
    if (ino === undefined) throw new Errno(E.ENOENT, name);
    return this.entry(this.get(ino));
  }

  forget(ino: number): void {
    const n = this.nodes.get(ino);
    if (!n || ino === 1) return;
    n.known = false;
    this.maybeFree(n);
  }

  getattr(_ctx: RequestContext, ino: number): AttrReply {
    return { attr: this.attr(this.get(ino)) };
  }

  setattr(_ctx: RequestContext, ino: number, set: SetAttrRequest): AttrReply {
    const n = this.get(ino);
    if (set.size !== undefined) {
      const type = n.mode & S_IFMT;
      if (type === S_IFDIR) throw new Errno(E.EISDIR);
      if (type !== S_IFREG) throw new Errno(E.EINVAL);
      this.truncate(n, set.size);
      this.touchM(n);
    }
    if (set.mode !== undefined) n.mode = (n.mode & S_IFMT) | (set.mode & 0o7777);
    if (set.uid !== undefined) n.uid = set.uid;
    if (set.gid !== undefined) n.gid = set.gid;
    const setTime = (t: TimeSet, which: 'a' | 'm') => {
      const [s, ns] = t === 'now' ? this.now() : [t.sec, t.nsec];
      if (which === 'a') [n.atimeSec, n.atimeNsec] = [s, ns];
      else [n.mtimeSec, n.mtimeNsec] = [s, ns];
    };
    if (set.atime) setTime(set.atime, 'a');
    if (set.mtime) setTime(set.mtime, 'm');
    this.touchC(n);
    if (set.ctime) [n.ctimeSec, n.ctimeNsec] = [set.ctime.sec, set.ctime.nsec];
    return { attr: this.attr(n) };
  }

  private truncate(n: MemNode, size: number): void {
    const pages = n.pages!;
    // Not growing (even to the same size): drop every page past the new end, including pages
    // fallocated beyond EOF with KEEP_SIZE — as tmpfs does.
    if (size <= n.size) {
      const keep = Math.ceil(size / PAGE);
      for (const idx of [...pages.keys()]) {
        if (idx >= keep) {
          pages.delete(idx);
          n.unwritten?.delete(idx);
          this.usedPages--;
        }
      }
      const tail = size % PAGE;
      if (tail) pages.get(keep - 1)?.fill(0, tail);
    } else if (size > n.size) {
      // Bytes between the old end and the end of its page may hold stale data from an earlier
      // shrink-within-page; they must read as zeros.
      const tail = n.size % PAGE;
      if (tail) pages.get(Math.floor(n.size / PAGE))?.fill(0, tail);
      if (Math.ceil(size / PAGE) * PAGE > this.capacity) throw new Errno(E.EFBIG);
    }
    n.size = size;
  }

  // ---- names ----

  readlink(_ctx: RequestContext, ino: number): string {
    const n = this.get(ino);
    if ((n.mode & S_IFMT) !== S_IFLNK) throw new Errno(E.EINVAL);
    return n.target!;
  }

  symlink(ctx: RequestContext, parent: number, name: string, target: string): Entry {
    if (Buffer.byteLength(target, 'utf8') >= PATH_MAX) throw new Errno(E.ENAMETOOLONG, 'symlink target');
    const n = this.createChild(ctx, parent, name, S_IFLNK | 0o777);
    n.target = target;
    return this.entry(n);
  }

  mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number): Entry {
    if ((mode & S_IFMT) === 0) mode |= S_IFREG;
    if ((mode & S_IFMT) === S_IFDIR) throw new Errno(E.EINVAL);
    const n = this.createChild(ctx, parent, name, mode);
    n.rdev = rdev;
    return this.entry(n);
  }

  mkdir(ctx: RequestContext, parent: number, name: string, mode: number): Entry {
    return this.entry(this.createChild(ctx, parent, name, S_IFDIR | (mode & 0o7777)));
  }

  create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number): CreateReply {
    const p = this.dir(parent);
    const existing = p.children!.get(name);
    if (existing) {
      if (flags & O_EXCL) throw new Errno(E.EEXIST, name);
      const n = this.get(existing.ino);
      if ((n.mode & S_IFMT) === S_IFDIR) throw new Errno(E.EISDIR, name);
      return { entry: this.entry(n), open: this.open(ctx, n.ino, flags) };
    }
    const n = this.createChild(ctx, parent, name, S_IFREG | (mode & 0o7777));
    return { entry: this.entry(n), open: this.openNode(n, flags) };
  }

  link(_ctx: RequestContext, ino: number, newParent: number, newName: string): Entry {
    this.checkName(newName);
    const n = this.get(ino);
    if ((n.mode & S_IFMT) === S_IFDIR) throw new Errno(E.EPERM, 'hard link to a directory');
    if (n.nlink === 0) throw new Errno(E.ENOENT, 'source was removed');
    const p = this.dir(newParent);
    if (p.nlink === 0) throw new Errno(E.ENOENT, 'directory was removed');
    if (p.children!.has(newName)) throw new Errno(E.EEXIST, newName);
    this.addChild(p, newName, ino);
    n.nlink++;
    this.touchC(n);
    this.touchM(p);
    return this.entry(n);
  }

  unlink(_ctx: RequestContext, parent: number, name: string): void {
    const p = this.dir(parent);
    const c = p.children!.get(name);
    if (!c) throw new Errno(E.ENOENT, name);
    const n = this.get(c.ino);
    if ((n.mode & S_IFMT) === S_IFDIR) throw new Errno(E.EISDIR, name);
    p.children!.delete(name);
    n.nlink--;
    this.touchC(n);
    this.touchM(p);
    this.maybeFree(n);
  }

  rmdir(_ctx: RequestContext, parent: number, name: string): void {
    if (name === '.') throw new Errno(E.EINVAL);
    if (name === '..') throw new Errno(E.ENOTEMPTY);
    const p = this.dir(parent);
    const c = p.children!.get(name);
    if (!c) throw new Errno(E.ENOENT, name);
    const n = this.get(c.ino);
    if (!n.children) throw new Errno(E.ENOTDIR, name);
    if (n.children.size > 0) throw new Errno(E.ENOTEMPTY, name);
    p.children!.delete(name);
    p.nlink--;
    n.nlink = 0;
    this.touchC(n);
    this.touchM(p);
    this.maybeFree(n);
  }

  rename(_ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): void {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new Errno(E.EINVAL, 'rename flags');
    if (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE) throw new Errno(E.EINVAL, 'rename flags');
    this.checkName(newName);
    const sp = this.dir(parent);
    const dp = this.dir(newParent);
    const sc = sp.children!.get(name);
    if (!sc) throw new Errno(E.ENOENT, name);
    const src = this.get(sc.ino);
    const dc = dp.children!.get(newName);
    const dst = dc ? this.get(dc.ino) : undefined;
    const srcDir = !!src.children;

    if (flags & RENAME_EXCHANGE) {
      if (!dst) throw new Errno(E.ENOENT, newName);
      if (src === dst) return;
      const dstDir = !!dst.children;
      if (srcDir && src.ino !== dp.ino && this.isDescendant(dp.ino, src.ino)) throw new Errno(E.EINVAL, 'into itself');
      if (dstDir && this.isDescendant(sp.ino, dst.ino)) throw new Errno(E.EINVAL, 'into itself');
      sp.children!.set(name, { ino: dst.ino, cookie: sc.cookie });
      dp.children!.set(newName, { ino: src.ino, cookie: dc!.cookie });
      if (sp !== dp) {
        if (srcDir) {
          src.parent = dp.ino;
          sp.nlink--;
          dp.nlink++;
        }
        if (dstDir) {
          dst.parent = sp.ino;
          dp.nlink--;
          sp.nlink++;
        }
      }
      this.touchC(src);
      this.touchC(dst);
      this.touchM(sp);
      this.touchM(dp);
      return;
    }

    if (dst) {
      if (flags & RENAME_NOREPLACE) throw new Errno(E.EEXIST, newName);
      if (src === dst) return; // two names of one inode: POSIX says do nothing
      if (srcDir && !dst.children) throw new Errno(E.ENOTDIR, newName);
      if (!srcDir && dst.children) throw new Errno(E.EISDIR, newName);
      if (dst.children && dst.children.size > 0) throw new Errno(E.ENOTEMPTY, newName);
    }
    if (srcDir && this.isDescendant(dp.ino, src.ino)) throw new Errno(E.EINVAL, 'directory into itself');

    if (dst) {
      dp.children!.delete(newName);
      if (dst.children) {
        dst.nlink = 0;
        dp.nlink--;
      } else dst.nlink--;
      this.touchC(dst);
    }
    sp.children!.delete(name);
    this.addChild(dp, newName, src.ino);
    if (srcDir && sp !== dp) {
      src.parent = dp.ino;
      sp.nlink--;
      dp.nlink++;
    }
    this.touchC(src);
    this.touchM(sp);
    this.touchM(dp);
    if (dst) this.maybeFree(dst);
  }

  // ---- files ----

  private openNode(n: MemNode, flags: number): OpenReply {
    const fh = this.nextFh++;
    this.handles.set(fh, { ino: n.ino, flags, dir: false });
    n.opens++;
    return { fh };
  }

  open(_ctx: RequestContext, ino: number, flags: number): OpenReply {
    const n = this.get(ino);
    if (n.children) throw new Errno(E.EISDIR);
    const acc = flags & O_ACCMODE;
    if (flags & O_TRUNC && (acc === O_WRONLY || acc === O_RDWR) && n.pages) {
      this.truncate(n, 0);
      this.touchM(n);
    }
    return this.openNode(n, flags);
  }

  read(_ctx: RequestContext, ino: number, fh: number, offset: number, size: number): Uint8Array {
    const h = this.handle(fh);
    const n = this.get(h.ino === ino ? ino : h.ino);
    if (!n.pages) throw new Errno(n.children ? E.EISDIR : E.EINVAL);
    if (offset >= n.size || size === 0) return new Uint8Array(0);
    const end = Math.min(n.size, offset + size);
    const out = Buffer.alloc(end - offset);
    let pos = offset;
    while (pos < end) {
      const idx = Math.floor(pos / PAGE);
      const inPage = pos - idx * PAGE;
      const len = Math.min(PAGE - inPage, end - pos);
      const page = n.pages.get(idx);
      if (page) out.set(page.subarray(inPage, inPage + len), pos - offset);
      pos += len;
    }
    return out;
  }

  write(_ctx: RequestContext, ino: number, fh: number, offset: number, data: Uint8Array): number {
    const h = this.handle(fh);
    const n = this.get(h.ino === ino ? ino : h.ino);
    if (!n.pages) throw new Errno(E.EINVAL);
    if (h.flags & O_APPEND) offset = n.size;
    const end = offset + data.byteLength;
    if (Math.ceil(end / PAGE) * PAGE > this.capacity) throw new Errno(E.EFBIG);
    // A write past a shrunken end inside the last page must not revive stale bytes.
    if (offset > n.size && n.size % PAGE) n.pages.get(Math.floor(n.size / PAGE))?.fill(0, n.size % PAGE);
    let pos = offset;
    while (pos < end) {
      const idx = Math.floor(pos / PAGE);
      const inPage = pos - idx * PAGE;
      const len = Math.min(PAGE - inPage, end - pos);
      let page = n.pages.get(idx);
      if (!page) {
        if (this.usedPages >= this.capacity / PAGE) throw new Errno(E.ENOSPC);
        page = new Uint8Array(PAGE);
        n.pages.set(idx, page);
        this.usedPages++;
      }
      page.set(data.subarray(pos - offset, pos - offset + len), inPage);
      n.unwritten?.delete(idx);
      pos += len;
    }
    if (end > n.size) n.size = end;
    this.touchM(n);
    return data.byteLength;
  }

  flush(_ctx: RequestContext, ino: number, _fh: number, lockOwner: bigint): void {
    // close(2): POSIX locks of this lock owner on the file go (the kernel keeps none itself).
    this.locks.releasePosixOwner(ino, lockOwner);
  }

  release(_ctx: RequestContext, ino: number, fh: number, _flags: number, flockOwner?: bigint): void {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    if (flockOwner !== undefined) this.locks.releaseFlockOwner(h.ino, flockOwner);
    const n = this.nodes.get(h.ino ?? ino);
    if (!n) return;
    n.opens--;
    this.maybeFree(n);
  }

  fsync(): void {
    // Memory is as durable as it gets.
  }

  fallocate(_ctx: RequestContext, ino: number, _fh: number, offset: number, length: number, mode: number): void {
    const n = this.get(ino);
    if (!n.pages) throw new Errno(n.children ? E.EISDIR : E.ENODEV);
    if (length <= 0) throw new Errno(E.EINVAL);
    const end = offset + length;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      if (!(mode & FALLOC_FL_KEEP_SIZE) || mode & ~(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) throw new Errno(E.EOPNOTSUPP);
      const first = Math.ceil(offset / PAGE);
      const last = Math.floor(end / PAGE); // exclusive
      for (const idx of [...n.pages.keys()]) {
        if (idx >= first && idx < last) {
          n.pages.delete(idx);
          n.unwritten?.delete(idx);
          this.usedPages--;
        }
      }
      // Partial pages at either edge keep their allocation and become zeros.
      const zero = (from: number, to: number) => {
        for (let pos = from; pos < to; ) {
          const idx = Math.floor(pos / PAGE);
          const inPage = pos - idx * PAGE;
          const len = Math.min(PAGE - inPage, to - pos);
          n.pages!.get(idx)?.fill(0, inPage, inPage + len);
          pos += len;
        }
      };
      if (first * PAGE > offset) zero(offset, Math.min(first * PAGE, end));
      if (last * PAGE < end && last * PAGE >= first * PAGE) zero(Math.max(last * PAGE, offset), end);
      this.touchM(n);
      return;
    }
    if (mode & ~FALLOC_FL_KEEP_SIZE) throw new Errno(E.EOPNOTSUPP);
    if (Math.ceil(end / PAGE) * PAGE > this.capacity) throw new Errno(E.EFBIG);
    for (let idx = Math.floor(offset / PAGE); idx * PAGE < end; idx++) {
      if (!n.pages.has(idx)) {
        if (this.usedPages >= this.capacity / PAGE) throw new Errno(E.ENOSPC);
        n.pages.set(idx, new Uint8Array(PAGE));
        (n.unwritten ??= new Set()).add(idx);
        this.usedPages++;
      } else {
        // tmpfs: a second fallocate over a page fallocated earlier initialises it (now data).
        n.unwritten?.delete(idx);
      }
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > n.size) {
      const tail = n.size % PAGE;
      if (tail) n.pages.get(Math.floor(n.size / PAGE))?.fill(0, tail);
      n.size = end;
    }
    this.touchC(n);
  }

  lseek(_ctx: RequestContext, ino: number, _fh: number, offset: number, whence: number): number {
    const n = this.get(ino);
    if (whence !== SEEK_DATA && whence !== SEEK_HOLE) throw new Errno(E.EINVAL);
    if (!n.pages || offset >= n.size) throw new Errno(E.ENXIO);
    let idx = Math.floor(offset / PAGE);
    const lastIdx = Math.ceil(n.size / PAGE);
    const data = (i: number) => n.pages!.has(i) && !n.unwritten?.has(i);
    if (whence === SEEK_DATA) {
      for (; idx < lastIdx; idx++) if (data(idx)) return Math.max(offset, idx * PAGE);
      throw new Errno(E.ENXIO);
    }
    for (; idx < lastIdx; idx++) if (!data(idx)) return Math.min(n.size, Math.max(offset, idx * PAGE));
    return n.size;
  }

  // ---- directories ----

  opendir(_ctx: RequestContext, ino: number): OpenReply {
    const n = this.dir(ino);
    const fh = this.nextFh++;
    this.handles.set(fh, { ino, flags: 0, dir: true });
    n.opens++;
    return { fh };
  }

  readdir(_ctx: RequestContext, ino: number, fh: number, offset: number, sizeHint: number): DirEntry[] {
    return this.listFrom(ino, fh, offset, Math.ceil(sizeHint / 32) + 1);
  }

  readdirplus(_ctx: RequestContext, ino: number, fh: number, offset: number, sizeHint: number): DirEntryPlus[] {
    const list = this.listFrom(ino, fh, offset, Math.ceil(sizeHint / 160) + 1);
    const out: DirEntryPlus[] = [];
    for (const d of list) {
      const n = this.nodes.get(d.ino);
      if (!n) continue;
      // "." and ".." take no kernel reference, so they must not mark inodes as known.
      out.push({ name: d.name, cookie: d.cookie, entry: d.cookie > COOKIE_DOTDOT ? this.entry(n) : { attr: this.attr(n) } });
    }
    return out;
  }

  /** Up to `max` entries after `offset`, resuming the handle's iterator when possible. */
  private listFrom(ino: number, fh: number, offset: number, max: number): DirEntry[] {
    const d = this.dir(ino);
    const h = this.handles.get(fh);
    const out: DirEntry[] = [];
    let iter: Iterator<[string, Child]> | undefined;
    if (h && h.batch && h.iter) {
      const i = h.batch.findIndex((e) => e.cookie === offset);
      if (i >= 0) {
        for (const e of h.batch.slice(i + 1)) {
          // Entries removed since the last batch are not listed again.
          if (e.cookie <= COOKIE_DOTDOT || d.children!.get(e.name)?.cookie === e.cookie) out.push(e);
        }
        iter = h.iter;
      }
    }
    if (!iter) {
      if (offset < COOKIE_DOT) out.push({ name: '.', ino: d.ino, type: S_IFDIR, cookie: COOKIE_DOT });
      if (offset < COOKIE_DOTDOT) out.push({ name: '..', ino: d.parent ?? d.ino, type: S_IFDIR, cookie: COOKIE_DOTDOT });
      iter = d.children!.entries();
      if (offset > COOKIE_DOTDOT) {
        // Skip what was already listed (a seekdir or a handle without a cursor).
        const skipped: DirEntry[] = [];
        for (;;) {
          const r = iter.next();
          if (r.done) break;
          if (r.value[1].cookie > offset) {
            skipped.push(this.direntOf(r.value[0], r.value[1]));
            break;
          }
        }
        out.push(...skipped);
      }
    }
    while (out.length < max) {
      const r = iter.next();
      if (r.done) break;
      out.push(this.direntOf(r.value[0], r.value[1]));
    }
    if (h) {
      h.batch = out;
      h.iter = iter;
    }
    return out;
  }

  private direntOf(name: string, c: Child): DirEntry {
    const n = this.nodes.get(c.ino);
    return { name, ino: c.ino, type: n ? n.mode & S_IFMT : 0, cookie: c.cookie };
  }

  releasedir(_ctx: RequestContext, ino: number, fh: number): void {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    const n = this.nodes.get(h.ino ?? ino);
    if (!n) return;
    n.opens--;
    this.maybeFree(n);
  }

  fsyncdir(): void {}

  statfs(): StatFs {
    const blocks = Math.floor(this.capacity / PAGE);
    const files = 1 << 30;
    return {
      blocks,
      bfree: blocks - this.usedPages,
      bavail: blocks - this.usedPages,
      files,
      ffree: files - this.nodes.size,
      bsize: PAGE,
      namelen: NAME_MAX,
      frsize: PAGE,
    };
  }

  access(ctx: RequestContext, ino: number, mask: number): void {
    const n = this.get(ino);
    if (mask === 0 || ctx.uid === 0) {
      // root may do anything except execute a file no one may execute
      if (ctx.uid === 0 && mask & 1 && !n.children && (n.mode & 0o111) === 0) throw new Errno(E.EACCES);
      return;
    }
    const bits = ctx.uid === n.uid ? (n.mode >> 6) & 7 : ctx.gid === n.gid ? (n.mode >> 3) & 7 : n.mode & 7;
    if ((bits & mask) !== mask) throw new Errno(E.EACCES);
  }

  // ---- extended attributes ----

  private checkXattrName(name: string): void {
    if (name.length === 0 || Buffer.byteLength(name, 'utf8') > 255) throw new Errno(E.ERANGE, 'xattr name');
    if (!/^(user|trusted|security)\./.test(name)) throw new Errno(E.EOPNOTSUPP, `xattr namespace of ${name}`);
  }

  setxattr(_ctx: RequestContext, ino: number, name: string, value: Uint8Array, flags: number): void {
    this.checkXattrName(name);
    if (value.byteLength > XATTR_SIZE_MAX) throw new Errno(E.E2BIG);
    const n = this.get(ino);
    const has = n.xattrs.has(name);
    if (flags & XATTR_CREATE && has) throw new Errno(E.EEXIST, name);
    if (flags & XATTR_REPLACE && !has) throw new Errno(E.ENODATA, name);
    n.xattrs.set(name, Uint8Array.from(value));
    this.touchC(n);
  }

  getxattr(_ctx: RequestContext, ino: number, name: string): Uint8Array {
    const n = this.get(ino);
    const v = n.xattrs.get(name);
    if (!v) {
      this.checkXattrName(name);
      throw new Errno(E.ENODATA, name);
    }
    return v;
  }

  listxattr(_ctx: RequestContext, ino: number): string[] {
    return [...this.get(ino).xattrs.keys()];
  }

  removexattr(_ctx: RequestContext, ino: number, name: string): void {
    const n = this.get(ino);
    if (!n.xattrs.delete(name)) {
      this.checkXattrName(name);
      throw new Errno(E.ENODATA, name);
    }
    this.touchC(n);
  }

  // ---- locks ----

  getlk(_ctx: RequestContext, ino: number, _fh: number, owner: bigint, lock: FileLock): FileLock {
    this.get(ino);
    return this.locks.test(ino, owner, lock);
  }

  setlk(
    ctx: RequestContext,
    ino: number,
    _fh: number,
    owner: bigint,
    lock: FileLock,
    sleep: boolean,
    flock: boolean,
  ): Promise<void> | void {
    this.get(ino);
    return this.locks.set(ino, owner, { ...lock, pid: lock.pid || ctx.pid }, { flock, sleep, signal: sleep ? ctx.signal : undefined });
  }
}
