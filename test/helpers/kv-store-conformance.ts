// One behaviour suite for every KvStore engine (etcd, embedded, memory). Each engine's test file
// calls `kvStoreConformance` with a factory; keys are written under a fresh prefix per test so
// engines that share a server (etcd) stay isolated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import type { KvStore } from '../../src/mds/store/index.ts';

export interface ConformanceTarget {
  store: KvStore;
  /** Key prefix this test must stay under. */
  prefix: string;
  /** Closes the store and opens it again on the same data (durability check); optional. */
  reopen?: () => Promise<KvStore>;
  cleanup: () => Promise<void>;
}

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string) => te.encode(s);
const s = (u: Uint8Array | undefined) => (u ? td.decode(u) : undefined);

export function kvStoreConformance(engine: string, open: () => Promise<ConformanceTarget>): void {
  const t = (name: string, fn: (x: ConformanceTarget) => Promise<void>) =>
    test(`${engine}: ${name}`, async () => {
      const target = await open();
      try {
        await fn(target);
      } finally {
        await target.cleanup();
      }
    });

  t('get of a missing key is undefined; put then get returns value and revisions', async ({ store, prefix: p }) => {
    assert.equal(await store.get(`${p}a`), undefined);
    const r = await store.txn({ ops: [{ type: 'put', key: `${p}a`, value: b('one') }] });
    assert.ok(r.ok);
    const e = await store.get(`${p}a`);
    assert.equal(s(e?.value), 'one');
    assert.equal(e?.createRevision, r.revision);
    assert.equal(e?.modRevision, r.revision);
    assert.equal(e?.version, 1);
    assert.equal(await store.revision(), r.revision);
  });

  t('overwrite keeps createRevision, bumps modRevision and version; delete then put recreates', async ({ store, prefix: p }) => {
    const r1 = await store.txn({ ops: [{ type: 'put', key: `${p}k`, value: b('1') }] });
    const r2 = await store.txn({ ops: [{ type: 'put', key: `${p}k`, value: b('2') }] });
    assert.ok(r1.ok && r2.ok && r2.revision > r1.revision);
    let e = await store.get(`${p}k`);
    assert.deepEqual([e?.createRevision, e?.modRevision, e?.version, s(e?.value)], [r1.revision, r2.revision, 2, '2']);
    const r3 = await store.txn({ ops: [{ type: 'delete', key: `${p}k` }] });
    assert.ok(r3.ok && r3.revision > r2.revision);
    assert.equal(await store.get(`${p}k`), undefined);
    const r4 = await store.txn({ ops: [{ type: 'put', key: `${p}k`, value: b('3') }] });
    e = await store.get(`${p}k`);
    assert.ok(r4.ok);
    assert.deepEqual([e?.createRevision, e?.version], [r4.revision, 1]);
  });

  t('deleting a missing key succeeds and does not move the revision', async ({ store, prefix: p }) => {
    await store.txn({ ops: [{ type: 'put', key: `${p}x`, value: b('x') }] });
    const before = await store.revision();
    const r = await store.txn({ ops: [{ type: 'delete', key: `${p}nothing` }] });
    assert.ok(r.ok);
    assert.equal(await store.revision(), before);
  });

  t('list returns exactly the keys under a prefix, in key order', async ({ store, prefix: p }) => {
    const keys = [`${p}dir/b`, `${p}dir/a`, `${p}dir/c/d`, `${p}dir`, `${p}dir0`, `${p}di`, `${p}dir/\u00e9`];
    for (const k of keys) await store.txn({ ops: [{ type: 'put', key: k, value: b(k) }] });
    const got = (await store.list(`${p}dir/`)).map((e) => e.key);
    assert.deepEqual(got, [`${p}dir/a`, `${p}dir/b`, `${p}dir/c/d`, `${p}dir/\u00e9`]);
    const all = (await store.list(`${p}dir`)).map((e) => e.key);
    assert.deepEqual(all, [`${p}dir`, `${p}dir/a`, `${p}dir/b`, `${p}dir/c/d`, `${p}dir/\u00e9`, `${p}dir0`]);
    assert.deepEqual(await store.list(`${p}zzz`), []);
    for (const e of await store.list(`${p}dir/`)) assert.equal(s(e.value), e.key);
  });

  t('a transaction applies all of its ops at one revision, or none', async ({ store, prefix: p }) => {
    await store.txn({ ops: [{ type: 'put', key: `${p}gone`, value: b('g') }] });
    const r = await store.txn({
      ops: [
        { type: 'put', key: `${p}t1`, value: b('1') },
        { type: 'put', key: `${p}t2`, value: b('2') },
        { type: 'delete', key: `${p}gone` },
      ],
    });
    assert.ok(r.ok);
    assert.equal((await store.get(`${p}t1`))?.modRevision, r.revision);
    assert.equal((await store.get(`${p}t2`))?.modRevision, r.revision);
    assert.equal(await store.get(`${p}gone`), undefined);

    const before = await store.revision();
    const f = await store.txn({
      compares: [{ key: `${p}t1`, target: 'version', equals: 7 }],
      ops: [{ type: 'put', key: `${p}t3`, value: b('3') }, { type: 'delete', key: `${p}t1` }],
    });
    assert.deepEqual(f, { ok: false, reason: 'compare' });
    assert.equal(await store.get(`${p}t3`), undefined);
    assert.ok(await store.get(`${p}t1`));
    assert.equal(await store.revision(), before);
  });

  t('compares on version, createRevision, modRevision and value', async ({ store, prefix: p }) => {
    const k = `${p}c`;
    // Absent key: version, createRevision and modRevision compare equal to 0; value never matches.
    assert.ok((await store.txn({ compares: [{ key: k, target: 'createRevision', equals: 0 }], ops: [{ type: 'put', key: k, value: b('v1') }] })).ok);
    assert.deepEqual(await store.txn({ compares: [{ key: k, target: 'createRevision', equals: 0 }], ops: [{ type: 'put', key: k, value: b('no') }] }), { ok: false, reason: 'compare' });
    const e = (await store.get(k))!;
    assert.ok((await store.txn({ compares: [{ key: k, target: 'modRevision', equals: e.modRevision }], ops: [{ type: 'put', key: k, value: b('v2') }] })).ok);
    assert.deepEqual(await store.txn({ compares: [{ key: k, target: 'modRevision', equals: e.modRevision }], ops: [{ type: 'put', key: k, value: b('no') }] }), { ok: false, reason: 'compare' });
    assert.ok((await store.txn({ compares: [{ key: k, target: 'value', equals: b('v2') }, { key: k, target: 'version', equals: 2 }], ops: [{ type: 'put', key: k, value: b('v3') }] })).ok);
    assert.deepEqual(await store.txn({ compares: [{ key: k, target: 'value', equals: b('v2') }], ops: [{ type: 'put', key: k, value: b('no') }] }), { ok: false, reason: 'compare' });
    assert.deepEqual(await store.txn({ compares: [{ key: `${p}absent`, target: 'value', equals: new Uint8Array(0) }], ops: [{ type: 'put', key: k, value: b('no') }] }), { ok: false, reason: 'compare' });
    assert.equal(s((await store.get(k))?.value), 'v3');
  });

  t('a fence holds only while its key exists with the same create revision', async ({ store, prefix: p }) => {
    const fk = `${p}leader`;
    const r = await store.txn({ ops: [{ type: 'put', key: fk, value: b('me') }] });
    assert.ok(r.ok);
    const fence = { key: fk, revision: r.revision };
    assert.ok((await store.txn({ fence, ops: [{ type: 'put', key: `${p}data`, value: b('1') }] })).ok);
    // Rewriting the fence key's value keeps its create revision: the fence still holds.
    await store.txn({ ops: [{ type: 'put', key: fk, value: b('me2') }] });
    assert.ok((await store.txn({ fence, ops: [{ type: 'put', key: `${p}data`, value: b('2') }] })).ok);
    // A failing compare with a valid fence is a compare failure, not a fence failure.
    assert.deepEqual(await store.txn({ fence, compares: [{ key: `${p}data`, target: 'version', equals: 99 }], ops: [{ type: 'put', key: `${p}data`, value: b('x') }] }), { ok: false, reason: 'compare' });
    await store.txn({ ops: [{ type: 'delete', key: fk }] });
    assert.deepEqual(await store.txn({ fence, ops: [{ type: 'put', key: `${p}data`, value: b('3') }] }), { ok: false, reason: 'fence' });
    // A new election key (new create revision) does not revive the old fence.
    const r2 = await store.txn({ ops: [{ type: 'put', key: fk, value: b('other') }] });
    assert.ok(r2.ok);
    assert.deepEqual(await store.txn({ fence, ops: [{ type: 'put', key: `${p}data`, value: b('4') }] }), { ok: false, reason: 'fence' });
    assert.ok((await store.txn({ fence: { key: fk, revision: r2.revision }, ops: [{ type: 'put', key: `${p}data`, value: b('5') }] })).ok);
    assert.equal(s((await store.get(`${p}data`))?.value), '5');
  });

  t('bad transactions are refused with PARAM_ERROR and change nothing', async ({ store, prefix: p }) => {
    const before = await store.revision();
    await assert.rejects(
      () => store.txn({ ops: [{ type: 'put', key: `${p}d`, value: b('1') }, { type: 'delete', key: `${p}d` }] }),
      (e: unknown) => e instanceof CurveError && e.status === StatusCode.PARAM_ERROR,
    );
    await assert.rejects(
      () => store.txn({ ops: [{ type: 'put', key: '', value: b('1') }] }),
      (e: unknown) => e instanceof CurveError && e.status === StatusCode.PARAM_ERROR,
    );
    assert.equal(await store.get(`${p}d`), undefined);
    assert.equal(await store.revision(), before);
  });

  t('binary and empty values round-trip', async ({ store, prefix: p }) => {
    const all = new Uint8Array(256).map((_, i) => i);
    await store.txn({ ops: [{ type: 'put', key: `${p}bin`, value: all }, { type: 'put', key: `${p}empty`, value: new Uint8Array(0) }] });
    assert.deepEqual(new Uint8Array((await store.get(`${p}bin`))!.value), all);
    const empty = await store.get(`${p}empty`);
    assert.ok(empty);
    assert.equal(empty.value.length, 0);
  });

  t('concurrent compare-and-swap increments lose no update', async ({ store, prefix: p }) => {
    const k = `${p}counter`;
    await store.txn({ ops: [{ type: 'put', key: k, value: b('0') }] });
    const worker = async (n: number) => {
      for (let done = 0; done < n; ) {
        const e = (await store.get(k))!;
        const next = String(Number(s(e.value)) + 1);
        const r = await store.txn({ compares: [{ key: k, target: 'modRevision', equals: e.modRevision }], ops: [{ type: 'put', key: k, value: b(next) }] });
        if (r.ok) done++;
      }
    };
    await Promise.all([worker(10), worker(10), worker(10), worker(10)]);
    assert.equal(s((await store.get(k))?.value), '40');
    assert.equal((await store.get(k))?.version, 41);
  });

  t('revisions only grow, one per changing transaction', async ({ store, prefix: p }) => {
    const revs: number[] = [];
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => store.txn({ ops: [{ type: 'put', key: `${p}r${i}`, value: b(String(i)) }] })));
    for (const r of rs) if (r.ok) revs.push(r.revision);
    assert.equal(new Set(revs).size, 20);
    assert.equal(Math.max(...revs), await store.revision());
  });

  t('survives close and reopen', async (target) => {
    const { store, prefix: p } = target;
    if (!target.reopen) return;
    await store.txn({ ops: [{ type: 'put', key: `${p}d1`, value: b('a') }, { type: 'put', key: `${p}d2`, value: b('b') }] });
    await store.txn({ ops: [{ type: 'delete', key: `${p}d1` }] });
    const rev = await store.revision();
    const e2 = await store.get(`${p}d2`);
    const again = await target.reopen();
    assert.equal(await again.get(`${p}d1`), undefined);
    assert.deepEqual(await again.get(`${p}d2`), e2);
    assert.equal(await again.revision(), rev);
    const r = await again.txn({ ops: [{ type: 'put', key: `${p}d3`, value: b('c') }] });
    assert.ok(r.ok && r.revision > rev);
  });

  t('a closed store refuses calls with STORAGE_CLOSED', async ({ store }) => {
    await store.close();
    await assert.rejects(() => store.get('x'), (e: unknown) => e instanceof CurveError && e.status === StatusCode.STORAGE_CLOSED);
  });
}
