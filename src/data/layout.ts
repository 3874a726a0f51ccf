// How a file's bytes map onto chunks, slices and objects (curvefs-reference.md §8.5).
//
// A file is cut into chunks of `chunkSize` bytes (chunkIndex = floor(offset / chunkSize)). Every
// write inside one chunk becomes a slice with a fresh, globally unique chunkId; its bytes are
// stored as objects of at most `blockSize` bytes, object i holding slice bytes
// [i * blockSize, (i + 1) * blockSize). Where slices overlap, the one appended last wins: its
// `seq`, stamped by the metaserver when it records the slice. Chunk ids only name objects: they
// come from ranges each client leases ahead, so a later write may carry a lower id.
import { CurveError, StatusCode } from '../common/index.ts';

export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;

/** One write's worth of data inside a chunk (CurveFS `S3ChunkInfo`). */
export interface ChunkSlice {
  /** Globally unique (from a range the MDS leased to one client); names the slice's objects. */
  chunkId: number;
  /**
   * Append order within the chunk, stamped by the metaserver's partition when it records the
   * slice (1, 2, …; a higher one shadows a lower one). Undefined (counts as 0) for a slice not
   * recorded yet; slices that tie fall back to the higher chunkId, then compaction.
   */
  seq?: number;
  /** Version of the objects: 0 when written, +1 each time compaction rewrites the slice. */
  compaction: number;
  /** Absolute file offset of the slice's first byte. */
  offset: number;
  /** Bytes of the file the slice covers. */
  len: number;
  /** Bytes stored in objects (>= len after a truncate clipped the slice; 0 for zero slices). */
  size: number;
  /** A slice of zeros with no objects (fallocate / punched ranges). */
  zero: boolean;
  /**
   * The inode whose key prefix holds the slice's objects, when not the slice's own inode: a
   * clone shares its source's objects (docs/architecture.md §6d). Undefined (or 0) = its own.
   */
  owner?: number;
}

/** chunkIndex -> slices of that chunk, in the order they were appended (ascending seq). */
export type BlockMap = Map<number, ChunkSlice[]>;

export interface DataLayout {
  chunkSize: number;
  blockSize: number;
}

/** One stored object of a slice. */
export interface ObjectRef {
  chunkIndex: number;
  chunkId: number;
  compaction: number;
  /** Object number within the slice. */
  blockIndex: number;
  /** Bytes in the object. */
  size: number;
  /** The inode whose prefix holds the object, when not the one being read or deleted (a clone's). */
  owner?: number;
}

export function checkLayout(layout: DataLayout): void {
  const { chunkSize, blockSize } = layout;
  if (!Number.isSafeInteger(chunkSize) || !Number.isSafeInteger(blockSize) || blockSize <= 0 || chunkSize < blockSize) {
    throw new CurveError(StatusCode.PARAM_ERROR, `bad data layout: chunk ${chunkSize}, block ${blockSize}`);
  }
}

/** Throws PARAM_ERROR unless [offset, offset + length) is a valid byte range of a file. */
export function checkFileRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 ||
    !Number.isSafeInteger(offset + length)) {
    throw new CurveError(StatusCode.PARAM_ERROR, `bad file range: offset ${offset}, length ${length}`);
  }
}

export function chunkIndexOf(offset: number, layout: DataLayout): number {
  return Math.floor(offset / layout.chunkSize);
}

/** Cuts [offset, offset + length) at chunk boundaries: a slice never crosses one. */
export function splitAtChunks(offset: number, length: number, layout: DataLayout): { offset: number; len: number }[] {
  const out: { offset: number; len: number }[] = [];
  let pos = offset;
  const end = offset + length;
  while (pos < end) {
    const chunkEnd = (chunkIndexOf(pos, layout) + 1) * layout.chunkSize;
    const next = Math.min(end, chunkEnd);
    out.push({ offset: pos, len: next - pos });
    pos = next;
  }
  return out;
}

/** Number of objects holding a slice's stored bytes. */
export function objectCount(slice: ChunkSlice, layout: DataLayout): number {
  return slice.zero ? 0 : Math.ceil(slice.size / layout.blockSize);
}

export function objectRef(slice: ChunkSlice, blockIndex: number, layout: DataLayout): ObjectRef {
  const start = blockIndex * layout.blockSize;
  return {
    chunkIndex: chunkIndexOf(slice.offset, layout),
    chunkId: slice.chunkId,
    compaction: slice.compaction,
    blockIndex,
    size: Math.min(layout.blockSize, slice.size - start),
    ...(slice.owner ? { owner: slice.owner } : {}),
  };
}

/** The inode whose key prefix holds `slice`'s objects, for a slice of inode `ino`. */
export function sliceOwner(slice: Pick<ChunkSlice, 'owner'>, ino: number): number {
  return slice.owner || ino;
}

/** Whether `slice` of inode `ino` stores its objects under another inode (a clone's shared slice). */
export function isShared(slice: Pick<ChunkSlice, 'owner'>, ino: number): boolean {
  return sliceOwner(slice, ino) !== ino;
}

/** Every object of the given slices (or of a whole block map): what deleting them frees. */
export function objectsOf(slices: Iterable<ChunkSlice> | BlockMap, layout: DataLayout): ObjectRef[] {
  const all = slices instanceof Map ? [...slices.values()].flat() : slices;
  const out: ObjectRef[] = [];
  for (const s of all) {
    const n = objectCount(s, layout);
    for (let i = 0; i < n; i++) out.push(objectRef(s, i, layout));
  }
  return out;
}

/** A deep copy, so pure functions never alias the caller's arrays. */
export function cloneBlockMap(map: BlockMap): BlockMap {
  const out: BlockMap = new Map();
  for (const [k, v] of map) out.set(k, v.map((s) => ({ ...s })));
  return out;
}

/** The newest append sequence among `slices` (0 for none). */
export function topSeq(slices: readonly ChunkSlice[]): number {
  let top = 0;
  for (const s of slices) if ((s.seq ?? 0) > top) top = s.seq!;
  return top;
}

/**
 * Appends slices to a block map (mutating it), each under its own chunk index and stamped with
 * the next sequence of that chunk, in the order given — what the metaserver does when it
 * records them, so a client's own map reads its writes in the order it made them.
 */
export function appendSlices(map: BlockMap, slices: readonly ChunkSlice[], layout: DataLayout): BlockMap {
  for (const s of slices) {
    const idx = chunkIndexOf(s.offset, layout);
    const list = map.get(idx);
    if (list) list.push({ ...s, seq: topSeq(list) + 1 });
    else map.set(idx, [{ ...s, seq: 1 }]);
  }
  return map;
}
