// Balancing (issue [K]): with real metaservers, the MDS spreads Raft leaders over the three it
// starts with, and once a fourth, empty metaserver joins it moves copyset replicas onto it one
// membership change per copyset, at most two at once, never leaving a copyset below three
// members, until replicas and leaders are even; no file is lost. Real MDS, real metaservers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../../src/common/index.ts';
import { connectFs, MdsAdapter, type Connection } from '../../src/client/index.ts';
import { TopologyService } from '../../src/gen/topology_pb.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

let base: string;
let cluster: CurvefsCluster;
let extra: MetaserverCluster | undefined;
const files = new Map<string, string>();

async function connect(): Promise<Connection> {
  return connectFs({ mds: new MdsAdapter(cluster.mds), fsName: 'bal', pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-balance-'));
  cluster = await CurvefsCluster.start({ dir: base, metaservers: 3, mdsArgs: ['--schedule-interval-ms', '300', '--balance-interval-ms', '1000', '--partitions-per-fs', '6'] });
  await cluster.createFs('bal');
  const c = await connect();
  try {
    for (let f = 0; f < 12; f++) {
      const body = `balanced ${f} `.repeat(30 + f);
      await c.fs.writeFile(`/f${f}`, body);
      files.set(`/f${f}`, body);
    }
  } finally {
    await c.close();
  }
});

after(async () => {
  await extra?.stop();
  await cluster?.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

/** Replicas and leaders per metaserver, from the MDS's copyset list; checks the bounds on the way. */
async function spread(ids: number[]): Promise<{ replicas: number[]; leaders: number[] }> {
  const copysets = (await cluster.mds.client(TopologyService).listCopysetInfo({})).copysetValues;
  for (const cs of copysets) assert.ok(cs.peers.length >= 3, `copyset ${cs.copysetId} has ${cs.peers.length} members`);
  const moving = copysets.filter((cs) => cs.candidatePeer !== undefined).length;
  assert.ok(moving <= 2, `${moving} replica moves at once`);
  return {
    replicas: ids.map((id) => copysets.filter((cs) => cs.peers.some((p) => p.id === id)).length),
    leaders: ids.map((id) => copysets.filter((cs) => cs.leaderPeer?.id === id).length),
  };
}

const even = (xs: number[]) => Math.max(...xs) - Math.min(...xs) <= 1;

test('leaders spread over three metaservers; a fourth, empty one gets its share of replicas and leaders', async () => {
  const three = cluster.metaservers.procs.map((p) => p.id);
  const first = await pollUntil('leaders spread over three metaservers', 60_000, async () => {
    const s = await spread(three);
    return even(s.leaders) && s.leaders.reduce((a, b) => a + b, 0) === 6 ? s : undefined;
  });
  assert.deepEqual(first.replicas, [6, 6, 6]);

  extra = await MetaserverCluster.start({ n: 1, dir: join(base, 'extra'), mdsAddrs: cluster.mdsAddrs });
  const four = [...three, extra.procs[0]!.id];
  let last: { replicas: number[]; leaders: number[] } | undefined;
  const done = await pollUntil('replicas and leaders spread over four metaservers', 180_000, async () => {
    const s = (last = await spread(four));
    return even(s.replicas) && s.leaders.every((n) => n >= 1 && n <= 2) ? s : undefined;
  }).catch((e: Error) => {
    // Seen once at a load of ~25 (CI beside five other jobs): say where it stood and what the
    // scheduler last did, so the next occurrence can be diagnosed from the CI log.
    const recent = cluster.mdsLog.filter((l) => /balanc|operator|change_peer|transfer/i.test(l)).slice(-30);
    throw new Error(`${e.message}; last spread ${JSON.stringify(last)}; scheduler's last lines:\n${recent.join('\n')}`);
  });
  assert.ok(done.replicas[3]! >= 4, `the new metaserver holds ${done.replicas[3]} replicas`);
  // All four run on this one host: one server (and zone). Three registering at once once made a
  // second zone, and the balancer — keeping replicas spread over zones — stalled (seen in CI).
  const infos = (await cluster.mds.client(TopologyService).listMetaServer({})).metaserverInfos;
  assert.deepEqual([...new Set(infos.map((m) => m.serverId))].length, 1, `servers ${JSON.stringify(infos.map((m) => [m.metaserverId, m.serverId]))}`);
  assert.ok(cluster.mdsLog.some((l) => l.includes('planned balancing change') && l.includes('"type":"change_peer"') && l.includes(`"newPeer":${four[3]}`)), 'replicas were moved by the balancer');

  const c = await connect();
  try {
    for (const [path, body] of files) assert.equal(Buffer.from(await c.fs.readFile(path)).toString(), body, path);
    await c.fs.writeFile('/after', 'still writable');
  } finally {
    await c.close();
  }
});
