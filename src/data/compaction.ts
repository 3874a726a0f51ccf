// Compaction: many small slices of one chunk rewritten as one. The merged slice takes the newest
// append sequence of its sources, so slices appended later (higher seq) still shadow it, and the
// highest chunkId with compaction + 1, so its object keys are new. The metaserver swaps the list
// by compare-and-swap (ReplaceChunks) and keeps that sequence. Compactions of one inode must not
// run concurrently: two with different inputs would write different bytes under the same keys.
// The merged slice is the compacting inode's own (no `owner`): it is written under its prefix even
// when its sources are shared with a clone's source (docs/architecture.md §6d).
import { objectsOf, topSeq, type ChunkSlice, type DataLayout, type ObjectRef } from './layout.ts';

export interface CompactionPlan {
  /** The slice that replaces all of `sources` (its bytes: a read of the range through them). */
  target: ChunkSlice;
  sources: ChunkSlice[];
  /** Objects of the sources, to delete once the new slice list is committed. */
  garbage: ObjectRef[];
}

/** A plan merging the slices of one chunk, or undefined if there is nothing to merge. */
export function planCompaction(slices: readonly ChunkSlice[], layout: DataLayout): CompactionPlan | undefined {
  if (slices.length < 2) return undefined;
  let top = slices[0]!;
  let start = Infinity;
  let end = 0;
  for (const s of slices) {
    if (s.chunkId > top.chunkId || (s.chunkId === top.chunkId && s.compaction > top.compaction)) top = s;
    start = Math.min(start, s.offset);
    end = Math.max(end, s.offset + s.len);
  }
  const allZero = slices.every((s) => s.zero);
  const target: ChunkSlice = {
    chunkId: top.chunkId,
    seq: topSeq(slices),
    compaction: top.compaction + 1,
    offset: start,
    len: end - start,
    size: allZero ? 0 : end - start,
    zero: allZero,
  };
  return { target, sources: slices.map((s) => ({ ...s })), garbage: objectsOf(slices, layout) };
}
