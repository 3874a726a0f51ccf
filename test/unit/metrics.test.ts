// The shared metrics module, the mount's op and store wrappers, and the Grafana dashboard in
// docs/grafana, which must only ask for metrics the processes export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { BlockCache, MemoryBlockStore } from '../../src/data/index.ts';
import { E, Errno, type FuseOps, type RequestContext } from '../../src/fuse/index.ts';
import { MdsMetrics, type MdsStatus } from '../../src/dashboard/index.ts';
import { Metrics } from '../../src/metrics/index.ts';
import { OpMetrics, SnapshotMetrics, registerCopysetGauges } from '../../src/metaserver/metrics.ts';
import { MountMetrics } from '../../src/mount/metrics.ts';
import { sampleValue } from '../helpers/prometheus.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ctx = { uid: 0, gid: 0, pid: 1, signal: new AbortController().signal } as RequestContext;

const STATUS: MdsStatus = {
  role: 'leader',
  address: '127.0.0.1:6700',
  leaderAddress: '127.0.0.1:6700',
  term: 4,
  leaseValidForMs: -1,
  store: 'embedded',
  pid: 1,
  uptimeSec: 9,
  cluster: {
    clusterId: 'c',
    fs: [{ fsId: 1, name: 'a', status: 'INITED', mounts: 1, partitions: 2, capacity: 0, usedBytes: 123, usedInodes: 7, usageComplete: true }],
    metaservers: [{ id: 1, address: 'x', state: 'ONLINE', copysets: 1, leaders: 1, lastHeartbeatMsAgo: 10 }],
    copysets: [],
    partitions: 2,
    heartbeats: 5,
    sessions: 1,
  },
};

test('two components in one process: their own metrics each, runtime metrics once each', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.counter('x_total', 'x').inc();
  b.counter('x_total', 'x').inc(2);
  for (const [m, v] of [[a, 1], [b, 2]] as const) {
    const text = await m.text();
    assert.equal(sampleValue(text, 'x_total'), v);
    assert.equal(text.match(/^# HELP process_cpu_seconds_total /gm)?.length, 1);
    // promtool rejects gauges named _total (prometheus/client_js#283): not exported.
    assert.doesNotMatch(text, /nodejs_active_handles_total/);
  }
});

test('a standby MDS reports its role but no cluster figures (not zeros)', async () => {
  const m = new MdsMetrics();
  m.update(STATUS);
  const leader = await m.text();
  assert.equal(sampleValue(leader, 'curvefs_mds_fs_used_bytes', { fs: 'a', fs_id: '1' }), 123);
  assert.equal(sampleValue(leader, 'curvefs_mds_heartbeats_total'), 5);
  m.update({ ...STATUS, role: 'follower', term: 0, cluster: null });
  const standby = await m.text();
  assert.equal(sampleValue(standby, 'curvefs_mds_status', { role: 'follower' }), 1);
  assert.equal(sampleValue(standby, 'curvefs_mds_copysets'), undefined);
  assert.doesNotMatch(standby, /curvefs_mds_fs_used_bytes/);
});

test('mount ops wrapper: absent ops stay absent; results, sync throws and rejections are counted', async () => {
  const m = new MountMetrics();
  class Ops {
    calls = 0;
    lookup(_c: RequestContext, _p: number, name: string) {
      this.calls++; // `this` is the real ops object
      if (name === 'sync-miss') throw new Errno(E.ENOENT);
      if (name === 'async-miss') return Promise.reject(new Errno(E.ENOENT));
      if (name === 'negative') return Promise.resolve({ attr: { ino: 0 } } as never);
      return Promise.resolve({ attr: { ino: 2 } } as never);
    }
    write(_c: RequestContext, _i: number, _f: number, _o: number, d: Uint8Array) {
      return d.byteLength;
    }
  }
  const inner = new Ops();
  const ops: FuseOps = m.instrumentOps(inner as unknown as FuseOps);
  assert.equal(ops.read, undefined, 'a missing op must stay missing (the dispatcher answers ENOSYS)');
  assert.deepEqual(await ops.lookup!(ctx, 1, 'x'), { attr: { ino: 2 } });
  assert.throws(() => ops.lookup!(ctx, 1, 'sync-miss'), Errno);
  await assert.rejects(Promise.resolve(ops.lookup!(ctx, 1, 'async-miss')), Errno);
  // A negative entry (node id 0) is a successful reply to the kernel but an ENOENT all the same.
  assert.deepEqual(await ops.lookup!(ctx, 1, 'negative'), { attr: { ino: 0 } });
  assert.equal(ops.write!(ctx, 2, 1, 0, new Uint8Array(10)), 10);
  assert.equal(inner.calls, 4);
  const text = await m.registry.text();
  assert.equal(sampleValue(text, 'curvefs_mount_fuse_op_seconds_count', { op: 'lookup' }), 4);
  assert.equal(sampleValue(text, 'curvefs_mount_fuse_op_errors_total', { op: 'lookup', errno: 'ENOENT' }), 3);
  assert.equal(sampleValue(text, 'curvefs_mount_written_bytes_total'), 10);
});

test('mount store wrapper: calls, bytes and failures by status', async () => {
  const m = new MountMetrics();
  const store = m.instrumentStore(new MemoryBlockStore());
  await store.put('k', new Uint8Array(7));
  assert.equal((await store.get('k')).byteLength, 7);
  await assert.rejects(store.get('nope'), (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_FOUND);
  const text = await m.registry.text();
  assert.equal(sampleValue(text, 'curvefs_mount_object_seconds_count', { op: 'get' }), 2);
  assert.equal(sampleValue(text, 'curvefs_mount_object_bytes_total', { op: 'put' }), 7);
  assert.equal(sampleValue(text, 'curvefs_mount_object_errors_total', { op: 'get', status: 'NOT_FOUND' }), 1);
});

/** Every metric name exported by the MDS, a metaserver and a mount, with its type. */
async function exportedMetrics(): Promise<Map<string, string>> {
  const mds = new MdsMetrics();
  mds.update(STATUS);
  const ms = new Metrics();
  new OpMetrics(ms);
  new SnapshotMetrics(ms);
  registerCopysetGauges(ms, () => []);
  const mount = new MountMetrics();
  mount.watchCache(new BlockCache(1024));
  mount.watchOpen(() => ({ handles: 0, files: 0, locks: 0 }));
  const types = new Map<string, string>();
  for (const text of [await mds.text(), await ms.text(), await mount.registry.text()]) {
    for (const t of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(t[1]!, t[2]!);
  }
  return types;
}

test('the Grafana dashboard asks only for metrics the processes export', async () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana', 'curvefs.json'), 'utf8')) as {
    panels: Array<{ id: number; type: string; targets?: Array<{ expr: string }> }>;
  };
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids must be unique');
  const exported = await exportedMetrics();
  const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  assert.ok(exprs.length > 20);
  const unknown: string[] = [];
  for (const expr of exprs) {
    for (const [name] of expr.matchAll(/\b(?:curvefs|process|nodejs)_[a-z0-9_]+/g)) {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      const ok = exported.has(name) || (base !== name && exported.get(base) === 'histogram');
      if (!ok) unknown.push(name);
    }
  }
  assert.deepEqual(unknown, []);
});
