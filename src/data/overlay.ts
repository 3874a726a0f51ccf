// Resolves overlapping layers into the visible pieces of a byte range: where layers overlap,
// the one with the higher rank shows. Used for slices (rank = append seq) and for a write buffer's
// pending extents layered on top of them.

export interface Layer<T> {
  offset: number;
  len: number;
  /** Higher shows on top. Ties: higher `rank2`, then `rank3`, then the later layer in the input. */
  rank: number;
  rank2?: number;
  rank3?: number;
  item: T;
}

/** A visible piece; `item` undefined means no layer covers it (a hole). */
export interface Piece<T> {
  offset: number;
  len: number;
  item: T | undefined;
}

/**
 * The pieces covering exactly [offset, offset + length), in offset order. Cost is
 * O(layers × pieces) — fine for the tens to thousands of slices a chunk holds before compaction.
 */
export function overlay<T>(layers: readonly Layer<T>[], offset: number, length: number): Piece<T>[] {
  const end = offset + length;
  const relevant = layers
    .map((layer, index) => ({ layer, index }))
    .filter(({ layer }) => layer.len > 0 && layer.offset < end && layer.offset + layer.len > offset)
    .sort((a, b) => b.layer.rank - a.layer.rank || (b.layer.rank2 ?? 0) - (a.layer.rank2 ?? 0) || (b.layer.rank3 ?? 0) - (a.layer.rank3 ?? 0) || b.index - a.index);
  let uncovered: [number, number][] = length > 0 ? [[offset, end]] : [];
  const out: Piece<T>[] = [];
  for (const { layer } of relevant) {
    if (uncovered.length === 0) break;
    const lo = layer.offset;
    const hi = layer.offset + layer.len;
    const next: [number, number][] = [];
    for (const [a, b] of uncovered) {
      if (hi <= a || lo >= b) {
        next.push([a, b]);
        continue;
      }
      const s = Math.max(a, lo);
      const e = Math.min(b, hi);
      out.push({ offset: s, len: e - s, item: layer.item });
      if (a < s) next.push([a, s]);
      if (e < b) next.push([e, b]);
    }
    uncovered = next;
  }
  for (const [a, b] of uncovered) out.push({ offset: a, len: b - a, item: undefined });
  return out.sort((x, y) => x.offset - y.offset);
}
