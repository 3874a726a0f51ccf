// A write buffer for one open file. Sequential writes gather into extents (one run of bytes
// inside one chunk); every full block of an extent is uploaded as soon as it fills, and the
// extent becomes a slice when it is sealed (at flush, when it reaches the chunk end, or when
// the buffer is over its byte bound). flush() hands the new slices to the caller, who appends
// them to the inode; until then the slices exist only here, so the inode never names an object
// that is not stored. Reads through the buffer see its data (read-your-writes).
//
// Ordering: flush() hands the slices back in the order their extents were created, and the
// metaserver stamps append sequences in that order, so "latest append wins" is "latest write
// wins" (chunk ids only name objects: data/layout.ts). A write
// may patch an extent in memory only where nothing newer overlaps and the bytes are not yet
// uploaded; otherwise it starts a new extent.
//
// After an upload fails the buffer is poisoned: every later write and flush throws that error
// (the data is lost, as with a failed writeback in the kernel).
import type { FileDataIO } from './file-io.ts';
import { checkFileRange, splitAtChunks, type BlockMap, type ChunkSlice } from './layout.ts';
import { overlay, type Layer } from './overlay.ts';
import { planRead, type ReadPiece } from './read-plan.ts';

export interface WriteBufferOptions {
  /** Buffered bytes (not yet sealed into slices) above which writes wait for uploads. Default 64 MiB. */
  maxBytes?: number;
}

interface Extent {
  seq: number;
  chunkIndex: number;
  start: number;
  end: number;
  /** Block-sized pages from `start`; page i holds bytes [start + i*bs, ...), grown on demand. */
  pages: Uint8Array[];
  /** Leading blocks already uploaded (or uploading): frozen, never patched. */
  uploaded: number;
  chunkId: number | undefined;
  uploads: Promise<void>[];
  sealing: Promise<void> | undefined;
}

interface SealedSlice {
  seq: number;
  slice: ChunkSlice;
}

type BufferItem = { extent: Extent } | { sealed: ChunkSlice };

export class WriteBuffer {
  private extents: Extent[] = []; // creation order
  private sealed: SealedSlice[] = [];
  private seq = 0;
  private idChain: Promise<void> = Promise.resolve();
  private lock: Promise<void> = Promise.resolve();
  /** Calls holding or waiting for `lock`. */
  private queued = 0;
  private failure: unknown;
  private readonly maxBytes: number;

  constructor(private readonly io: FileDataIO, readonly inodeId: number, opts: WriteBufferOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Bytes held in memory (extents not yet sealed). */
  get bufferedBytes(): number {
    let n = 0;
    for (const x of this.extents) n += x.end - x.start;
    return n;
  }

  /** One past the last buffered byte, or 0: the file is at least this long once flushed. */
  get end(): number {
    let e = 0;
    for (const x of this.extents) e = Math.max(e, x.end);
    for (const s of this.sealed) e = Math.max(e, s.slice.offset + s.slice.len);
    return e;
  }

  /** True when flush() would return nothing. */
  get empty(): boolean {
    return this.extents.length === 0 && this.sealed.length === 0;
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.lock;
    let release!: () => void;
    this.lock = new Promise((r) => (release = r));
    this.queued++;
    await prev;
    try {
      return await fn();
    } finally {
      this.queued--;
      release();
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Buffers `data` at `offset`. Resolves once it is buffered (uploads may still be running). */
  write(offset: number, data: Uint8Array): Promise<void> {
    checkFileRange(offset, data.length);
    if (this.queued === 0) {
      // Nothing ahead of us: copy straight into the pages, in call order, with no extra copy.
      if (this.failure !== undefined) return Promise.reject(this.failure);
      this.applyWrite(offset, data);
      if (this.bufferedBytes <= this.maxBytes) return Promise.resolve();
      return this.exclusive(() => this.shrinkToBound());
    }
    // Queued behind a flush or a bounded write: copy now, the caller may reuse its buffer.
    const copy = data.slice();
    return this.exclusive(async () => {
      this.throwIfFailed();
      this.applyWrite(offset, copy);
      await this.shrinkToBound();
    });
  }

  private applyWrite(offset: number, data: Uint8Array): void {
    for (const part of splitAtChunks(offset, data.length, this.io.layout)) {
      this.applyPart(part.offset, data.subarray(part.offset - offset, part.offset - offset + part.len));
    }
  }

  /** Seals the oldest extents until the buffered bytes are within the bound. */
  private async shrinkToBound(): Promise<void> {
    while (this.bufferedBytes > this.maxBytes && this.extents.length > 0) {
      await this.seal(this.extents[0]!);
    }
    this.throwIfFailed();
  }

  private applyPart(offset: number, bytes: Uint8Array): void {
    const { chunkSize } = this.io.layout;
    const chunkIndex = Math.floor(offset / chunkSize);
    const end = offset + bytes.length;
    // The newest buffered layer touching [offset, end] in this chunk decides where the bytes go.
    let newestSeq = -1;
    let target: Extent | undefined;
    for (const x of this.extents) {
      if (x.chunkIndex === chunkIndex && x.start <= end && offset <= x.end && x.seq > newestSeq) {
        newestSeq = x.seq;
        target = x;
      }
    }
    for (const s of this.sealed) {
      if (s.seq > newestSeq && s.slice.offset < end && offset < s.slice.offset + s.slice.len) {
        target = undefined; // a newer sealed slice overlaps: patching an older extent would hide under it
        break;
      }
    }
    const bs = this.io.layout.blockSize;
    if (!target || target.sealing || offset < target.start || offset < target.start + target.uploaded * bs) {
      target = { seq: this.seq++, chunkIndex, start: offset, end: offset, pages: [], uploaded: 0, chunkId: undefined, uploads: [], sealing: undefined };
      this.extents.push(target);
    }
    this.copyIn(target, offset, bytes);
    this.uploadFullBlocks(target);
    if (target.end === (chunkIndex + 1) * chunkSize) void this.seal(target).catch(() => undefined);
  }

  private copyIn(x: Extent, offset: number, bytes: Uint8Array): void {
    const bs = this.io.layout.blockSize;
    let pos = offset - x.start;
    let src = 0;
    while (src < bytes.length) {
      const page = Math.floor(pos / bs);
      const inPage = pos - page * bs;
      const n = Math.min(bs - inPage, bytes.length - src);
      let buf = x.pages[page];
      if (!buf || buf.length < inPage + n) {
        // Grow geometrically so a small file does not pin a whole block of memory; past a
        // quarter block, take the whole block at once (a sequential writer will fill it).
        const need = inPage + n;
        const size = need >= bs / 4 ? bs : Math.min(bs, Math.max(need, (buf?.length ?? 0) * 2));
        const grown = takePage(size);
        if (buf) grown.set(buf);
        x.pages[page] = buf = grown;
      }
      buf.set(bytes.subarray(src, src + n), inPage);
      pos += n;
      src += n;
    }
    x.end = Math.max(x.end, offset + bytes.length);
  }

  /** Starts uploading every block of `x` that is full and not yet uploaded. */
  private uploadFullBlocks(x: Extent): void {
    const bs = this.io.layout.blockSize;
    while ((x.uploaded + 1) * bs <= x.end - x.start) this.startUpload(x, x.uploaded++, bs);
  }

  private startUpload(x: Extent, block: number, len: number): void {
    const bytes = x.pages[block]!.subarray(0, len);
    const p = (async () => {
      const chunkId = await this.chunkIdOf(x);
      const key = this.io.keyOf(this.inodeId, { chunkIndex: x.chunkIndex, chunkId, compaction: 0, blockIndex: block });
      await this.io.store.put(key, bytes);
    })();
    p.catch((e: unknown) => {
      this.failure ??= e;
    });
    x.uploads.push(p);
  }

  /** The extent's chunk id, allocating ids for it and every older extent still without one. */
  private chunkIdOf(x: Extent): Promise<number> {
    const run = this.idChain.then(async () => {
      if (x.chunkId !== undefined) return;
      const waiting = this.extents.filter((e) => e.chunkId === undefined && e.seq <= x.seq);
      if (!waiting.includes(x)) waiting.push(x); // x may have just left `extents` while sealing
      waiting.sort((a, b) => a.seq - b.seq);
      const ids = await this.io.allocChunkIds(waiting.length);
      waiting.forEach((e, i) => (e.chunkId = ids[i]));
    });
    this.idChain = run.catch(() => undefined);
    return run.then(() => x.chunkId!);
  }

  /** Uploads the rest of `x` and turns it into a sealed slice. */
  private seal(x: Extent): Promise<void> {
    x.sealing ??= (async () => {
      try {
        await this.sealNow(x);
      } catch (e) {
        this.failure ??= e; // an extent that cannot be sealed is data lost: poison the buffer
        throw e;
      }
    })();
    return x.sealing;
  }

  private async sealNow(x: Extent): Promise<void> {
    const bs = this.io.layout.blockSize;
    const len = x.end - x.start;
    if (x.uploaded * bs < len) this.startUpload(x, x.uploaded, len - x.uploaded * bs);
    x.uploaded = Math.ceil(len / bs);
    const chunkId = await this.chunkIdOf(x);
    await Promise.all(x.uploads);
    // Swap in one synchronous step, so a reader sees the extent or the slice, never neither.
    this.extents = this.extents.filter((e) => e !== x);
    this.sealed.push({ seq: x.seq, slice: { chunkId, compaction: 0, offset: x.start, len, size: len, zero: false } });
    for (const page of x.pages) givePage(page);
    x.pages = [];
  }

  /**
   * Uploads everything buffered and returns the new slices (in write order: the caller appends
   * them in this order) for the caller to append to the inode's block map. The buffer is empty afterwards.
   */
  flush(): Promise<ChunkSlice[]> {
    return this.exclusive(async () => {
      this.throwIfFailed();
      await Promise.allSettled(this.extents.map((x) => this.seal(x)));
      this.throwIfFailed();
      const out = this.sealed.sort((a, b) => a.seq - b.seq).map((s) => s.slice);
      this.sealed = [];
      return out;
    });
  }

  /**
   * Bytes [offset, offset + length) as the file will read once flushed: the buffered data over
   * the committed `map`, cut at `fileLength` (pass max(inode length, this.end)).
   */
  async read(map: BlockMap, fileLength: number, offset: number, length: number): Promise<Uint8Array> {
    checkFileRange(offset, length);
    checkFileRange(0, fileLength);
    const end = Math.min(fileLength, offset + length);
    if (end <= offset) return new Uint8Array(0);
    // Not zeroed: every byte is written below (memory pieces here, the rest by readPieces).
    const out = Buffer.allocUnsafe(end - offset);
    const layers: Layer<BufferItem>[] = [
      ...this.sealed.map((s) => ({ offset: s.slice.offset, len: s.slice.len, rank: s.seq, item: { sealed: s.slice } })),
      ...this.extents.map((x) => ({ offset: x.start, len: x.end - x.start, rank: x.seq, item: { extent: x } })),
    ];
    const fromStore: ReadPiece[] = [];
    const bs = this.io.layout.blockSize;
    for (const p of overlay(layers, offset, end - offset)) {
      if (p.item === undefined) {
        fromStore.push(...planRead(map, p.offset, p.len, this.io.layout));
      } else if ('sealed' in p.item) {
        fromStore.push({ offset: p.offset, len: p.len, slice: p.item.sealed });
      } else {
        // Copy memory now, synchronously: later writes may patch these pages.
        const x = p.item.extent;
        for (let pos = p.offset; pos < p.offset + p.len;) {
          const page = Math.floor((pos - x.start) / bs);
          const inPage = pos - x.start - page * bs;
          const n = Math.min(bs - inPage, p.offset + p.len - pos);
          out.set(x.pages[page]!.subarray(inPage, inPage + n), pos - offset);
          pos += n;
        }
      }
    }
    await this.io.readPieces(this.inodeId, fromStore, out, offset);
    return out;
  }
}

// Whole-block pages are recycled: a fresh multi-MiB buffer costs page faults on first touch
// (measured as most of the write path's CPU), a reused one is plain memcpy. Pages are returned
// only after their extent is sealed, when no upload or reader still refers to them.
const POOL_MAX_BYTES = 64 * 1024 * 1024;
const pool = new Map<number, Uint8Array[]>();
let pooledBytes = 0;

function takePage(size: number): Uint8Array {
  const page = pool.get(size)?.pop();
  if (page) {
    pooledBytes -= size;
    return page;
  }
  // Not zeroed: only bytes [start, end) of an extent are ever read, and all were written.
  return Buffer.allocUnsafe(size);
}

function givePage(page: Uint8Array): void {
  if (page.length < 256 * 1024 || pooledBytes + page.length > POOL_MAX_BYTES) return;
  let list = pool.get(page.length);
  if (!list) pool.set(page.length, (list = []));
  list.push(page);
  pooledBytes += page.length;
}
