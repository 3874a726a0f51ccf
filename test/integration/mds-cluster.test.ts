// A cluster of 3 MDS processes on etcd with 4 (fake) metaservers: it forms without admin steps,
// places a file system, survives the loss of the leader MDS with its state intact, and heals
// after a metaserver is removed — all driven by heartbeats, with nobody stepping in.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { MdsClient } from '../../src/mds/index.ts';
import { EtcdCluster, waitFor } from '../helpers/etcd.ts';
import { FakeMetaserver, FakeWorld, startFakeMetaservers } from '../helpers/fake-metaserver.ts';
import { checkNoOverlap, monotonicNow, readJournals } from '../helpers/leader-checker.ts';
import { MdsProcess, servingIndex } from '../helpers/mds-process.ts';

let dir: string;
let etcd: EtcdCluster;
const mds: MdsProcess[] = [];
const journals: string[] = [];
const world = new FakeWorld();
const fakes: FakeMetaserver[] = [];
let client: MdsClient;

const ARGS = ['--lease-margin-ms', '500', '--keepalive-ms', '300', '--unstable-after-ms', '500', '--offline-after-ms', '1500', '--heal-delay-ms', '0', '--schedule-interval-ms', '200', '--clean-follower-after-ms', '0'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-cluster-'));
  etcd = await EtcdCluster.start({ members: 1, baseDir: dir });
  for (let i = 0; i < 3; i++) journals.push(join(dir, `mds-${i}.jsonl`));
  mds.push(...(await Promise.all(journals.map((journal) => MdsProcess.spawn({ etcd: etcd.endpoints(), journal, ttlSec: 2, args: ARGS })))));
  const addresses = mds.map((m) => m.address);
  client = new MdsClient({ addresses, deadlineMs: 30_000 });
  fakes.push(...(await startFakeMetaservers(world, 4, { mds: addresses, heartbeatMs: 100 })));
});

after(async () => {
  for (const f of fakes) await f.close();
  client?.close();
  await Promise.all(mds.map((m) => m.kill9()));
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const leaderIndex = () => servingIndex(mds);

test('the cluster forms and places a file system', async () => {
  await waitFor(async () => {
    const list = (await client.topology.listMetaServer({})).metaserverInfos;
    return list.length === 4 && list.every((m) => m.onlineState === OnlineState.ONLINE && m.lastHeartbeatMsAgo >= 0);
  }, 'four metaservers online');
  const { fsInfo } = await client.mds.createFs({ fsName: 'cluster-fs', dataStore: { kind: { case: 'local', value: { dir: join(dir, 'blocks') } } } });
  const parts = (await client.topology.listPartition({ fsId: fsInfo!.fsId })).partitionInfoList;
  assert.equal(parts.length, 3);
  assert.ok(world.group(parts[0]!.poolId, parts[0]!.copysetId)!.roots.has(fsInfo!.fsId));
});

test('the leader MDS dies; another serves the same state; clients and metaservers follow', async () => {
  const li = await leaderIndex();
  const before = await client.topology.listCopysetInfo({});
  const t0 = monotonicNow();
  const beats = fakes.map((f) => f.heartbeats);
  await mds[li]!.kill9();
  const info = (await client.mds.getFsInfo({ fsName: 'cluster-fs' })).fsInfo!;
  assert.equal(info.fsName, 'cluster-fs');
  const after = await client.topology.listCopysetInfo({});
  assert.deepEqual(after.copysetValues.map((c) => [c.copysetId, c.peers.map((p) => p.id)]), before.copysetValues.map((c) => [c.copysetId, c.peers.map((p) => p.id)]));
  assert.notEqual(client.leader, mds[li]!.address);
  // Metaservers rotated to the new leader and heartbeat there.
  await waitFor(() => fakes.every((f, i) => f.heartbeats > beats[i]! + 3), 'heartbeats to the new leader');
  assert.ok(readJournals(journals).some((e) => e.ev === 'serve-start' && e.t > t0));
  await mds[li]!.start();
  checkNoOverlap(journals);
});

test('a removed metaserver is replaced in every copyset, without an operator', async () => {
  const copysets = (await client.topology.listCopysetInfo({})).copysetValues;
  const victimId = copysets[0]!.peers[0]!.id;
  const hit = new Set(copysets.filter((c) => c.peers.some((p) => p.id === victimId)).map((c) => c.copysetId));
  const victim = fakes.find((f) => f.id === victimId)!;
  await victim.stop();
  await waitFor(async () => {
    const cs = (await client.topology.listCopysetInfo({})).copysetValues;
    return cs.length === copysets.length && cs.every((c) => c.healthy && c.peers.length === 3 && !c.peers.some((p) => p.id === victimId));
  }, 'the copysets to heal', 30_000);
  for (const cs of (await client.topology.listCopysetInfo({})).copysetValues) {
    const g = world.group(cs.poolId, cs.copysetId)!;
    assert.deepEqual(g.peers.map((p) => p.id).sort(), cs.peers.map((p) => p.id).sort());
    // Copysets that lost the victim went through one membership change; the others none.
    assert.equal(cs.epoch, hit.has(cs.copysetId) ? 1 : 0);
  }
  checkNoOverlap(journals);
});
