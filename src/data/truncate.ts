// Shrinking a file's block map: slices past the new length are dropped or clipped, and the
// objects nobody can read any more are returned as garbage for the caller to delete once the new
// map is committed.
import { objectCount, objectRef, type BlockMap, type ChunkSlice, type DataLayout, type ObjectRef } from './layout.ts';

export interface TruncateResult {
  map: BlockMap;
  garbage: ObjectRef[];
}

/**
 * The block map of a file cut to `newLength`. Bytes past it must read as zeros if the file grows
 * again, so every slice reaching past it is clipped (its tail objects become garbage).
 * Growing (newLength beyond every slice) changes nothing. The input is not modified.
 */
export function truncateMap(map: BlockMap, newLength: number, layout: DataLayout): TruncateResult {
  const out: BlockMap = new Map();
  const garbage: ObjectRef[] = [];
  for (const [ci, slices] of map) {
    const kept: ChunkSlice[] = [];
    for (const s of slices) {
      if (s.offset >= newLength) {
        for (let i = 0; i < objectCount(s, layout); i++) garbage.push(objectRef(s, i, layout));
        continue;
      }
      if (s.offset + s.len <= newLength) {
        kept.push({ ...s });
        continue;
      }
      const len = newLength - s.offset;
      const keepObjects = s.zero ? 0 : Math.ceil(len / layout.blockSize);
      for (let i = keepObjects; i < objectCount(s, layout); i++) garbage.push(objectRef(s, i, layout));
      const size = s.zero ? 0 : Math.min(s.size, keepObjects * layout.blockSize);
      kept.push({ ...s, len, size });
    }
    if (kept.length > 0) out.set(ci, kept);
  }
  return { map: out, garbage };
}
