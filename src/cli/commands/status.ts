// `curvefs status`: who leads the MDS, which metaservers are up, how each copyset is doing
// (leader, replicas, how far each replica's applied index trails the leader's commit), and the
// file systems.
import { ChannelPool } from '../../rpc/index.ts';
import { MdsService } from '../../gen/mds_pb.ts';
import { TopologyService, OnlineState } from '../../gen/topology_pb.ts';
import { CopysetService } from '../../gen/metaserver_pb.ts';
import { CurveError, StatusCode } from '../../common/index.ts';
import { peerAddress, RotatingMdsConnector } from '../../client/index.ts';
import { humanBytes, printJson, printTable } from '../output.ts';
import { ensureMdsReachable, mdsAddrsOf, type GlobalOptions } from '../context.ts';
import { fsInfoJson, usedText } from './fs-admin.ts';

async function mdsRoles(pool: ChannelPool, addrs: string[]) {
  return Promise.all(
    addrs.map(async (address) => {
      try {
        await pool.client(MdsService, address).listClusterFsInfo({}, { timeoutMs: 1500 });
        return { address, role: 'leader', leader: address };
      } catch (e) {
        if (e instanceof CurveError && e.status === StatusCode.NOT_LEADER) return { address, role: 'standby', leader: e.leaderHint ?? '?' };
        return { address, role: 'down', leader: '' };
      }
    }),
  );
}

export async function status(g: GlobalOptions): Promise<void> {
  const addrs = mdsAddrsOf(g);
  await ensureMdsReachable(addrs);
  const pool = new ChannelPool({ connectTimeoutMs: 1000 });
  try {
    const roles = await mdsRoles(pool, addrs);
    const mds = new RotatingMdsConnector(pool, addrs, { callTimeoutMs: 5000 });
    const topo = mds.client(TopologyService);
    const [metaservers, copysets, fss] = await Promise.all([
      topo.listMetaServer({}),
      topo.listCopysetInfo({}),
      mds.client(MdsService).listClusterFsInfo({}),
    ]);
    const copysetRows = await Promise.all(
      copysets.copysetValues.map(async (c) => {
        const replicas = await Promise.all(
          c.peers.map(async (p) => {
            // Its metaserver reported that the replica cannot open (damaged storage).
            if (c.brokenIds.includes(p.id)) return { id: p.id, state: 'BROKEN', committed: 0, applied: 0 };
            try {
              const st = await pool.client(CopysetService, peerAddress(p.address)).getCopysetStatus({ poolId: c.poolId, copysetId: c.copysetId }, { timeoutMs: 1500 });
              return { id: p.id, state: st.status?.state ?? '?', committed: st.status?.committedIndex ?? 0, applied: st.status?.appliedIndex ?? 0 };
            } catch {
              return { id: p.id, state: 'unreachable', committed: 0, applied: 0 };
            }
          }),
        );
        const commit = Math.max(0, ...replicas.map((r) => r.committed));
        return {
          copyset: `${c.poolId}:${c.copysetId}`,
          leader: c.leaderPeer?.id ?? 0,
          epoch: c.epoch,
          healthy: c.healthy,
          partitions: c.partitionIds.length,
          replicas: replicas.map((r) => ({ ...r, lag: r.state === 'unreachable' || r.state === 'BROKEN' ? null : commit - r.applied })),
        };
      }),
    );
    const doc = {
      mds: roles,
      metaservers: metaservers.metaserverInfos.map((m) => {
        // Replicas it reported broken (damaged on disk, or its storage failed while running).
        const brokenReplicas = copysets.copysetValues.filter((c) => c.brokenIds.includes(m.metaserverId)).length;
        return {
          id: m.metaserverId, address: `${m.externalIp}:${m.externalPort}`, state: OnlineState[m.onlineState],
          healthy: m.onlineState === OnlineState.ONLINE && brokenReplicas === 0, brokenReplicas,
          copysets: m.copysetCount, leaders: m.leaderCount, lastHeartbeatMsAgo: m.lastHeartbeatMsAgo, draining: m.draining,
          // OFFLINE with replicas: ms until the MDS rebuilds them elsewhere (0: under way); null: none pending.
          healInMs: m.healInMs ?? null,
        };
      }),
      copysets: copysetRows,
      fs: fss.fsInfo.map(fsInfoJson),
    };
    if (g.json) return printJson(doc);
    process.stdout.write('MDS\n');
    printTable(['address', 'role', 'leader'], doc.mds.map((m) => [m.address, m.role, m.leader]));
    process.stdout.write('\nMetaservers\n');
    printTable(['id', 'address', 'state', 'copysets', 'leaders', 'last heartbeat'], doc.metaservers.map((m) => [
      m.id, m.address, [m.state, m.draining ? 'draining' : '', m.healInMs === null ? '' : m.healInMs > 0 ? `heal in ${Math.ceil(m.healInMs / 1000)} s` : 'heal under way', m.brokenReplicas > 0 ? `${m.brokenReplicas} replica(s) BROKEN` : ''].filter(Boolean).join(', '), m.copysets, m.leaders, m.lastHeartbeatMsAgo < 0 ? '-' : `${Math.round(m.lastHeartbeatMsAgo)} ms ago`,
    ]));
    process.stdout.write('\nCopysets\n');
    printTable(['copyset', 'leader', 'epoch', 'healthy', 'partitions', 'replicas (id:state:lag)'], doc.copysets.map((c) => [
      c.copyset, c.leader || '-', c.epoch, c.healthy ? 'yes' : 'NO', c.partitions,
      c.replicas.map((r) => `${r.id}:${r.state}:${r.lag ?? '-'}`).join(' '),
    ]));
    process.stdout.write('\nFile systems\n');
    printTable(['id', 'name', 'status', 'capacity', 'used', 'inodes', 'mounts', 'data'], doc.fs.map((f) => [
      f.id, f.name, f.status, f.capacity ? humanBytes(f.capacity) : 'unlimited', usedText(f), f.usedInodes, f.mounts.length, JSON.stringify(f.dataStore),
    ]));
  } finally {
    pool.close();
  }
}
