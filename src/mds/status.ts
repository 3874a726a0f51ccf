// The status document of this MDS (dashboard, `curvefs` status commands).
import type { ClusterStatus, MdsStatus } from '../dashboard/index.ts';
import { FsStatus } from '../gen/mds_pb.ts';
import { OnlineState } from '../gen/topology_pb.ts';
import type { MdsNode } from './node.ts';
import { csKey } from './topology/topology.ts';

const started = Date.now();

export function mdsStatus(node: MdsNode, address: string, store: 'etcd' | 'embedded'): MdsStatus {
  const t = node.current();
  const until = node.validUntil();
  const now = node.clock.now();
  let cluster: ClusterStatus | null = null;
  if (t) {
    const topo = t.topo;
    cluster = {
      clusterId: topo.cluster.clusterId,
      fs: t.fs.list().map((f) => {
        const u = t.fs.usage(f.fsId);
        return {
        fsId: f.fsId,
        name: f.fsName,
        status: FsStatus[f.status] ?? String(f.status),
        mounts: f.mountpoints.length,
        partitions: topo.partitionsOfFs(f.fsId).length,
        capacity: f.capacity,
        usedBytes: u.bytes,
        usedInodes: u.inodes,
        usageComplete: u.complete,
        sessions: f.mountpoints.map((m) => ({
          sessionId: m.sessionId,
          host: m.mountpoint?.hostname ?? '',
          pid: m.mountpoint?.port ?? 0,
          path: m.mountpoint?.path ?? '',
          mountedAtMs: m.mountedAtMs,
        })),
        };
      }),
      metaservers: [...topo.metaservers.values()].map((m) => {
        const rt = topo.msRuntime.get(m.metaserverId);
        const healAt = t.recovery.healAt(m.metaserverId, now);
        return {
          id: m.metaserverId,
          address: `${m.internalIp}:${m.internalPort}`,
          state: OnlineState[topo.onlineState(m.metaserverId, now)] ?? '?',
          copysets: topo.copysetsOf(m.metaserverId).length,
          leaders: rt?.leaderCount ?? 0,
          lastHeartbeatMsAgo: rt?.heard ? Math.round(now - rt.lastSeen) : -1,
          memoryUsedBytes: rt?.memoryUsed ?? 0,
          diskUsedBytes: rt?.diskUsed ?? 0,
          draining: topo.draining.has(m.metaserverId),
          // Wall-clock time (Unix ms) the MDS starts rebuilding its replicas elsewhere.
          healAtMs: healAt === undefined ? undefined : Date.now() + Math.max(0, healAt - now),
        };
      }),
      copysets: [...topo.copysets.values()].map((cs) => {
        const k = csKey(cs.poolId, cs.copysetId);
        const op = t.recovery.operators.get(k);
        const broken = [...(topo.csRuntime.get(k)?.broken.keys() ?? [])].filter((id) => cs.metaserverIds.includes(id));
        return {
          id: k,
          members: [...cs.metaserverIds],
          leader: topo.csRuntime.get(k)?.leaderId ?? 0,
          epoch: cs.epoch,
          healthy: broken.length === 0 && cs.metaserverIds.every((id) => topo.onlineState(id, now) === OnlineState.ONLINE),
          broken,
          partitions: topo.partitionsOfCopyset(cs.poolId, cs.copysetId).length,
          change: op ? `${op.type} ${op.oldPeer}→${op.newPeer || '-'}${op.prepared ? '' : ' (preparing)'}` : null,
        };
      }),
      partitions: topo.partitions.size,
      heartbeats: t.heartbeat.received,
      sessions: t.fs.liveSessionIds().length,
    };
  }
  return {
    role: node.role(),
    address,
    leaderAddress: node.leaderAddress() ?? null,
    term: t?.leadership.term ?? 0,
    leaseValidForMs: t ? (Number.isFinite(until) ? Math.max(0, Math.round(until - now)) : -1) : null,
    store,
    pid: process.pid,
    uptimeSec: Math.round((Date.now() - started) / 1000),
    cluster,
  };
}
