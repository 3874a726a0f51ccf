// A drain survives the loss of the leading MDS (issue [K]): `curvefs metaserver drain ID
// --no-wait` is asked once, the leading MDS is killed with SIGKILL before the drain can finish,
// and the next leader — which nobody asks again — shows the metaserver draining and moves its
// last replicas away. 3 MDS processes on a real etcd, 4 fake metaservers, the real CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { waitFor } from '../helpers/etcd.ts';
import { MdsFakeCluster } from '../helpers/mds-fake-cluster.ts';

// A stopped metaserver stays UNSTABLE (never OFFLINE) for the whole test; balancing is off so
// that only the drain moves replicas.
const ARGS = ['--lease-margin-ms', '500', '--keepalive-ms', '300', '--unstable-after-ms', '500', '--offline-after-ms', '600000', '--schedule-interval-ms', '200', '--clean-follower-after-ms', '0', '--balance-interval-ms', '0'];

let c: MdsFakeCluster;

before(async () => {
  c = await MdsFakeCluster.start({ name: 'drain-failover', args: ARGS, metaservers: 4 });
  await c.client.mds.createFs({ fsName: 'drained', dataStore: { kind: { case: 'local', value: { dir: join(c.dir, 'blocks') } } } });
});

after(async () => {
  await c?.stop();
});

test('drain --no-wait, kill -9 of the leading MDS: the next leader continues the drain', async () => {
  const copysets = (await c.client.topology.listCopysetInfo({})).copysetValues.map((cs) => cs.peers.map((p) => p.id));
  const count = (id: number) => copysets.filter((m) => m.includes(id)).length;
  const victim = [...c.fakes].sort((a, b) => count(b.id) - count(a.id))[0]!;
  // The only place for one of its copysets: stopped, so that copyset cannot move until it is back.
  const blockedBy = c.fakes.find((f) => f !== victim && copysets.some((m) => m.includes(victim.id) && !m.includes(f.id)))!;
  await blockedBy.stop();
  await waitFor(async () => (await c.client.topology.getMetaServer({ metaserverId: blockedBy.id })).metaserverInfo!.onlineState === OnlineState.UNSTABLE, 'the stopped metaserver UNSTABLE');

  const r = await runCurvefs(['--mds', c.mds.map((m) => m.address).join(','), '--json', 'metaserver', 'drain', String(victim.id), '--no-wait']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal((JSON.parse(r.stdout) as { state: string }).state, 'draining');

  const li = await c.leaderIndex();
  await c.mds[li]!.kill9();
  const next = await c.leaderIndex();
  assert.notEqual(next, li);
  // Nobody asked the new leader: it read the drain from the store.
  const info = (await c.client.topology.getMetaServer({ metaserverId: victim.id })).metaserverInfo!;
  assert.equal(info.draining, true, 'the new leader knows the drain');
  assert.ok(info.copysetCount > 0, 'the drain was not finished when the leader died');

  await blockedBy.start();
  await waitFor(async () => (await c.client.topology.getMetaServer({ metaserverId: victim.id })).metaserverInfo!.copysetCount === 0, 'the drained metaserver to hold no copyset', 30_000);
  for (const cs of (await c.client.topology.listCopysetInfo({})).copysetValues) {
    const members = cs.peers.map((p) => p.id);
    assert.equal(members.length, 3, `copyset ${cs.copysetId} keeps three members`);
    assert.ok(!members.includes(victim.id));
  }
  await c.mds[li]!.start();
});
