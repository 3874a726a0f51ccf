// Page allocation of curvefs files (st_blocks, SEEK_DATA/SEEK_HOLE) from block maps: tmpfs's rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockMap, ChunkSlice } from '../../src/data/index.ts';
import {
  allocationOf,
  blocksOf,
  blocksOfMap,
  nonDataPieces,
  SEEK_DATA,
  SEEK_HOLE,
  seekDataHole,
  unallocatedPages,
  ZERO_DATA,
  ZERO_HOLE,
  ZERO_PREALLOC,
} from '../../src/vfs/allocation.ts';

let nextId = 1;
function data(offset: number, len: number): ChunkSlice {
  return { chunkId: nextId++, compaction: 0, offset, len, size: len, zero: false };
}
function zero(offset: number, len: number, kind: number): ChunkSlice {
  return { chunkId: nextId++, compaction: 0, offset, len, size: kind, zero: true };
}
function mapOf(...slices: ChunkSlice[]): BlockMap {
  return new Map([[0, slices]]);
}

test('a page holding any written byte counts 8 blocks; holes count nothing', () => {
  const a = allocationOf(mapOf(data(100, 10), data(70000, 5000)));
  assert.deepEqual(a.data, [[100, 110], [70000, 75000]]);
  // page 0, pages 17..18 (70000/4096 = 17.09, 75000/4096 = 18.3)
  assert.equal(blocksOf(a.allocated), 3 * 8);
});

test('a punched whole page is freed; a zeroed-data edge keeps its page', () => {
  const a = allocationOf(mapOf(data(0, 12288), zero(4096, 4096, ZERO_HOLE), zero(10000, 2288, ZERO_DATA)));
  assert.equal(blocksOf(a.allocated), 2 * 8);
  assert.deepEqual(a.data, [[0, 4096], [8192, 12288]]);
});

test('preallocated pages count as blocks but are holes for SEEK_DATA / SEEK_HOLE', () => {
  const a = allocationOf(mapOf(data(0, 100), zero(4096, 8192, ZERO_PREALLOC)));
  assert.equal(blocksOf(a.allocated), 3 * 8);
  assert.equal(seekDataHole(a.data, 20000, 0, SEEK_HOLE), 4096);
  assert.equal(seekDataHole(a.data, 20000, 5000, SEEK_DATA), undefined);
  assert.equal(seekDataHole(a.data, 20000, 5000, SEEK_HOLE), 5000);
});

test('a newer data slice over a preallocation makes the page data', () => {
  const a = allocationOf(mapOf(zero(0, 8192, ZERO_PREALLOC), data(5000, 10)));
  assert.deepEqual(a.data, [[5000, 5010]]);
  assert.equal(seekDataHole(a.data, 8192, 0, SEEK_DATA), 4096);
  assert.equal(seekDataHole(a.data, 8192, 4096, SEEK_HOLE), 8192);
});

test('buffered writes count as data', () => {
  const a = allocationOf(new Map(), [[9000, 9001]]);
  assert.equal(blocksOf(a.allocated), 8);
  assert.equal(seekDataHole(a.data, 9001, 0, SEEK_DATA), 8192);
});

test('SEEK_DATA and SEEK_HOLE at and past the end', () => {
  const ranges: [number, number][] = [[0, 4096]];
  assert.equal(seekDataHole(ranges, 4096, 4096, SEEK_DATA), undefined);
  assert.equal(seekDataHole(ranges, 4096, 10, SEEK_HOLE), 4096);
  assert.equal(seekDataHole(ranges, 3000, 10, SEEK_HOLE), 3000);
  assert.equal(seekDataHole(ranges, 10000, 10, SEEK_DATA), 10);
});

test('unallocated pages of a range, and non-data pieces of a page', () => {
  assert.deepEqual(unallocatedPages([[4096, 8192]], 0, 20000), [[0, 1], [2, 5]]);
  const m = mapOf(data(100, 100), zero(300, 100, ZERO_PREALLOC));
  assert.deepEqual(nonDataPieces(m, 0, 1000), [[0, 100], [200, 1000]]);
});

test('blocksOfMap (the metaserver\'s count for listings) equals the count GETATTR makes from the same map', () => {
  const maps: BlockMap[] = [
    new Map(),
    mapOf(data(0, 1)),
    new Map([[0, [data(0, 4096 * 3 + 1)]], [1, [data(64 << 20, 10)]]]), // one slice per chunk list: the fast path
    new Map([[0, [data(8000, 100)]], [2, [data(4096, 4096)]]]), // chunk lists sharing no page, out of order
    mapOf(data(100, 10), data(70000, 5000)),
    mapOf(data(0, 12288), zero(4096, 4096, ZERO_HOLE), zero(10000, 2288, ZERO_DATA)),
    mapOf(data(0, 100), zero(4096, 8192, ZERO_PREALLOC)),
    mapOf(zero(0, 8192, ZERO_PREALLOC)),
    mapOf(zero(0, 8192, ZERO_HOLE)),
    mapOf(zero(0, 100, ZERO_DATA)),
  ];
  for (const [i, m] of maps.entries()) assert.equal(blocksOfMap(m), blocksOf(allocationOf(m).allocated), `map ${i}`);
});
