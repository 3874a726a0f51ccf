// Which stored bytes make up a file range: the pure half of a read.
import { chunkIndexOf, type BlockMap, type ChunkSlice, type DataLayout, type ObjectRef, objectRef } from './layout.ts';
import { overlay, type Layer } from './overlay.ts';

/** A piece of the requested range: from `slice` (at the same file offsets), or zeros. */
export interface ReadPiece {
  offset: number;
  len: number;
  /** undefined: a hole or a zero slice — reads as zeros. */
  slice: ChunkSlice | undefined;
}

/** One ranged read of one object, and where its bytes go in the file. */
export interface ObjectRead {
  ref: ObjectRef;
  /** Offset inside the object. */
  objectOffset: number;
  len: number;
  fileOffset: number;
}

/** A slice as an overlay layer: the later append (seq) on top; ties by chunkId, then compaction. */
export function sliceLayer(s: ChunkSlice): Layer<ChunkSlice> {
  return { offset: s.offset, len: s.len, rank: s.seq ?? 0, rank2: s.chunkId, rank3: s.compaction, item: s };
}

/**
 * The visible pieces of [offset, offset + length) (not cut at the file length: the caller does
 * that): for each byte the covering slice appended last (sliceLayer), else zeros.
 */
export function planRead(map: BlockMap, offset: number, length: number, layout: DataLayout): ReadPiece[] {
  const out: ReadPiece[] = [];
  if (length <= 0) return out;
  const end = offset + length;
  for (let ci = chunkIndexOf(offset, layout); ci * layout.chunkSize < end; ci++) {
    const lo = Math.max(offset, ci * layout.chunkSize);
    const hi = Math.min(end, (ci + 1) * layout.chunkSize);
    const slices = map.get(ci) ?? [];
    for (const p of overlay(slices.map(sliceLayer), lo, hi - lo)) {
      const slice = p.item && !p.item.zero ? p.item : undefined;
      const last = out[out.length - 1];
      // Merge adjacent zero pieces and adjacent pieces of the same slice.
      if (last && last.slice === slice && last.offset + last.len === p.offset) last.len += p.len;
      else out.push({ offset: p.offset, len: p.len, slice });
    }
  }
  return out;
}

/**
 * The object reads that fetch a slice piece. Bytes a slice claims beyond what it stored
 * (len > size, only in malformed maps) are left out and read as zeros.
 */
export function objectReads(piece: ReadPiece, layout: DataLayout): ObjectRead[] {
  const s = piece.slice;
  if (!s) return [];
  const out: ObjectRead[] = [];
  const bs = layout.blockSize;
  const startInSlice = piece.offset - s.offset;
  const endInSlice = Math.min(startInSlice + piece.len, s.size);
  for (let pos = startInSlice; pos < endInSlice;) {
    const block = Math.floor(pos / bs);
    const next = Math.min(endInSlice, (block + 1) * bs);
    out.push({ ref: objectRef(s, block, layout), objectOffset: pos - block * bs, len: next - pos, fileOffset: s.offset + pos });
    pos = next;
  }
  return out;
}
