// Garbage collection of the block store: objects of the fs that no inode references (a client
// that died mid-upload, a delete that was lost), found by the scan fsck shares.
//
// Why it never deletes an upload in progress: a writer stores a slice's objects first and
// appends the slice to the inode after (AppendChunks). The scan lists the store BEFORE it reads
// the metadata, so an object whose slice was appended before the metadata scan is seen
// referenced. An object written but not yet appended looks unreferenced: it is left alone while
// it is younger than the age bound (--min-age, default 1 h; an object whose store tells no age
// is never deleted), and each candidate's inode is read again just before its deletion. The
// bound must exceed the longest time a writer holds uploaded objects before it appends them
// (a write buffer flush: seconds).
import { objectKey } from '../data/index.ts';
import type { Inode } from '../gen/metaserver_pb.ts';
import type { AdminContext } from './context.ts';
import { referencedKeys, ObjectIndex } from './objects.ts';
import { inodeNow } from './recheck.ts';
import { allInodes, fsObjects, type StoredObject } from './scan.ts';

export const DEFAULT_GC_MIN_AGE_MS = 60 * 60 * 1000;

export interface GcOptions {
  minAgeMs: number;
  delete: boolean;
}

export interface GcReport {
  objects: number;
  inodes: number;
  /** Unreferenced objects old enough to delete (deleted with `delete`). */
  garbage: { key: string; size: number; ageMs: number; deleted: boolean }[];
  /** Unreferenced objects kept because they are younger than the bound (or of unknown age). */
  young: number;
  /** Keys under the fs's prefix that are not data object keys: reported, never deleted. */
  foreign: string[];
  bytesFreed: number;
}

/** The store's objects of the fs, then the inodes ticked off against them (in that order). */
export async function scanReferences(ctx: AdminContext, onInode?: (inode: Inode, missing: string[]) => void): Promise<{ index: ObjectIndex; inodes: number }> {
  const index = new ObjectIndex();
  for await (const o of fsObjects(ctx.store, ctx.fsId)) index.add(o);
  let inodes = 0;
  for await (const inode of allInodes(ctx.meta)) {
    inodes++;
    const missing = index.tick(referencedKeys(ctx.fsId, inode, ctx.layout));
    onInode?.(inode, missing);
  }
  return { index, inodes };
}

/** Whether the object's inode (read now) still does not reference it. */
export async function stillUnreferenced(ctx: AdminContext, o: StoredObject): Promise<boolean> {
  const p = o.parsed!;
  const inode = await inodeNow(ctx, p.inodeId);
  if (!inode) return true;
  return !referencedKeys(ctx.fsId, inode, ctx.layout).includes(objectKey(ctx.fsId, p.inodeId, p));
}

export async function gc(ctx: AdminContext, opts: GcOptions): Promise<GcReport> {
  const { index, inodes } = await scanReferences(ctx);
  return collectGarbage(ctx, index, inodes, opts);
}

export async function collectGarbage(ctx: AdminContext, index: ObjectIndex, inodes: number, opts: GcOptions): Promise<GcReport> {
  const report: GcReport = { objects: index.size, inodes, garbage: [], young: 0, foreign: [], bytesFreed: 0 };
  const now = ctx.now();
  for (const o of index.unreferenced()) {
    if (!o.parsed) {
      report.foreign.push(o.key);
      continue;
    }
    const ageMs = o.mtimeMs === undefined ? -1 : now - o.mtimeMs;
    if (ageMs < opts.minAgeMs) {
      report.young++;
      continue;
    }
    if (!(await stillUnreferenced(ctx, o))) continue;
    let deleted = false;
    if (opts.delete) {
      await ctx.store.delete([o.key]);
      deleted = true;
      report.bytesFreed += o.size;
    }
    report.garbage.push({ key: o.key, size: o.size, ageMs, deleted });
  }
  return report;
}
