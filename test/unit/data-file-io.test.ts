// FileDataIO and the pure mapping under it, checked against a flat byte-array model of a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StatusCode } from '../../src/common/index.ts';
import {
  BlockCache, FileDataIO, MemoryBlockStore, appendSlices, objectKey, objectsOf, parseObjectKey, planRead,
  splitAtChunks, truncateMap, inodePrefix, type BlockMap, type BlockStore, type ChunkSlice,
} from '../../src/data/index.ts';
import { pattern, rejectsWith } from '../helpers/block-store-conformance.ts';

const LAYOUT = { chunkSize: 64, blockSize: 16 };
const INO = 42;

function newIO(store: BlockStore, cache?: BlockCache) {
  let next = 1;
  const io = new FileDataIO(store, {
    fsId: 3, ...LAYOUT, cache,
    allocChunkIds: async (n) => {
      const first = next;
      next += n;
      return first;
    },
  });
  return io;
}

async function keysOf(store: BlockStore): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list('')) out.push(e.key);
  return out.sort();
}

type Op =
  | { kind: 'write'; offset: number; len: number; seed: number }
  | { kind: 'zero'; offset: number; len: number }
  | { kind: 'truncate'; size: number }
  | { kind: 'read'; offset: number; len: number }
  | { kind: 'compact'; chunk: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), offset: fc.nat(300), len: fc.nat(150), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('zero' as const), offset: fc.nat(300), len: fc.nat(100) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), size: fc.nat(400) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), offset: fc.nat(450), len: fc.nat(200) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), chunk: fc.nat(7) }) },
);

test('write / read / truncate / compact agree with a flat byte-array model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), fc.boolean(), async (ops, cached) => {
      const store = new MemoryBlockStore();
      const io = newIO(store, cached ? new BlockCache(200) : undefined);
      let map: BlockMap = new Map();
      let length = 0;
      let model = new Uint8Array(1024);
      const expectObjects = async () => {
        // Every object the map names exists, and nothing else does (garbage was deleted).
        const want = objectsOf(map, io.layout).map((r) => io.keyOf(INO, r)).sort();
        assert.deepEqual(await keysOf(store), want);
      };
      for (const op of ops) {
        if (op.kind === 'write') {
          const data = pattern(op.len, op.seed);
          const slices = await io.write(INO, op.offset, data);
          for (const s of slices) assert.equal(Math.floor(s.offset / 64), Math.floor((s.offset + s.len - 1) / 64));
          appendSlices(map, slices, io.layout);
          model.set(data, op.offset);
          length = Math.max(length, op.offset + op.len);
        } else if (op.kind === 'zero') {
          appendSlices(map, await io.writeZeros(INO, op.offset, op.len), io.layout);
          model.fill(0, op.offset, op.offset + op.len);
          length = Math.max(length, op.offset + op.len);
        } else if (op.kind === 'truncate') {
          const r = truncateMap(map, op.size, io.layout);
          map = r.map;
          await io.deleteObjects(INO, r.garbage);
          if (op.size < length) model.fill(0, op.size);
          length = op.size;
        } else if (op.kind === 'compact') {
          const r = await io.compactChunk(INO, map, op.chunk);
          if (r) {
            map.set(op.chunk, r.slices);
            await io.deleteObjects(INO, r.garbage);
          }
        } else {
          const got = await io.read(INO, map, length, op.offset, op.len);
          const end = Math.min(length, op.offset + op.len);
          assert.deepEqual(Buffer.from(got), Buffer.from(model.subarray(op.offset, Math.max(op.offset, end))));
        }
        await expectObjects();
      }
      assert.deepEqual(Buffer.from(await io.read(INO, map, length, 0, length)), Buffer.from(model.subarray(0, length)));
      // Leave an orphan (a write never added to the map): deleteAll still removes it.
      await io.write(INO, 5, pattern(20, 1));
      await io.deleteAll(INO, map);
      assert.equal(store.size, 0);
      model = new Uint8Array(0);
    }),
    { numRuns: 300 },
  );
});

test('slices without an append sequence (not recorded yet) fall back to the highest chunkId, whatever their order in the list', () => {
  const s = (chunkId: number, offset: number, len: number): ChunkSlice => ({ chunkId, compaction: 0, offset, len, size: len, zero: false });
  const map: BlockMap = new Map([[0, [s(9, 10, 20), s(3, 0, 64), s(5, 20, 5)]]]);
  const plan = planRead(map, 0, 64, LAYOUT).map((p) => [p.offset, p.len, p.slice?.chunkId]);
  assert.deepEqual(plan, [[0, 10, 3], [10, 20, 9], [30, 34, 3]]);
  const holes = planRead(new Map([[1, [s(1, 70, 4)]]]), 60, 20, LAYOUT).map((p) => [p.offset, p.len, p.slice?.chunkId]);
  assert.deepEqual(holes, [[60, 10, undefined], [70, 4, 1], [74, 6, undefined]]);
});

test('writes are split at chunk boundaries and objects hold at most one block', async () => {
  assert.deepEqual(splitAtChunks(60, 80, LAYOUT), [{ offset: 60, len: 4 }, { offset: 64, len: 64 }, { offset: 128, len: 12 }]);
  const store = new MemoryBlockStore();
  const io = newIO(store);
  const slices = await io.write(INO, 60, pattern(80, 1));
  assert.deepEqual(slices.map((s) => [s.chunkId, s.offset, s.len]), [[1, 60, 4], [2, 64, 64], [3, 128, 12]]);
  const sizes: number[] = [];
  for await (const e of store.list(inodePrefix(3, INO))) sizes.push(e.size);
  assert.deepEqual(sizes.sort((a, b) => a - b), [4, 12, 16, 16, 16, 16]);
});

test('truncate returns exactly the objects past the new end', () => {
  const map: BlockMap = new Map([[0, [{ chunkId: 1, compaction: 0, offset: 0, len: 64, size: 64, zero: false }]],
    [1, [{ chunkId: 2, compaction: 0, offset: 64, len: 10, size: 10, zero: false }]]]);
  const { map: cut, garbage } = truncateMap(map, 20, LAYOUT);
  assert.deepEqual(garbage.map((g) => [g.chunkId, g.blockIndex]), [[1, 2], [1, 3], [2, 0]]);
  assert.deepEqual(cut.get(0), [{ chunkId: 1, compaction: 0, offset: 0, len: 20, size: 32, zero: false }]);
  assert.equal(cut.has(1), false);
  assert.equal(map.get(0)![0]!.len, 64, 'input untouched');
});

test('object keys round-trip and list per inode', () => {
  const ref = { chunkIndex: 7, chunkId: 123456789, blockIndex: 3, compaction: 2 };
  const key = objectKey(9, 70000, ref);
  assert.equal(key, '9/70/11/70000/7/123456789_3_2');
  assert.deepEqual(parseObjectKey(key), { fsId: 9, inodeId: 70000, ...ref });
  assert.ok(key.startsWith(inodePrefix(9, 70000)));
  assert.equal(parseObjectKey('9/70/11/70001/7/1_3_2'), undefined, 'bucket digits must match the inode');
  assert.equal(parseObjectKey('x'), undefined);
});

test('bad input is PARAM_ERROR and stores nothing', async () => {
  const store = new MemoryBlockStore();
  const io = newIO(store);
  await rejectsWith(io.write(INO, -1, pattern(3, 1)), StatusCode.PARAM_ERROR);
  await rejectsWith(io.write(INO, 1.5, pattern(3, 1)), StatusCode.PARAM_ERROR);
  await rejectsWith(io.write(0, 0, pattern(3, 1)), StatusCode.PARAM_ERROR);
  await rejectsWith(io.write(INO, Number.MAX_SAFE_INTEGER, pattern(3, 1)), StatusCode.PARAM_ERROR);
  await rejectsWith(io.read(INO, new Map(), 10, -1, 1), StatusCode.PARAM_ERROR);
  assert.equal(store.size, 0);
  assert.throws(() => new FileDataIO(store, { fsId: 1, chunkSize: 8, blockSize: 16, allocChunkIds: async () => 1 }),
    (e: { status: StatusCode }) => e.status === StatusCode.PARAM_ERROR);
});

test('a bad allocator answer is ALLOCATE_CHUNKID_ERROR', async () => {
  const io = new FileDataIO(new MemoryBlockStore(), { fsId: 1, ...LAYOUT, allocChunkIds: async () => -5 });
  await rejectsWith(io.write(INO, 0, pattern(3, 1)), StatusCode.ALLOCATE_CHUNKID_ERROR);
});

test('a failed upload returns no slice and leaves no object behind', async () => {
  const store = new MemoryBlockStore();
  let puts = 0;
  const failing: BlockStore = Object.assign(Object.create(store) as BlockStore, {
    put: async (k: string, b: Uint8Array) => {
      if (++puts === 3) throw new Error('disk full');
      return store.put(k, b);
    },
    delete: (keys: readonly string[]) => store.delete(keys),
  });
  const io = newIO(failing);
  await assert.rejects(io.write(INO, 0, pattern(100, 1)), /disk full/);
  assert.equal(store.size, 0);
});

test('a map naming a missing object reads as an I/O error, not as ENOENT', async () => {
  const store = new MemoryBlockStore();
  const io = newIO(store);
  const map = appendSlices(new Map(), await io.write(INO, 0, pattern(40, 1)), io.layout);
  await store.delete([io.keyOf(INO, objectsOf(map, io.layout)[1]!)]);
  await rejectsWith(io.read(INO, map, 40, 0, 40), StatusCode.STORAGE_INTERNAL_ERROR);
});

test('block cache: bounded by bytes, least recently used out first, one load per key', async () => {
  const cache = new BlockCache(100);
  cache.set('a', new Uint8Array(40));
  cache.set('b', new Uint8Array(40));
  cache.get('a');
  cache.set('c', new Uint8Array(40)); // evicts b
  assert.equal(cache.get('b'), undefined);
  assert.ok(cache.get('a') && cache.get('c'));
  cache.set('huge', new Uint8Array(101));
  assert.equal(cache.get('huge'), undefined);
  let loads = 0;
  const load = async () => {
    loads++;
    return new Uint8Array(10);
  };
  await Promise.all([cache.getOrLoad('d', load), cache.getOrLoad('d', load), cache.getOrLoad('d', load)]);
  assert.equal(loads, 1);
  assert.ok(cache.stats().bytes <= 100);
});


test("a clone's shared slices read from their owner's keys; compaction and deleteAll leave the owner's objects alone", async () => {
  const store = new MemoryBlockStore();
  const io = newIO(store);
  const OWNER = 7;
  const data = pattern(40, 5);
  const shared = (await io.write(OWNER, 0, data)).map((s) => ({ ...s, seq: 1, owner: OWNER }));
  const ownerKeys = await keysOf(store);
  // The clone (INO) writes over bytes 4..10 of its own.
  const mine = (await io.write(INO, 4, pattern(6, 9))).map((s) => ({ ...s, seq: 2 }));
  const map: BlockMap = new Map([[0, [...shared, ...mine]]]);
  const want = Buffer.from(data);
  Buffer.from(pattern(6, 9)).copy(want, 4);
  assert.deepEqual(Buffer.from(await io.read(INO, map, 40, 0, 40)), want);
  // Compaction: the merged slice is the clone's own; the shared objects are not its garbage.
  const r = (await io.compactChunk(INO, map, 0))!;
  assert.equal(r.slices[0]!.owner, undefined);
  assert.ok(r.garbage.every((g) => g.owner === undefined), 'only the clone\'s own objects are garbage');
  await io.deleteObjects(INO, r.garbage);
  assert.deepEqual(Buffer.from(await io.read(INO, new Map([[0, r.slices]]), 40, 0, 40)), want);
  // deleteAll of the clone: its prefix only.
  await io.deleteAll(INO, map);
  assert.deepEqual(await keysOf(store), ownerKeys);
  assert.deepEqual(Buffer.from(await io.read(OWNER, new Map([[0, shared.map((s) => ({ ...s, owner: undefined }))]]), 40, 0, 40)), Buffer.from(data));
});
