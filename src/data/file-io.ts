// File data over a block store: writes become new slices whose objects are stored before the
// slice is handed back (the inode's block map changes only after its blocks are stored); reads
// overlay a block map. The planning is pure (read-plan.ts, truncate.ts, compaction.ts); this
// class does the object I/O.
import { CurveError, StatusCode } from '../common/index.ts';
import type { BlockStore } from './block-store.ts';
import type { BlockCache } from './block-cache.ts';
import {
  DEFAULT_BLOCK_SIZE, DEFAULT_CHUNK_SIZE, checkFileRange, isShared, checkLayout, objectsOf, splitAtChunks,
  type BlockMap, type ChunkSlice, type DataLayout, type ObjectRef,
} from './layout.ts';
import { objectReads, planRead, type ReadPiece } from './read-plan.ts';
import { planCompaction } from './compaction.ts';
import { inodePrefix, objectKey } from './object-key.ts';
import { runLimited } from './limit.ts';

export interface FileDataIOOptions {
  fsId: number;
  chunkSize?: number;
  blockSize?: number;
  /** Returns the first of `n` fresh consecutive chunk ids (the MDS hands them out in batches). */
  allocChunkIds: (n: number) => Promise<number>;
  /** Whole-object read cache; without one, reads fetch exactly the byte ranges they need. */
  cache?: BlockCache;
  /** Object puts or gets in flight per call (default 8). */
  concurrency?: number;
  /**
   * With a cache: after a read, fetch this many following objects of the last slice read into
   * the cache in the background, so a sequential reader finds them there (default 0).
   */
  readaheadObjects?: number;
  /**
   * With a cache: a read inside one cached object may return a view of that object instead of
   * a copy. Only for callers that copy the bytes out and never write to them (the mount, whose
   * reply write copies them into the kernel): cached objects are shared by every reader.
   */
  viewsOfCache?: boolean;
}

export interface CompactionResult {
  /** The chunk's new slice list (replaces the old one in one metadata update). */
  slices: ChunkSlice[];
  /** Objects to delete once that update is committed. */
  garbage: ObjectRef[];
}

/** The slices of `map` whose objects are under `ino`'s own prefix. */
function ownSlices(map: BlockMap, ino: number): ChunkSlice[] {
  return [...map.values()].flat().filter((s) => !isShared(s, ino));
}

function checkId(what: string, id: number): void {
  if (!Number.isSafeInteger(id) || id <= 0) throw new CurveError(StatusCode.PARAM_ERROR, `bad ${what} ${id}`);
}

export class FileDataIO {
  readonly layout: DataLayout;
  readonly fsId: number;
  private readonly concurrency: number;
  /** Inode and block of the last readahead planned (one plan per block a reader enters). */
  private readaheadMark = '';

  constructor(readonly store: BlockStore, private readonly opts: FileDataIOOptions) {
    checkId('fs id', opts.fsId);
    this.fsId = opts.fsId;
    this.layout = { chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_SIZE, blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE };
    checkLayout(this.layout);
    this.concurrency = opts.concurrency ?? 8;
  }

  keyOf(inodeId: number, ref: Omit<ObjectRef, 'size'>): string {
    return objectKey(this.fsId, inodeId, ref);
  }

  /** `n` fresh chunk ids, in increasing order. */
  async allocChunkIds(n: number): Promise<number[]> {
    const first = await this.opts.allocChunkIds(n);
    if (!Number.isSafeInteger(first) || first <= 0 || !Number.isSafeInteger(first + n)) {
      throw new CurveError(StatusCode.ALLOCATE_CHUNKID_ERROR, `allocator returned ${first} for ${n} ids`);
    }
    return Array.from({ length: n }, (_, i) => first + i);
  }

  /**
   * Stores `data` at `offset` as new slices (one per chunk touched) and returns them once every
   * object is stored; the caller appends them to the inode's block map. On failure nothing is
   * returned and the objects already stored are removed (best effort).
   */
  async write(inodeId: number, offset: number, data: Uint8Array): Promise<ChunkSlice[]> {
    checkId('inode id', inodeId);
    checkFileRange(offset, data.length);
    const parts = splitAtChunks(offset, data.length, this.layout);
    if (parts.length === 0) return [];
    const ids = await this.allocChunkIds(parts.length);
    const slices = parts.map((p, i): ChunkSlice => ({
      chunkId: ids[i]!, compaction: 0, offset: p.offset, len: p.len, size: p.len, zero: false,
    }));
    const jobs: (() => Promise<void>)[] = [];
    for (const s of slices) {
      const bytes = data.subarray(s.offset - offset, s.offset - offset + s.len);
      jobs.push(...this.sliceUploadJobs(inodeId, s, bytes, 0));
    }
    await this.uploadOrClean(inodeId, slices, jobs);
    return slices;
  }

  /** Zero slices over [offset, offset + length): shadow older data without storing anything. */
  async writeZeros(inodeId: number, offset: number, length: number): Promise<ChunkSlice[]> {
    checkId('inode id', inodeId);
    checkFileRange(offset, length);
    const parts = splitAtChunks(offset, length, this.layout);
    if (parts.length === 0) return [];
    const ids = await this.allocChunkIds(parts.length);
    return parts.map((p, i) => ({ chunkId: ids[i]!, compaction: 0, offset: p.offset, len: p.len, size: 0, zero: true }));
  }

  /** Upload jobs for objects firstBlock.. of a slice whose stored bytes are `bytes`. */
  sliceUploadJobs(inodeId: number, slice: ChunkSlice, bytes: Uint8Array, firstBlock: number): (() => Promise<void>)[] {
    const bs = this.layout.blockSize;
    const jobs: (() => Promise<void>)[] = [];
    for (let b = firstBlock; b * bs < bytes.length; b++) {
      const key = this.keyOf(inodeId, {
        chunkIndex: Math.floor(slice.offset / this.layout.chunkSize), chunkId: slice.chunkId,
        compaction: slice.compaction, blockIndex: b,
      });
      const part = bytes.subarray(b * bs, Math.min(bytes.length, (b + 1) * bs));
      jobs.push(() => this.store.put(key, part));
    }
    return jobs;
  }

  private async uploadOrClean(inodeId: number, slices: ChunkSlice[], jobs: (() => Promise<void>)[]): Promise<void> {
    try {
      await runLimited(jobs, this.concurrency);
    } catch (e) {
      await this.deleteObjects(inodeId, objectsOf(slices, this.layout)).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Bytes [offset, offset + length) of a file with this block map, cut at `fileLength`; holes
   * read as zeros.
   */
  async read(inodeId: number, map: BlockMap, fileLength: number, offset: number, length: number): Promise<Uint8Array> {
    checkId('inode id', inodeId);
    checkFileRange(offset, length);
    checkFileRange(0, fileLength);
    const end = Math.min(fileLength, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const pieces = planRead(map, offset, end - offset, this.layout);
    const oneObject = pieces.length === 1 && (!this.opts.cache || this.opts.viewsOfCache);
    const single = oneObject ? objectReads(pieces[0]!, this.layout) : [];
    let out: Uint8Array;
    if (single.length === 1 && single[0]!.len === end - offset) {
      // The whole range lies in one object: hand over the ranged get's buffer, or a view of the
      // cached object — no allocation, no copy (a copy per read was most of the GC work).
      const r = single[0]!;
      out = await this.fetch(this.keyOf(inodeId, r.ref), r.ref.size, r.objectOffset, r.len);
    } else {
      out = Buffer.allocUnsafe(end - offset); // readPieces writes every byte
      await this.readPieces(inodeId, pieces, out, offset);
    }
    this.readahead(inodeId, map, fileLength, end);
    return out;
  }

  /**
   * Warms the cache with the objects holding the `readaheadObjects` blocks of the file after
   * `from` (across slices and chunks), so a sequential reader finds them there. Planned once
   * per block boundary crossed, not per read.
   */
  private readahead(inodeId: number, map: BlockMap, fileLength: number, from: number): void {
    const n = this.opts.readaheadObjects ?? 0;
    const cache = this.opts.cache;
    if (!cache || n <= 0 || from >= fileLength) return;
    const bs = this.layout.blockSize;
    const mark = `${inodeId}/${Math.floor(from / bs)}`;
    if (mark === this.readaheadMark) return;
    this.readaheadMark = mark;
    const end = Math.min(fileLength, from + n * bs);
    const keys = new Set<string>();
    for (const piece of planRead(map, from, end - from, this.layout)) {
      for (const r of objectReads(piece, this.layout)) keys.add(this.keyOf(inodeId, r.ref));
    }
    for (const key of keys) void cache.getOrLoad(key, () => this.store.get(key)).catch(() => undefined);
  }

  /**
   * Writes every byte of the pieces into `out` (whose first byte is file offset `outOffset`):
   * slice bytes from their objects, zeros for holes and zero slices.
   */
  async readPieces(inodeId: number, pieces: readonly ReadPiece[], out: Uint8Array, outOffset: number): Promise<void> {
    const jobs: (() => Promise<void>)[] = [];
    for (const piece of pieces) {
      const reads = objectReads(piece, this.layout);
      // Zeros wherever no object read lands: holes, zero slices, bytes a slice never stored.
      const stored = reads.length === 0 ? piece.offset : reads[reads.length - 1]!.fileOffset + reads[reads.length - 1]!.len;
      out.fill(0, stored - outOffset, piece.offset + piece.len - outOffset);
      for (const r of reads) {
        const key = this.keyOf(inodeId, r.ref);
        jobs.push(async () => {
          const bytes = await this.fetch(key, r.ref.size, r.objectOffset, r.len);
          out.set(bytes, r.fileOffset - outOffset);
        });
      }
    }
    await runLimited(jobs, this.concurrency);
  }

  private async fetch(key: string, objectSize: number, offset: number, len: number): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = this.opts.cache
        ? (await this.opts.cache.getOrLoad(key, () => this.store.get(key))).subarray(offset, offset + len)
        : await this.store.get(key, offset, len);
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) {
        // The block map names an object the store does not have: lost data, an I/O error.
        throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `missing data object ${key}`);
      }
      throw e;
    }
    if (bytes.length !== len) {
      throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR,
        `data object ${key} holds fewer bytes than its slice says (want ${objectSize})`);
    }
    return bytes;
  }

  async deleteObjects(inodeId: number, refs: readonly ObjectRef[]): Promise<void> {
    if (refs.length === 0) return;
    await this.store.delete(refs.map((r) => this.keyOf(inodeId, r)));
  }

  /**
   * Deletes every object of an inode: those its block map names, then anything else under the
   * inode's prefix (objects of writes that never reached the map, truncate garbage not yet
   * collected).
   */
  async deleteAll(inodeId: number, map?: BlockMap): Promise<void> {
    checkId('inode id', inodeId);
    // Only its own objects: shared slices' objects belong to another inode's prefix, and the
    // reclaimer decides when those go (docs/architecture.md §6d).
    if (map) await this.deleteObjects(inodeId, objectsOf(ownSlices(map, inodeId), this.layout));
    let batch: string[] = [];
    for await (const e of this.store.list(inodePrefix(this.fsId, inodeId))) {
      batch.push(e.key);
      if (batch.length >= 1000) {
        await this.store.delete(batch);
        batch = [];
      }
    }
    await this.store.delete(batch);
  }

  /**
   * Rewrites the slices of one chunk as a single slice. Returns undefined when the chunk has
   * fewer than two slices. The caller swaps the chunk's slice list for `slices` in one metadata
   * update (keeping any slice appended meanwhile) and then deletes `garbage`.
   */
  async compactChunk(inodeId: number, map: BlockMap, chunkIndex: number): Promise<CompactionResult | undefined> {
    checkId('inode id', inodeId);
    const plan = planCompaction(map.get(chunkIndex) ?? [], this.layout);
    if (!plan) return undefined;
    const t = plan.target;
    if (!t.zero) {
      const bytes = new Uint8Array(t.len);
      const only = new Map([[chunkIndex, plan.sources]]);
      await this.readPieces(inodeId, planRead(only, t.offset, t.len, this.layout), bytes, t.offset);
      await this.uploadOrClean(inodeId, [t], this.sliceUploadJobs(inodeId, t, bytes, 0));
    }
    // Shared sources' objects are another inode's: they are not this compaction's to delete.
    return { slices: [t], garbage: plan.garbage.filter((r) => !isShared(r, inodeId)) };
  }
}
