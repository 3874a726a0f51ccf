// `curvefs clone SRC DST` (docs/operations.md "clone", architecture.md §6d): a metadata-only copy
// of a file or a tree. Regular files become clones sharing their source's data objects (one
// CloneInode each, atomic per file); directories, symlinks and device nodes are made anew with the
// source's mode, owner and xattrs. DST must not exist (DENTRY_EXIST, nothing made). The tree is
// not one snapshot: a file changed while the walk runs is cloned as it is when its turn comes.
import { FileType } from '../gen/common_pb.ts';
import type { InodeAttr } from '../gen/metaserver_pb.ts';
import { CurveError, StatusCode } from '../common/index.ts';
import { runLimited } from '../data/limit.ts';
import type { Fs } from './fs.ts';

export interface CloneReport {
  files: number;
  dirs: number;
  symlinks: number;
  others: number;
}

export interface CloneOptions {
  /** Files cloned at once within one directory (default 32). */
  concurrency?: number;
}

const isRegular = (t: FileType) => t === FileType.TYPE_FILE || t === FileType.TYPE_S3;

export async function cloneTree(fs: Fs, from: string, to: string, opts: CloneOptions = {}): Promise<CloneReport> {
  // The walk makes entries and reads files through FsCore, below the VFS's permission checks:
  // an operator's command, for root only (the CLI acts as root with the admin credential).
  if (fs.caller.uid !== 0) throw new CurveError(StatusCode.NOT_PERMITTED, 'clone is for root (the admin credential)');
  const src = await fs.resolve(from, false);
  const { parent, name } = await fs.resolveParent(to);
  if (await fs.exists(to)) throw new CurveError(StatusCode.DENTRY_EXIST, `${to} exists`);
  await checkRoom(fs, src, from);
  const report: CloneReport = { files: 0, dirs: 0, symlinks: 0, others: 0 };
  await new TreeCloner(fs, report, opts.concurrency ?? 32).node(src, parent.inodeId, name);
  return report;
}

/** What a clone of `src` adds to the fs's usage: its files' lengths (a clone counts as used, §6a) and its inodes. */
async function cloneSize(fs: Fs, src: InodeAttr): Promise<{ bytes: number; inodes: number }> {
  if (src.type !== FileType.TYPE_DIRECTORY) return { bytes: isRegular(src.type) ? src.length : 0, inodes: 1 };
  // One GetDirStats per directory: its entries and its files' bytes, kept by the partition.
  let bytes = 0;
  let inodes = 1;
  const dirs = [src.inodeId];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    const stats = (await fs.core.meta.callForInode('getDirStats', dir, { inodeId: dir })).stats;
    bytes += stats?.bytes ?? 0;
    inodes += stats?.entries ?? 0;
    if ((stats?.subdirs ?? 0) === 0) continue;
    for await (const d of fs.core.list(dir)) if (d.type === FileType.TYPE_DIRECTORY) dirs.push(d.inodeId);
  }
  return { bytes, inodes };
}

/**
 * Refuses (NO_SPACE, nothing made) a clone the fs has no room for, as the client last heard from
 * the MDS: its bytes over the capacity or its inodes over the inode limit. Checked once before the
 * walk; each file's CloneInode is still admitted against the inode limit like any create.
 */
async function checkRoom(fs: Fs, src: InodeAttr, from: string): Promise<void> {
  const space = fs.core.space;
  if (space.capacity <= 0 && space.maxInodes <= 0) return;
  const need = await cloneSize(fs, src);
  if (space.capacity > 0 && need.bytes > space.free) {
    throw new CurveError(StatusCode.NO_SPACE, `no space for a clone of ${from}: it adds ${need.bytes} bytes (clones count as used), the fs has ${space.free} of ${space.capacity} free`);
  }
  if (space.maxInodes > 0 && space.inodes + need.inodes > space.maxInodes) {
    throw new CurveError(StatusCode.NO_SPACE, `no inodes for a clone of ${from}: it adds ${need.inodes}, the fs has ${space.maxInodes - space.inodes} of ${space.maxInodes} left`);
  }
}

class TreeCloner {
  constructor(
    private readonly fs: Fs,
    private readonly report: CloneReport,
    private readonly concurrency: number,
  ) {}

  /** Clones `src` as `name` under directory `parent`. */
  async node(src: InodeAttr, parent: number, name: string): Promise<void> {
    const core = this.fs.core;
    if (isRegular(src.type)) return this.file(src.inodeId, parent, name);
    const made = await core.create(parent, name, {
      type: src.type, mode: src.mode & 0o7777, uid: src.uid, gid: src.gid, rdev: src.rdev, symlink: src.symlink,
    });
    for (const x of await core.listxattr(src.inodeId)) await core.setxattr(made.inodeId, x, await core.getxattr(src.inodeId, x));
    if (src.type === FileType.TYPE_SYM_LINK) this.report.symlinks++;
    else if (src.type !== FileType.TYPE_DIRECTORY) this.report.others++;
    else {
      this.report.dirs++;
      await this.children(src.inodeId, made.inodeId);
    }
  }

  private async file(ino: number, parent: number, name: string): Promise<void> {
    await this.fs.core.cloneFile(ino, parent, name);
    this.report.files++;
  }

  /** Files of a directory page by page, `concurrency` at once; subdirectories one after another. */
  private async children(srcDir: number, dstDir: number): Promise<void> {
    const core = this.fs.core;
    const dirs: { ino: number; name: string }[] = [];
    let page: (() => Promise<void>)[] = [];
    const flush = async () => {
      await runLimited(page, this.concurrency);
      page = [];
    };
    for await (const d of core.list(srcDir)) {
      if (d.type === FileType.TYPE_DIRECTORY) {
        dirs.push({ ino: d.inodeId, name: d.name });
        continue;
      }
      // A file needs nothing but its id (CloneInode reads the rest where it lives); others their attributes.
      page.push(async () => (isRegular(d.type) ? this.file(d.inodeId, dstDir, d.name) : this.node(await core.getattr(d.inodeId), dstDir, d.name)));
      if (page.length >= 1024) await flush();
    }
    await flush();
    for (const d of dirs) await this.node(await core.getattr(d.ino), dstDir, d.name);
  }
}
