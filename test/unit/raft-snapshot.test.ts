import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotStore } from '../../src/raft/snapshot/index.ts';
import type { SnapshotMeta } from '../../src/raft/core/types.ts';
import type { Logger } from '../../src/common/index.ts';

// The corrupt files these tests plant are expected: keep their warnings out of the test output.
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

const meta = (index: number, term = 1): SnapshotMeta => ({ index, term, conf: { voters: [1, 2, 3], learners: [4] } });

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'raft-snap-'));
}

/** Deterministic bytes: `n` bytes seeded by `seed`. */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

async function writeSnap(store: SnapshotStore, m: SnapshotMeta, data: Uint8Array, chunk = 7777): Promise<void> {
  const w = await store.createWriter(m);
  for (let o = 0; o < data.length; o += chunk) await w.write(data.subarray(o, o + chunk));
  await w.commit();
}

test('a streamed snapshot round-trips: meta, membership and bytes', async () => {
  const dir = await tmp();
  const { store } = await SnapshotStore.open(dir, quiet);
  assert.equal(store.latest, undefined);
  const data = bytes(3_000_000, 7); // spans several write buffers
  await writeSnap(store, meta(100, 3), data);
  assert.deepEqual(store.latest, meta(100, 3));
  const again = await SnapshotStore.open(dir, quiet);
  assert.deepEqual(again.store.latest, meta(100, 3));
  assert.deepEqual(again.report, { corrupt: [], removed: [] });
  assert.ok((await collect(again.store.readData())).equals(data));
  await rm(dir, { recursive: true });
});

test('an empty snapshot is valid', async () => {
  const dir = await tmp();
  const { store } = await SnapshotStore.open(dir, quiet);
  await writeSnap(store, { index: 5, term: 1, conf: { voters: [], learners: [] } }, new Uint8Array(0));
  const r = await SnapshotStore.open(dir, quiet);
  assert.deepEqual(r.store.latest, { index: 5, term: 1, conf: { voters: [], learners: [] } });
  assert.equal((await collect(r.store.readData())).length, 0);
  await rm(dir, { recursive: true });
});

test('a newer snapshot replaces the older one only once it is durable', async () => {
  const dir = await tmp();
  const { store } = await SnapshotStore.open(dir, quiet);
  await writeSnap(store, meta(10), bytes(1000, 1));
  const w = await store.createWriter(meta(20));
  await w.write(bytes(500, 2));
  // Not committed: the old one is still the snapshot, on disk and after a restart.
  assert.equal(store.latest!.index, 10);
  const mid = await SnapshotStore.open(dir, quiet);
  assert.equal(mid.store.latest!.index, 10);
  assert.equal(mid.report.removed.length, 1, 'the unfinished temporary file is removed at open');
  await w.abort();
  await writeSnap(store, meta(20), bytes(500, 2));
  const files = (await readdir(dir)).filter((n) => n.endsWith('.snap'));
  assert.equal(files.length, 1);
  assert.equal(store.latest!.index, 20);
  await rm(dir, { recursive: true });
});

test('an aborted writer leaves nothing behind', async () => {
  const dir = await tmp();
  const { store } = await SnapshotStore.open(dir, quiet);
  const w = await store.createWriter(meta(3));
  await w.write(bytes(100, 3));
  await w.abort();
  assert.deepEqual(await readdir(dir), []);
  await rm(dir, { recursive: true });
});

test('a corrupt or torn newest file is set aside and reported; the older valid one is loaded', async () => {
  const dir = await tmp();
  const { store } = await SnapshotStore.open(dir, quiet);
  await writeSnap(store, meta(10), bytes(5000, 1));
  const older = (await readdir(dir)).find((n) => n.endsWith('.snap'))!;
  const olderBytes = await readFile(join(dir, older));
  await writeSnap(store, meta(20), bytes(5000, 2));
  const newer = (await readdir(dir)).find((n) => n.endsWith('.snap'))!;
  const newerBytes = await readFile(join(dir, newer));
  // Every byte position: flip it, and the file must be refused.
  for (let pos = 0; pos < newerBytes.length; pos += pos < 80 || pos > newerBytes.length - 40 ? 1 : 331) {
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await writeFile(join(dir, older), olderBytes);
    const bad = Buffer.from(newerBytes);
    bad[pos] ^= 0x10;
    await writeFile(join(dir, newer), bad);
    const r = await SnapshotStore.open(dir, quiet);
    assert.equal(r.store.latest?.index, 10, `flip at ${pos}`);
    assert.equal(r.report.corrupt.length, 1);
    assert.equal(r.report.corrupt[0]!.file, newer);
    assert.ok((await readdir(dir)).includes(`${newer}.corrupt`));
  }
  // Torn: the file ends early.
  for (const len of [0, 10, 60, newerBytes.length - 1]) {
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await writeFile(join(dir, newer), newerBytes);
    await truncate(join(dir, newer), len);
    const r = await SnapshotStore.open(dir, quiet);
    assert.equal(r.store.latest, undefined, `length ${len}`);
    assert.equal(r.report.corrupt.length, 1);
  }
  await rm(dir, { recursive: true });
});

test('a snapshot file is sent in chunks and received, checked and installed on the other side', async () => {
  const a = await tmp(), b = await tmp();
  const src = (await SnapshotStore.open(a, quiet)).store;
  const dst = (await SnapshotStore.open(b, quiet)).store;
  const data = bytes(2_500_000, 9);
  await writeSnap(src, meta(42, 7), data);
  const send = await src.openForSend();
  assert.deepEqual(send.meta, meta(42, 7));
  const rx = await dst.createReceiver();
  let off = 0;
  for await (const c of send.chunks) {
    await rx.write(off, c);
    off += c.length;
  }
  assert.equal(off, send.size);
  assert.deepEqual(await rx.finish(), meta(42, 7));
  assert.equal(dst.latest, undefined, 'received but not installed yet');
  await rx.install();
  assert.deepEqual(dst.latest, meta(42, 7));
  assert.ok((await collect(dst.readData())).equals(data));
  await rm(a, { recursive: true });
  await rm(b, { recursive: true });
});

test('a receiver refuses out-of-order chunks and a damaged file', async () => {
  const a = await tmp(), b = await tmp();
  const src = (await SnapshotStore.open(a, quiet)).store;
  const dst = (await SnapshotStore.open(b, quiet)).store;
  await writeSnap(src, meta(5), bytes(10_000, 4));
  const whole = await collect((await src.openForSend()).chunks);
  const rx = await dst.createReceiver();
  await assert.rejects(rx.write(100, whole.subarray(100)), /expected 0/);
  const damaged = Buffer.from(whole);
  damaged[5000] ^= 1;
  await rx.write(0, damaged);
  await assert.rejects(rx.finish(), /checksum/);
  assert.deepEqual((await readdir(b)).filter((n) => !n.startsWith('.')), []);
  const rx2 = await dst.createReceiver();
  await rx2.write(0, whole.subarray(0, 3000));
  await rx2.abort();
  assert.deepEqual(await readdir(b), []);
  await rm(a, { recursive: true });
  await rm(b, { recursive: true });
});

test('installing a snapshot older than the current one is refused', async () => {
  const a = await tmp(), b = await tmp();
  const src = (await SnapshotStore.open(a, quiet)).store;
  const dst = (await SnapshotStore.open(b, quiet)).store;
  await writeSnap(src, meta(5), bytes(100, 4));
  await writeSnap(dst, meta(9), bytes(100, 5));
  const rx = await dst.createReceiver();
  await rx.write(0, await collect((await src.openForSend()).chunks));
  await rx.finish();
  await assert.rejects(rx.install(), /STALE/);
  assert.equal(dst.latest!.index, 9);
  await rm(a, { recursive: true });
  await rm(b, { recursive: true });
});
