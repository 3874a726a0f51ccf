// `curvefs metaserver decommission ID` (issue [K]) with four real metaservers: refused with a
// precise error and nothing changed while one of its copysets would have nowhere to go (another
// metaserver OFFLINE) and, at the RPC, while it still holds replicas; then it drains the
// metaserver, waits until it holds no replica, and removes it from the topology — every copyset
// keeps three members and no file is lost. The OFFLINE one shows when its heal would start. Real MDS, real metaservers, the real CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode, pollUntil } from '../../src/common/index.ts';
import { connectFs, MdsAdapter, type Connection } from '../../src/client/index.ts';
import { OnlineState, TopologyService } from '../../src/gen/topology_pb.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';

let base: string;
let cluster: CurvefsCluster;
const files = new Map<string, string>();

async function connect(): Promise<Connection> {
  return connectFs({ mds: new MdsAdapter(cluster.mds), fsName: 'dc', pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-decommission-'));
  // OFFLINE 3 s after the last heartbeat, never healed within the test; no balancing: only the
  // decommission moves replicas.
  cluster = await CurvefsCluster.start({
    dir: base,
    metaservers: 4,
    mdsArgs: ['--schedule-interval-ms', '300', '--partitions-per-fs', '4', '--unstable-after-ms', '1500', '--offline-after-ms', '3000', '--heal-delay-ms', '600000', '--balance-interval-ms', '0'],
  });
  await cluster.createFs('dc');
  const c = await connect();
  try {
    for (let f = 0; f < 12; f++) {
      const body = `file ${f} `.repeat(40 + f);
      await c.fs.writeFile(`/f${f}`, body);
      files.set(`/f${f}`, body);
    }
  } finally {
    await c.close();
  }
});

after(async () => {
  await cluster?.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

test('decommission: refused while a copyset would have nowhere to go, then drains and removes the metaserver', async () => {
  const topo = cluster.mds.client(TopologyService);
  const mdsFlag = ['--mds', cluster.mdsAddrs.join(',')];
  const members = async () => (await topo.listCopysetInfo({})).copysetValues.map((c) => c.peers.map((p) => p.id));
  const copysets = await members();
  const count = (id: number) => copysets.filter((m) => m.includes(id)).length;
  const ids = cluster.metaservers.procs.map((p) => p.id);
  const victim = [...ids].sort((a, b) => count(b) - count(a))[0]!;
  // A metaserver that is the only place left for one of the victim's copysets.
  const other = ids.find((id) => id !== victim && copysets.some((m) => m.includes(victim) && !m.includes(id)))!;
  const otherIndex = cluster.metaservers.procs.find((p) => p.id === other)!.index;

  // Still holding replicas: the RPC refuses to remove it.
  await assert.rejects(topo.deleteMetaServer({ metaserverId: victim, decommission: true }), (e: unknown) => {
    assert.ok(e instanceof CurveError && e.status === StatusCode.TOPO_CANNOT_REMOVE_WHEN_NOT_EMPTY, String(e));
    assert.match(e.message, new RegExp(`metaserver ${victim} still holds ${count(victim)} copyset replica`));
    return true;
  });

  // With `other` OFFLINE a copyset of the victim has nowhere to go: refused, nothing changes.
  await cluster.metaservers.kill(otherIndex);
  await pollUntil('the killed metaserver OFFLINE', 30_000, async () =>
    (await topo.getMetaServer({ metaserverId: other })).metaserverInfo!.onlineState === OnlineState.OFFLINE ? true : undefined,
  );
  // Its pending heal shows when it starts (heal delay 600 s from going OFFLINE), here and in `curvefs status`.
  const off = (await topo.getMetaServer({ metaserverId: other })).metaserverInfo!;
  assert.ok(off.healInMs !== undefined && off.healInMs > 0 && off.healInMs <= 600_000, `heal in ${off.healInMs} ms`);
  const st = await runCurvefs([...mdsFlag, '--json', 'status']);
  assert.equal(st.code, 0, st.stderr);
  const rows = (JSON.parse(st.stdout) as { metaservers: Array<{ id: number; healInMs: number | null }> }).metaservers;
  for (const row of rows) assert.equal(row.healInMs === null, row.id !== other, `metaserver ${row.id}: heal in ${row.healInMs}`);

  const refused = await runCurvefs([...mdsFlag, 'metaserver', 'decommission', String(victim)]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, new RegExp(`metaserver ${victim} cannot be drained: \\d+ of its copysets would have nowhere to go .*add a metaserver first`));
  const unchanged = (await topo.getMetaServer({ metaserverId: victim })).metaserverInfo!;
  assert.deepEqual([unchanged.draining, unchanged.copysetCount], [false, count(victim)]);
  assert.deepEqual(await members(), copysets);

  // Back: the decommission goes through.
  await cluster.metaservers.restart(otherIndex);
  await pollUntil('the restarted metaserver ONLINE', 30_000, async () =>
    (await topo.getMetaServer({ metaserverId: other })).metaserverInfo!.onlineState === OnlineState.ONLINE ? true : undefined,
  );
  const r = await runCurvefs([...mdsFlag, 'metaserver', 'decommission', String(victim), '--poll-ms', '200']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`metaserver ${victim} decommissioned: drained and removed from the topology`));
  assert.match(r.stderr, new RegExp(`metaserver ${victim}: \\d+ copysets? left`), 'progress was reported');

  const left = (await topo.listMetaServer({})).metaserverInfos.map((m) => m.metaserverId);
  assert.deepEqual(left.sort(), ids.filter((id) => id !== victim).sort());
  for (const m of await members()) {
    assert.equal(m.length, 3, 'every copyset keeps three members');
    assert.ok(!m.includes(victim));
  }
  const c = await connect();
  try {
    for (const [path, body] of files) assert.equal(Buffer.from(await c.fs.readFile(path)).toString(), body, path);
  } finally {
    await c.close();
  }

  // Once gone, asking again is a precise "not found".
  const again = await runCurvefs([...mdsFlag, 'metaserver', 'decommission', String(victim)]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, new RegExp(`metaserver ${victim} not found`));
});
