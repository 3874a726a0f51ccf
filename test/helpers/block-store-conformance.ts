// The one test suite every BlockStore implementation must pass (src/data/block-store.ts states
// the contract). Call `blockStoreConformance(name, open)` at the top level of a test file.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import type { BlockStore } from '../../src/data/index.ts';

export interface OpenedStore {
  store: BlockStore;
  /** Closes the store and removes what the test created. */
  cleanup(): Promise<void>;
  /** Opens another instance of the same store (same directory / bucket), if it has a notion of one. */
  reopen?(): Promise<BlockStore>;
}

/** Deterministic bytes: a pattern that differs per `seed` and per position. */
export function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export async function rejectsWith(p: Promise<unknown>, status: StatusCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CurveError, `expected CurveError, got ${String(e)}`);
    assert.equal(e.status, status, `expected ${StatusCode[status]}, got ${StatusCode[e.status]}: ${e.message}`);
    return true;
  });
}

/** Everything a listing yields, sorted by key (stores promise no order). */
async function collect(it: AsyncIterable<{ key: string; size: number }>): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  for await (const e of it) out.push(e);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function blockStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`BlockStore conformance: ${name}`, () => {
    let opened: OpenedStore;
    let store: BlockStore;
    let n = 0;
    /** A fresh key namespace per test, so tests never see each other's objects. */
    const ns = () => `t${n++}`;

    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => {
      await opened.cleanup();
    });

    test('put then get returns the same bytes, for empty, small and multi-segment objects', async () => {
      const p = ns();
      for (const [i, size] of [0, 1, 4095, 65536, 65537, 300_000].entries()) {
        const data = pattern(size, i + 1);
        await store.put(`${p}/obj${i}`, data);
        assert.deepEqual(Buffer.from(await store.get(`${p}/obj${i}`)), Buffer.from(data), `size ${size}`);
        assert.deepEqual(await store.head(`${p}/obj${i}`), { size });
      }
    });

    test('ranged get returns exactly the range, cut at the end of the object', async () => {
      const p = ns();
      const data = pattern(200_000, 7);
      await store.put(`${p}/r`, data);
      const cases: [number, number | undefined][] = [
        [0, 1], [1, 10], [65535, 2], [65536, 65536], [100, 150_000], [199_999, 1], [199_999, 100],
        [150_000, undefined], [200_000, 10], [200_000, undefined], [0, 0], [5, 0],
      ];
      for (const [off, len] of cases) {
        const got = await store.get(`${p}/r`, off, len);
        const end = len === undefined ? data.length : Math.min(data.length, off + len);
        assert.deepEqual(Buffer.from(got), Buffer.from(data.subarray(off, end)), `range ${off}+${len}`);
      }
      await rejectsWith(store.get(`${p}/r`, 200_001, 1), StatusCode.PARAM_ERROR);
      await rejectsWith(store.get(`${p}/r`, -1, 1), StatusCode.PARAM_ERROR);
      await rejectsWith(store.get(`${p}/r`, 0, 1.5), StatusCode.PARAM_ERROR);
      // (A ranged read of an empty object is checked per store: s3rver hangs on it, S3 says 416.)
    });

    test('an absent key: get is NOT_FOUND, head is undefined, delete is a no-op', async () => {
      const p = ns();
      await rejectsWith(store.get(`${p}/none`), StatusCode.NOT_FOUND);
      await rejectsWith(store.get(`${p}/none`, 3, 4), StatusCode.NOT_FOUND);
      assert.equal(await store.head(`${p}/none`), undefined);
      await store.delete([`${p}/none`, `${p}/x/y/z`]);
      assert.deepEqual(await collect(store.list(`${p}/`)), []);
    });

    test('overwrite replaces the whole object', async () => {
      const p = ns();
      await store.put(`${p}/o`, pattern(100_000, 1));
      await store.put(`${p}/o`, pattern(10, 2));
      assert.deepEqual(Buffer.from(await store.get(`${p}/o`)), Buffer.from(pattern(10, 2)));
      assert.deepEqual(await store.head(`${p}/o`), { size: 10 });
    });

    test('delete removes exactly the named objects', async () => {
      const p = ns();
      for (let i = 0; i < 5; i++) await store.put(`${p}/d/${i}`, pattern(10 + i, i));
      await store.delete([`${p}/d/1`, `${p}/d/3`, `${p}/d/9`]);
      assert.deepEqual((await collect(store.list(`${p}/`))).map((e) => e.key), [`${p}/d/0`, `${p}/d/2`, `${p}/d/4`]);
      await rejectsWith(store.get(`${p}/d/1`), StatusCode.NOT_FOUND);
      await store.delete([`${p}/d/0`, `${p}/d/2`, `${p}/d/4`]);
      assert.deepEqual(await collect(store.list(`${p}/`)), []);
      await store.put(`${p}/d/0`, pattern(3, 3)); // the emptied prefix is usable again
      assert.deepEqual(await store.head(`${p}/d/0`), { size: 3 });
    });

    test('list yields every key under a prefix once, with sizes', async () => {
      const p = ns();
      const keys = [
        `${p}/a`, `${p}/a/b`, `${p}/a/b/c`, `${p}/a-c`, `${p}/a.d`, `${p}/ab`, `${p}/b/1`, `${p}/b/10`, `${p}/b/2`,
        `${p}/B`, `${p}/_x`,
      ];
      for (const [i, k] of keys.entries()) await store.put(k, pattern(i, i));
      const sorted = [...keys].sort();
      const all = await collect(store.list(`${p}/`));
      assert.deepEqual(all.map((e) => e.key), sorted);
      assert.deepEqual(all.map((e) => e.size), sorted.map((k) => keys.indexOf(k)));
      assert.deepEqual((await collect(store.list(`${p}/a`))).map((e) => e.key), sorted.filter((k) => k.startsWith(`${p}/a`)));
      assert.deepEqual((await collect(store.list(`${p}/a/`))).map((e) => e.key), [`${p}/a/b`, `${p}/a/b/c`]);
      assert.deepEqual((await collect(store.list(`${p}/b/1`))).map((e) => e.key), [`${p}/b/1`, `${p}/b/10`]);
      assert.deepEqual(await collect(store.list(`${p}/zzz`)), []);
      assert.deepEqual(await collect(store.list(`${p}/zzz/`)), []);
      const everything = (await collect(store.list(''))).map((e) => e.key);
      for (const k of keys) assert.ok(everything.includes(k));
    });

    test('bad keys and prefixes are PARAM_ERROR and change nothing', async () => {
      const p = ns();
      const bad = ['', '/a', 'a/', 'a//b', `${p}/../x`, `${p}/./x`, `${p}/sp ace`, `${p}/nul\0`, `${p}/é`, 'x'.repeat(1025)];
      for (const k of bad) {
        await rejectsWith(store.put(k, pattern(1, 1)), StatusCode.PARAM_ERROR);
        await rejectsWith(store.get(k), StatusCode.PARAM_ERROR);
        await rejectsWith(store.head(k), StatusCode.PARAM_ERROR);
        await rejectsWith(store.delete([`${p}/ok`, k]), StatusCode.PARAM_ERROR);
      }
      await rejectsWith(collect(store.list('a//')), StatusCode.PARAM_ERROR);
      await rejectsWith(collect(store.list('../')), StatusCode.PARAM_ERROR);
      assert.deepEqual(await collect(store.list(`${p}/`)), []);
    });

    test('concurrent readers during overwrites see one whole version, never a mix', async () => {
      const p = ns();
      const key = `${p}/hot`;
      const versions = [pattern(700_000, 11), pattern(300_001, 12), pattern(1_000_000, 13)];
      const known = versions.map((v) => Buffer.from(v).toString('base64'));
      await store.put(key, versions[0]!);
      let writing = true;
      const writer = (async () => {
        for (let i = 1; i <= 24; i++) await store.put(key, versions[i % versions.length]!);
        writing = false;
      })();
      let reads = 0;
      const reader = async () => {
        while (writing) {
          const got = Buffer.from(await store.get(key)).toString('base64');
          assert.ok(known.includes(got), 'a read returned bytes of no single version');
          reads++;
        }
      };
      await Promise.all([writer, reader(), reader(), reader()]);
      assert.ok(reads > 0);
    });

    test('objects survive reopening the store', async () => {
      if (!opened.reopen) return; // not persistent (memory store)
      const p = ns();
      await store.put(`${p}/keep`, pattern(70_000, 5));
      const again = await opened.reopen();
      try {
        assert.deepEqual(Buffer.from(await again.get(`${p}/keep`)), Buffer.from(pattern(70_000, 5)));
      } finally {
        await again.close();
      }
    });

    test('a closed store fails every call with STORAGE_CLOSED', async () => {
      const second = await open();
      const other = second.store;
      try {
        await other.close();
        await rejectsWith(other.put('k', pattern(1, 1)), StatusCode.STORAGE_CLOSED);
        await rejectsWith(other.get('k'), StatusCode.STORAGE_CLOSED);
        await rejectsWith(other.head('k'), StatusCode.STORAGE_CLOSED);
        await rejectsWith(other.delete(['k']), StatusCode.STORAGE_CLOSED);
        await rejectsWith(collect(other.list('')), StatusCode.STORAGE_CLOSED);
      } finally {
        await second.cleanup();
      }
    });
  });
}
