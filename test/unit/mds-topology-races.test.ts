// Topology changes that race (issue [K], found through the balancing e2e): metaservers started
// together register at the same moment, and every step of a registration (pool, zone, server,
// metaserver record) reads the topology, awaits an id and a store write, then adds. Unserialised,
// three metaservers on one host got two zones "zone-127.0.0.1", so the balancer (rightly keeping
// replicas spread over zones) would never move the replicas of the one alone in its zone. The real
// Topology on a memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom, systemClock } from '../../src/common/index.ts';
import { StatusCode } from '../../src/gen/common_pb.ts';
import { FencedStore } from '../../src/mds/fenced-store.ts';
import { IdAllocator } from '../../src/mds/id-allocator.ts';
import { MemoryStore } from '../../src/mds/store/memory.ts';
import { Topology } from '../../src/mds/topology/topology.ts';

async function topology(): Promise<Topology> {
  const mem = new MemoryStore();
  const put = await mem.txn({ ops: [{ type: 'put', key: 'fence', value: new TextEncoder().encode('x') }] });
  assert.ok(put.ok);
  const store = new FencedStore(mem, { key: 'fence', revision: put.revision });
  const id = (kind: string) => new IdAllocator(store, kind, 10);
  return Topology.load(
    store,
    { pool: id('pool'), zone: id('zone'), server: id('server'), metaserver: id('metaserver'), copyset: id('copyset'), partition: id('partition') },
    systemClock,
    new SeededRandom(3),
    { unstableAfterMs: 10_000, offlineAfterMs: 30_000, replicaNum: 3 },
  );
}

test('metaservers of one host registering at once share one pool, one zone and one server', async () => {
  const topo = await topology();
  const registered = await Promise.all(
    [16701, 16702, 16703].map((port) => topo.registMetaServer({ hostName: '', internalIp: '127.0.0.1', internalPort: port, externalIp: '', externalPort: 0 })),
  );
  assert.equal(new Set(registered.map((m) => m.metaserverId)).size, 3);
  assert.deepEqual([...topo.pools.values()].map((p) => p.poolName), ['defaultpool']);
  assert.deepEqual([...topo.zones.values()].map((z) => z.zoneName), ['zone-127.0.0.1']);
  assert.deepEqual([...topo.servers.values()].map((s) => s.hostName), ['server-127.0.0.1']);
  assert.equal(new Set(registered.map((m) => m.serverId)).size, 1);
});

test('two metaservers at one address registering at once get one record', async () => {
  const topo = await topology();
  const req = { hostName: '', internalIp: '127.0.0.1', internalPort: 16701, externalIp: '', externalPort: 0 };
  const [a, b] = await Promise.all([topo.registMetaServer(req), topo.registMetaServer(req)]);
  assert.equal(a.metaserverId, b.metaserverId);
  assert.equal(topo.metaservers.size, 1);
});

test('a pool, zone or server created twice at once exists once; the second caller is told it exists', async () => {
  const topo = await topology();
  const pools = await Promise.allSettled([topo.createPool('p', 3, 3, 0), topo.createPool('p', 3, 3, 0)]);
  assert.deepEqual(pools.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  assert.equal((pools.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.status, StatusCode.TOPO_POOL_EXIST);
  assert.equal(topo.pools.size, 1);

  const zones = await Promise.allSettled([topo.createZone('z', 'p'), topo.createZone('z', 'p')]);
  assert.deepEqual(zones.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  assert.equal((zones.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.status, StatusCode.TOPO_NAME_DUPLICATED);
  assert.equal(topo.zones.size, 1);

  const server = { hostName: 'h', internalIp: '10.0.0.1', internalPort: 0, externalIp: '', externalPort: 0, zoneName: 'z', poolName: 'p' };
  const servers = await Promise.allSettled([topo.registServer(server), topo.registServer(server)]);
  assert.deepEqual(servers.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  assert.equal(topo.servers.size, 1);
});
