// The FUSE adapter of a curvefs mount: the kernel protocol's operations (src/fuse's FuseOps)
// turned into calls of the VFS (src/vfs), which holds every file system decision — attributes,
// setgid, the open-file/write path, truncate, allocation, handles, directory cursors, locks.
// What is here is only what belongs to the kernel protocol: a missing name answered as a
// negative entry the kernel caches, attribute timeouts per entry, "." and ".." in READDIRPLUS,
// and the mapping of request credentials to the VFS's caller.
//
// Permissions: the mount uses default_permissions, so the kernel checks mode bits with the
// caller's supplementary groups and capabilities, the sticky-directory rule and ownership for
// chmod/chown/utimes; the VFS runs with its own checks off here (they would cost round trips
// the kernel already saved). `access` is answered for mounts without default_permissions.
import {
  type Attr,
  type AttrReply,
  type CreateReply,
  type DirEntry,
  type DirEntryPlus,
  type Entry,
  type FileLock,
  type FuseNotifier,
  type FuseOps,
  type OpenReply,
  type RequestContext,
  type SetAttrRequest,
  type StatFs,
} from '../fuse/index.ts';
import { PAGE_SIZE, S_IFDIR, Vfs, type ClusterLocks, type VfsConnection, type VfsOptions } from '../vfs/index.ts';
import { KernelDirNames } from './kernel-dir-names.ts';

/** What the ops need from a connection (connectFs's result fits). */
export type CurvefsConnection = VfsConnection;

export type CurvefsOpsOptions = Omit<VfsOptions, 'checkPermissions' | 'rememberInodes'>;

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

/** Attributes for "." and ".." in READDIRPLUS: the kernel takes no reference and ignores them. */
function placeholderAttr(ino: number): Attr {
  return {
    ino, size: 0, blocks: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
    mode: S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0, rdev: 0, blksize: PAGE_SIZE,
  };
}

const isDir = (mode: number): boolean => (mode & 0o170000) === S_IFDIR;

export class CurvefsOps implements FuseOps {
  readonly vfs: Vfs;
  /** Where the kernel has each directory, to drop a dentry another mount's move left behind. */
  private readonly dirNames = new KernelDirNames();

  constructor(conn: CurvefsConnection, opts: CurvefsOpsOptions = {}) {
    // The kernel checks permissions (default_permissions) and tells us when it forgets a node.
    this.vfs = new Vfs(conn, { ...opts, checkPermissions: false, rememberInodes: true });
  }

  get locks(): ClusterLocks {
    return this.vfs.locks;
  }

  /** Open handles and open files (for tests and status). */
  stats(): { handles: number; files: number; locks: number } {
    return this.vfs.stats();
  }

  async lookup(ctx: RequestContext, parent: number, name: string): Promise<Entry> {
    // A name in a directory this mount just made, not put there by it: absent, no read. The
    // kernel keeps that only for what is left of the window (new-dirs.ts: the staleness bound).
    const absentMs = this.vfs.knownAbsentMs(parent, name);
    if (absentMs !== undefined) return { ...NEGATIVE_ENTRY, entryTimeoutSec: absentMs / 1000 };
    const attr = await this.vfs.lookup(ctx, parent, name);
    if (!attr) return NEGATIVE_ENTRY;
    // A directory another mount moved: the kernel's dentry of it at the old place goes first.
    if (isDir(attr.mode)) await this.dirNames.moving(attr.ino, parent, name);
    return { attr };
  }

  forget(ino: number): void {
    this.dirNames.forget(ino);
    this.vfs.forget(ino);
  }

  attachNotifier(notifier: FuseNotifier): void {
    this.dirNames.attach(notifier);
  }

  async getattr(ctx: RequestContext, ino: number): Promise<AttrReply> {
    return { attr: await this.vfs.getattr(ctx, ino) };
  }

  async setattr(ctx: RequestContext, ino: number, set: SetAttrRequest): Promise<AttrReply> {
    return { attr: await this.vfs.setattr(ctx, ino, set) };
  }

  readlink(ctx: RequestContext, ino: number): Promise<string> {
    return this.vfs.readlink(ctx, ino);
  }

  async mkdir(ctx: RequestContext, parent: number, name: string, mode: number): Promise<Entry> {
    const attr = await this.vfs.mkdir(ctx, parent, name, mode);
    this.dirNames.made(attr.ino, parent, name);
    return { attr };
  }

  async mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number): Promise<Entry> {
    return { attr: await this.vfs.mknod(ctx, parent, name, mode, rdev) };
  }

  async symlink(ctx: RequestContext, parent: number, name: string, target: string): Promise<Entry> {
    return { attr: await this.vfs.symlink(ctx, parent, name, target) };
  }

  async create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number): Promise<CreateReply> {
    const r = await this.vfs.create(ctx, parent, name, mode, flags);
    return { entry: { attr: r.attr }, open: { fh: r.fh, keepCache: r.keepCache } };
  }

  async link(ctx: RequestContext, ino: number, newParent: number, newName: string): Promise<Entry> {
    return { attr: await this.vfs.link(ctx, ino, newParent, newName) };
  }

  unlink(ctx: RequestContext, parent: number, name: string): Promise<void> {
    return this.vfs.unlink(ctx, parent, name);
  }

  rmdir(ctx: RequestContext, parent: number, name: string): Promise<void> {
    return this.vfs.rmdir(ctx, parent, name);
  }

  rename(ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): Promise<void> {
    return this.vfs.rename(ctx, parent, name, newParent, newName, flags);
  }

  open(ctx: RequestContext, ino: number, flags: number): Promise<OpenReply> {
    return this.vfs.open(ctx, ino, flags);
  }

  read(_ctx: RequestContext, _ino: number, fh: number, offset: number, size: number): Promise<Uint8Array> {
    return this.vfs.read(fh, offset, size);
  }

  write(_ctx: RequestContext, _ino: number, fh: number, offset: number, data: Uint8Array): Promise<number> {
    return this.vfs.write(fh, offset, data);
  }

  flush(_ctx: RequestContext, ino: number, fh: number, lockOwner: bigint): Promise<void> {
    return this.vfs.flush(ino, fh, lockOwner);
  }

  fsync(_ctx: RequestContext, _ino: number, fh: number): Promise<void> {
    return this.vfs.fsync(fh);
  }

  release(_ctx: RequestContext, ino: number, fh: number, _flags: number, flockOwner?: bigint): Promise<void> {
    return this.vfs.release(ino, fh, flockOwner);
  }

  fallocate(_ctx: RequestContext, _ino: number, fh: number, offset: number, length: number, mode: number): Promise<void> {
    return this.vfs.fallocate(fh, offset, length, mode);
  }

  lseek(_ctx: RequestContext, _ino: number, fh: number, offset: number, whence: number): Promise<number> {
    return this.vfs.lseek(fh, offset, whence);
  }

  async opendir(ctx: RequestContext, ino: number): Promise<OpenReply> {
    return { fh: await this.vfs.opendir(ctx, ino) };
  }

  async readdir(_ctx: RequestContext, _ino: number, fh: number, offset: number, sizeHint: number): Promise<DirEntry[]> {
    return this.vfs.readdir(fh, offset, Math.ceil(sizeHint / 32) + 1);
  }

  async readdirplus(_ctx: RequestContext, ino: number, fh: number, offset: number, sizeHint: number): Promise<DirEntryPlus[]> {
    const list = await this.vfs.readdir(fh, offset, Math.ceil(sizeHint / 160) + 1, true);
    // The kernel links listed entries into its dentry cache (it skips, without failing, a
    // directory it has elsewhere).
    for (const e of list) if (e.attr && isDir(e.attr.mode) && e.name !== '.' && e.name !== '..') this.dirNames.listed(e.ino, ino, e.name);
    return list.map((e) => ({
      name: e.name,
      cookie: e.cookie,
      // st_blocks comes with the listing (the metaserver counts it); when it did not (an older
      // metaserver), attribute timeout 0: the kernel asks for the attributes when it wants them.
      entry: e.attr ? (e.blocksUnknown ? { attr: e.attr, attrTimeoutSec: 0 } : { attr: e.attr }) : { attr: placeholderAttr(e.ino) },
    }));
  }

  releasedir(_ctx: RequestContext, _ino: number, fh: number): void {
    this.vfs.releasedir(fh);
  }

  fsyncdir(): void {
    // Every namespace change is committed to the metaserver's Raft log before it is answered.
  }

  statfs(_ctx: RequestContext, ino: number): Promise<StatFs> {
    return this.vfs.statfsAt(ino);
  }

  access(ctx: RequestContext, ino: number, mask: number): Promise<void> {
    return this.vfs.access(ctx, ino, mask);
  }

  setxattr(ctx: RequestContext, ino: number, name: string, value: Uint8Array, flags: number): Promise<void> {
    return this.vfs.setxattr(ctx, ino, name, value, flags);
  }

  getxattr(ctx: RequestContext, ino: number, name: string): Promise<Uint8Array> {
    return this.vfs.getxattr(ctx, ino, name);
  }

  listxattr(ctx: RequestContext, ino: number): Promise<string[]> {
    return this.vfs.listxattr(ctx, ino);
  }

  removexattr(ctx: RequestContext, ino: number, name: string): Promise<void> {
    return this.vfs.removexattr(ctx, ino, name);
  }

  getlk(_ctx: RequestContext, ino: number, _fh: number, owner: bigint, lock: FileLock): Promise<FileLock> {
    return this.vfs.getlk(ino, owner, lock);
  }

  setlk(ctx: RequestContext, ino: number, _fh: number, owner: bigint, lock: FileLock, sleep: boolean, flock: boolean): Promise<void> {
    return this.vfs.setlk(ctx, ino, owner, lock, sleep, flock);
  }

  async destroy(): Promise<void> {
    await this.shutdown();
  }

  /** Saves every open file's data and releases its registration (the mount is going away). */
  shutdown(): Promise<void> {
    return this.vfs.shutdown();
  }
}
