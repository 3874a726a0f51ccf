// Reads through the whole-object cache: views instead of copies where the caller allows it, and
// readahead that follows the file (across slices and chunks), not just the slice read last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../src/common/index.ts';
import { BlockCache, FileDataIO, MemoryBlockStore, appendSlices, type BlockMap } from '../../src/data/index.ts';
import { pattern } from '../helpers/block-store-conformance.ts';

/** Equal bytes, whatever the array types. */
function same(a: Uint8Array, b: Uint8Array): void {
  assert.deepEqual(Buffer.from(a), Buffer.from(b));
}

const LAYOUT = { chunkSize: 64, blockSize: 16 };
const INO = 42;

/** The key of the object holding file byte `offset` (the map has one slice per chunk here). */
function keyOf(io: FileDataIO, map: BlockMap, offset: number): string {
  const slice = map.get(Math.floor(offset / LAYOUT.chunkSize))![0]!;
  const blockIndex = Math.floor((offset - slice.offset) / LAYOUT.blockSize);
  return io.keyOf(INO, { chunkIndex: Math.floor(offset / LAYOUT.chunkSize), chunkId: slice.chunkId, compaction: 0, blockIndex });
}

async function fileOf(size: number, opts: { viewsOfCache?: boolean; readaheadObjects?: number }) {
  const store = new MemoryBlockStore();
  const cache = new BlockCache(1 << 20);
  let next = 1;
  const io = new FileDataIO(store, {
    fsId: 3, ...LAYOUT, cache, ...opts,
    allocChunkIds: async (n) => {
      const first = next;
      next += n;
      return first;
    },
  });
  const data = pattern(size, 9);
  const map: BlockMap = new Map();
  appendSlices(map, await io.write(INO, 0, data), LAYOUT);
  return { io, cache, data, map };
}

test('with viewsOfCache, a read inside one cached object is a view of it, not a copy', async () => {
  const { io, cache, data, map } = await fileOf(64, { viewsOfCache: true });
  const a = await io.read(INO, map, 64, 16, 8);
  same(a, data.subarray(16, 24));
  const cached = cache.get(keyOf(io, map, 16))!;
  assert.ok(a.buffer === cached.buffer && a.byteOffset === cached.byteOffset, 'the read is a view of the cached object');
  // A read across objects is assembled into a buffer of its own.
  same(await io.read(INO, map, 64, 10, 20), data.subarray(10, 30));
});

test('without viewsOfCache, a caller that writes into what it read cannot change the cache', async () => {
  const { io, data, map } = await fileOf(64, {});
  const a = await io.read(INO, map, 64, 16, 8);
  a.fill(0xee);
  same(await io.read(INO, map, 64, 16, 8), data.subarray(16, 24));
});

test('readahead continues into the next chunk: a reader at the end of one chunk finds the next in the cache', async () => {
  // 128 bytes = two chunks (two slices), four 16-byte objects each.
  const { io, cache, data, map } = await fileOf(128, { readaheadObjects: 2 });
  same(await io.read(INO, map, 128, 48, 16), data.subarray(48, 64)); // the last block of chunk 0
  // The two blocks after it are chunk 1's first two objects.
  const ahead = [keyOf(io, map, 64), keyOf(io, map, 80)];
  await pollUntil('readahead of chunk 1', 5000, async () => (ahead.every((k) => cache.get(k)) ? true : undefined));
  same(await io.read(INO, map, 128, 64, 32), data.subarray(64, 96));
});
