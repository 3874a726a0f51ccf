// Topology records → the messages RPCs and the status page answer with.
import { create } from '@bufbuild/protobuf';
import { PeerSchema, type Peer } from '../../gen/common_pb.ts';
import {
  CopysetInfoSchema,
  CopysetLocationSchema,
  CopysetSchema,
  MetaServerInfoSchema,
  MetaServerLocationSchema,
  MetaServerSpaceSchema,
  OnlineState,
  type Copyset,
  type CopysetData,
  type CopysetInfo,
  type CopysetLocation,
  type MetaServerData,
  type MetaServerInfo,
} from '../../gen/topology_pb.ts';
import type { RecoveryDriver } from '../schedule/driver.ts';
import { csKey, type Topology } from './topology.ts';

export function metaServerInfo(topo: Topology, ms: MetaServerData, now: number, recovery?: RecoveryDriver): MetaServerInfo {
  const rt = topo.msRuntime.get(ms.metaserverId);
  const healAt = recovery?.healAt(ms.metaserverId, now);
  return create(MetaServerInfoSchema, {
    metaserverId: ms.metaserverId,
    hostname: ms.hostname,
    internalIp: ms.internalIp,
    internalPort: ms.internalPort,
    externalIp: ms.externalIp,
    externalPort: ms.externalPort,
    onlineState: topo.onlineState(ms.metaserverId, now),
    serverId: ms.serverId,
    space: create(MetaServerSpaceSchema, {
      diskThresholdByte: rt?.diskThreshold ?? 0,
      diskUsedByte: rt?.diskUsed ?? 0,
      memoryThresholdByte: rt?.memoryThreshold ?? 0,
      memoryUsedByte: rt?.memoryUsed ?? 0,
    }),
    copysetCount: topo.copysetsOf(ms.metaserverId).length,
    leaderCount: rt?.leaderCount ?? 0,
    lastHeartbeatMsAgo: rt?.heard ? Math.max(0, Math.round(now - rt.lastSeen)) : -1,
    draining: topo.draining.has(ms.metaserverId),
    healInMs: healAt === undefined ? undefined : Math.max(0, Math.round(healAt - now)),
  });
}

function leaderPeer(topo: Topology, cs: CopysetData): Peer | undefined {
  const id = topo.csRuntime.get(csKey(cs.poolId, cs.copysetId))?.leaderId;
  return id && cs.metaserverIds.includes(id) ? topo.peerOf(id) : undefined;
}

export function copysetInfo(topo: Topology, cs: CopysetData, recovery: RecoveryDriver | undefined, now: number): CopysetInfo {
  // A membership change in flight (a leadership move is not one).
  const inFlight = recovery?.operators.get(csKey(cs.poolId, cs.copysetId));
  const op = inFlight?.type === 'transfer_leader' ? undefined : inFlight;
  const broken = [...(topo.csRuntime.get(csKey(cs.poolId, cs.copysetId))?.broken.keys() ?? [])].filter((id) => cs.metaserverIds.includes(id));
  return create(CopysetInfoSchema, {
    poolId: cs.poolId,
    copysetId: cs.copysetId,
    peers: cs.metaserverIds.map((id) => topo.peerOf(id)),
    epoch: cs.epoch,
    leaderPeer: leaderPeer(topo, cs),
    partitionIds: topo.partitionsOfCopyset(cs.poolId, cs.copysetId).map((p) => p.partitionId),
    oldPeer: op ? topo.peerOf(op.oldPeer) : undefined,
    candidatePeer: op && op.type === 'change_peer' ? topo.peerOf(op.newPeer) : undefined,
    healthy: broken.length === 0 && cs.metaserverIds.every((id) => topo.onlineState(id, now) === OnlineState.ONLINE),
    brokenIds: broken,
  });
}

export function copysetLocation(topo: Topology, cs: CopysetData): CopysetLocation {
  const leader = leaderPeer(topo, cs);
  return create(CopysetLocationSchema, {
    poolId: cs.poolId,
    copysetId: cs.copysetId,
    csLocs: cs.metaserverIds.map((id) => {
      const m = topo.metaservers.get(id);
      return create(MetaServerLocationSchema, {
        metaserverId: id,
        internalIp: m?.internalIp ?? '',
        internalPort: m?.internalPort ?? 0,
        externalIp: m?.externalIp ?? '',
        externalPort: m?.externalPort ?? 0,
      });
    }),
    leaderId: leader?.id ?? 0,
  });
}

/** A copyset with its members' client-facing (external) addresses and the leader if known. */
export function copysetForClient(topo: Topology, cs: CopysetData): Copyset {
  const external = (id: number) => {
    const m = topo.metaservers.get(id);
    return create(PeerSchema, { id, address: m ? `${m.externalIp}:${m.externalPort}:0` : '' });
  };
  const leader = leaderPeer(topo, cs);
  return create(CopysetSchema, {
    poolId: cs.poolId,
    copysetId: cs.copysetId,
    peers: cs.metaserverIds.map(external),
    leader: leader ? external(leader.id) : undefined,
  });
}
