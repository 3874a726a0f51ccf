// An open regular file: reads through the block map, writes through a per-file buffer that
// coalesces sequential writes into block-sized slices. A slice reaches the inode's block map
// (AppendChunks) only after its blocks are stored, so a crash never exposes half a write.
import { CurveError, StatusCode } from '../common/index.ts';
import type { ChunkSlice, Inode } from '../gen/metaserver_pb.ts';
import type { FsCore } from './fs-core.ts';
import type { FileDataIO } from '../data/index.ts';

/** Plain slice, as the data layer sees it. */
export interface Slice {
  chunkId: number;
  compaction: number;
  offset: number;
  len: number;
  size: number;
  zero: boolean;
}

export type BlockMap = Map<number, Slice[]>;

/** The data layer the client needs (src/data's FileDataIO fits it). */
export interface FileData {
  write(inodeId: number, offset: number, data: Uint8Array): Promise<Slice[]>;
  read(inodeId: number, blockMap: BlockMap, fileLength: number, offset: number, length: number): Promise<Uint8Array>;
  readonly layout: { chunkSize: number; blockSize: number };
}

export function blockMapOf(inode: Inode): BlockMap {
  const map: BlockMap = new Map();
  for (const [k, list] of Object.entries(inode.chunks)) {
    map.set(Number(k), list.slices.map(plainSlice));
  }
  return map;
}

function plainSlice(s: ChunkSlice | Slice): Slice {
  return { chunkId: s.chunkId, compaction: s.compaction, offset: s.offset, len: s.len, size: s.size, zero: s.zero };
}

export interface FileHandleOptions {
  /** Flush the write buffer once it holds this many bytes. */
  maxBufferBytes: number;
  append: boolean;
  /**
   * Flushes under way at once (write-behind): a full buffer starts storing its objects while the
   * writer fills the next one; the block-map commits still happen one at a time in write order.
   * Memory held is at most this many buffers plus the one being filled. Default 4.
   */
  flushesInFlight?: number;
}

export class FileHandle {
  readonly ino: number;
  private length: number;
  private blockMap: BlockMap;
  private bufOffset = 0;
  /** The write buffer: bytes [0, bufBytes) are file bytes from bufOffset on. */
  private buf: Uint8Array | undefined;
  private bufBytes = 0;
  /**
   * Full-size buffers whose flush has stored its objects, kept for reuse: a sequential writer
   * cycles through a few buffers instead of allocating (and page-faulting) fresh memory for
   * every block. Block stores keep no reference to the bytes once a put resolved.
   */
  private readonly spare: Uint8Array[] = [];
  private closed = false;
  /** Flushes started and not yet committed (or failed). Each settles without rejecting. */
  private readonly inFlight = new Set<Promise<void>>();
  /** The last flush's commit: the next commit waits for it, so slices land in write order. */
  private commitChain: Promise<void> = Promise.resolve();
  /** End of the bytes handed to flushes not yet committed (the file's size includes them). */
  private inFlightEnd = 0;
  /** The first error of a background flush, reported by the next call that waits. */
  private failure: { error: unknown } | undefined;
  /** Flushes failed so far: a flush queued before a failure commits nothing after it. */
  private failures = 0;
  /** Growth of the length admitted against the fs's capacity and buffered, not yet flushing. */
  private unsaved = 0;

  constructor(
    private readonly core: FsCore,
    private readonly data: FileData,
    inode: Inode,
    private readonly opts: FileHandleOptions,
  ) {
    this.ino = inode.attr!.inodeId;
    this.length = inode.attr!.length;
    this.blockMap = blockMapOf(inode);
  }

  get size(): number {
    return Math.max(this.length, this.inFlight.size ? this.inFlightEnd : 0, this.bufBytes ? this.bufOffset + this.bufBytes : 0);
  }

  private check(): void {
    if (this.closed) throw new CurveError(StatusCode.PARAM_ERROR, 'file handle is closed');
  }

  async write(offset: number | null, data: Uint8Array): Promise<number> {
    this.check();
    this.throwFailure();
    if (data.length === 0) return 0;
    const at = this.opts.append || offset === null ? this.size : offset;
    if (!Number.isSafeInteger(at) || at < 0) throw new CurveError(StatusCode.PARAM_ERROR, 'bad offset');
    if (this.bufBytes && at !== this.bufOffset + this.bufBytes) await this.startFlush();
    // ENOSPC before a byte is taken when the growth of the file would pass the fs's capacity.
    const grown = Math.max(0, at + data.length - this.size);
    this.core.space.admit(grown);
    // Moved to `unsaved` per piece, so a flush in the loop settles only the growth it carries.
    let notBuffered = grown;
    try {
      await this.copyIn(at, data, (g) => {
        const moved = Math.min(notBuffered, g);
        this.unsaved += moved;
        notBuffered -= moved;
      });
    } finally {
      // What a concurrent write grew first, or what a failed flush kept out, was never buffered.
      this.core.space.release(notBuffered);
    }
    return data.length;
  }

  /** Copies `data` into the buffer at `at`, flushing full buffers; `grew` gets each piece's growth. */
  private async copyIn(at: number, data: Uint8Array, grew: (bytes: number) => void): Promise<void> {
    // Copy: the caller may reuse its buffer once write resolves (FUSE does).
    const max = this.opts.maxBufferBytes;
    for (let done = 0; done < data.length; ) {
      if (!this.bufBytes) this.bufOffset = at + done;
      const n = Math.min(data.length - done, max - this.bufBytes);
      this.reserve(this.bufBytes + n);
      this.buf!.set(data.subarray(done, done + n), this.bufBytes);
      const before = this.size;
      this.bufBytes += n;
      done += n;
      grew(this.size - before);
      if (this.bufBytes >= max) await this.startFlush();
    }
  }

  /** Makes the write buffer hold at least `need` bytes (≤ maxBufferBytes), keeping its content. */
  private reserve(need: number): void {
    const cap = this.buf?.length ?? 0;
    if (need <= cap) return;
    const max = this.opts.maxBufferBytes;
    // Small writers get a small buffer that doubles as it fills; full-size ones come from spares.
    const next = this.spare.pop() ?? new Uint8Array(Math.min(max, Math.max(need, 64 * 1024, cap * 2)));
    if (this.bufBytes) next.set(this.buf!.subarray(0, this.bufBytes));
    this.buf = next;
  }

  /** Stores buffered bytes as slices and records them in the inode; resolves once all are recorded. */
  async flush(): Promise<void> {
    await this.startFlush();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    this.throwFailure();
  }

  private throwFailure(): void {
    const f = this.failure;
    if (!f) return;
    this.failure = undefined;
    throw f.error;
  }

  /**
   * Hands the buffer to a new flush, first waiting while the flushes under way are at their
   * limit. The flush stores its objects at once and commits its slices after the previous
   * flush's commit; once one flush failed, the flushes queued behind it commit nothing (a later
   * write must not land without an earlier one) and the error is reported once.
   */
  private async startFlush(): Promise<void> {
    const limit = Math.max(1, this.opts.flushesInFlight ?? 4);
    while (this.inFlight.size >= limit) await Promise.race(this.inFlight);
    this.throwFailure();
    if (!this.bufBytes) return;
    const offset = this.bufOffset;
    const owned = this.buf!;
    const bytes = owned.subarray(0, this.bufBytes);
    this.buf = undefined;
    this.bufBytes = 0;
    this.inFlightEnd = this.inFlight.size ? Math.max(this.inFlightEnd, offset + bytes.length) : offset + bytes.length;
    const grown = this.unsaved;
    this.unsaved = 0;
    const stored = this.data.write(this.ino, offset, bytes);
    const limitSpares = limit + 1;
    void stored.then(
      () => this.recycle(owned, limitSpares),
      () => this.recycle(owned, limitSpares),
    );
    const failuresBefore = this.failures;
    const done: Promise<void> = this.commitChain
      .then(async () => {
        if (this.failures !== failuresBefore) {
          stored.catch(() => undefined);
          this.core.space.release(grown);
          return;
        }
        const slices = await stored;
        const attr = await this.core.appendChunks(this.ino, slices as ChunkSlice[], offset + bytes.length);
        for (const s of slices) {
          const idx = Math.floor(s.offset / this.data.layout.chunkSize);
          let list = this.blockMap.get(idx);
          if (!list) this.blockMap.set(idx, (list = []));
          list.push(plainSlice(s));
        }
        this.length = attr.length;
        this.core.space.settle(grown);
      })
      .catch((error: unknown) => {
        this.core.space.release(grown);
        this.failures++;
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(done));
    this.commitChain = done;
    this.inFlight.add(done);
  }

  private recycle(buf: Uint8Array, keep: number): void {
    if (!this.closed && buf.length === this.opts.maxBufferBytes && this.spare.length < keep) this.spare.push(buf);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check();
    if (this.bufBytes || this.inFlight.size || this.failure) await this.flush();
    if (offset >= this.length || length <= 0) return new Uint8Array(0);
    const n = Math.min(length, this.length - offset);
    return this.data.read(this.ino, this.blockMap, this.length, offset, n);
  }

  async truncate(size: number): Promise<void> {
    this.check();
    await this.flush();
    // Growing the length counts against the capacity like a write.
    const grown = Math.max(0, size - this.length);
    this.core.space.admit(grown);
    try {
      await this.core.setattr(this.ino, { size });
    } catch (e) {
      this.core.space.release(grown);
      throw e;
    }
    this.core.space.settle(grown);
    await this.reload();
  }

  /** Re-reads length and block map (close-to-open, or after truncate). */
  async reload(): Promise<void> {
    const inode = await this.core.getInode(this.ino);
    this.length = inode.attr!.length;
    this.blockMap = blockMapOf(inode);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.spare.length = 0;
    }
  }
}

// FileDataIO from src/data is the production FileData; this line fails to compile if they drift.
const _fits: (d: FileDataIO) => FileData = (d) => d;
void _fits;
