// The mount's read path: a read that continues the previous one goes through the whole-object
// cache (with readahead); a read elsewhere in the file is a ranged get of just the bytes asked
// for, served from the cache when a sequential reader already put the object there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import type { FsCore } from '../../src/client/index.ts';
import { BlockCache, FileDataIO, MemoryBlockStore, type BlockMap, type BlockStore } from '../../src/data/index.ts';
import { InodeSchema } from '../../src/gen/metaserver_pb.ts';
import { CacheFirstStore } from '../../src/mount/cache-first-store.ts';
import { OpenFile } from '../../src/vfs/open-file.ts';

const MiB = 1024 * 1024;
const INO = 7;

/** Gets as [key, offset, length] (undefined = whole object). */
type Get = [string, number | undefined, number | undefined];

class RecordingStore extends MemoryBlockStore {
  readonly gets: Get[] = [];
  override get(key: string, offset?: number, length?: number): Promise<Uint8Array> {
    this.gets.push([key, offset, length]);
    return super.get(key, offset, length);
  }
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 12)) & 0xff;
  return b;
}

function sameBytes(actual: Uint8Array, expected: Uint8Array, msg?: string): void {
  assert.equal(Buffer.compare(actual, expected), 0, msg ?? 'bytes differ');
}

async function waitFor(what: string, pred: () => boolean): Promise<void> {
  const end = performance.now() + 20_000;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** An 8 MiB file of 1 MiB objects, open in the mount's shape: cached I/O plus random I/O. */
async function setup(readaheadObjects = 2) {
  const store = new RecordingStore();
  let next = 100;
  const allocChunkIds = async (n: number): Promise<number> => {
    const first = next;
    next += n;
    return first;
  };
  const layout = { fsId: 1, chunkSize: 4 * MiB, blockSize: MiB, allocChunkIds };
  const cache = new BlockCache(64 * MiB);
  const seq = new FileDataIO(store, { ...layout, cache, readaheadObjects });
  const random = new FileDataIO(new CacheFirstStore(store, cache), layout);
  const bytes = pattern(8 * MiB);
  const slices = await seq.write(INO, 0, bytes);
  const map: BlockMap = new Map();
  for (const s of slices) map.set(Math.floor(s.offset / layout.chunkSize), [s]);
  const inode = create(InodeSchema, { attr: { inodeId: INO, length: bytes.length } });
  const file = new OpenFile({} as FsCore, seq, inode, { commitBytes: 64 * MiB, commitAgeMs: 60_000, bufferBytes: 8 * MiB, randomIo: random });
  file.map = map;
  store.gets.length = 0;
  return { store, cache, file, bytes, seq };
}

test('a sequential reader fetches whole objects into the cache and reads ahead', async () => {
  const { store, cache, file, bytes } = await setup(2);
  sameBytes(await file.read(0, 128 * 1024), bytes.subarray(0, 128 * 1024));
  assert.equal(store.gets[0]![1], undefined, 'the first object is fetched whole');
  assert.equal(store.gets[0]![2], undefined);
  // Readahead: the next two objects of the slice are loaded in the background.
  await waitFor('readahead of 2 objects', () => cache.stats().entries === 3);
  const before = store.gets.length;
  for (let off = 128 * 1024; off < 3 * MiB; off += 128 * 1024) {
    sameBytes(await file.read(off, 128 * 1024), bytes.subarray(off, off + 128 * 1024));
  }
  // Everything up to 3 MiB was in the cache: only readahead of later objects went to the store.
  for (const [, offset, length] of store.gets.slice(before)) {
    assert.equal(offset, undefined);
    assert.equal(length, undefined);
  }
});

test('a read away from the previous one is a ranged get of just its bytes', async () => {
  const { store, cache, file, bytes } = await setup(2);
  await file.read(0, 4096);
  await waitFor('readahead', () => cache.stats().entries === 3);
  const before = store.gets.length;
  const at = 6 * MiB + 12345;
  sameBytes(await file.read(at, 4096), bytes.subarray(at, at + 4096));
  const fetched = store.gets.slice(before);
  assert.equal(fetched.length, 1);
  assert.equal(fetched[0]![1], at - 6 * MiB);
  assert.equal(fetched[0]![2], 4096);
  assert.equal(cache.stats().entries, 3, 'a random read adds nothing to the cache');
});

test('a random read of an object a sequential reader cached is served from the cache', async () => {
  const { store, cache, file, bytes } = await setup(0);
  await file.read(0, 4096); // loads object 0 whole
  await file.read(5 * MiB, 4096); // far away: random
  const before = store.gets.length;
  assert.equal(cache.stats().entries, 1);
  sameBytes(await file.read(3000, 100), bytes.subarray(3000, 3100), 'far from 5 MiB: random, but cached');
  assert.equal(store.gets.length, before);
});

test('CacheFirstStore keeps the store contract for ranges of a cached object', async () => {
  const inner = new MemoryBlockStore();
  const cache = new BlockCache(MiB);
  const s: BlockStore = new CacheFirstStore(inner, cache);
  cache.set('k', Uint8Array.from([1, 2, 3, 4, 5]));
  sameBytes(await s.get('k', 1, 2), Uint8Array.from([2, 3]));
  sameBytes(await s.get('k', 3), Uint8Array.from([4, 5]));
  sameBytes(await s.get('k', 4, 10), Uint8Array.from([5]), 'cut at the end');
  sameBytes(await s.get('k', 5), new Uint8Array(0));
  await assert.rejects(s.get('k', 6), (e: unknown) => e instanceof CurveError && e.status === StatusCode.PARAM_ERROR);
  await assert.rejects(s.get('absent'), (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_FOUND);
});
