// The MDS services over real RPC, on the embedded store, with fake metaservers (registration,
// heartbeats, admin RPCs, simulated Raft): file systems, bad requests, partitions and placement,
// chunk ids, mounts and sessions, deletion and reclaim, healing, restart on the same store, the
// status page. Tests run in order and share one cluster.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { PartitionStatus } from '../../src/gen/common_pb.ts';
import { FsStatus } from '../../src/gen/mds_pb.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { DEFAULT_TUNING, MdsClient, PARTITION_SIZE, ROOT_MODE, runMds, type MdsHandle } from '../../src/mds/index.ts';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { CreateFsRequestSchema } from '../../src/gen/mds_pb.ts';
import { LocalBlockStore, objectKey } from '../../src/data/index.ts';
import { freePort, waitFor } from '../helpers/etcd.ts';
import { FakeMetaserver, FakeWorld, startFakeMetaservers } from '../helpers/fake-metaserver.ts';

let dir: string;
let mds: MdsHandle;
let client: MdsClient;
const world = new FakeWorld();
const fakes: FakeMetaserver[] = [];

const TUNING = {
  unstableAfterMs: 400,
  offlineAfterMs: 1200,
  recovery: { ...DEFAULT_TUNING.recovery, healDelayMs: 0 },
  scheduleIntervalMs: 100,
  sessionTimeoutMs: 800,
  sessionScanMs: 100,
  fsScanMs: 100,
  cleanFollowerAfterMs: 0,
};

let port = 0;

async function startMds(): Promise<void> {
  port ||= await freePort();
  mds = await runMds({ listen: `127.0.0.1:${port}`, dataDir: join(dir, 'mds'), dashboardPort: 0, tuning: TUNING });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-svc-'));
  await startMds();
  client = new MdsClient({ addresses: [mds.address], deadlineMs: 20_000 });
  fakes.push(...(await startFakeMetaservers(world, 4, { mds: [mds.address], heartbeatMs: 100 })));
});

after(async () => {
  for (const f of fakes) await f.close();
  client?.close();
  await mds?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type FsReq = MessageInitShape<typeof CreateFsRequestSchema>;
const fsReq = (name: string, over: Omit<FsReq, 'fsName'> = {}): FsReq =>
  ({
    fsName: name,
    dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data', name) } } },
    ...over,
  }) as FsReq;

async function rejects(p: Promise<unknown>, status: StatusCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CurveError, String(e));
    assert.equal(StatusCode[e.status], StatusCode[status], e.message);
    return true;
  });
}

test('CreateFs without metaservers fails with TOPO_NOT_ENOUGH_METASERVERS and leaves nothing behind', async () => {
  const lone = await runMds({ listen: '127.0.0.1:0', dataDir: join(dir, 'lone') });
  const c = new MdsClient({ addresses: [lone.address] });
  try {
    await rejects(c.mds.createFs(fsReq('nowhere')), StatusCode.TOPO_NOT_ENOUGH_METASERVERS);
    assert.deepEqual((await c.mds.listClusterFsInfo({})).fsInfo, []);
    // The name is free again.
    await rejects(c.mds.getFsInfo({ fsName: 'nowhere' }), StatusCode.FS_NOT_FOUND);
  } finally {
    c.close();
    await lone.stop();
  }
});

test('metaservers register without any admin step: default pool, one zone and server per host', async () => {
  const topo = await client.topology.listTopology({});
  assert.deepEqual(topo.pools.map((p) => [p.poolName, p.replicaNum]), [['defaultpool', 3]]);
  assert.deepEqual(topo.zones.map((z) => z.zoneName), ['zone-127.0.0.1']);
  assert.deepEqual(topo.servers.map((s) => s.hostName), ['server-127.0.0.1']);
  assert.equal(topo.metaservers.length, 4);
  assert.ok(topo.clusterId.length > 0);
  await waitFor(async () => (await client.topology.listMetaServer({})).metaserverInfos.every((m) => m.onlineState === OnlineState.ONLINE && m.lastHeartbeatMsAgo >= 0), 'all online');
  // Registering again at the same address (no copysets yet) gives the same id and token.
  const again = await client.topology.registMetaServer({ internalIp: '127.0.0.1', internalPort: fakes[0]!.port });
  assert.deepEqual([again.metaserverId, again.token], [fakes[0]!.id, fakes[0]!.token]);
});

test('bad CreateFs requests get precise codes and change nothing', async () => {
  for (const name of ['', 'Abc', '-a', 'a--b', 'a_b', 'a b', 'x'.repeat(200)]) await rejects(client.mds.createFs(fsReq(name)), StatusCode.FSNAME_INVALID);
  await rejects(client.mds.createFs(fsReq('bad', { blockSize: 1000 })), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs(fsReq('bad', { blockSize: 1 << 30 })), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs(fsReq('bad', { blockSize: 4 << 20, chunkSize: 6 << 20 })), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs(fsReq('bad', { capacity: -1 })), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs(fsReq('bad', { partitionCount: 1000 })), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs({ fsName: 'bad' }), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs(fsReq('bad', { dataStore: { kind: { case: 'local', value: { dir: 'relative/dir' } } } })), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs(fsReq('bad', { dataStore: { kind: { case: 's3', value: { endpoint: 'http://x' } } } })), StatusCode.PARAM_ERROR);
  await rejects(client.mds.createFs(fsReq('bad', { fsType: 1 })), StatusCode.NOT_SUPPORTED);
  assert.deepEqual((await client.mds.listClusterFsInfo({})).fsInfo, []);
  assert.equal((await client.topology.listCopysetInfo({})).copysetValues.length, 0);
});

let fs1Id = 0;

test('CreateFs places partitions on copysets of 3 distinct metaservers and creates the root inode', async () => {
  const { fsInfo } = await client.mds.createFs(fsReq('fs1', { capacity: 1 << 30 }));
  assert.ok(fsInfo);
  fs1Id = fsInfo.fsId;
  assert.equal(fsInfo.status, FsStatus.FS_INITED);
  assert.equal(fsInfo.rootInodeId, 1);
  assert.equal(fsInfo.blockSize, 4 << 20);
  assert.equal(fsInfo.chunkSize, 64 << 20);
  const parts = (await client.topology.listPartition({ fsId: fs1Id })).partitionInfoList;
  assert.equal(parts.length, 3);
  assert.deepEqual(
    parts.map((p) => [p.start, p.end]),
    [0, 1, 2].map((i) => [i * PARTITION_SIZE, (i + 1) * PARTITION_SIZE - 1]),
  );
  assert.ok(parts.every((p) => p.status === PartitionStatus.READWRITE));
  const copysets = (await client.topology.listCopysetInfo({})).copysetValues;
  assert.equal(copysets.length, 3, 'three partitions spread over three copysets');
  for (const cs of copysets) assert.equal(new Set(cs.peers.map((p) => p.id)).size, 3);
  // The root inode lives in the partition that starts at 0, created through its copyset leader.
  const first = parts[0]!;
  const g = world.group(first.poolId, first.copysetId)!;
  assert.ok(g.roots.has(fs1Id));
  assert.equal(ROOT_MODE, 0o41777);
  // Every member of every copyset got CreateCopysetNode.
  for (const cs of copysets) for (const p of cs.peers) assert.ok(world.nodes.get(p.id)!.replicas.has(`${cs.poolId}:${cs.copysetId}`));
});

test('CreateFs again: same settings is idempotent, other settings is FS_EXIST; GetFsInfo by id or name', async () => {
  const again = await client.mds.createFs(fsReq('fs1', { capacity: 1 << 30 }));
  assert.equal(again.fsInfo?.fsId, fs1Id);
  await rejects(client.mds.createFs(fsReq('fs1', { blockSize: 1 << 20 })), StatusCode.FS_EXIST);
  assert.equal((await client.mds.getFsInfo({ fsName: 'fs1' })).fsInfo?.fsId, fs1Id);
  assert.equal((await client.mds.getFsInfo({ fsId: fs1Id })).fsInfo?.fsName, 'fs1');
  await rejects(client.mds.getFsInfo({ fsName: 'nope' }), StatusCode.FS_NOT_FOUND);
  await rejects(client.mds.getFsInfo({ fsId: 9999 }), StatusCode.FS_NOT_FOUND);
  await rejects(client.mds.getFsInfo({}), StatusCode.PARAM_ERROR);
  const upd = await client.mds.updateFsInfo({ fsName: 'fs1', capacity: 2 ** 31 });
  assert.equal(upd.fsInfo?.capacity, 2 ** 31);
  await rejects(client.mds.updateFsInfo({ fsName: 'nope', capacity: 1 }), StatusCode.FS_NOT_FOUND);
});

test('clients find partitions, copyset members and leaders; CreatePartition continues the ranges', async () => {
  const parts = (await client.topology.listPartition({ fsId: fs1Id })).partitionInfoList;
  const { copysetMap } = await client.topology.getCopysetOfPartition({ partitionId: parts.map((p) => p.partitionId) });
  for (const p of parts) {
    const cs = copysetMap[p.partitionId]!;
    assert.equal(cs.peers.length, 3);
    await waitFor(async () => (await client.topology.getCopysetOfPartition({ partitionId: [p.partitionId] })).copysetMap[p.partitionId]?.leader, 'leader known from heartbeats');
  }
  const locs = await client.topology.getMetaServerListInCopysets({ poolId: parts[0]!.poolId, copysetId: [parts[0]!.copysetId] });
  assert.equal(locs.csInfo[0]!.csLocs.length, 3);
  await rejects(client.topology.getMetaServerListInCopysets({ poolId: 1, copysetId: [424242] }), StatusCode.TOPO_COPYSET_NOT_FOUND);
  await rejects(client.topology.getCopysetOfPartition({ partitionId: [424242] }), StatusCode.TOPO_PARTITION_NOT_FOUND);
  const more = (await client.topology.createPartition({ fsId: fs1Id, count: 2 })).partitionInfoList;
  assert.deepEqual(more.map((p) => p.start), [3 * PARTITION_SIZE, 4 * PARTITION_SIZE]);
  assert.equal((await client.topology.listPartition({ fsId: fs1Id })).partitionInfoList.length, 5);
  await rejects(client.topology.createPartition({ fsId: 9999, count: 1 }), StatusCode.FS_NOT_FOUND);
  await rejects(client.topology.listPartition({ fsId: 9999 }), StatusCode.FS_NOT_FOUND);
});

test('chunk ids come in disjoint runs', async () => {
  const a = (await client.mds.allocateS3Chunk({ fsId: fs1Id, chunkIdNum: 10 })).beginChunkId;
  const b = (await client.mds.allocateS3Chunk({ fsId: fs1Id, chunkIdNum: 5000 })).beginChunkId;
  const c = (await client.mds.allocateS3Chunk({ fsId: fs1Id })).beginChunkId;
  assert.ok(a >= 1 && b >= a + 10 && c >= b + 5000);
  await rejects(client.mds.allocateS3Chunk({ fsId: fs1Id, chunkIdNum: 2_000_000 }), StatusCode.PARAM_ERROR);
  await rejects(client.mds.allocateS3Chunk({ fsId: 9999, chunkIdNum: 1 }), StatusCode.FS_NOT_FOUND);
});

test('mounts and sessions: conflicts, DeleteFs refused while mounted, expiry of silent sessions', async () => {
  const mp = (path: string) => ({ hostname: 'host-a', port: 1, path });
  const m1 = await client.mds.mountFs({ fsName: 'fs1', mountpoint: mp('/mnt/a') });
  const m2 = await client.mds.mountFs({ fsName: 'fs1', mountpoint: mp('/mnt/b') });
  assert.ok(m1.sessionId > 0 && m2.sessionId > m1.sessionId);
  assert.equal(m1.sessionTimeoutMs, TUNING.sessionTimeoutMs);
  await rejects(client.mds.mountFs({ fsName: 'fs1', mountpoint: mp('/mnt/a') }), StatusCode.MOUNT_POINT_EXIST);
  await rejects(client.mds.mountFs({ fsName: 'fs1', mountpoint: { hostname: '', path: '' } }), StatusCode.PARAM_ERROR);
  await rejects(client.mds.mountFs({ fsName: 'nope', mountpoint: mp('/x') }), StatusCode.FS_NOT_FOUND);
  await rejects(client.mds.deleteFs({ fsName: 'fs1' }), StatusCode.FS_BUSY);
  // Metaservers learn the live sessions from heartbeat replies.
  await waitFor(() => fakes[0]!.liveSessions.includes(m2.sessionId), 'live sessions in heartbeat replies');
  // Keep m1 alive; let m2 go silent until the MDS ends it.
  let refreshing = true;
  const loop = (async () => {
    while (refreshing) {
      const r = await client.mds.refreshSession({ fsName: 'fs1', sessionId: m1.sessionId, fsDeltaBytes: 100 });
      assert.equal(r.sessionValid, true);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  await waitFor(async () => (await client.mds.getFsInfo({ fsName: 'fs1' })).fsInfo!.mountpoints.length === 1, 'the silent session to expire');
  const info = (await client.mds.getFsInfo({ fsName: 'fs1' })).fsInfo!;
  assert.equal(info.mountpoints[0]!.sessionId, m1.sessionId);
  assert.equal(info.mountNum, 1);
  await waitFor(() => !fakes[0]!.liveSessions.includes(m2.sessionId), 'the expired session to leave heartbeat replies');
  // The expired client comes back: its session stays ended (the metaservers dropped its request
  // windows, so its old requests must not be retried); it mounts again under a new id.
  const back = await client.mds.refreshSession({ fsName: 'fs1', sessionId: m2.sessionId, mountpoint: mp('/mnt/b') });
  assert.equal(back.sessionValid, false);
  assert.equal((await client.mds.getFsInfo({ fsName: 'fs1' })).fsInfo!.mountpoints.length, 1);
  const again = await client.mds.mountFs({ fsName: 'fs1', mountpoint: mp('/mnt/b') });
  assert.ok(again.sessionId > m2.sessionId);
  const unknown = await client.mds.refreshSession({ fsName: 'fs1', sessionId: 987654 });
  assert.equal(unknown.sessionValid, false);
  refreshing = false;
  await loop;
  // Used bytes and inodes are the partitions' own counts from their leaders' heartbeats, summed
  // per fs; the byte deltas the client sent above are ignored.
  let bytes = 0;
  let inodes = 0;
  for (const g of world.groups.values()) {
    for (const p of g.partitions.values()) {
      if (p.fsId !== fs1Id) continue;
      p.fileBytes = 1000 + p.partitionId;
      p.inodeNum = 3 + p.partitionId;
      bytes += p.fileBytes;
      inodes += p.inodeNum;
    }
  }
  assert.ok(bytes > 0);
  await waitFor(async () => {
    const r = await client.mds.refreshSession({ fsName: 'fs1', sessionId: m1.sessionId });
    return r.fsUsedBytes === bytes && r.fsUsedInodes === inodes && r.fsUsageComplete;
  }, 'usage summed from the partition reports');
  const withUsage = (await client.mds.getFsInfo({ fsName: 'fs1' })).fsInfo!;
  assert.deepEqual([withUsage.usedBytes, withUsage.usedInodes, withUsage.usageComplete], [bytes, inodes, true]);
  await client.mds.umountFs({ fsName: 'fs1', sessionId: m1.sessionId });
  await client.mds.umountFs({ fsName: 'fs1', mountpoint: mp('/mnt/b') });
  await rejects(client.mds.umountFs({ fsName: 'fs1', sessionId: m1.sessionId }), StatusCode.MOUNT_POINT_NOT_EXIST);
  assert.equal((await client.mds.getFsInfo({ fsName: 'fs1' })).fsInfo!.mountpoints.length, 0);
});

test('a partition running out of ids gets successors allocated ahead of need', async () => {
  const { fsInfo } = await client.mds.createFs(fsReq('grow', { partitionCount: 2 }));
  const parts = (await client.topology.listPartition({ fsId: fsInfo!.fsId })).partitionInfoList;
  assert.equal(parts.length, 2);
  // The leaders now report both partitions nearly full.
  for (const p of parts) world.group(p.poolId, p.copysetId)!.partitions.get(p.partitionId)!.nextId = p.end - 5;
  await waitFor(async () => (await client.topology.listPartition({ fsId: fsInfo!.fsId })).partitionInfoList.length >= 4, 'partitions allocated ahead of need');
});

test('DeleteFs frees the name at once and reclaims partitions and file data in the background', async () => {
  const parts = (await client.topology.listPartition({ fsId: fs1Id })).partitionInfoList;
  // File data of fs1 (and, in the same directory, an object of another fs that must stay).
  const blocks = await LocalBlockStore.open(join(dir, 'data', 'fs1'));
  const mine = objectKey(fs1Id, 7, { chunkIndex: 0, chunkId: 1, blockIndex: 0, compaction: 0 });
  const other = objectKey(fs1Id + 1000, 7, { chunkIndex: 0, chunkId: 1, blockIndex: 0, compaction: 0 });
  await blocks.put(mine, new Uint8Array([1, 2, 3]));
  await blocks.put(other, new Uint8Array([4]));
  await client.mds.deleteFs({ fsName: 'fs1' });
  await rejects(client.mds.getFsInfo({ fsName: 'fs1' }), StatusCode.FS_NOT_FOUND);
  await rejects(client.mds.deleteFs({ fsName: 'fs1' }), StatusCode.FS_NOT_FOUND);
  await waitFor(async () => {
    try {
      await client.mds.getFsInfo({ fsId: fs1Id });
      return false;
    } catch (e) {
      return e instanceof CurveError && e.status === StatusCode.FS_NOT_FOUND;
    }
  }, 'the deleted fs to be reclaimed');
  for (const p of parts) assert.equal(world.group(p.poolId, p.copysetId)!.partitions.has(p.partitionId), false);
  assert.equal(await blocks.head(mine), undefined);
  assert.deepEqual(await blocks.head(other), { size: 1 });
  await blocks.close();
  const reborn = await client.mds.createFs(fsReq('fs1'));
  assert.ok(reborn.fsInfo!.fsId > fs1Id);
  // Ranges of a new fs start again at 0 (ranges are per fs).
  assert.equal((await client.topology.listPartition({ fsId: reborn.fsInfo!.fsId })).partitionInfoList[0]!.start, 0);
});

test('heartbeats with a wrong token or an unknown id are refused; unknown copysets are purged', async () => {
  const f = fakes[0]!;
  await rejects(client.heartbeat.metaServerHeartbeat({ metaserverId: f.id, token: 'wrongtok', ip: '127.0.0.1', port: f.port }), StatusCode.TOPO_TOKEN_MISMATCH);
  await rejects(client.heartbeat.metaServerHeartbeat({ metaserverId: 777, token: 'x', ip: '127.0.0.1', port: 1 }), StatusCode.TOPO_METASERVER_NOT_FOUND);
  await rejects(client.heartbeat.metaServerHeartbeat({ metaserverId: f.id, token: f.token, ip: '127.0.0.1', port: f.port + 1 }), StatusCode.PARAM_ERROR);
  world.groups.set('1:999', { poolId: 1, copysetId: 999, peers: [], epoch: 3, term: 1, leaderId: f.id, partitions: new Map(), roots: new Set() });
  f.replicas.add('1:999');
  await waitFor(() => !f.replicas.has('1:999'), 'the unknown replica to be purged');
});

test('a metaserver that stays offline has its copysets healed onto another one', async () => {
  const copysets = (await client.topology.listCopysetInfo({})).copysetValues;
  // The victim: the metaserver in the most copysets.
  const count = new Map<number, number>();
  for (const cs of copysets) for (const p of cs.peers) count.set(p.id, (count.get(p.id) ?? 0) + 1);
  const victimId = [...count.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const victim = fakes.find((f) => f.id === victimId)!;
  const affected = copysets.filter((cs) => cs.peers.some((p) => p.id === victimId)).length;
  await victim.stop();
  await waitFor(async () => {
    const cs = (await client.topology.listCopysetInfo({})).copysetValues;
    return cs.every((c) => c.peers.length === 3 && !c.peers.some((p) => p.id === victimId) && c.peers.every((p) => world.nodes.get(p.id)!.running));
  }, 'every copyset to lose the dead member and gain a live one', 30_000);
  const changes = world.changes.filter((c) => c.from.includes(victimId) && !c.to.includes(victimId));
  assert.equal(changes.length, affected);
  for (const c of changes) {
    const g = world.groups.get(c.copyset)!;
    for (const p of g.peers) {
      assert.ok(world.nodes.get(p.id)!.replicas.has(c.copyset), 'the new member holds a replica');
      // The instruction names the new peer with its Raft address.
      assert.equal(p.address, `${world.nodes.get(p.id)!.address}:0`);
    }
  }
  const state = (await client.topology.getMetaServer({ metaserverId: victimId })).metaserverInfo!;
  assert.equal(state.onlineState, OnlineState.OFFLINE);
  assert.equal(state.copysetCount, 0);
  // A metaserver that holds nothing and is offline can be removed.
  await rejects(client.topology.deleteMetaServer({ metaserverId: fakes.find((f) => f.running)!.id }), StatusCode.TOPO_CANNOT_REMOVE_NOT_OFFLINE);
  await client.topology.deleteMetaServer({ metaserverId: victimId });
  await rejects(client.topology.getMetaServer({ metaserverId: victimId }), StatusCode.TOPO_METASERVER_NOT_FOUND);
});

test('topology administration: pools, zones, servers with clear errors', async () => {
  const pool = (await client.topology.createPool({ poolName: 'p2', replicaNum: 3 })).poolInfo!;
  await rejects(client.topology.createPool({ poolName: 'p2' }), StatusCode.TOPO_POOL_EXIST);
  const zone = (await client.topology.createZone({ zoneName: 'z1', poolName: 'p2' })).zoneInfo!;
  await rejects(client.topology.createZone({ zoneName: 'z1', poolName: 'p2' }), StatusCode.TOPO_NAME_DUPLICATED);
  await rejects(client.topology.createZone({ zoneName: 'z1', poolName: 'nopool' }), StatusCode.TOPO_POOL_NOT_FOUND);
  const server = await client.topology.registServer({ hostName: 'h1', internalIp: '10.9.9.9', zoneName: 'z1', poolName: 'p2' });
  await rejects(client.topology.registServer({ hostName: 'h1', internalIp: '10.9.9.8', zoneName: 'z1', poolName: 'p2' }), StatusCode.TOPO_NAME_DUPLICATED);
  await rejects(client.topology.registServer({ hostName: 'h2', internalIp: '10.9.9.8', zoneName: 'nozone', poolName: 'p2' }), StatusCode.TOPO_ZONE_NOT_FOUND);
  assert.equal((await client.topology.listZoneServer({ zoneId: zone.zoneId })).serverInfo.length, 1);
  await rejects(client.topology.deleteZone({ zoneId: zone.zoneId }), StatusCode.TOPO_CANNOT_REMOVE_WHEN_NOT_EMPTY);
  await client.topology.deleteServer({ serverId: server.serverId });
  await client.topology.deleteZone({ zoneId: zone.zoneId });
  await client.topology.deletePool({ poolId: pool.poolId });
  await rejects(client.topology.getPool({ poolId: pool.poolId }), StatusCode.TOPO_POOL_NOT_FOUND);
});

function httpGet(addr: string, path: string): Promise<string> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    request({ host, port: Number(port), path }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve(b));
    })
      .on('error', reject)
      .end();
  });
}

test('the status page: JSON, Prometheus metrics and HTML', async () => {
  const st = JSON.parse(await httpGet(mds.dashboardAddress!, '/api/status'));
  assert.equal(st.role, 'leader');
  assert.equal(st.store, 'embedded');
  assert.ok(st.cluster.fs.some((f: { name: string }) => f.name === 'fs1'));
  const metrics = await httpGet(mds.dashboardAddress!, '/metrics');
  assert.match(metrics, /^curvefs_mds_status\{role="leader"\} 1$/m);
  assert.match(metrics, /^curvefs_mds_metaservers\{state="online"\} 3$/m);
  // Each fs's usage (the partitions' reports) as in the JSON document.
  for (const f of st.cluster.fs as { fsId: number; name: string; usedBytes: number; usedInodes: number }[]) {
    const labels = `{fs="${f.name}",fs_id="${f.fsId}"}`;
    assert.ok(metrics.includes(`\ncurvefs_mds_fs_used_bytes${labels} ${f.usedBytes}\n`), `used bytes of ${f.name}`);
    assert.ok(metrics.includes(`\ncurvefs_mds_fs_used_inodes${labels} ${f.usedInodes}\n`), `used inodes of ${f.name}`);
  }
  const html = await httpGet(mds.dashboardAddress!, '/');
  assert.match(html, /<h2>Copysets<\/h2>/);
});

test('a restarted MDS on the same store serves the same state under a new term', async () => {
  const before = (await client.mds.listClusterFsInfo({})).fsInfo.map((f) => f.fsName).sort();
  const topoBefore = await client.topology.listTopology({});
  const term = mds.status().term;
  await mds.stop();
  await startMds();
  const c2 = new MdsClient({ addresses: [mds.address], deadlineMs: 20_000 });
  try {
    // The metaservers find the restarted MDS at the same address and report to it again.
    await waitFor(async () => (await c2.topology.listMetaServer({})).metaserverInfos.filter((m) => m.lastHeartbeatMsAgo >= 0).length === 3, 'heartbeats to the new term');
    assert.deepEqual((await c2.mds.listClusterFsInfo({})).fsInfo.map((f) => f.fsName).sort(), before);
    const topoAfter = await c2.topology.listTopology({});
    assert.equal(topoAfter.clusterId, topoBefore.clusterId);
    assert.deepEqual(topoAfter.metaservers.map((m) => m.metaserverId), topoBefore.metaservers.map((m) => m.metaserverId));
    assert.ok(mds.status().term > term);
    // Ids keep growing across restarts.
    const { fsInfo } = await c2.mds.createFs(fsReq('after-restart'));
    assert.ok(fsInfo!.fsId > Math.max(...(await c2.mds.listClusterFsInfo({})).fsInfo.filter((f) => f.fsName !== 'after-restart').map((f) => f.fsId)));
  } finally {
    c2.close();
  }
});
