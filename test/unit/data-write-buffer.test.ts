// WriteBuffer against a flat byte-array model: reads through the buffer see every write at once,
// flushed slices reproduce the same bytes, and no object is left that the block map does not name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FileDataIO, MemoryBlockStore, WriteBuffer, appendSlices, objectsOf, type BlockMap, type BlockStore,
} from '../../src/data/index.ts';
import { pattern } from '../helpers/block-store-conformance.ts';

const INO = 9;

function newIO(store: BlockStore, layout = { chunkSize: 64, blockSize: 16 }) {
  let next = 1;
  return new FileDataIO(store, {
    fsId: 2, ...layout,
    allocChunkIds: async (n) => {
      next += n;
      return next - n;
    },
  });
}

async function keysOf(store: BlockStore): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list('')) out.push(e.key);
  return out.sort();
}

type Op =
  | { kind: 'write'; offset: number; len: number; seed: number }
  | { kind: 'append'; len: number; seed: number }
  | { kind: 'read'; offset: number; len: number }
  | { kind: 'flush' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), offset: fc.nat(250), len: fc.nat(90), seed: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), len: fc.integer({ min: 1, max: 30 }), seed: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), offset: fc.nat(300), len: fc.nat(120) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
);

test('reads through the buffer and after flush agree with a flat model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 50 }), fc.integer({ min: 20, max: 400 }), fc.boolean(),
      async (ops, maxBytes, concurrent) => {
        const store = new MemoryBlockStore();
        const io = newIO(store);
        const wb = new WriteBuffer(io, INO, { maxBytes });
        const map: BlockMap = new Map();
        let committedLength = 0;
        const model = new Uint8Array(1024);
        let length = 0;
        let cursor = 0;
        const pending: Promise<void>[] = [];
        for (const op of ops) {
          if (op.kind === 'write' || op.kind === 'append') {
            const offset = op.kind === 'write' ? op.offset : cursor;
            const data = pattern(op.len, op.seed);
            const p = wb.write(offset, data);
            data.fill(0xee); // the buffer must have copied the caller's bytes
            model.set(pattern(op.len, op.seed), offset);
            if (op.len > 0) length = Math.max(length, offset + op.len); // pwrite of 0 bytes extends nothing
            cursor = offset + op.len;
            // Writes issued without awaiting (as FUSE does) must still apply in call order.
            if (concurrent) pending.push(p);
            else await p;
          } else if (op.kind === 'read') {
            await Promise.all(pending.splice(0)); // reads must see every acknowledged write
            const got = await wb.read(map, Math.max(committedLength, wb.end), op.offset, op.len);
            const end = Math.min(length, op.offset + op.len);
            assert.deepEqual(Buffer.from(got), Buffer.from(model.subarray(op.offset, Math.max(op.offset, end))));
          } else {
            await Promise.all(pending.splice(0));
            appendSlices(map, await wb.flush(), io.layout);
            committedLength = length;
          }
        }
        await Promise.all(pending);
        appendSlices(map, await wb.flush(), io.layout);
        assert.ok(wb.empty);
        const got = await io.read(INO, map, length, 0, length);
        assert.deepEqual(Buffer.from(got), Buffer.from(model.subarray(0, length)));
        const want = objectsOf(map, io.layout).map((r) => io.keyOf(INO, r)).sort();
        assert.deepEqual(await keysOf(store), want, 'every stored object is named by the map');
      }),
    { numRuns: 300 },
  );
});

test('sequential writes coalesce: one slice per chunk, objects of a whole block', async () => {
  const store = new MemoryBlockStore();
  const io = newIO(store, { chunkSize: 1 << 20, blockSize: 1 << 16 });
  const wb = new WriteBuffer(io, INO);
  const data = pattern(3 * (1 << 20) + 1000, 5);
  for (let off = 0; off < data.length; off += 4096) await wb.write(off, data.subarray(off, off + 4096));
  const slices = await wb.flush();
  assert.deepEqual(slices.map((s) => [s.offset, s.len]), [[0, 1 << 20], [1 << 20, 1 << 20], [2 << 20, 1 << 20], [3 << 20, 1000]]);
  const sizes: number[] = [];
  for await (const e of store.list('')) sizes.push(e.size);
  assert.equal(sizes.filter((s) => s === 1 << 16).length, 48);
  assert.deepEqual(sizes.filter((s) => s !== 1 << 16), [1000]);
  const map = appendSlices(new Map(), slices, io.layout);
  assert.ok(Buffer.from(await io.read(INO, map, data.length, 0, data.length)).equals(data));
});

test('the byte bound holds: buffered bytes stay within maxBytes plus one write', async () => {
  const io = newIO(new MemoryBlockStore(), { chunkSize: 4096, blockSize: 1024 });
  const wb = new WriteBuffer(io, INO, { maxBytes: 3000 });
  for (let i = 0; i < 200; i++) {
    await wb.write((i * 7919) % 50_000, pattern(500, i));
    assert.ok(wb.bufferedBytes <= 3000, `buffered ${wb.bufferedBytes}`);
  }
  await wb.flush();
});

test('a failed upload poisons the buffer: flush and later writes throw, nothing is returned', async () => {
  const store = new MemoryBlockStore();
  const failing: BlockStore = Object.assign(Object.create(store) as BlockStore, {
    put: async () => {
      throw new Error('bucket gone');
    },
  });
  const wb = new WriteBuffer(newIO(failing), INO);
  await wb.write(0, pattern(40, 1)); // uploads of full blocks start in the background
  await assert.rejects(wb.flush(), /bucket gone/);
  await assert.rejects(wb.write(100, pattern(1, 1)), /bucket gone/);
});

test('a failing chunk-id allocator poisons the buffer too', async () => {
  const io = new FileDataIO(new MemoryBlockStore(), {
    fsId: 1, chunkSize: 64, blockSize: 16,
    allocChunkIds: async () => {
      throw new Error('mds down');
    },
  });
  const wb = new WriteBuffer(io, INO);
  await wb.write(0, pattern(5, 1));
  await assert.rejects(wb.flush(), /mds down/);
  await assert.rejects(wb.flush(), /mds down/);
});
