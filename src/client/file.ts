// An open regular file of the SDK: a handle of the VFS (src/vfs), so the SDK writes and reads
// through the same open-file state as the mount — a write buffer that uploads full blocks at
// once, commits that record the stored slices in the inode (AppendChunks) only after they are
// stored (a crash never exposes half a write), read-your-writes, one truncate.
import { CurveError, StatusCode } from '../common/index.ts';
import type { ChunkSlice, Inode } from '../gen/metaserver_pb.ts';
import type { FileDataIO } from '../data/index.ts';
import type { Caller, Vfs } from '../vfs/index.ts';

/** Plain slice, as the data layer sees it. */
export interface Slice {
  chunkId: number;
  /** Append order within the chunk (the metaserver's; data/layout.ts). */
  seq?: number;
  compaction: number;
  offset: number;
  len: number;
  size: number;
  zero: boolean;
  /** The inode whose objects these are, when not the file's own (a clone's shared slice). */
  owner?: number;
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
  const out: Slice = { chunkId: s.chunkId, seq: s.seq ?? 0, compaction: s.compaction, offset: s.offset, len: s.len, size: s.size, zero: s.zero };
  if (s.owner) out.owner = s.owner; // a clone's shared slice: its objects are under the owner's keys
  return out;
}

export class FileHandle {
  private closed = false;
  /** The size when the handle closed (size stays readable after close). */
  private sizeAtClose = 0;

  constructor(
    private readonly vfs: Vfs,
    private readonly caller: Caller,
    private readonly fh: number,
    readonly ino: number,
  ) {}

  /** The file's size as this client sees it: committed length or the end of buffered writes. */
  get size(): number {
    return this.closed ? this.sizeAtClose : this.vfs.sizeOf(this.fh);
  }

  private check(): void {
    if (this.closed) throw new CurveError(StatusCode.PARAM_ERROR, 'file handle is closed');
  }

  /** Writes at `offset` (at the end when the file was opened for appending, or `offset` is null). */
  async write(offset: number | null, data: Uint8Array): Promise<number> {
    this.check();
    if (data.length === 0) return 0;
    if (offset !== null && (!Number.isSafeInteger(offset) || offset < 0)) throw new CurveError(StatusCode.PARAM_ERROR, 'bad offset');
    return this.vfs.write(this.fh, offset, data);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new CurveError(StatusCode.PARAM_ERROR, 'bad offset');
    return this.vfs.read(this.fh, offset, length);
  }

  /** Makes every write so far part of the inode (fsync). */
  async flush(): Promise<void> {
    this.check();
    await this.vfs.fsync(this.fh);
  }

  async truncate(size: number): Promise<void> {
    this.check();
    await this.vfs.ftruncate(this.caller, this.fh, size);
  }

  /** Saves what was written (a failure to save is this call's error) and releases the handle. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.sizeAtClose = this.vfs.sizeOf(this.fh);
    this.closed = true;
    await this.vfs.close(this.fh);
  }
}

// FileDataIO from src/data is the production FileData; this line fails to compile if they drift.
const _fits: (d: FileDataIO) => FileData = (d) => d;
void _fits;
