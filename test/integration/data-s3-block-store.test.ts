// The block-store conformance suite against S3BlockStore talking to a real S3-protocol server
// (s3rver in a child process on a loopback port), plus S3-specific behaviour.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { StatusCode } from '../../src/common/index.ts';
import { S3BlockStore, FileDataIO, appendSlices, openBlockStore, type BlockMap, type S3BlockStoreOptions } from '../../src/data/index.ts';
import { blockStoreConformance, pattern, rejectsWith } from '../helpers/block-store-conformance.ts';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';

let server: Promise<S3rverHandle> | undefined;
const s3 = () => (server ??= startS3rver());
after(async () => {
  if (server) await (await server).stop();
});

let prefixes = 0;
async function openStore(extra: Partial<S3BlockStoreOptions> = {}): Promise<S3BlockStore> {
  const s = await s3();
  return S3BlockStore.open({
    bucket: s.bucket, endpoint: s.endpoint, forcePathStyle: true, credentials: s.credentials,
    keyPrefix: `run${prefixes++}/`, ...extra,
  });
}

blockStoreConformance('s3 (s3rver)', async () => {
  const s = await s3();
  const store = await openBlockStore({
    kind: 's3', bucket: s.bucket, endpoint: s.endpoint, forcePathStyle: true, credentials: s.credentials,
    keyPrefix: `run${prefixes++}/`,
  });
  return { store, cleanup: () => store.close() };
});

test('s3: key prefixes isolate stores sharing a bucket', async () => {
  const a = await openStore({ keyPrefix: 'tenant-a/' });
  const b = await openStore({ keyPrefix: 'tenant-b/' });
  try {
    await a.put('k', pattern(10, 1));
    assert.equal(await b.head('k'), undefined);
    const listed: string[] = [];
    for await (const e of a.list('')) listed.push(e.key);
    assert.deepEqual(listed, ['k']);
  } finally {
    await a.close();
    await b.close();
  }
});

test('s3: list pages through more than one response (over 1000 keys)', async () => {
  const store = await openStore();
  try {
    const keys = Array.from({ length: 1050 }, (_, i) => `p/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, new Uint8Array(1))));
    const listed: string[] = [];
    for await (const e of store.list('p/')) listed.push(e.key);
    assert.deepEqual(listed.sort(), keys);
    await store.delete(keys);
    for await (const e of store.list('p/')) assert.fail(`left ${e.key}`);
  } finally {
    await store.close();
  }
});

test('s3: FileDataIO writes and reads a file across chunk and block boundaries', async () => {
  const store = await openStore();
  let next = 1;
  const io = new FileDataIO(store, {
    fsId: 1, chunkSize: 1 << 20, blockSize: 256 << 10,
    allocChunkIds: async (n) => ((next += n), next - n),
  });
  try {
    const data = pattern(3_000_000, 9);
    const map: BlockMap = appendSlices(new Map(), await io.write(77, 500_000, data), io.layout);
    const got = await io.read(77, map, 3_500_000, 0, 3_500_000);
    assert.deepEqual(Buffer.from(got.subarray(500_000)), Buffer.from(data));
    assert.ok(got.subarray(0, 500_000).every((b) => b === 0));
    await io.deleteAll(77, map);
    for await (const e of store.list('')) assert.fail(`left ${e.key}`);
  } finally {
    await store.close();
  }
});

test('s3: an unreachable service is UNAVAILABLE after the retries', async () => {
  const s = await s3();
  // A port nothing listens on: the server's own port after we know it is closed is racy, so
  // use port 1 on loopback (privileged, never an S3 service in tests).
  const store = await S3BlockStore.open({
    bucket: s.bucket, endpoint: 'http://127.0.0.1:1', forcePathStyle: true, credentials: s.credentials, maxAttempts: 2,
  });
  try {
    await rejectsWith(store.put('k', pattern(1, 1)), StatusCode.UNAVAILABLE);
    await rejectsWith(store.get('k'), StatusCode.UNAVAILABLE);
  } finally {
    await store.close();
  }
});

test('s3: a missing bucket is a storage error, not NOT_FOUND of the object', async () => {
  const s = await s3();
  const store = await S3BlockStore.open({ bucket: 'no-such-bucket', endpoint: s.endpoint, forcePathStyle: true, credentials: s.credentials });
  try {
    await assert.rejects(store.put('k', pattern(1, 1)), (e: { status: StatusCode }) => e.status !== StatusCode.OK);
  } finally {
    await store.close();
  }
});
