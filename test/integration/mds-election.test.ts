// The election in one process against a real etcd: fencing, stepping down on the own clock
// before etcd expires the lease, recovery after failed campaigns; the embedded elector.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { EmbeddedElector, EtcdElector, monotonicClock, type ElectionEvent } from '../../src/mds/election/index.ts';
import { EmbeddedStore, EtcdStore, createEtcdClient } from '../../src/mds/store/index.ts';
import { FencedStore } from '../../src/mds/fenced-store.ts';
import { EtcdCluster, waitFor } from '../helpers/etcd.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

let etcd: EtcdCluster;
let n = 0;
const te = new TextEncoder();

before(async () => {
  etcd = await EtcdCluster.start({ members: 1 });
});
after(async () => {
  await etcd?.stop();
});

function elector(address: string, endpoints: string[], prefix: string, events?: { t: number; ev: ElectionEvent }[]) {
  const e = new EtcdElector({ endpoints, address, prefix, ttlSec: 2, marginMs: 500, keepaliveMs: 300 });
  if (events) e.on((ev) => events.push({ t: monotonicClock.now(), ev }));
  return e;
}

test('a deposed leader cannot write: its fence fails in etcd; it notices and steps down', async () => {
  const prefix = `/test-election/${n++}`;
  const a = elector('a', etcd.endpoints(), prefix);
  const b = elector('b', etcd.endpoints(), prefix);
  const store = new EtcdStore({ endpoints: etcd.endpoints() });
  const raw = createEtcdClient({ endpoints: etcd.endpoints() });
  try {
    a.start();
    const fenceA = (await waitFor(() => a.current(), 'a to lead')).fence;
    b.start();
    await waitFor(() => b.leaderAddress() === 'a', 'b to see a');
    const writeA = new FencedStore(store, fenceA);
    await writeA.commit([{ type: 'put', key: `${prefix}-data`, value: te.encode('by a') }]);
    // Remove a's key behind its back, as etcd does when a lease expires.
    await raw.delete().key(fenceA.key).exec();
    await waitFor(() => b.current(), 'b to lead');
    assert.ok(b.current()!.term > fenceA.revision);
    await assert.rejects(
      () => writeA.commit([{ type: 'put', key: `${prefix}-data`, value: te.encode('late write by a') }]),
      (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_LEADER,
    );
    assert.equal(new TextDecoder().decode((await store.get(`${prefix}-data`))!.value), 'by a');
    await waitFor(() => a.current() === undefined, 'a to notice it lost its key');
  } finally {
    await a.stop();
    await b.stop();
    await store.close();
    raw.close();
  }
});

test('cut off from etcd, the leader stops acting on its own clock before a standby can start', async () => {
  const prefix = `/test-election/${n++}`;
  const proxy = await TcpProxy.start(etcd.endpoint(0));
  const events: { t: number; ev: ElectionEvent }[] = [];
  const a = elector('a', [proxy.url], prefix, events);
  const b = elector('b', etcd.endpoints(), prefix, events);
  try {
    a.start();
    await waitFor(() => a.current(), 'a to lead');
    b.start();
    await waitFor(() => b.leaderAddress() === 'a', 'b to see a');
    proxy.cut('blackhole');
    await waitFor(() => b.current(), 'b to lead', 30_000);
    const deposed = events.find((e) => e.ev.kind === 'deposed' && e.ev.leadership.address === 'a')!;
    const elected = events.find((e) => e.ev.kind === 'elected' && e.ev.leadership.address === 'b')!;
    assert.ok(deposed, 'a stepped down');
    assert.match((deposed.ev as { reason: string }).reason, /TTL − margin/);
    assert.ok(deposed.t <= elected.t, `a stopped at ${deposed.t}, b started at ${elected.t}`);
    // a's last promise (validUntil of its last renewal) ended before b was elected.
    const lastPromise = Math.max(...events.filter((e) => (e.ev.kind === 'renewed' || e.ev.kind === 'elected') && e.ev.leadership.address === 'a').map((e) => (e.ev as { validUntil: number }).validUntil));
    assert.ok(lastPromise <= elected.t);
    proxy.restore();
    await waitFor(() => a.leaderAddress() === 'b', 'a to follow b after the partition heals', 30_000);
    assert.equal(a.current(), undefined);
  } finally {
    await a.stop();
    await b.stop();
    await proxy.close();
  }
});

test('failed campaigns are abandoned and retried with a fresh session until etcd is reachable', async () => {
  const prefix = `/test-election/${n++}`;
  const proxy = await TcpProxy.start(etcd.endpoint(0));
  proxy.cut('reset');
  const a = elector('a', [proxy.url], prefix);
  try {
    a.start();
    // Let it fail several campaigns (each dials afresh: a new client per session), then heal.
    await waitFor(() => proxy.accepted >= 3, 'several refused campaigns');
    const raw = createEtcdClient({ endpoints: etcd.endpoints() });
    assert.equal((await raw.getAll().prefix(`${prefix}/`).keys()).length, 0);
    raw.close();
    proxy.restore();
    await waitFor(() => a.current(), 'a to lead once etcd is reachable', 30_000);
  } finally {
    await a.stop();
    await proxy.close();
  }
});

test('resign hands over at once: the standby leads while the old lease would still be valid', async () => {
  const prefix = `/test-election/${n++}`;
  const events: { t: number; ev: ElectionEvent }[] = [];
  const a = elector('a', etcd.endpoints(), prefix, events);
  const b = elector('b', etcd.endpoints(), prefix, events);
  try {
    a.start();
    await waitFor(() => a.current(), 'a to lead');
    b.start();
    await waitFor(() => b.leaderAddress() === 'a', 'b to see a');
    const until = a.validUntil();
    await a.stop({ resign: true });
    await waitFor(() => b.current(), 'b to lead');
    const elected = events.find((e) => e.ev.kind === 'elected' && e.ev.leadership.address === 'b')!;
    assert.ok(elected.t < until, 'b did not wait for the lease to expire');
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('embedded elector: always leader, a new term on every start, fenced writes work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-emb-el-'));
  try {
    let store = await EmbeddedStore.open(dir);
    let el = new EmbeddedElector(store, 'local');
    await el.ready();
    const t1 = el.current()!;
    await new FencedStore(store, t1.fence).commit([{ type: 'put', key: 'k', value: te.encode('1') }]);
    await el.stop();
    assert.equal(el.current(), undefined);
    await store.close();
    store = await EmbeddedStore.open(dir);
    el = new EmbeddedElector(store, 'local');
    await el.ready();
    const t2 = el.current()!;
    assert.ok(t2.term > t1.term);
    await assert.rejects(
      () => new FencedStore(store, t1.fence).commit([{ type: 'put', key: 'k', value: te.encode('stale') }]),
      (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_LEADER,
    );
    await el.stop();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
