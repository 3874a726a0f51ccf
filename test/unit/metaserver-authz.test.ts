// The metaserver data path's fs check (src/metaserver/authz.ts) in isolation: which fields it
// reads (and that the protocol has no other partition reference), the cached and the looked-up
// answer, the refusals and their count, and what happens when the MDS cannot answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { MetaServerService, PartitionRefSchema } from '../../src/gen/metaserver_pb.ts';
import { FsScope, PARTITION_REF_FIELDS, guardDataPath } from '../../src/metaserver/authz.ts';
import { Metrics } from '../../src/metrics/index.ts';
import type { CallContext, Principal } from '../../src/rpc/index.ts';

const ctx = (principal?: Principal): CallContext => ({ signal: new AbortController().signal, deadline: Infinity, peer: 'x', principal });
const ref = (fsId: number) => ({ $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId });

test('every MetaServerService request names partitions only in the fields the check reads', () => {
  for (const m of MetaServerService.methods) {
    const refs = m.input.fields.filter((f) => f.message?.typeName === PartitionRefSchema.typeName).map((f) => f.localName);
    assert.ok(refs.length > 0, `${m.name} names a partition`);
    for (const f of refs) assert.ok((PARTITION_REF_FIELDS as readonly string[]).includes(f), `${m.name}.${f} is not checked`);
  }
});

test('a client of fs alpha: alpha passes (the name asked once), beta is FORBIDDEN and counted; admin and cluster pass untouched', async () => {
  const asked: number[] = [];
  const metrics = new Metrics();
  const scope = new FsScope({ fsNameOf: (id) => (asked.push(id), Promise.resolve(id === 1 ? 'alpha' : id === 2 ? 'beta' : undefined)), metrics });
  const alpha = ctx({ role: 'fs', fsName: 'alpha' });
  await Promise.all([scope.check('GetInode', alpha, { p: ref(1) }), scope.check('GetInode', alpha, { p: ref(1) })]);
  assert.equal(scope.check('GetInode', alpha, { p: ref(1) }), undefined, 'answered at once from the cache');
  assert.deepEqual(asked, [1], 'one look-up for concurrent first calls');
  await assert.rejects(Promise.resolve().then(() => scope.check('GetInode', alpha, { p: ref(2) })), (e: unknown) => e instanceof CurveError && e.status === StatusCode.FORBIDDEN && /GetInode on fs 2 \(beta\): this credential is a client of fs alpha/.test(e.message));
  assert.throws(() => scope.check('Rename', alpha, { p: ref(1), newP: ref(2) }), (e: unknown) => e instanceof CurveError && e.status === StatusCode.FORBIDDEN);
  // A trash entry whose inode lives in another partition names that partition too.
  assert.throws(() => scope.check('RestoreTrash', alpha, { p: ref(1), inodeP: ref(2) }), (e: unknown) => e instanceof CurveError && e.status === StatusCode.FORBIDDEN);
  await assert.rejects(Promise.resolve().then(() => scope.check('GetInode', alpha, { p: ref(9) })), /fs 9 \(no such fs\)/);
  for (const role of ['admin', 'cluster'] as const) assert.equal(scope.check('GetInode', ctx({ role }), { p: ref(2) }), undefined);
  assert.match(await metrics.text(), /curvefs_metaserver_fs_scope_refused_total\{op="GetInode"\} 2/);
  assert.match(await metrics.text(), /curvefs_metaserver_fs_scope_refused_total\{op="Rename"\} 1/);
  assert.match(await metrics.text(), /curvefs_metaserver_fs_scope_refused_total\{op="RestoreTrash"\} 1/);
});

test('the MDS cannot answer: UNAVAILABLE (retried by the client), and the next call asks again', async () => {
  let fail = true;
  const scope = new FsScope({ fsNameOf: () => (fail ? Promise.reject(new Error('connection refused')) : Promise.resolve('alpha')) });
  const alpha = ctx({ role: 'fs', fsName: 'alpha' });
  await assert.rejects(Promise.resolve(scope.check('GetInode', alpha, { p: ref(1) })), (e: unknown) => e instanceof CurveError && e.status === StatusCode.UNAVAILABLE);
  fail = false;
  await scope.check('GetInode', alpha, { p: ref(1) });
});

test('without an MDS an fs token is refused on the data path; the handler is never run', async () => {
  let ran = 0;
  const guarded = guardDataPath({ getInode: (_req: unknown, _ctx: CallContext) => (ran++, {}) }, new FsScope({}));
  await assert.rejects(Promise.resolve(guarded.getInode({ p: ref(1) } as never, ctx({ role: 'fs', fsName: 'alpha' }))), (e: unknown) => e instanceof CurveError && e.status === StatusCode.FORBIDDEN && /without an MDS/.test(e.message));
  assert.equal(ran, 0);
  guarded.getInode({ p: ref(1) } as never, ctx({ role: 'cluster' }));
  assert.equal(ran, 1);
});

test('a rename whose source fs is still being looked up and whose destination is refused at once leaves no rejection unhandled', async () => {
  let release!: (name: string) => void;
  const scope = new FsScope({ fsNameOf: (id) => (id === 2 ? Promise.resolve('beta') : new Promise((r) => (release = r))) });
  const alpha = ctx({ role: 'fs', fsName: 'alpha' });
  await assert.rejects(Promise.resolve(scope.check('GetInode', alpha, { p: ref(2) })), /client of fs alpha/); // fs 2 now known: beta
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    assert.throws(() => scope.check('Rename', alpha, { p: ref(7), newP: ref(2) }), /Rename on fs 2 \(beta\)/);
    release('gamma'); // fs 7 is gamma: its pending check is refused too, with nobody waiting
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
