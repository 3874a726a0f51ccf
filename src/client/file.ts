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
}

export class FileHandle {
  readonly ino: number;
  private length: number;
  private blockMap: BlockMap;
  private bufOffset = 0;
  private bufChunks: Uint8Array[] = [];
  private bufBytes = 0;
  private closed = false;
  private flushing: Promise<void> = Promise.resolve();

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
    return Math.max(this.length, this.bufBytes ? this.bufOffset + this.bufBytes : 0);
  }

  private check(): void {
    if (this.closed) throw new CurveError(StatusCode.PARAM_ERROR, 'file handle is closed');
  }

  async write(offset: number | null, data: Uint8Array): Promise<number> {
    this.check();
    if (data.length === 0) return 0;
    const at = this.opts.append || offset === null ? this.size : offset;
    if (!Number.isSafeInteger(at) || at < 0) throw new CurveError(StatusCode.PARAM_ERROR, 'bad offset');
    if (this.bufBytes && at !== this.bufOffset + this.bufBytes) await this.flush();
    if (!this.bufBytes) this.bufOffset = at;
    // Copy: the caller may reuse its buffer (FUSE does).
    this.bufChunks.push(Uint8Array.from(data));
    this.bufBytes += data.length;
    if (this.bufBytes >= this.opts.maxBufferBytes) await this.flush();
    return data.length;
  }

  /** Stores buffered bytes as a slice and records it in the inode. */
  async flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushNow());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushNow(): Promise<void> {
    if (!this.bufBytes) return;
    const offset = this.bufOffset;
    const bytes = concat(this.bufChunks, this.bufBytes);
    this.bufChunks = [];
    this.bufBytes = 0;
    const slices = await this.data.write(this.ino, offset, bytes);
    const attr = await this.core.appendChunks(this.ino, slices as ChunkSlice[], offset + bytes.length);
    for (const s of slices) {
      const idx = Math.floor(s.offset / this.data.layout.chunkSize);
      let list = this.blockMap.get(idx);
      if (!list) this.blockMap.set(idx, (list = []));
      list.push(plainSlice(s));
    }
    this.length = attr.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check();
    if (this.bufBytes) await this.flush();
    if (offset >= this.length || length <= 0) return new Uint8Array(0);
    const n = Math.min(length, this.length - offset);
    return this.data.read(this.ino, this.blockMap, this.length, offset, n);
  }

  async truncate(size: number): Promise<void> {
    this.check();
    await this.flush();
    await this.core.setattr(this.ino, { size });
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
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// FileDataIO from src/data is the production FileData; this line fails to compile if they drift.
const _fits: (d: FileDataIO) => FileData = (d) => d;
void _fits;
