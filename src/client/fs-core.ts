// FsCore: the file system by inode id — the operations the FUSE layer calls one to one, and on
// which the path API (fs.ts) is built. Every method is one or two metaserver calls routed by
// MetaClient; link counts are kept by the servers.
import { create } from '@bufbuild/protobuf';
import { FileType, type PartitionInfo } from '../gen/common_pb.ts';
import {
  InodeAttrSchema,
  RenameFlags,
  SetAttrMask,
  type Dentry,
  type Inode,
  type InodeAttr,
} from '../gen/metaserver_pb.ts';
import { CurveError, StatusCode, systemClock, type Clock } from '../common/index.ts';
import type { ChunkSlice as StoredSlice } from '../data/index.ts';
import { TtlCache } from './cache.ts';
import { checkName } from './names.ts';
import type { MetaClient } from './meta-client.ts';
import { modeBitsOfType } from './attr.ts';
import { SpaceGuard } from './space.ts';
import type { QuotaTracker } from '../vfs/quota.ts';
import { OpenRegistry, type OpenRegistryOptions } from './open-registry.ts';

export const ROOT_INODE_ID = 1;

export interface Caller {
  uid: number;
  gid: number;
}

export interface CreateArgs {
  type: FileType;
  /** Permission bits (and optionally S_IFMT, which must agree with type). */
  mode: number;
  uid: number;
  gid: number;
  rdev?: number;
  symlink?: string;
}

export interface SetAttrArgs {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** [sec, nsec]; 'now' stamps the current time. */
  atime?: [number, number] | 'now';
  mtime?: [number, number] | 'now';
}

export interface FsCoreOptions {
  /** Entry cache TTL in ms (0 = off). */
  entryTtlMs?: number;
  /** Attribute cache TTL in ms (0 = off). */
  attrTtlMs?: number;
  clock?: Clock;
  /** Dentries per ListDentry page. */
  listPageSize?: number;
}

/**
 * A directory entry as a path walk sees it; `cached` says it came from the entry cache. `attr`,
 * when asked for, is the inode's attributes read with the dentry (when the inode lives in the
 * parent's partition; absent otherwise and for cached entries).
 */
export interface EntryRef {
  ino: number;
  type: FileType;
  cached: boolean;
  attr?: InodeAttr;
  /** The whole inode (attributes and block map), when asked `withChunks` and read with the dentry. */
  inode?: Inode;
}

export interface ListPage {
  entries: Dentry[];
  attrs: InodeAttr[];
  more: boolean;
}

function timespec(t: [number, number]) {
  return { sec: t[0], nsec: t[1] };
}

/** UpdateInode's fields for `a`: the mask of what changes and the values; ctime = `now`. */
function setattrBody(ino: number, a: SetAttrArgs, now: { sec: number; nsec: number }): Record<string, unknown> {
  let mask = 0;
  const body: Record<string, unknown> = { inodeId: ino, time: now };
  if (a.mode !== undefined) { mask |= SetAttrMask.SETATTR_MODE; body.mode = a.mode; }
  if (a.uid !== undefined) { mask |= SetAttrMask.SETATTR_UID; body.uid = a.uid; }
  if (a.gid !== undefined) { mask |= SetAttrMask.SETATTR_GID; body.gid = a.gid; }
  if (a.size !== undefined) { mask |= SetAttrMask.SETATTR_SIZE; body.length = a.size; }
  if (a.atime !== undefined) { mask |= SetAttrMask.SETATTR_ATIME; body.atime = a.atime === 'now' ? now : timespec(a.atime); }
  if (a.mtime !== undefined) { mask |= SetAttrMask.SETATTR_MTIME; body.mtime = a.mtime === 'now' ? now : timespec(a.mtime); }
  body.mask = mask;
  return body;
}

export class FsCore {
  readonly meta: MetaClient;
  private readonly clock: Clock;
  private readonly entries: TtlCache<string, { ino: number; type: FileType }>;
  private readonly attrs: TtlCache<number, InodeAttr>;
  private readonly listPageSize: number;
  /**
   * Opens held by this client (set by trackOpens): unlink and rename register an open inode
   * whose last name they remove, so it outlives the name.
   */
  opens: OpenRegistry | undefined;
  /** Capacity and usage as the MDS last said, for statfs and ENOSPC (space.ts). */
  readonly space = new SpaceGuard();
  /** Directory quotas (src/vfs/quota.ts), set by connectFs; none without. */
  quota: QuotaTracker | undefined;
  /** The metaservers answered UNKNOWN_METHOD to AppendAndUpdateInode: send its two halves. */
  private noAppendAndUpdate = false;

  constructor(meta: MetaClient, opts: FsCoreOptions = {}) {
    this.meta = meta;
    this.clock = opts.clock ?? systemClock;
    this.entries = new TtlCache(opts.entryTtlMs ?? 1000, this.clock);
    this.attrs = new TtlCache(opts.attrTtlMs ?? 1000, this.clock);
    this.listPageSize = opts.listPageSize ?? 1024;
  }

  /** Tracks this client's opens under mount session `sessionId` (see open-registry.ts). */
  trackOpens(sessionId: number, opts: OpenRegistryOptions = {}): OpenRegistry {
    this.opens = new OpenRegistry((ino, session, open) => this.openHandle(ino, session, open), sessionId, opts);
    return this.opens;
  }

  now(): { sec: number; nsec: number } {
    const [sec, nsec] = this.clock.wallTime();
    return { sec, nsec };
  }

  private entryKey(parent: number, name: string): string {
    return `${parent}/${name}`;
  }

  invalidateEntry(parent: number, name: string): void {
    this.entries.delete(this.entryKey(parent, name));
  }

  invalidateAttr(ino: number): void {
    this.attrs.delete(ino);
  }

  private remember(attr: InodeAttr | undefined): void {
    if (attr && attr.inodeId) this.attrs.set(attr.inodeId, attr);
  }

  // ---- reads ----

  /**
   * The entry `name` of `parent` — its inode id and type, from the dentry alone (one GetDentry,
   * or the entry cache). Path walks need no more than this for the directories they pass through.
   * `fresh` skips the entry cache; `withAttr` asks for the inode's attributes in the same call,
   * `withChunks` for its block map too (what st_blocks is counted from).
   */
  async lookupEntry(parent: number, name: string, fresh = false, withAttr = false, withChunks = false): Promise<EntryRef> {
    checkName(name);
    const key = this.entryKey(parent, name);
    if (!fresh) {
      const cached = this.entries.get(key);
      if (cached) return { ino: cached.ino, type: cached.type, cached: true };
    }
    const res = await this.meta.callForInode('getDentry', parent, { parentInodeId: parent, name, withAttr: withAttr || withChunks, withChunks });
    if (!res.dentry) throw new CurveError(StatusCode.NOT_FOUND, name);
    this.entries.set(key, { ino: res.dentry.inodeId, type: res.dentry.type });
    const attr = res.inode?.attr;
    this.remember(attr);
    return { ino: res.dentry.inodeId, type: res.dentry.type, cached: false, attr, inode: withChunks && attr ? res.inode : undefined };
  }

  /**
   * The entry `name` of `parent` with its whole inode (attributes and block map): one GetDentry
   * when the inode lives in the parent's partition, else GetDentry then GetInode. Always fresh.
   */
  async lookupInode(parent: number, name: string): Promise<Inode> {
    checkName(name);
    const res = await this.meta.callForInode('getDentry', parent, { parentInodeId: parent, name, withAttr: true, withChunks: true });
    if (!res.dentry) throw new CurveError(StatusCode.NOT_FOUND, name);
    this.entries.set(this.entryKey(parent, name), { ino: res.dentry.inodeId, type: res.dentry.type });
    if (res.inode?.attr) {
      this.remember(res.inode.attr);
      return res.inode;
    }
    return this.getInode(res.dentry.inodeId);
  }

  /** The entry's inode attributes (one GetDentry when the inode lives in the parent's partition). */
  async lookup(parent: number, name: string): Promise<InodeAttr> {
    const entry = await this.lookupEntry(parent, name, false, true);
    if (entry.attr) return entry.attr;
    try {
      return await this.getattr(entry.ino);
    } catch (e) {
      // A cached entry may point at an inode removed by another client.
      if (entry.cached && e instanceof CurveError && e.status === StatusCode.NOT_FOUND) {
        this.invalidateEntry(parent, name);
        return this.lookup(parent, name);
      }
      throw e;
    }
  }

  async getattr(ino: number, fresh = false): Promise<InodeAttr> {
    if (!fresh) {
      const cached = this.attrs.get(ino);
      if (cached) return cached;
    }
    const res = await this.meta.callForInode('batchGetInodeAttr', ino, { inodeId: [ino] });
    const attr = res.attr[0];
    if (!attr) throw new CurveError(StatusCode.NOT_FOUND, `inode ${ino}`);
    this.remember(attr);
    return attr;
  }

  /** Attributes of many inodes, grouped by partition into one call each. */
  async batchGetattr(inos: number[]): Promise<Map<number, InodeAttr>> {
    const groups = new Map<number, number[]>();
    for (const ino of inos) {
      const p = this.meta.partitionOf(ino);
      let g = groups.get(p.partitionId);
      if (!g) groups.set(p.partitionId, (g = []));
      g.push(ino);
    }
    const out = new Map<number, InodeAttr>();
    await Promise.all(
      [...groups.values()].map(async (ids) => {
        const res = await this.meta.callForInode('batchGetInodeAttr', ids[0]!, { inodeId: ids });
        for (const a of res.attr) {
          out.set(a.inodeId, a);
          this.remember(a);
        }
      }),
    );
    return out;
  }

  /** The whole inode, with its block map: always fresh (used by open and reads). */
  async getInode(ino: number): Promise<Inode> {
    const res = await this.meta.callForInode('getInode', ino, { inodeId: ino, firstParentOnly: true });
    if (!res.inode || !res.inode.attr) throw new CurveError(StatusCode.NOT_FOUND, `inode ${ino}`);
    this.remember(res.inode.attr);
    return res.inode;
  }

  async readlink(ino: number): Promise<string> {
    const attr = await this.getattr(ino);
    if (attr.type !== FileType.TYPE_SYM_LINK) throw new CurveError(StatusCode.WRONG_TYPE, 'not a symlink');
    return attr.symlink;
  }

  /** One page of a directory listing after `cursor` (exclusive), in name byte order. */
  async listPage(dir: number, cursor: string, limit = this.listPageSize, withAttr = false): Promise<ListPage> {
    const res = await this.meta.callForInode('listDentry', dir, {
      dirInodeId: dir,
      last: cursor,
      count: limit,
      withAttr,
    });
    for (const a of res.attrs) this.remember(a);
    return { entries: res.dentrys, attrs: res.attrs, more: res.more };
  }

  /** Every entry of a directory, streamed page by page (for directories of millions of entries). */
  async *list(dir: number, pageSize = this.listPageSize): AsyncGenerator<Dentry> {
    let cursor = '';
    for (;;) {
      const page = await this.listPage(dir, cursor, pageSize);
      for (const d of page.entries) yield d;
      if (!page.more || page.entries.length === 0) return;
      cursor = page.entries[page.entries.length - 1]!.name;
    }
  }

  async getxattr(ino: number, name: string): Promise<Uint8Array> {
    const res = await this.meta.callForInode('getXAttr', ino, { inodeId: ino, name });
    return res.value;
  }

  async listxattr(ino: number): Promise<string[]> {
    const res = await this.meta.callForInode('listXAttr', ino, { inodeId: ino });
    return res.names;
  }

  // ---- namespace mutations ----

  /**
   * Creates a node under `parent`. Non-directories are placed in the parent's partition and made
   * by one CreateFile call (inode + dentry in one log entry). Directories go to the least loaded
   * writable partition (CreateInode there, then CreateDentry in the parent's); when that is the
   * parent's own partition, CreateFile does both at once.
   */
  async create(parent: number, name: string, args: CreateArgs): Promise<InodeAttr> {
    return (await this.createWithParent(parent, name, args)).attr;
  }

  /** create, also answering the parent directory's attributes after it (when the servers sent them). */
  async createWithParent(parent: number, name: string, args: CreateArgs): Promise<{ attr: InodeAttr; parent?: InodeAttr }> {
    checkName(name);
    let parentAttr: InodeAttr | undefined;
    const mode = (args.mode & 0o7777) | modeBitsOfType(args.type);
    const time = this.now();
    const parentPart = this.meta.partitionOf(parent);
    const isDir = args.type === FileType.TYPE_DIRECTORY;
    this.invalidateEntry(parent, name);
    this.invalidateAttr(parent);
    this.space.admitInode(); // ENOSPC at the fs's inode limit, without asking the MDS
    const attr = await this.meta.withWritablePartition(isDir ? undefined : parentPart, async (p: PartitionInfo) => {
      if (p.partitionId === parentPart.partitionId) {
        const res = await this.meta.callPartition('createFile', () => p, {
          parent,
          name,
          type: args.type,
          mode,
          uid: args.uid,
          gid: args.gid,
          rdev: args.rdev ?? 0,
          symlink: args.symlink ?? '',
          time,
        });
        this.remember(res.parent);
        parentAttr = res.parent;
        return res.inode!;
      }
      const two = await this.createTwoStep(p, parent, name, args, mode, time);
      parentAttr = two.parent;
      return two.inode;
    }).catch((e: unknown) => {
      this.space.releaseInode(); // nothing was created
      throw e;
    });
    this.space.settleInode(attr.inodeId);
    this.remember(attr);
    this.entries.set(this.entryKey(parent, name), { ino: attr.inodeId, type: attr.type });
    return { attr, parent: parentAttr };
  }

  private async createTwoStep(
    p: PartitionInfo,
    parent: number,
    name: string,
    args: CreateArgs,
    mode: number,
    time: { sec: number; nsec: number },
  ): Promise<{ inode: InodeAttr; parent?: InodeAttr }> {
    const created = await this.meta.callPartition('createInode', () => p, {
      parent,
      type: args.type,
      mode,
      uid: args.uid,
      gid: args.gid,
      rdev: args.rdev ?? 0,
      symlink: args.symlink ?? '',
      length: args.type === FileType.TYPE_SYM_LINK ? Buffer.byteLength(args.symlink ?? '') : 0,
      time,
    });
    const inode = created.inode!;
    let parentAttr: InodeAttr | undefined;
    try {
      const res = await this.meta.callForInode('createDentry', parent, {
        dentry: { fsId: this.meta.fsId, inodeId: inode.inodeId, parentInodeId: parent, name, type: args.type },
        time,
      });
      this.remember(res.parent);
      parentAttr = res.parent;
    } catch (e) {
      // Never linked: drop its link so the reclaimer deletes it (DeleteInode refuses an inode
      // that still has links).
      await this.meta.callForInode('unlinkInode', inode.inodeId, { inodeId: inode.inodeId, parent, time }).catch(() => undefined);
      throw e;
    }
    return { inode, parent: parentAttr };
  }

  /**
   * A metadata-only copy of regular file `source` named `name` under `parent`, sharing its data
   * objects (docs/architecture.md §6d). One CloneInode in the source's partition makes the inode
   * (and the entry too when the parent lives there); otherwise a CreateDentry follows, and a
   * refused one (DENTRY_EXIST) drops the new inode's link so the reclaimer takes it back. A
   * reader of `name` sees nothing or the whole clone.
   */
  async cloneFile(source: number, parent: number, name: string): Promise<InodeAttr> {
    checkName(name);
    const time = this.now();
    this.invalidateEntry(parent, name);
    this.invalidateAttr(parent);
    this.space.admitInode(); // ENOSPC at the fs's inode limit, like any create
    try {
      const res = await this.meta.callForInode('cloneInode', source, { sourceInodeId: source, parent, name, time });
      const inode = res.inode!;
      if (res.named) this.remember(res.parent);
      else {
        try {
          const d = await this.meta.callForInode('createDentry', parent, {
            dentry: { fsId: this.meta.fsId, inodeId: inode.inodeId, parentInodeId: parent, name, type: inode.type },
            length: inode.length,
            time,
          });
          this.remember(d.parent);
        } catch (e) {
          await this.meta.callForInode('unlinkInode', inode.inodeId, { inodeId: inode.inodeId, parent, time }).catch(() => undefined);
          throw e;
        }
      }
      this.space.settleInode(inode.inodeId);
      this.remember(inode);
      this.entries.set(this.entryKey(parent, name), { ino: inode.inodeId, type: inode.type });
      return inode;
    } catch (e) {
      this.space.releaseInode();
      throw e;
    }
  }

  /**
   * unlink(2) of a non-directory: one Unlink (dentry and link in one log entry) when the inode
   * lives in the parent's partition, else Unlink then UnlinkInode in the inode's. When that was
   * the last name of an inode this client holds open, its open is registered before returning.
   * Answers the inode the name led to and the parent directory's attributes after the unlink
   * (when the servers sent them).
   */
  async unlink(parent: number, name: string): Promise<{ ino: number; parent?: InodeAttr }> {
    checkName(name);
    this.invalidateEntry(parent, name);
    this.invalidateAttr(parent);
    const res = await this.meta.callForInode('unlink', parent, { parentInodeId: parent, name, time: this.now() });
    const ino = res.dentry?.inodeId ?? 0;
    this.invalidateAttr(ino);
    let after = res.inodeUnlinked ? res.inode : undefined;
    // Not unlinked here: the inode lives in another partition (drop its link there), or the name
    // went to the trash (the inode keeps its link until purged).
    if (!res.inodeUnlinked && !res.trashed && ino) {
      after = (await this.meta.callForInode('unlinkInode', ino, { inodeId: ino, parent, time: this.now() })).inode;
    }
    if (ino && this.opens?.isOpen(ino) && (after?.nlink ?? 0) === 0) await this.opens.lostName(ino);
    this.remember(res.parent);
    return { ino, parent: res.parent };
  }

  /**
   * rmdir(2); answers the removed directory's inode id and, when the servers sent them, the
   * parent's attributes after it.
   */
  async rmdir(parent: number, name: string): Promise<{ ino: number; parent?: InodeAttr }> {
    checkName(name);
    this.invalidateEntry(parent, name);
    this.invalidateAttr(parent);
    const res = await this.meta.callForInode('rmdir', parent, { parentInodeId: parent, name, time: this.now() });
    if (res.dentry) this.invalidateAttr(res.dentry.inodeId);
    this.remember(res.parent);
    return { ino: res.dentry?.inodeId ?? 0, parent: res.parent };
  }

  /**
   * link(2): a new name for `ino` under `newParent`. Answers the inode's attributes (`parent`
   * cut to the first: the servers do not send the list) and the new parent's after the link.
   */
  async link(ino: number, newParent: number, newName: string): Promise<{ inode: InodeAttr; parent?: InodeAttr }> {
    checkName(newName);
    // One call: the new parent's leader makes the name and the inode's new link as one
    // transaction (no client step left to crash between them, docs/rename.md §4b); it takes the
    // type from the inode, refuses a directory (NOT_PERMITTED) and answers the inode after it.
    const res = await this.meta.callForInode('createDentry', newParent, {
      dentry: { fsId: this.meta.fsId, inodeId: ino, parentInodeId: newParent, name: newName },
      link: true,
      time: this.now(),
    });
    const attr = res.inode!;
    const parentAttr = res.parent;
    this.invalidateAttr(newParent);
    this.remember(parentAttr);
    this.entries.set(this.entryKey(newParent, newName), { ino, type: attr.type });
    this.remember(attr);
    return { inode: attr, parent: parentAttr };
  }

  /**
   * rename(2) / renameat2(2); answers the moved inode's id and the replaced (or exchanged) one's
   * (0 when none), and the directories' attributes after it when the servers sent them.
   */
  async rename(
    oldParent: number,
    oldName: string,
    newParent: number,
    newName: string,
    flags = 0,
  ): Promise<{ moved: number; replaced: number; oldParentAttr?: InodeAttr; newParentAttr?: InodeAttr }> {
    checkName(oldName);
    checkName(newName);
    if ((flags & RenameFlags.RENAME_NOREPLACE) && (flags & RenameFlags.RENAME_EXCHANGE)) {
      throw new CurveError(StatusCode.PARAM_ERROR, 'RENAME_NOREPLACE with RENAME_EXCHANGE');
    }
    const newP = this.meta.partitionOf(newParent);
    this.invalidateEntry(oldParent, oldName);
    this.invalidateEntry(newParent, newName);
    this.invalidateAttr(oldParent);
    this.invalidateAttr(newParent);
    const res = await this.meta.callForInode('rename', oldParent, {
      oldParent,
      oldName,
      newP: { poolId: newP.poolId, copysetId: newP.copysetId, partitionId: newP.partitionId, fsId: this.meta.fsId },
      newParent,
      newName,
      flags,
      time: this.now(),
    });
    this.invalidateAttr(res.movedInodeId);
    if (res.replacedInodeId) {
      this.invalidateAttr(res.replacedInodeId);
      // The replaced inode lost a name, maybe its last (its link count is not in the answer).
      if (!(flags & RenameFlags.RENAME_EXCHANGE)) await this.opens?.lostName(res.replacedInodeId);
    }
    this.remember(res.oldParentAttr);
    this.remember(res.newParentAttr);
    return { moved: res.movedInodeId, replaced: res.replacedInodeId, oldParentAttr: res.oldParentAttr, newParentAttr: res.newParentAttr };
  }

  async setattr(ino: number, a: SetAttrArgs): Promise<InodeAttr> {
    this.invalidateAttr(ino);
    const res = await this.meta.callForInode('updateInode', ino, setattrBody(ino, a, this.now()) as never);
    this.remember(res.inode);
    return res.inode ?? create(InodeAttrSchema, {});
  }

  /**
   * appendChunks, then setattr, in one commit (AppendAndUpdateInode): a file's buffered writes
   * and the setattr that comes after them (tar's utimensat after write). `writeTime` is the
   * file's mtime from the writes; the setattr may set it again. No size here: a truncate commits
   * the data first. A metaserver without the call (UNKNOWN_METHOD: older than it) gets the two.
   */
  async appendAndSetattr(ino: number, slices: StoredSlice[], minLength: number, writeTime: { sec: number; nsec: number }, a: SetAttrArgs): Promise<InodeAttr> {
    if (a.size !== undefined) throw new CurveError(StatusCode.PARAM_ERROR, 'appendAndSetattr with a size');
    if (!this.noAppendAndUpdate) {
      this.invalidateAttr(ino);
      try {
        const body = { ...setattrBody(ino, a, this.now()), slices, minLength, writeTime };
        const res = await this.meta.callForInode('appendAndUpdateInode', ino, body as never);
        this.remember(res.inode);
        return res.inode ?? create(InodeAttrSchema, {});
      } catch (e) {
        if (!(e instanceof CurveError && e.status === StatusCode.UNKNOWN_METHOD)) throw e;
        this.noAppendAndUpdate = true;
      }
    }
    await this.appendChunks(ino, slices, minLength, writeTime);
    return this.setattr(ino, a);
  }

  async setxattr(ino: number, name: string, value: Uint8Array, flags = 0): Promise<void> {
    this.invalidateAttr(ino);
    await this.meta.callForInode('setXAttr', ino, { inodeId: ino, name, value, flags, time: this.now() });
  }

  async removexattr(ino: number, name: string): Promise<void> {
    this.invalidateAttr(ino);
    await this.meta.callForInode('removeXAttr', ino, { inodeId: ino, name, time: this.now() });
  }

  /**
   * Records slices already stored in the block store, raising the length to `minLength`;
   * `time` is the file's new mtime (the time of its last write; default now). Answers the
   * inode's attributes after it.
   */
  async appendChunks(ino: number, slices: StoredSlice[], minLength: number, time = this.now()): Promise<InodeAttr | undefined> {
    this.invalidateAttr(ino);
    const res = await this.meta.callForInode('appendChunks', ino, { inodeId: ino, slices, minLength, time });
    this.remember(res.inode);
    return res.inode;
  }

  /** Registers (open=true) or releases an open handle, so an unlinked file is kept until released. */
  async openHandle(ino: number, sessionId: number, open: boolean): Promise<void> {
    await this.meta.callForInode('openHandle', ino, { inodeId: ino, sessionId, open });
  }
}
