// MdsApi over the MDS's RPC services (MdsService, TopologyService).
import { MdsService, type DataStore, type FsInfo, type Quota, type QuotaDelta } from '../gen/mds_pb.ts';
import { TopologyService } from '../gen/topology_pb.ts';
import { CurveError, StatusCode } from '../common/index.ts';
import type { GenService, GenServiceMethods, RpcClient } from '../rpc/index.ts';
import type { FsView, MdsApi, MountSession } from './mds-api.ts';
import type { SpaceReport } from './space.ts';
import { blockStoreConfigOf, type BlockStoreConfig } from '../data/index.ts';
import type { CopysetRoute } from './partition-table.ts';
import type { PartitionInfo } from '../gen/common_pb.ts';
import { ChunkIdLease, type ChunkIdLeaseOptions } from './chunk-ids.ts';

/** Gives a client for a service on the current MDS leader (rotating and following hints). */
export interface MdsConnector {
  client<S extends GenServiceMethods>(service: GenService<S>): RpcClient<S>;
}

export function dataStoreOf(ds: DataStore | undefined): BlockStoreConfig {
  const config = blockStoreConfigOf(ds);
  if (!config) throw new CurveError(StatusCode.PARAM_ERROR, 'fs has no data store');
  return config;
}

export function fsViewOf(info: FsInfo): FsView {
  return {
    fsId: info.fsId,
    fsName: info.fsName,
    rootInodeId: info.rootInodeId || 1,
    blockSize: info.blockSize,
    chunkSize: info.chunkSize,
    capacity: info.capacity,
    dataStore: dataStoreOf(info.dataStore),
    usage: { capacity: info.capacity, usedBytes: info.usedBytes, usedInodes: info.usedInodes, complete: info.usageComplete, maxInodes: info.maxInodes },
  };
}

/** "ip:port:0" (peer form) -> "ip:port". */
export function peerAddress(address: string): string {
  const parts = address.split(':');
  return parts.length >= 3 ? parts.slice(0, -1).join(':') : address;
}

export class MdsAdapter implements MdsApi {
  /** Each fs's chunk ids, leased a range at a time ahead of need (chunk-ids.ts). */
  private readonly chunkIds = new Map<number, ChunkIdLease>();
  private readonly fsIds = new Map<string, number>();

  constructor(
    private readonly conn: MdsConnector,
    private readonly chunkIdOpts: ChunkIdLeaseOptions = {},
  ) {}

  private get mds() {
    return this.conn.client(MdsService);
  }

  private get topo() {
    return this.conn.client(TopologyService);
  }

  async getFsInfo(fsName: string): Promise<FsView> {
    const res = await this.mds.getFsInfo({ fsName });
    if (!res.fsInfo) throw new CurveError(StatusCode.FS_NOT_FOUND, fsName);
    this.fsIds.set(fsName, res.fsInfo.fsId);
    return fsViewOf(res.fsInfo);
  }

  async listPartitions(fsId: number): Promise<PartitionInfo[]> {
    return (await this.topo.listPartition({ fsId })).partitionInfoList;
  }

  /**
   * Members of the copysets by their client-facing (external) addresses — a metaserver may serve
   * Raft on an internal network and clients on another — with the leader as last reported.
   */
  async getCopysets(copysets: Array<{ poolId: number; copysetId: number }>): Promise<CopysetRoute[]> {
    const byPool = new Map<number, number[]>();
    for (const c of copysets) {
      const ids = byPool.get(c.poolId);
      if (ids) ids.push(c.copysetId);
      else byPool.set(c.poolId, [c.copysetId]);
    }
    const out: CopysetRoute[] = [];
    for (const [poolId, copysetId] of byPool) {
      const res = await this.topo.getMetaServerListInCopysets({ poolId, copysetId });
      for (const c of res.csInfo) {
        // The MDS records the internal address as the external one when a metaserver gives none.
        const address = (l: (typeof c.csLocs)[number]) => `${l.externalIp}:${l.externalPort}`;
        const leader = c.csLocs.find((l) => l.metaserverId === c.leaderId);
        out.push({ poolId: c.poolId, copysetId: c.copysetId, peers: c.csLocs.map(address), leader: c.leaderId && leader ? address(leader) : undefined });
      }
    }
    return out;
  }

  async createPartitions(fsId: number, count: number): Promise<PartitionInfo[]> {
    return (await this.topo.createPartition({ fsId, count })).partitionInfoList;
  }

  /** From the ids this client leased ahead: no MDS round trip, and none needed while it is down. */
  allocateChunkIds(fsId: number, count: number): Promise<number> {
    return this.chunkIdLease(fsId).take(count);
  }

  /** The chunk-id lease of an fs (made on first use). */
  chunkIdLease(fsId: number): ChunkIdLease {
    let lease = this.chunkIds.get(fsId);
    if (!lease) {
      const fetch = async (n: number, deadlineMs: number) => (await this.mds.allocateS3Chunk({ fsId, chunkIdNum: n }, { timeoutMs: deadlineMs })).beginChunkId;
      lease = new ChunkIdLease(fetch, this.chunkIdOpts);
      this.chunkIds.set(fsId, lease);
    }
    return lease;
  }

  async mount(fsName: string, mp: { host: string; path: string }): Promise<MountSession> {
    // A client that mounts will write: it leases its first range of chunk ids alongside (no
    // extra wait), so it holds ids before any MDS outage.
    const fsId = this.fsIds.get(fsName);
    const [res] = await Promise.all([
      this.mds.mountFs({ fsName, mountpoint: { hostname: mp.host, port: process.pid, path: mp.path, cto: true } }),
      fsId === undefined ? undefined : this.chunkIdLease(fsId).prime(),
    ]);
    return { sessionId: res.sessionId };
  }

  async refreshSession(fsName: string, sessionId: number): Promise<SpaceReport> {
    const res = await this.mds.refreshSession({ fsName, sessionId });
    // An ended session is not revived (its request windows are gone on the metaservers, which
    // now refuse its mutations with SESSION_EXPIRED): say so instead of failing silently.
    if (!res.sessionValid) throw new CurveError(StatusCode.SESSION_EXPIRED, `session ${sessionId} of fs ${fsName} has ended; mount again`);
    return { capacity: res.fsCapacity, usedBytes: res.fsUsedBytes, usedInodes: res.fsUsedInodes, complete: res.fsUsageComplete, maxInodes: res.fsMaxInodes, nextIds: res.fsPartitionNextIds };
  }

  async umount(fsName: string, sessionId: number): Promise<void> {
    await this.mds.umountFs({ fsName, sessionId });
  }

  async syncQuota(fsName: string, deltas: QuotaDelta[], client: string, seq: number): Promise<Quota[]> {
    return (await this.mds.syncQuota({ fsName, deltas, client, seq })).quotas;
  }
}
