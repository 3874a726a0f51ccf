// The conformance suite against the in-memory and local-directory block stores (the S3 store
// runs it in test/integration/data-s3-block-store.test.ts), plus local-store specifics: the
// on-disk format's checks, leftovers of crashed writers, and directory hygiene.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusCode } from '../../src/common/index.ts';
import { LocalBlockStore, MemoryBlockStore } from '../../src/data/index.ts';
import { blockStoreConformance, pattern, rejectsWith } from '../helpers/block-store-conformance.ts';

blockStoreConformance('memory', async () => {
  const store = new MemoryBlockStore();
  return { store, cleanup: () => store.close() };
});

blockStoreConformance('local directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'curvefs-blocks-'));
  const store = await LocalBlockStore.open(dir);
  return {
    store,
    reopen: () => LocalBlockStore.open(dir),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

test('local and memory stores: a ranged read of an empty object is empty', () => withDir(async (dir) => {
  for (const store of [new MemoryBlockStore(), await LocalBlockStore.open(dir)]) {
    await store.put('empty', new Uint8Array(0));
    assert.equal((await store.get('empty', 0, 10)).length, 0);
    assert.equal((await store.get('empty', 0)).length, 0);
    await rejectsWith(store.get('empty', 1), StatusCode.PARAM_ERROR);
  }
}));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'curvefs-blocks-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('local store: a flipped data byte fails reads of its segment only', () => withDir(async (dir) => {
  const store = await LocalBlockStore.open(dir);
  const data = pattern(200_000, 3);
  await store.put('x/y', data);
  const path = join(dir, 'objects', 'x', 'y~');
  const raw = await readFile(path);
  const headerLen = 32 + 4 * Math.ceil(data.length / 65536);
  raw[headerLen + 70_000]! ^= 0xff; // inside segment 1
  await writeFile(path, raw);
  await rejectsWith(store.get('x/y'), StatusCode.STORAGE_INTERNAL_ERROR);
  await rejectsWith(store.get('x/y', 69_000, 2000), StatusCode.STORAGE_INTERNAL_ERROR);
  assert.deepEqual(Buffer.from(await store.get('x/y', 0, 1000)), Buffer.from(data.subarray(0, 1000)));
  assert.deepEqual(Buffer.from(await store.get('x/y', 140_000, 100)), Buffer.from(data.subarray(140_000, 140_100)));
}));

test('local store: a damaged header or a truncated file is reported, never returned', () => withDir(async (dir) => {
  const store = await LocalBlockStore.open(dir);
  await store.put('h', pattern(100_000, 4));
  const path = join(dir, 'objects', 'h~');
  const good = await readFile(path);
  for (const damage of [
    (b: Buffer) => { b[0] = 0x41; }, // magic
    (b: Buffer) => { b[8] = 9; }, // version
    (b: Buffer) => { b[16]! ^= 1; }, // length
    (b: Buffer) => { b[33]! ^= 1; }, // segment table
  ]) {
    const bad = Buffer.from(good);
    damage(bad);
    await writeFile(path, bad);
    await rejectsWith(store.get('h'), StatusCode.STORAGE_INTERNAL_ERROR);
  }
  await writeFile(path, good.subarray(0, good.length - 10));
  await rejectsWith(store.get('h'), StatusCode.STORAGE_INTERNAL_ERROR);
  await writeFile(path, good.subarray(0, 20));
  await rejectsWith(store.get('h'), StatusCode.STORAGE_INTERNAL_ERROR);
}));

test('local store: a corrupt store marker is refused', () => withDir(async (dir) => {
  await (await LocalBlockStore.open(dir)).close();
  const marker = await readFile(join(dir, 'STORE'));
  marker[9]! ^= 1;
  await writeFile(join(dir, 'STORE'), marker);
  await rejectsWith(LocalBlockStore.open(dir), StatusCode.STORAGE_INTERNAL_ERROR);
}));

test('local store: opening removes temp files of dead writers and keeps live ones', () => withDir(async (dir) => {
  await (await LocalBlockStore.open(dir)).close();
  // pid 2^22+1 is above Linux's pid_max ceiling, so no process has it.
  await writeFile(join(dir, 'tmp', `${2 ** 22 + 1}.abcd.0`), 'partial');
  await writeFile(join(dir, 'tmp', `${process.pid}.abcd.0`), 'ours');
  const store = await LocalBlockStore.open(dir);
  assert.deepEqual(await readdir(join(dir, 'tmp')), [`${process.pid}.abcd.0`]);
  const listed: string[] = [];
  for await (const e of store.list('')) listed.push(e.key);
  assert.deepEqual(listed, []);
}));

test('local store: deleting the last object of a directory removes the empty directories', () => withDir(async (dir) => {
  const store = await LocalBlockStore.open(dir);
  await store.put('1/aa/bb/7/0/5_0_0', pattern(10, 1));
  await store.put('1/aa/cc/8/0/6_0_0', pattern(10, 2));
  await store.delete(['1/aa/bb/7/0/5_0_0']);
  assert.deepEqual(await readdir(join(dir, 'objects', '1', 'aa')), ['cc']);
  await store.delete(['1/aa/cc/8/0/6_0_0']);
  assert.deepEqual(await readdir(join(dir, 'objects')), []);
}));

test('local store: list sizes agree with head for sizes around segment boundaries', () => withDir(async (dir) => {
  const store = await LocalBlockStore.open(dir);
  const sizes = [0, 1, 65535, 65536, 65537, 131072, 131073, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1];
  for (const [i, s] of sizes.entries()) await store.put(`s/${String(i).padStart(2, '0')}`, new Uint8Array(s));
  const listed: number[] = [];
  for await (const e of store.list('s/')) listed.push(e.size);
  assert.deepEqual(listed, sizes);
}));
