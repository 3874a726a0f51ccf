// Overlapping slices are ordered by the metaserver's append sequence (`seq`, stamped when the
// slice is recorded), not by chunk id: chunk ids come from ranges each client leases ahead, so a
// later write may well carry a lower id than an earlier one (issue [H] scenario 6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendSlices, planCompaction, planRead, type BlockMap, type ChunkSlice } from '../../src/data/index.ts';
import { allocationOf, nonDataPieces } from '../../src/vfs/allocation.ts';

const LAYOUT = { chunkSize: 64, blockSize: 16 };
const s = (chunkId: number, seq: number, offset: number, len: number): ChunkSlice => ({ chunkId, seq, compaction: 0, offset, len, size: len, zero: false });
const visible = (map: BlockMap, offset = 0, len = 64) => planRead(map, offset, len, LAYOUT).map((p) => [p.offset, p.len, p.slice?.chunkId]);

test('the later append wins an overlap even when its chunk id is lower', () => {
  // Written first with id 900 (from a fresh range), then over it with id 5 (an older leased range).
  const map: BlockMap = new Map([[0, [s(900, 1, 0, 32), s(5, 2, 8, 8)]]]);
  assert.deepEqual(visible(map, 0, 32), [[0, 8, 900], [8, 8, 5], [16, 16, 900]]);
  // The order of the list does not matter: the sequence does.
  const shuffled: BlockMap = new Map([[0, [s(5, 2, 8, 8), s(900, 1, 0, 32)]]]);
  assert.deepEqual(visible(shuffled, 0, 32), [[0, 8, 900], [8, 8, 5], [16, 16, 900]]);
});

test('appending to a local map stamps each slice after the chunk\'s newest', () => {
  const map: BlockMap = new Map([[0, [s(900, 7, 0, 32)]]]);
  appendSlices(map, [{ chunkId: 3, compaction: 0, offset: 4, len: 4, size: 4, zero: false }, { chunkId: 2, compaction: 0, offset: 64, len: 4, size: 4, zero: false }], LAYOUT);
  assert.deepEqual(map.get(0)!.map((x) => [x.chunkId, x.seq]), [[900, 7], [3, 8]]);
  assert.deepEqual(map.get(1)!.map((x) => [x.chunkId, x.seq]), [[2, 1]]);
  assert.deepEqual(visible(map, 0, 12), [[0, 4, 900], [4, 4, 3], [8, 4, 900]]);
});

test('compaction keeps the order: the merged slice takes the newest sequence of its sources', () => {
  const sources = [s(900, 1, 0, 32), s(5, 2, 8, 8)];
  const plan = planCompaction(sources, LAYOUT)!;
  assert.equal(plan.target.seq, 2);
  // Its key must be new: the highest chunk id of the sources with compaction + 1.
  assert.deepEqual([plan.target.chunkId, plan.target.compaction], [900, 1]);
  // A slice appended after the merge (higher sequence, lower id) still shows on top of it.
  const map: BlockMap = new Map([[0, [plan.target, s(4, 3, 0, 4)]]]);
  assert.deepEqual(visible(map, 0, 8), [[0, 4, 4], [4, 4, 900]]);
});

test('SEEK_DATA/HOLE sees the later zero slice on top of older data with a higher id', () => {
  const zero: ChunkSlice = { chunkId: 1, seq: 2, compaction: 0, offset: 0, len: 16, size: 0, zero: true };
  const map: BlockMap = new Map([[0, [s(900, 1, 0, 16), zero]]]);
  assert.deepEqual(allocationOf(map).data, []);
  assert.deepEqual(nonDataPieces(map, 0, 16), [[0, 16]]);
});
