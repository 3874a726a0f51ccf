// `curvefs metaserver drain ID` (issue [K]): with four metaservers, draining the one with the
// most copyset replicas moves every replica off it through the MDS's membership changes (the
// leader's own replicas after a leadership transfer), the command reports progress and exits 0
// once no copyset has it, every copyset keeps three members, the drained metaserver drops its
// copies, no file is lost, and a file system created afterwards is placed elsewhere. Real MDS, real metaservers, the real CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../../src/common/index.ts';
import { connectFs, MdsAdapter, type Connection } from '../../src/client/index.ts';
import { TopologyService } from '../../src/gen/topology_pb.ts';
import { CopysetService } from '../../src/gen/metaserver_pb.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';

let base: string;
let cluster: CurvefsCluster;
const files = new Map<string, string>();

async function connect(): Promise<Connection> {
  return connectFs({ mds: new MdsAdapter(cluster.mds), fsName: 'dr', pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-drain-'));
  cluster = await CurvefsCluster.start({ dir: base, metaservers: 4, mdsArgs: ['--schedule-interval-ms', '300', '--partitions-per-fs', '4'] });
  await cluster.createFs('dr');
  const c = await connect();
  try {
    for (let d = 0; d < 4; d++) {
      await c.fs.mkdir(`/d${d}`);
      for (let f = 0; f < 6; f++) {
        const path = `/d${d}/f${f}`;
        const body = `file ${path} `.repeat(50 + d * 10 + f);
        await c.fs.writeFile(path, body);
        files.set(path, body);
      }
    }
  } finally {
    await c.close();
  }
});

after(async () => {
  await cluster?.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

test('drain empties one of four metaservers and no file is lost', async () => {
  const topo = cluster.mds.client(TopologyService);
  const before = (await topo.listMetaServer({})).metaserverInfos;
  assert.equal(before.length, 4);
  // One that leads a copyset, so that the drain must move a leadership first.
  const victim = await pollUntil('a metaserver leading a copyset', 30_000, async () => {
    const list = (await topo.listMetaServer({})).metaserverInfos;
    return [...list].sort((a, b) => b.leaderCount - a.leaderCount || b.copysetCount - a.copysetCount).find((m) => m.leaderCount > 0);
  });

  const r = await runCurvefs(['--mds', cluster.mdsAddrs.join(','), 'metaserver', 'drain', String(victim.metaserverId), '--poll-ms', '200']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`metaserver ${victim.metaserverId} drained: no copyset has it as a member`));
  assert.match(r.stderr, new RegExp(`metaserver ${victim.metaserverId}: \\d+ copysets? left`), 'progress was reported');

  assert.ok(cluster.mdsLog.some((l) => /moving the leadership off a replica that leaves/.test(l) && l.includes(`"from":${victim.metaserverId}`)), 'a leadership was moved off it first');

  const copysets = (await topo.listCopysetInfo({})).copysetValues;
  assert.ok(copysets.length > 0);
  for (const cs of copysets) {
    const members = cs.peers.map((p) => p.id);
    assert.ok(!members.includes(victim.metaserverId), `copyset ${cs.copysetId} still has metaserver ${victim.metaserverId}`);
    assert.equal(members.length, 3, `copyset ${cs.copysetId} has three members`);
  }
  const after = (await topo.listMetaServer({})).metaserverInfos.find((m) => m.metaserverId === victim.metaserverId)!;
  assert.equal(after.copysetCount, 0);

  // The drained metaserver drops its copies (the removed replica learns it left).
  const victimProc = cluster.metaservers.procs.find((p) => p.id === victim.metaserverId)!;
  await pollUntil('the drained metaserver to hold no copyset', 30_000, async () =>
    (await cluster.pool.client(CopysetService, victimProc.address).listCopysets({})).copysets.length === 0 ? true : undefined,
  );

  // Every file reads back whole through a new client; the fs still takes writes.
  const c = await connect();
  try {
    for (const [path, body] of files) assert.equal(Buffer.from(await c.fs.readFile(path)).toString(), body, path);
    await c.fs.writeFile('/after-drain', 'still writable');
    assert.equal(Buffer.from(await c.fs.readFile('/after-drain')).toString(), 'still writable');
  } finally {
    await c.close();
  }

  // `curvefs status` marks it (until --cancel or its deletion).
  const st = await runCurvefs(['--mds', cluster.mdsAddrs.join(','), '--json', 'status']);
  assert.equal(st.code, 0, st.stderr);
  const row = (JSON.parse(st.stdout) as { metaservers: Array<{ id: number; draining: boolean; copysets: number }> }).metaservers.find((m) => m.id === victim.metaserverId)!;
  assert.deepEqual([row.draining, row.copysets], [true, 0]);

  // A file system created now gets no partition on it (no new copyset is placed there).
  const laterId = await cluster.createFs('later');
  const later = (await topo.listPartition({ fsId: laterId })).partitionInfoList;
  assert.ok(later.length > 0);
  for (const p of later) {
    const members = (await topo.listCopysetInfo({})).copysetValues.find((c) => c.poolId === p.poolId && c.copysetId === p.copysetId)!.peers.map((x) => x.id);
    assert.ok(!members.includes(victim.metaserverId), `partition ${p.partitionId} of the new fs is on the drained metaserver`);
  }

  // Draining again is immediate: nothing is left.
  const again = await runCurvefs(['--mds', cluster.mdsAddrs.join(','), '--json', 'metaserver', 'drain', String(victim.metaserverId)]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as { state: string; copysetsLeft: number }).copysetsLeft, 0);
});

test('drain of a metaserver that does not exist: a precise error, nothing changes', async () => {
  const r = await runCurvefs(['--mds', cluster.mdsAddrs.join(','), 'metaserver', 'drain', '99']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /metaserver 99 not found/);
});
