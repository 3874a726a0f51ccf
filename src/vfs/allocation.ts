// Which 4 KiB pages of a file hold data or space, computed from its block map: what st_blocks
// counts and what SEEK_DATA / SEEK_HOLE see. The granularity and the rules are tmpfs's, so a
// curvefs mount answers these calls as the kernel's own file systems do:
//  - a page holds data when any byte of it is covered by a visible data slice (or by bytes still
//    in the write buffer), or by a zero slice that stands for zeroed data (a punched edge of a
//    data page, the cut tail page of a truncated one);
//  - a page is allocated (st_blocks) when it holds data or any byte of it is covered by a
//    preallocation (fallocate): preallocated pages read as zeros and count as holes for
//    SEEK_DATA / SEEK_HOLE, exactly like tmpfs's not-yet-written fallocated pages;
//  - zero slices of the third kind free what they cover (punched whole pages).
// Zero slices never have objects, so their `size` field is free to say which kind they are:
// ZERO_HOLE (0, what FileDataIO.writeZeros makes), ZERO_PREALLOC (1), anything else zeroed data.
// The data layer's modules by name, not its index: the metaserver counts st_blocks with these
// rules too (blocksOfMap, for listings) and should not load the block stores to do it.
import type { BlockMap, ChunkSlice } from '../data/layout.ts';
import { overlay } from '../data/overlay.ts';
import { sliceLayer } from '../data/read-plan.ts';

export const PAGE_SIZE = 4096;
export const ZERO_HOLE = 0;
export const ZERO_PREALLOC = 1;
export const ZERO_DATA = 2;

/** A zero slice of the given kind (ZERO_HOLE, ZERO_PREALLOC, ZERO_DATA). */
export function zeroSliceOf(s: ChunkSlice, kind: number): ChunkSlice {
  return { ...s, zero: true, size: kind };
}

function isData(s: ChunkSlice): boolean {
  return !s.zero || (s.size !== ZERO_HOLE && s.size !== ZERO_PREALLOC);
}

/** Byte ranges of a file: `data` holds written bytes, `allocated` adds preallocated space. */
export interface Allocation {
  data: [number, number][];
  allocated: [number, number][];
}

/** Sorted, disjoint [start, end) byte ranges: union of the inputs. */
export function mergeRanges(ranges: Iterable<readonly [number, number]>): [number, number][] {
  const sorted = [...ranges].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Visible pieces of the block map, classified; `dirty` (buffered writes) counts as data. */
export function allocationOf(map: ReadonlyMap<number, readonly ChunkSlice[]>, dirty: readonly (readonly [number, number])[] = []): Allocation {
  const data: [number, number][] = [];
  const prealloc: [number, number][] = [];
  for (const slices of map.values()) {
    if (slices.length === 0) continue;
    let lo = Infinity;
    let hi = 0;
    for (const s of slices) {
      lo = Math.min(lo, s.offset);
      hi = Math.max(hi, s.offset + s.len);
    }
    for (const p of overlay(slices.map(sliceLayer), lo, hi - lo)) {
      if (!p.item) continue;
      if (isData(p.item)) data.push([p.offset, p.offset + p.len]);
      else if (p.item.size === ZERO_PREALLOC) prealloc.push([p.offset, p.offset + p.len]);
    }
  }
  for (const r of dirty) data.push([r[0], r[1]]);
  const merged = mergeRanges(data);
  return { data: merged, allocated: mergeRanges([...merged, ...prealloc]) };
}

/** Pieces of [lo, hi) that hold no data (holes and preallocations), in order. */
export function nonDataPieces(map: BlockMap, lo: number, hi: number): [number, number][] {
  const layers = [...map.values()].flat().filter((s) => s.offset < hi && s.offset + s.len > lo).map(sliceLayer);
  const out: [number, number][] = [];
  for (const p of overlay(layers, lo, hi - lo)) if (!p.item || !isData(p.item)) out.push([p.offset, p.offset + p.len]);
  return mergeRanges(out);
}

/** Page ranges [firstPage, endPage) touched by the byte ranges (sorted, disjoint). */
export function pageRanges(bytes: readonly (readonly [number, number])[]): [number, number][] {
  return mergeRanges(bytes.map(([a, b]) => [Math.floor(a / PAGE_SIZE), Math.ceil(b / PAGE_SIZE)] as [number, number]));
}

/** st_blocks (512-byte units) of a file whose allocated byte ranges are `ranges`. */
export function blocksOf(ranges: readonly (readonly [number, number])[]): number {
  let pages = 0;
  for (const [a, b] of pageRanges(ranges)) pages += b - a;
  return pages * (PAGE_SIZE / 512);
}

/**
 * st_blocks of a block map alone (no buffered writes, no pages preallocated past the end): what
 * the metaserver answers with a listing's attributes, and what a client computes from the same
 * map — one rule, so a listing and a GETATTR agree.
 */
export function blocksOfMap(map: ReadonlyMap<number, readonly ChunkSlice[]>): number {
  // The common case needs no overlay: each chunk list is one data slice (a file written once).
  const ranges: [number, number][] = [];
  for (const slices of map.values()) {
    if (slices.length === 0) continue;
    const s = slices[0]!;
    if (slices.length > 1 || !isData(s)) return blocksOf(allocationOf(map).allocated);
    ranges.push([s.offset, s.offset + s.len]);
  }
  return blocksOf(ranges);
}

export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/**
 * lseek(SEEK_DATA / SEEK_HOLE) at page granularity: the first offset >= `offset` in data (or in
 * a hole; the end of the file is a hole). undefined means ENXIO (no data after offset, or offset
 * at or past the end).
 */
export function seekDataHole(ranges: readonly (readonly [number, number])[], size: number, offset: number, whence: number): number | undefined {
  if (offset >= size) return undefined;
  const pages = pageRanges(ranges);
  const page = Math.floor(offset / PAGE_SIZE);
  const lastPage = Math.ceil(size / PAGE_SIZE); // exclusive
  if (whence === SEEK_DATA) {
    for (const [a, b] of pages) {
      if (b <= page) continue;
      const first = Math.max(a, page);
      if (first >= lastPage) return undefined;
      return Math.max(offset, first * PAGE_SIZE);
    }
    return undefined;
  }
  // SEEK_HOLE: the first page at or after `page` that no range covers.
  let p = page;
  for (const [a, b] of pages) {
    if (b <= p) continue;
    if (a > p) break;
    p = b;
  }
  if (p >= lastPage) return size;
  return Math.min(size, Math.max(offset, p * PAGE_SIZE));
}

/** Pages of [start, end) not covered by `ranges`: where fallocate must add preallocation. */
export function unallocatedPages(ranges: readonly (readonly [number, number])[], start: number, end: number): [number, number][] {
  const first = Math.floor(start / PAGE_SIZE);
  const last = Math.ceil(end / PAGE_SIZE);
  const out: [number, number][] = [];
  let p = first;
  for (const [a, b] of pageRanges(ranges)) {
    if (b <= p) continue;
    if (a >= last) break;
    if (a > p) out.push([p, a]);
    p = Math.max(p, b);
    if (p >= last) break;
  }
  if (p < last) out.push([p, last]);
  return out;
}

/** True when any byte of page `page` is in `ranges`. */
export function pageAllocated(ranges: readonly (readonly [number, number])[], page: number): boolean {
  const a = page * PAGE_SIZE;
  const b = a + PAGE_SIZE;
  return ranges.some(([x, y]) => x < b && a < y);
}
