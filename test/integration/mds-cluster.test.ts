// A cluster of 3 MDS processes on etcd with 4 (fake) metaservers: it forms without admin steps,
// places a file system, survives the loss of the leader MDS with its state intact, and heals
// after a metaserver is removed — all driven by heartbeats, with nobody stepping in.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { waitFor } from '../helpers/etcd.ts';
import { checkNoOverlap, monotonicNow, readJournals } from '../helpers/leader-checker.ts';
import { MdsFakeCluster } from '../helpers/mds-fake-cluster.ts';

const ARGS = ['--lease-margin-ms', '500', '--keepalive-ms', '300', '--unstable-after-ms', '500', '--offline-after-ms', '1500', '--heal-delay-ms', '0', '--schedule-interval-ms', '200', '--clean-follower-after-ms', '0'];

let c: MdsFakeCluster;

before(async () => {
  c = await MdsFakeCluster.start({ name: 'mds-cluster', args: ARGS, metaservers: 4 });
});

after(async () => {
  await c?.stop();
});

test('the cluster forms and places a file system', async () => {
  await waitFor(async () => {
    const list = (await c.client.topology.listMetaServer({})).metaserverInfos;
    return list.length === 4 && list.every((m) => m.onlineState === OnlineState.ONLINE && m.lastHeartbeatMsAgo >= 0);
  }, 'four metaservers online');
  const { fsInfo } = await c.client.mds.createFs({ fsName: 'cluster-fs', dataStore: { kind: { case: 'local', value: { dir: join(c.dir, 'blocks') } } } });
  const parts = (await c.client.topology.listPartition({ fsId: fsInfo!.fsId })).partitionInfoList;
  assert.equal(parts.length, 3);
  assert.ok(c.world.group(parts[0]!.poolId, parts[0]!.copysetId)!.roots.has(fsInfo!.fsId));
});

test('the leader MDS dies; another serves the same state; clients and metaservers follow', async () => {
  const li = await c.leaderIndex();
  const before = await c.client.topology.listCopysetInfo({});
  const t0 = monotonicNow();
  const beats = c.fakes.map((f) => f.heartbeats);
  await c.mds[li]!.kill9();
  const info = (await c.client.mds.getFsInfo({ fsName: 'cluster-fs' })).fsInfo!;
  assert.equal(info.fsName, 'cluster-fs');
  const after = await c.client.topology.listCopysetInfo({});
  assert.deepEqual(after.copysetValues.map((x) => [x.copysetId, x.peers.map((p) => p.id)]), before.copysetValues.map((x) => [x.copysetId, x.peers.map((p) => p.id)]));
  assert.notEqual(c.client.leader, c.mds[li]!.address);
  // Metaservers rotated to the new leader and heartbeat there.
  await waitFor(() => c.fakes.every((f, i) => f.heartbeats > beats[i]! + 3), 'heartbeats to the new leader');
  assert.ok(readJournals(c.journals).some((e) => e.ev === 'serve-start' && e.t > t0));
  await c.mds[li]!.start();
  checkNoOverlap(c.journals);
});

test('a removed metaserver is replaced in every copyset, without an operator', async () => {
  const copysets = (await c.client.topology.listCopysetInfo({})).copysetValues;
  const victimId = copysets[0]!.peers[0]!.id;
  const hit = new Set(copysets.filter((x) => x.peers.some((p) => p.id === victimId)).map((x) => x.copysetId));
  const victim = c.fakes.find((f) => f.id === victimId)!;
  await victim.stop();
  await waitFor(async () => {
    const cs = (await c.client.topology.listCopysetInfo({})).copysetValues;
    return cs.length === copysets.length && cs.every((x) => x.healthy && x.peers.length === 3 && !x.peers.some((p) => p.id === victimId));
  }, 'the copysets to heal', 30_000);
  for (const cs of (await c.client.topology.listCopysetInfo({})).copysetValues) {
    const g = c.world.group(cs.poolId, cs.copysetId)!;
    assert.deepEqual(g.peers.map((p) => p.id).sort(), cs.peers.map((p) => p.id).sort());
    // Copysets that lost the victim went through one membership change; the others none.
    assert.equal(cs.epoch, hit.has(cs.copysetId) ? 1 : 0);
  }
  checkNoOverlap(c.journals);
});
