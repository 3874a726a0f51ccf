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
import { keys } from '../../src/mds/keys.ts';
import { MetaServerDataSchema, PoolInfoSchema, ServerInfoSchema, ZoneInfoSchema } from '../../src/gen/topology_pb.ts';
import { create, toBinary } from '@bufbuild/protobuf';

let terms = 0;

/** The Topology a new MDS term loads from `mem` (each term has its own fence key). */
async function topology(mem = new MemoryStore()): Promise<Topology> {
  const fence = `fence-${++terms}`;
  const put = await mem.txn({ ops: [{ type: 'put', key: fence, value: new TextEncoder().encode('x') }] });
  assert.ok(put.ok);
  const store = new FencedStore(mem, { key: fence, revision: put.revision });
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

test('duplicates an older MDS stored (one host in two zones) are folded into the first at load', async () => {
  const mem = new MemoryStore();
  const topo = await topology(mem);
  const [a, b] = await Promise.all([16701, 16702].map((port) => topo.registMetaServer({ hostName: '', internalIp: '127.0.0.1', internalPort: port, externalIp: '', externalPort: 0 })));
  const pool = [...topo.pools.values()][0]!;
  const zone = [...topo.zones.values()][0]!;
  const server = [...topo.servers.values()][0]!;
  // What the race stored: a second pool, zone and server of the same names, metaserver b on them.
  const put = (key: string, value: Uint8Array) => ({ type: 'put' as const, key, value });
  const pool2 = create(PoolInfoSchema, { ...pool, poolId: 90 });
  const zone2 = create(ZoneInfoSchema, { ...zone, zoneId: 91, poolId: 90 });
  const server2 = create(ServerInfoSchema, { ...server, serverId: 92, zoneId: 91, poolId: 90 });
  const b2 = create(MetaServerDataSchema, { ...b, serverId: 92 });
  const ok = await mem.txn({
    ops: [
      put(keys.pool(90), toBinary(PoolInfoSchema, pool2)),
      put(keys.zone(91), toBinary(ZoneInfoSchema, zone2)),
      put(keys.server(92), toBinary(ServerInfoSchema, server2)),
      put(keys.metaserver(b.metaserverId), toBinary(MetaServerDataSchema, b2)),
    ],
  });
  assert.ok(ok.ok);

  const reloaded = await topology(mem);
  assert.deepEqual([...reloaded.pools.keys()], [pool.poolId]);
  assert.deepEqual([...reloaded.zones.keys()], [zone.zoneId]);
  assert.deepEqual([...reloaded.servers.keys()], [server.serverId]);
  assert.equal(reloaded.metaservers.get(a.metaserverId)!.serverId, server.serverId);
  assert.equal(reloaded.metaservers.get(b.metaserverId)!.serverId, server.serverId);
  // Stored so: a third load finds nothing to fold and the same topology.
  const third = await topology(mem);
  assert.deepEqual([...third.servers.keys()], [server.serverId]);
  assert.equal(third.metaservers.get(b.metaserverId)!.serverId, server.serverId);
});
