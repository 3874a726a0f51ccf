// `curvefs load`: a dump (dump-format.ts) into an empty fs. The dump is read twice: once to check
// it whole (checksums, trailer, every parent dumped before its entries, every hard link after
// its inode), so a bad dump changes nothing; then to create. Files get new inode ids and new
// chunk ids from the target fs (so its later writes shadow loaded data as they must); their
// objects are copied from the source fs's block store under the new keys.
//
// Memory: the id map of directories and of inodes with more than one link (old id → new id and
// the attributes to set again once their entries are in) — not the files.
import { CurveError, StatusCode } from '../common/index.ts';
import { FileType } from '../gen/common_pb.ts';
import { SetAttrMask, type DumpEntry, type Inode, type InodeAttr } from '../gen/metaserver_pb.ts';
import { objectKey, objectsOf, type BlockStore, type ChunkSlice } from '../data/index.ts';
import type { AdminContext } from './context.ts';
import { DumpFormatError, type DumpHeader, type DumpRecord, type DumpTrailer } from './dump-format.ts';
import { ROOT_INODE } from './fsck.ts';

export interface LoadSource {
  /** The records, from the start, each time it is called (the dump is read twice). */
  records: () => AsyncGenerator<DumpRecord, DumpTrailer>;
  /** The source fs's block store, to copy file data from; undefined with --no-data. */
  store: BlockStore | undefined;
}

export interface LoadStats {
  entries: number;
  inodes: number;
  objects: number;
  bytes: number;
}

/** Entries loaded at once within one directory's run (independent creates). */
const LOAD_CONCURRENCY = 16;
/** Chunk ids fetched from the MDS at a time (one round trip per this many, not per file). */
const CHUNK_ID_BATCH = 4096;

/**
 * Hands out chunk ids of the target fs in ascending order from ranges fetched in batches. Ids
 * left over when the load ends are never used (ids only need to be unique and to grow).
 */
class ChunkIdPool {
  private next = 0;
  private end = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly alloc: (n: number) => Promise<number>) {}

  /** `n` consecutive ascending ids; the first. */
  take(n: number): Promise<number> {
    // Serialized, so that concurrent takers never share a range.
    const r = this.queue.then(async () => {
      if (this.end - this.next < n) {
        const count = Math.max(n, CHUNK_ID_BATCH);
        this.next = await this.alloc(count);
        this.end = this.next + count;
      }
      const first = this.next;
      this.next += n;
      return first;
    });
    this.queue = r.catch(() => undefined);
    return r;
  }
}

/** Pass 1: the whole dump is well formed and self-consistent; its header. */
export async function verifyDump(records: AsyncGenerator<DumpRecord, DumpTrailer>): Promise<{ header: DumpHeader; trailer: DumpTrailer; dataObjects: number }> {
  let header: DumpHeader | undefined;
  let root = false;
  const dirs = new Set<number>();
  const linked = new Set<number>();
  let dataObjects = 0;
  let n = 0;
  for (;;) {
    const r = await records.next();
    if (r.done) {
      if (!header || !root) throw new DumpFormatError('the dump has no header or no root record');
      return { header, trailer: r.value, dataObjects };
    }
    const rec = r.value;
    if (rec.kind === 'header') header = rec.header;
    else if (rec.kind === 'root') {
      root = true;
      dirs.add(rec.inode.attr?.inodeId ?? ROOT_INODE);
    } else {
      n++;
      const e = rec.entry;
      if (!dirs.has(e.parent)) throw new DumpFormatError(`entry ${n} (${JSON.stringify(e.name)}) names parent ${e.parent}, which no earlier entry created`);
      if (!e.inode) {
        if (!linked.has(e.inodeId)) throw new DumpFormatError(`entry ${n} (${JSON.stringify(e.name)}) links inode ${e.inodeId}, which no earlier entry carried`);
        continue;
      }
      const a = e.inode.attr;
      if (!a || a.inodeId !== e.inodeId) throw new DumpFormatError(`entry ${n} (${JSON.stringify(e.name)}): its inode is missing or is not ${e.inodeId}`);
      if (a.type === FileType.TYPE_DIRECTORY) dirs.add(e.inodeId);
      else linked.add(e.inodeId);
      for (const list of Object.values(e.inode.chunks)) for (const s of list.slices) if (!s.zero && s.size > 0) dataObjects++;
    }
  }
}

interface Placed {
  ino: number;
  attr: InodeAttr;
}

/** Pass 2: creates everything in `ctx`'s fs, which must be empty. */
export async function loadDump(
  ctx: AdminContext,
  src: LoadSource,
  allocChunkIds: (n: number) => Promise<number>,
  verified?: Awaited<ReturnType<typeof verifyDump>>,
): Promise<LoadStats> {
  const { header, dataObjects } = verified ?? (await verifyDump(src.records()));
  if (header.chunkSize !== ctx.layout.chunkSize || header.blockSize !== ctx.layout.blockSize) {
    throw new CurveError(StatusCode.PARAM_ERROR, `the dump's layout (chunk ${header.chunkSize}, block ${header.blockSize}) differs from the target fs's (chunk ${ctx.layout.chunkSize}, block ${ctx.layout.blockSize})`);
  }
  if (dataObjects > 0 && !src.store) throw new CurveError(StatusCode.PARAM_ERROR, 'the dump names file data but the source fs\'s block store is not available (give --no-data to load metadata only)');
  const top = await ctx.meta.callForInode('listDentry', ROOT_INODE, { dirInodeId: ROOT_INODE, last: '', count: 1 });
  if (top.dentrys.length > 0) throw new CurveError(StatusCode.DENTRY_EXIST, 'the target fs is not empty: load only into a new fs');

  const stats: LoadStats = { entries: 0, inodes: 0, objects: 0, bytes: 0 };
  const ids = new ChunkIdPool(allocChunkIds);
  const takeIds = (n: number) => ids.take(n);
  const dirs = new Map<number, Placed>();
  const links = new Map<number, Placed>();
  let run: DumpEntry[] = [];
  let runParent = -1;

  const flush = async () => {
    const entries = run;
    run = [];
    // Creates first (independent), then the hard links of this run (they need their inode).
    const creates = entries.filter((e) => e.inode);
    for (let k = 0; k < creates.length; k += LOAD_CONCURRENCY) {
      await Promise.all(creates.slice(k, k + LOAD_CONCURRENCY).map((e) => createEntry(ctx, src.store, header.fsId, e, dirs, links, takeIds, stats)));
    }
    for (const e of entries) {
      if (e.inode) continue;
      const target = links.get(e.inodeId)!;
      await ctx.core.link(target.ino, dirs.get(e.parent)!.ino, e.name);
      await setAttrs(ctx, target.ino, target.attr, false);
      stats.entries++;
    }
    // The directory's own times, now that its entries are in.
    const d = dirs.get(runParent);
    if (d) await setAttrs(ctx, d.ino, d.attr, false);
  };

  for await (const rec of src.records()) {
    if (rec.kind === 'root') {
      const a = rec.inode.attr!;
      dirs.set(a.inodeId, { ino: ROOT_INODE, attr: a });
      await setXattrs(ctx, ROOT_INODE, rec.inode);
      await setAttrs(ctx, ROOT_INODE, a, false);
      stats.inodes++;
    } else if (rec.kind === 'entry') {
      if (rec.entry.parent !== runParent) {
        await flush();
        runParent = rec.entry.parent;
      }
      run.push(rec.entry);
    }
  }
  await flush();
  return stats;
}

async function createEntry(
  ctx: AdminContext,
  store: BlockStore | undefined,
  srcFsId: number,
  e: DumpEntry,
  dirs: Map<number, Placed>,
  links: Map<number, Placed>,
  allocChunkIds: (n: number) => Promise<number>,
  stats: LoadStats,
): Promise<void> {
  const inode = e.inode!;
  const a = inode.attr!;
  const parent = dirs.get(e.parent)!.ino;
  const made = await ctx.core.create(parent, e.name, { type: a.type, mode: a.mode, uid: a.uid, gid: a.gid, rdev: a.rdev, symlink: a.symlink || undefined });
  const ino = made.inodeId;
  if (a.type === FileType.TYPE_DIRECTORY) dirs.set(a.inodeId, { ino, attr: a });
  else if (a.nlink > 1) links.set(a.inodeId, { ino, attr: a });
  await setXattrs(ctx, ino, inode);
  const regular = a.type === FileType.TYPE_S3 || a.type === FileType.TYPE_FILE;
  if (regular && store) await copyData(ctx, store, srcFsId, a.inodeId, ino, inode, allocChunkIds, stats);
  await setAttrs(ctx, ino, a, regular);
  stats.entries++;
  stats.inodes++;
}

async function setXattrs(ctx: AdminContext, ino: number, inode: Inode): Promise<void> {
  for (const [name, value] of Object.entries(inode.xattr)) await ctx.core.setxattr(ino, name, value);
}

/** Mode, owner, times (ctime last: every other change stamps it) and, for files, the length. */
async function setAttrs(ctx: AdminContext, ino: number, a: InodeAttr, withSize: boolean): Promise<void> {
  let mask = SetAttrMask.SETATTR_MODE | SetAttrMask.SETATTR_UID | SetAttrMask.SETATTR_GID | SetAttrMask.SETATTR_ATIME | SetAttrMask.SETATTR_MTIME | SetAttrMask.SETATTR_CTIME;
  if (withSize) mask |= SetAttrMask.SETATTR_SIZE;
  await ctx.meta.callForInode('updateInode', ino, {
    inodeId: ino,
    mask,
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    length: a.length,
    atime: { sec: a.atime, nsec: a.atimeNs },
    mtime: { sec: a.mtime, nsec: a.mtimeNs },
    ctime: { sec: a.ctime, nsec: a.ctimeNs },
  });
}

/**
 * The file's objects under the new inode with fresh chunk ids, then its block map in one
 * AppendChunks. The new partition stamps append sequences in the order the slices are sent, so
 * each chunk's slices go in their dumped order: by sequence (a version 1 dump has none: 0), then
 * chunk id and compaction — the order reads gave them — and the same slices win where they overlap.
 */
async function copyData(
  ctx: AdminContext,
  store: BlockStore,
  srcFsId: number,
  oldIno: number,
  newIno: number,
  inode: Inode,
  allocChunkIds: (n: number) => Promise<number>,
  stats: LoadStats,
): Promise<void> {
  const slices: ChunkSlice[] = [];
  const indexes = Object.keys(inode.chunks).map(Number).sort((x, y) => x - y);
  for (const k of indexes) {
    // A clone's shared slices are read from their owner's objects and loaded as the new inode's own.
    const inChunk = inode.chunks[k]!.slices.map((s) => ({ chunkId: s.chunkId, seq: s.seq, compaction: s.compaction, offset: s.offset, len: s.len, size: s.size, zero: s.zero, owner: s.owner }));
    inChunk.sort((a, b) => a.seq - b.seq || a.chunkId - b.chunkId || a.compaction - b.compaction);
    slices.push(...inChunk);
  }
  if (slices.length === 0) return;
  const oldIds = [...new Set(slices.map((s) => s.chunkId))].sort((x, y) => x - y);
  const first = await allocChunkIds(oldIds.length);
  const idOf = new Map(oldIds.map((id, i) => [id, first + i]));
  const moved = slices.map((s) => ({ ...s, chunkId: idOf.get(s.chunkId)!, owner: 0 }));
  for (let i = 0; i < slices.length; i++) {
    for (const ref of objectsOf([slices[i]!], ctx.layout)) {
      const bytes = await store.get(objectKey(srcFsId, oldIno, ref));
      await ctx.store.put(objectKey(ctx.fsId, newIno, { ...ref, chunkId: moved[i]!.chunkId, owner: 0 }), bytes);
      stats.objects++;
      stats.bytes += bytes.length;
    }
  }
  await ctx.meta.callForInode('appendChunks', newIno, { inodeId: newIno, slices: moved, minLength: inode.attr!.length, chunkSize: ctx.layout.chunkSize });
}
