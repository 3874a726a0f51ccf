// Fs — the SDK: a path API over the VFS (src/vfs), in the spirit of node:fs/promises. Paths are
// absolute within the file system ("/a/b"; a missing leading "/" means the same). Errors carry
// as `code` the errno name the kernel would give (ENOENT, ENOTDIR, EEXIST, EACCES, ...).
//
// This file only turns paths into inodes (the walk, symlinks, "..") and node:fs-style calls
// into VFS calls with the SDK's caller identity (root unless configured; connectFs squashes
// root to nobody unless the credential is the admin token, see connect.ts): attributes,
// permissions, setgid, the open-file/write path, truncate and space checks are the VFS's, the
// same as the mount's.
import { CurveError, StatusCode } from '../common/index.ts';
import { FileType } from '../gen/common_pb.ts';
import type { Inode, InodeAttr } from '../gen/metaserver_pb.ts';
import { O_APPEND, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, R_OK, X_OK, ROOT_CALLER, type Caller, type SetAttrRequest, type Vfs } from '../vfs/index.ts';
import { Stat, type DirEntry } from './attr.ts';
import { FileHandle, type FileData } from './file.ts';
import { ROOT_INODE_ID, type FsCore } from './fs-core.ts';
import { checkName, splitPath } from './names.ts';
import { cloneTree, type CloneOptions, type CloneReport } from './clone.ts';

const MAX_SYMLINK_HOPS = 40;

/** Where a path walk stands: an inode id and its type (what a dentry says). */
interface WalkNode {
  ino: number;
  type: FileType;
  /** The node's attributes when its dentry brought them (see FsCore.lookupEntry). */
  attr?: InodeAttr;
  /** The whole inode (with its block map) when the last dentry of the walk brought it. */
  inode?: Inode;
}

const ROOT_NODE: WalkNode = { ino: ROOT_INODE_ID, type: FileType.TYPE_DIRECTORY };

/** open(2)'s type check: a directory gives EISDIR; anything else not a regular file is refused. */
function checkRegular(type: FileType, path: string): void {
  if (type === FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.IS_DIRECTORY, path);
  if (type !== FileType.TYPE_S3 && type !== FileType.TYPE_FILE) throw new CurveError(StatusCode.PARAM_ERROR, `not a regular file: ${path}`);
}

/** For `.then(ok, notFound)`: false on ENOENT, rethrow anything else. */
function notFound(e: unknown): false {
  if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return false;
  throw e;
}

export interface FsOptions {
  /**
   * Who the SDK acts as: owner of new files and directories, and whose permissions are checked
   * (mode bits, ownership, the sticky rule; root may do anything). Default root.
   */
  uid?: number;
  gid?: number;
  /** Supplementary groups of the caller. */
  groups?: number[];
  /** Bits cleared from the mode of new files and directories. */
  umask?: number;
}

/** open(2) flags of an SDK flags string. */
function openFlagsOf(flags: OpenFlags): number {
  const plus = flags.endsWith('+');
  const acc = flags.startsWith('r') ? (plus ? O_RDWR : O_RDONLY) : plus ? O_RDWR : O_WRONLY;
  return acc | (flags.startsWith('w') ? O_TRUNC : 0) | (flags.startsWith('a') ? O_APPEND : 0);
}

/** Bytes handed to the VFS per write by writeFile. */
const WRITE_STEP = 4 * 1024 * 1024;

export type OpenFlags = 'r' | 'r+' | 'w' | 'w+' | 'wx' | 'wx+' | 'a' | 'a+' | 'ax' | 'ax+';

export interface StatFs {
  blockSize: number;
  blocks: number;
  blocksFree: number;
  files: number;
  filesFree: number;
  nameMax: number;
  usedBytes: number;
  usedInodes: number;
}

export class Fs {
  readonly vfs: Vfs;
  /** The caller every VFS call is made as. */
  readonly caller: Caller;
  private readonly umask: number;

  constructor(vfs: Vfs, opts: FsOptions = {}) {
    this.vfs = vfs;
    const uid = opts.uid ?? 0;
    const gid = opts.gid ?? 0;
    this.caller = uid === 0 && gid === 0 && !opts.groups ? ROOT_CALLER : { uid, gid, groups: opts.groups ?? [] };
    this.umask = opts.umask ?? 0o022;
  }

  /** The file system by inode (FsCore) under the VFS. */
  get core(): FsCore {
    return this.vfs.core;
  }

  /** The data I/O the VFS writes and reads through. */
  get data(): FileData {
    return this.vfs.io;
  }

  // ---- resolution ----
  //
  // A walk passes through directories knowing only their inode id and type, both of which the
  // dentry carries: one GetDentry per component, no attribute fetch for the root or the
  // directories on the way (a caller other than root needs search permission on each: the VFS
  // reads the attributes it does not have). The last dentry brings the inode with its block map
  // when it lives in the directory's partition, so stat and open cost no second round trip.

  /** Resolves a path to its inode; `follow` decides whether a final symlink is followed. */
  async resolve(path: string, follow = true): Promise<InodeAttr> {
    return (await this.resolveNode(path, follow)).attr;
  }

  /** Resolves a path to its attributes, and the whole inode when the walk brought it. */
  private resolveNode(path: string, follow: boolean): Promise<{ attr: InodeAttr; inode?: Inode }> {
    return this.retryingStaleEntries(async (fresh) => {
      const node = await this.walkPath(splitPath(path), follow, fresh, path);
      return { attr: node.attr ?? (await this.core.getattr(node.ino)), inode: node.inode };
    });
  }

  /** The parent directory of a path and the final name (which must be a valid entry name). */
  async resolveParent(path: string): Promise<{ parent: InodeAttr; name: string }> {
    const { parentIno, name } = await this.parentOf(path);
    return { parent: await this.core.getattr(parentIno), name };
  }

  /**
   * Like resolveParent, but only the parent's inode id (what namespace calls need), and its
   * attributes when the walk brought them.
   */
  private async parentOf(path: string): Promise<{ parentIno: number; name: string; parentAttr?: InodeAttr }> {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new CurveError(StatusCode.BUSY, 'the root has no parent');
    if (name === '..') throw new CurveError(StatusCode.INVALID_NAME, path);
    const parent = await this.retryingStaleEntries((fresh) => this.walkPath(parts, true, fresh, path));
    if (parent.type !== FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_DIRECTORY, path);
    checkName(name);
    return { parentIno: parent.ino, name, parentAttr: parent.attr };
  }

  /**
   * Runs a walk; when it fails with ENOENT after using cached entries (one may name an inode
   * another client removed), runs it once more bypassing the entry cache. With caches off
   * (TTL 0) nothing is cached and this is a single run.
   */
  private async retryingStaleEntries<T>(run: (fresh: boolean) => Promise<T>): Promise<T> {
    const before = this.cachedEntriesUsed;
    try {
      return await run(false);
    } catch (e) {
      if (this.cachedEntriesUsed === before || !(e instanceof CurveError) || e.status !== StatusCode.NOT_FOUND) throw e;
      return run(true);
    }
  }

  /** Counts walk steps answered by the entry cache (for retryingStaleEntries). */
  private cachedEntriesUsed = 0;

  private async walkPath(components: string[], follow: boolean, fresh: boolean, path: string): Promise<WalkNode> {
    const queue = [...components];
    let cur: WalkNode = ROOT_NODE;
    let hops = 0;
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (cur.type !== FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_DIRECTORY, path);
      await this.vfs.checkDir(this.caller, cur.ino, X_OK);
      if (name === '..') {
        if (cur.ino !== ROOT_INODE_ID) {
          const attr = await this.core.getattr(cur.ino);
          cur = { ino: attr.parent[0] ?? ROOT_INODE_ID, type: FileType.TYPE_DIRECTORY };
        }
        continue;
      }
      // With the attributes when the inode lives in the directory's partition (files, usually):
      // the last component's stat, or a symlink's target, then costs no second round trip.
      const entry = await this.core.lookupEntry(cur.ino, name, fresh, true, queue.length === 0);
      if (entry.cached) this.cachedEntriesUsed++;
      if (entry.attr) this.vfs.noteDir(entry.attr);
      if (entry.type === FileType.TYPE_SYM_LINK && (queue.length > 0 || follow)) {
        if (++hops > MAX_SYMLINK_HOPS) throw new CurveError(StatusCode.TOO_MANY_SYMLINKS, path);
        const target = (entry.attr ?? (await this.core.getattr(entry.ino))).symlink;
        if (target.startsWith('/')) cur = ROOT_NODE;
        queue.unshift(...splitPath(target));
        continue;
      }
      cur = { ino: entry.ino, type: entry.type, attr: entry.attr, inode: entry.inode };
    }
    return cur;
  }

  // ---- metadata ----

  /** stat of a resolved path: the VFS assembles the attributes (st_blocks as the mount counts them). */
  private async statPath(path: string, follow: boolean): Promise<Stat> {
    const { attr, inode } = await this.resolveNode(path, follow);
    const a = inode ? this.vfs.attrOfInode(inode) : await this.vfs.attrOf(attr.inodeId, attr.type);
    return Stat.fromAttr(a, attr.type, attr.symlink);
  }

  stat(path: string): Promise<Stat> {
    return this.statPath(path, true);
  }

  lstat(path: string): Promise<Stat> {
    return this.statPath(path, false);
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.resolve(path, false);
      return true;
    } catch (e) {
      if (e instanceof CurveError && (e.status === StatusCode.NOT_FOUND || e.status === StatusCode.NOT_DIRECTORY)) return false;
      throw e;
    }
  }

  async mkdir(path: string, opts: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    const mode = (opts.mode ?? 0o777) & ~this.umask;
    if (!opts.recursive) {
      const { parentIno, name, parentAttr } = await this.parentOf(path);
      await this.vfs.mkdir(this.caller, parentIno, name, mode, parentAttr);
      return;
    }
    let cur = ROOT_INODE_ID;
    for (const name of splitPath(path)) {
      if (name === '..') {
        if (cur !== ROOT_INODE_ID) cur = (await this.core.getattr(cur)).parent[0] ?? ROOT_INODE_ID;
        continue;
      }
      await this.vfs.checkDir(this.caller, cur, X_OK);
      try {
        let a = await this.core.lookup(cur, name);
        if (a.type === FileType.TYPE_SYM_LINK) a = await this.resolve(await this.pathOfLink(a), true);
        if (a.type !== FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_DIRECTORY, path);
        cur = a.inodeId;
      } catch (e) {
        if (!(e instanceof CurveError) || e.status !== StatusCode.NOT_FOUND) throw e;
        try {
          cur = (await this.vfs.mkdir(this.caller, cur, name, mode)).ino;
        } catch (e2) {
          // Lost a race with another creator: use theirs.
          if (!(e2 instanceof CurveError) || e2.status !== StatusCode.DENTRY_EXIST) throw e2;
          cur = (await this.core.lookup(cur, name)).inodeId;
        }
      }
    }
  }

  private async pathOfLink(link: InodeAttr): Promise<string> {
    // mkdir -p through a symlink: resolve relative to the link's parent directory.
    if (link.symlink.startsWith('/')) return link.symlink;
    const parentPath = await this.pathOf(link.parent[0] ?? ROOT_INODE_ID);
    return `${parentPath}/${link.symlink}`;
  }

  /** Some path of a directory inode (walks parents up to the root; for diagnostics and links). */
  async pathOf(ino: number): Promise<string> {
    const names: string[] = [];
    let cur = ino;
    for (let depth = 0; cur !== ROOT_INODE_ID && depth < 4096; depth++) {
      const attr = await this.core.getattr(cur);
      const parent = attr.parent[0] ?? ROOT_INODE_ID;
      let found: string | undefined;
      for await (const d of this.core.list(parent)) {
        if (d.inodeId === cur) {
          found = d.name;
          break;
        }
      }
      if (found === undefined) throw new CurveError(StatusCode.NOT_FOUND, `inode ${cur} is not linked`);
      names.unshift(found);
      cur = parent;
    }
    return '/' + names.join('/');
  }

  async readdir(path: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.opendir(path)) out.push(e.name);
    return out;
  }

  /**
   * Streams a directory's entries in name order, page by page (by name, so a listing of
   * millions of entries holds one page; the VFS's cookie cursors are for the kernel's offsets).
   */
  async *opendir(path: string): AsyncGenerator<DirEntry> {
    const dir = await this.resolve(path, true);
    if (dir.type !== FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_DIRECTORY, path);
    await this.vfs.checkDir(this.caller, dir.inodeId, R_OK);
    for await (const d of this.core.list(dir.inodeId)) yield { name: d.name, ino: d.inodeId, type: d.type };
  }

  async readlink(path: string): Promise<string> {
    const attr = await this.resolve(path, false);
    if (attr.type !== FileType.TYPE_SYM_LINK) throw new CurveError(StatusCode.WRONG_TYPE, `not a symlink: ${path}`);
    return attr.symlink;
  }

  async symlink(target: string, path: string): Promise<void> {
    if (target.length === 0) throw new CurveError(StatusCode.NOT_FOUND, 'empty symlink target');
    if (target.includes('\0')) throw new CurveError(StatusCode.INVALID_NAME, 'symlink target contains NUL');
    const { parentIno, name, parentAttr } = await this.parentOf(path);
    await this.vfs.symlink(this.caller, parentIno, name, target, parentAttr);
  }

  /** link(2), checking in the kernel's order: the old path, then the new one (EEXIST), then EPERM for a directory. */
  async link(existing: string, newPath: string): Promise<void> {
    const src = await this.resolve(existing, false);
    const { parentIno, name } = await this.parentOf(newPath);
    if (await this.core.lookupEntry(parentIno, name, true).then(() => true, notFound)) {
      throw new CurveError(StatusCode.DENTRY_EXIST, newPath);
    }
    if (src.type === FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_PERMITTED, `hard link to directory ${existing}`);
    await this.vfs.link(this.caller, src.inodeId, parentIno, name);
  }

  async unlink(path: string): Promise<void> {
    const { parentIno, name } = await this.parentOf(path);
    await this.vfs.unlink(this.caller, parentIno, name);
  }

  async rmdir(path: string): Promise<void> {
    const { parentIno, name } = await this.parentOf(path);
    await this.vfs.rmdir(this.caller, parentIno, name);
  }

  async rename(from: string, to: string, opts: { noReplace?: boolean; exchange?: boolean } = {}): Promise<void> {
    const a = await this.parentOf(from);
    const b = await this.parentOf(to);
    if (opts.noReplace && opts.exchange) throw new CurveError(StatusCode.PARAM_ERROR, 'RENAME_NOREPLACE with RENAME_EXCHANGE');
    const flags = (opts.noReplace ? 1 : 0) | (opts.exchange ? 2 : 0);
    await this.vfs.rename(this.caller, a.parentIno, a.name, b.parentIno, b.name, flags);
  }

  private async setattrPath(path: string, set: SetAttrRequest, follow = true): Promise<void> {
    const attr = await this.resolve(path, follow);
    await this.vfs.setattr(this.caller, attr.inodeId, set);
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.setattrPath(path, { mode: mode & 0o7777 });
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.setattrPath(path, { uid, gid });
  }

  lchown(path: string, uid: number, gid: number): Promise<void> {
    return this.setattrPath(path, { uid, gid }, false);
  }

  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    const ts = (ms: number) => ({ sec: Math.floor(ms / 1000), nsec: Math.round((ms % 1000) * 1e6) });
    return this.setattrPath(path, { atime: ts(atimeMs), mtime: ts(mtimeMs) });
  }

  /** truncate(2): the VFS's one truncate (space check, and the page the new end falls in kept as tmpfs keeps it). */
  async truncate(path: string, size = 0): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new CurveError(StatusCode.PARAM_ERROR, `size ${size}`);
    const { attr, inode } = await this.resolveNode(path, true);
    await this.vfs.setattr(this.caller, attr.inodeId, { size }, inode);
  }

  // ---- xattrs ----

  async setxattr(path: string, name: string, value: Uint8Array | string, flags = 0): Promise<void> {
    const attr = await this.resolve(path, true);
    await this.vfs.setxattr(this.caller, attr.inodeId, name, typeof value === 'string' ? Buffer.from(value) : value, flags);
  }

  async getxattr(path: string, name: string): Promise<Uint8Array> {
    return this.vfs.getxattr(this.caller, (await this.resolve(path, true)).inodeId, name);
  }

  async listxattr(path: string): Promise<string[]> {
    return this.vfs.listxattr(this.caller, (await this.resolve(path, true)).inodeId);
  }

  async removexattr(path: string, name: string): Promise<void> {
    await this.vfs.removexattr(this.caller, (await this.resolve(path, true)).inodeId, name);
  }

  // ---- data ----

  /**
   * Opens (and with 'w'/'a'/'x' flags creates or truncates) a regular file: a VFS handle, the
   * same open-file state and write path as the mount's. Round trips: the parent walk, then for
   * a new file one CreateFile (its answer is the whole inode: a new file has no blocks and no
   * xattrs); for an existing one the walk's last GetDentry brings the inode with its block map
   * when it lives in the directory's partition (else one GetInode) — always fresh
   * (close-to-open). The open is not registered with the metaserver here (the open registry
   * decides when: see open-registry.ts), so a create is one commit.
   */
  async open(path: string, flags: OpenFlags = 'r', mode = 0o666): Promise<FileHandle> {
    const creat = flags.startsWith('w') || flags.startsWith('a');
    const excl = flags.includes('x');
    const oflags = openFlagsOf(flags);
    if (creat) {
      const { parentIno, name, parentAttr } = await this.parentOf(path);
      try {
        // O_EXCL here: an existing name is resolved below, following a symlink as open(2) does.
        const r = await this.vfs.create(this.caller, parentIno, name, mode & ~this.umask, oflags | O_EXCL, { openExisting: false, parentAttr });
        return new FileHandle(this.vfs, this.caller, r.fh, r.attr.ino);
      } catch (e) {
        if (excl || !(e instanceof CurveError) || e.status !== StatusCode.DENTRY_EXIST) throw e;
      }
    }
    const inode = await this.retryingStaleEntries(async (fresh) => {
      const node = await this.walkPath(splitPath(path), true, fresh, path);
      checkRegular(node.type, path);
      return node.inode ?? this.core.getInode(node.ino);
    });
    const r = await this.vfs.openInode(this.caller, inode, oflags);
    return new FileHandle(this.vfs, this.caller, r.fh, inode.attr!.inodeId);
  }

  /** Waits until every closed handle's release reached the metaservers (call before umount). */
  async settle(): Promise<void> {
    await this.core.opens?.settle();
  }

  async readFile(path: string): Promise<Uint8Array> {
    const fh = await this.open(path, 'r');
    try {
      return await fh.read(0, fh.size);
    } finally {
      await fh.close();
    }
  }

  async writeFile(path: string, data: Uint8Array | string, opts: { mode?: number } = {}): Promise<void> {
    const fh = await this.open(path, 'w', opts.mode ?? 0o666);
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let o = 0; o < bytes.length; o += WRITE_STEP) {
        await fh.write(o, bytes.subarray(o, Math.min(bytes.length, o + WRITE_STEP)));
      }
    } finally {
      await fh.close();
    }
  }

  async appendFile(path: string, data: Uint8Array | string): Promise<void> {
    const fh = await this.open(path, 'a');
    try {
      await fh.write(null, typeof data === 'string' ? Buffer.from(data) : data);
    } finally {
      await fh.close();
    }
  }

  // ---- trees ----

  /** rm: files, and with `recursive` whole trees; `force` ignores a missing path. */
  async rm(path: string, opts: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    let attr: InodeAttr;
    try {
      attr = await this.resolve(path, false);
    } catch (e) {
      if (opts.force && e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return;
      throw e;
    }
    if (attr.type !== FileType.TYPE_DIRECTORY) return this.unlink(path);
    if (!opts.recursive) throw new CurveError(StatusCode.IS_DIRECTORY, path);
    await this.removeTree(attr.inodeId);
    if (splitPath(path).length > 0) await this.rmdir(path);
  }

  private async removeTree(dir: number): Promise<void> {
    for (;;) {
      const page = await this.core.listPage(dir, '', 1024);
      if (page.entries.length === 0) return;
      for (const d of page.entries) {
        if (d.type === FileType.TYPE_DIRECTORY) {
          await this.removeTree(d.inodeId);
          await this.vfs.rmdir(this.caller, dir, d.name);
        } else {
          await this.vfs.unlink(this.caller, dir, d.name);
        }
      }
    }
  }

  /** Recursive copy inside the file system (symlinks copied as links, hard links not preserved). */
  async cp(from: string, to: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const src = await this.resolve(from, false);
    if (src.type === FileType.TYPE_DIRECTORY) {
      if (!opts.recursive) throw new CurveError(StatusCode.IS_DIRECTORY, from);
      await this.mkdir(to, { mode: src.mode & 0o7777 });
      for await (const e of this.opendir(from)) await this.cp(`${from}/${e.name}`, `${to}/${e.name}`, opts);
      return;
    }
    if (src.type === FileType.TYPE_SYM_LINK) return this.symlink(src.symlink, to);
    await this.writeFile(to, await this.readFile(from), { mode: src.mode & 0o7777 });
  }

  /**
   * A metadata-only copy of a file or a tree that shares the data objects of its files
   * (clone.ts; atomic per file). `to` must not exist.
   */
  clone(from: string, to: string, opts: CloneOptions = {}): Promise<CloneReport> {
    return cloneTree(this, from, to, opts);
  }

  /** Every path under `path` (depth first), with its attributes. */
  async *walk(path: string): AsyncGenerator<{ path: string; stat: Stat }> {
    const stat = await this.lstat(path);
    yield { path, stat };
    if (stat.type !== FileType.TYPE_DIRECTORY) return;
    for await (const d of this.core.list(stat.ino)) {
      const child = path === '/' ? `/${d.name}` : `${path}/${d.name}`;
      yield* this.walk(child);
    }
  }

  /**
   * Space as the MDS last answered this client (its session refresh, every few seconds): the
   * partitions' used bytes (rounded up to whole blocks) and inodes against the fs's capacity
   * (2^50 bytes when unlimited); 2^40 inodes (no inode limit). `usedBytes` is exact.
   */
  statfs(blockSize = 4096): StatFs {
    // The mount's statfs (src/vfs/statfs.ts), in node:fs-like names.
    const s = this.vfs.statfs(blockSize);
    const space = this.core.space;
    return { blockSize, blocks: s.blocks, blocksFree: s.bfree, files: s.files, filesFree: s.ffree, nameMax: s.namelen, usedBytes: space.usedBytes, usedInodes: space.usedInodes };
  }

  /** statfs at `path`: inside a directory quota, the quota's size and usage (df there). */
  async statfsAt(path: string, blockSize = 4096): Promise<StatFs> {
    const { attr } = await this.resolveNode(path, true);
    const s = await this.vfs.statfsAt(attr.inodeId, blockSize);
    return { blockSize, blocks: s.blocks, blocksFree: s.bfree, files: s.files, filesFree: s.ffree, nameMax: s.namelen, usedBytes: (s.blocks - s.bfree) * blockSize, usedInodes: s.files - s.ffree };
  }
}
