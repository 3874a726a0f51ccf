// The MDS's RPC services: MdsService, TopologyService, HeartbeatService. Every call first asks
// the node for the term it may serve under (NOT_LEADER with the leader's address otherwise);
// handlers are thin: checks of the request, then the term's managers.
import { CurveError, StatusCode } from '../common/index.ts';
import { HeartbeatService } from '../gen/heartbeat_pb.ts';
import { MdsService } from '../gen/mds_pb.ts';
import { TopologyService, type Copyset } from '../gen/topology_pb.ts';
import type { ServiceImplOf } from '../rpc/index.ts';
import type { MdsNode } from './node.ts';
import type { MdsTerm } from './term.ts';
import { csKey } from './topology/topology.ts';
import { FsAccess, checkRegistrationName, redactFsInfo } from './auth/index.ts';
import { copysetForClient, copysetInfo, copysetLocation, metaServerInfo } from './topology/views.ts';

function id32(x: number, what: string): number {
  if (!(Number.isInteger(x) && x > 0 && x <= 0xffffffff)) throw new CurveError(StatusCode.PARAM_ERROR, `invalid ${what} ${x}`);
  return x;
}

/** The node serving the calls; UNAVAILABLE while the process is still starting. */
export type NodeRef = () => MdsNode | undefined;

function serving(ref: NodeRef): MdsTerm {
  const node = ref();
  if (!node) throw new CurveError(StatusCode.UNAVAILABLE, 'MDS is starting');
  return node.serving();
}

/** `access` checks the fs-scoped calls (an fs client may use only its own fs); see auth/policy.ts. */
export function mdsService(ref: NodeRef, access = new FsAccess(false)): ServiceImplOf<typeof MdsService> {
  const term = () => serving(ref);
  return {
    async createFs(req) {
      return { fsInfo: await term().fs.createFs(req) };
    },
    getFsInfo(req, ctx) {
      const fs = term().fs;
      const info = fs.get({ fsId: req.fsId, fsName: req.fsName });
      access.check(ctx, info.fsName, 'GetFsInfo');
      // An fs deleted with --force keeps its blocks: answered without its data store, so the
      // metaservers dropping its partitions delete metadata only (fs-data.ts: "no data store").
      return { fsInfo: fs.withUsage(info.keepData ? { ...info, dataStore: undefined } : info) };
    },
    listClusterFsInfo() {
      // A listing is for operators and tools: never the data store's credentials.
      const fs = term().fs;
      return { fsInfo: fs.list().map((f) => redactFsInfo(fs.withUsage(f))) };
    },
    async updateFsInfo(req) {
      if (req.recycleTimeHour !== undefined) return { fsInfo: await term().fs.setTrashRetention(req.fsName, req.recycleTimeHour) };
      return { fsInfo: await term().fs.updateFs(req.fsName, req.capacity) };
    },
    async deleteFs(req) {
      await term().fs.deleteFs(req.fsName, { force: req.force });
      return {};
    },
    async mountFs(req, ctx) {
      access.check(ctx, req.fsName, 'MountFs');
      const t = term();
      const r = await t.fs.mount(req.fsName, req.mountpoint);
      return { fsInfo: r.fs, sessionId: r.sessionId, sessionTimeoutMs: t.fs.opts.sessionTimeoutMs };
    },
    async umountFs(req, ctx) {
      access.check(ctx, req.fsName, 'UmountFs');
      await term().fs.umount(req.fsName, req.sessionId, req.mountpoint);
      return {};
    },
    async refreshSession(req, ctx) {
      access.check(ctx, req.fsName, 'RefreshSession');
      const t = term();
      const r = await t.fs.refresh(req.fsName, req.sessionId, req.mountpoint);
      const u = t.fs.usage(r.fs.fsId);
      return {
        enableSumInDir: r.fs.enableSumInDir,
        fsCapacity: r.fs.capacity,
        fsMaxInodes: r.fs.maxInodes,
        fsUsedBytes: u.bytes,
        fsUsedInodes: u.inodes,
        fsUsageComplete: u.complete,
        fsPartitionNextIds: u.nextIds,
        sessionValid: r.valid,
        sessionTimeoutMs: t.fs.opts.sessionTimeoutMs,
      };
    },
    async allocateS3Chunk(req, ctx) {
      const t = term();
      access.check(ctx, t.fs.get({ fsId: id32(req.fsId, 'fs id') }).fsName, 'AllocateS3Chunk');
      return { beginChunkId: await t.fs.allocateChunks(req.fsId, req.chunkIdNum) };
    },
    ...quotaHandlers(term, access),
  };
}

/** Directory, user and group quotas (src/mds/quota.ts): set/get/list/delete for operators, sync for clients. */
function quotaHandlers(term: () => MdsTerm, access: FsAccess): Pick<ServiceImplOf<typeof MdsService>, 'setQuota' | 'getQuota' | 'listQuota' | 'deleteQuota' | 'syncQuota'> {
  const fsIdOf = (t: MdsTerm, fsName: string) => t.fs.get({ fsName }).fsId;
  return {
    async setQuota(req) {
      const t = term();
      if (!req.quota) throw new CurveError(StatusCode.PARAM_ERROR, 'SetQuota without a quota');
      return { quota: await t.quota.set(fsIdOf(t, req.fsName), req.quota, req.setUsage) };
    },
    getQuota(req, ctx) {
      access.check(ctx, req.fsName, 'GetQuota');
      const t = term();
      return { quota: t.quota.get(fsIdOf(t, req.fsName), req) };
    },
    listQuota(req, ctx) {
      access.check(ctx, req.fsName, 'ListQuota');
      const t = term();
      return { quotas: t.quota.list(fsIdOf(t, req.fsName)) };
    },
    async deleteQuota(req) {
      const t = term();
      await t.quota.delete(fsIdOf(t, req.fsName), req);
      return {};
    },
    async syncQuota(req, ctx) {
      access.check(ctx, req.fsName, 'SyncQuota');
      const t = term();
      return { quotas: await t.quota.sync(fsIdOf(t, req.fsName), req.deltas, req.client, req.seq) };
    },
  };
}

export function topologyService(ref: NodeRef, access = new FsAccess(false)): ServiceImplOf<typeof TopologyService> {
  const term = () => serving(ref);
  const now = () => ref()!.clock.now();
  const metaserver = (t: MdsTerm, id: number) => {
    const ms = t.topo.metaservers.get(id);
    if (!ms) throw new CurveError(StatusCode.TOPO_METASERVER_NOT_FOUND, `metaserver ${id} not found`);
    return ms;
  };
  const server = (t: MdsTerm, id: number) => {
    const s = t.topo.servers.get(id);
    if (!s) throw new CurveError(StatusCode.TOPO_SERVER_NOT_FOUND, `server ${id} not found`);
    return s;
  };
  return {
    async registMetaServer(req, ctx) {
      const t = term();
      // With TLS the name is the certificate's, and unique: Raft trusts it (auth/peer-identity.ts).
      checkRegistrationName(req.hostName, ctx.peerCertName, t.topo.metaservers.values(), req.internalIp, req.internalPort);
      const ms = await t.topo.registMetaServer(req);
      return { metaserverId: ms.metaserverId, token: ms.token };
    },
    listMetaServer(req) {
      const t = term();
      if (req.serverId) server(t, req.serverId);
      const list = [...t.topo.metaservers.values()].filter((m) => !req.serverId || m.serverId === req.serverId).sort((a, b) => a.metaserverId - b.metaserverId);
      return { metaserverInfos: list.map((m) => metaServerInfo(t.topo, m, now(), t.recovery)) };
    },
    getMetaServer(req) {
      const t = term();
      const ms = req.metaserverId ? metaserver(t, req.metaserverId) : t.topo.metaserverByAddr(req.hostIp, req.port);
      if (!ms) throw new CurveError(StatusCode.TOPO_METASERVER_NOT_FOUND, `no metaserver at ${req.hostIp}:${req.port}`);
      return { metaserverInfo: metaServerInfo(t.topo, ms, now(), t.recovery) };
    },
    async deleteMetaServer(req) {
      const t = term();
      const id = id32(req.metaserverId, 'metaserver id');
      if (req.decommission) refuseWhileTarget(t, id);
      await t.topo.deleteMetaServer(id, { decommission: req.decommission });
      return {};
    },
    async drainMetaServer(req) {
      const t = term();
      const id = id32(req.metaserverId, 'metaserver id');
      metaserver(t, id);
      if (!req.cancel && !t.topo.draining.has(id)) refuseStuckDrain(t, id);
      await t.topo.setDraining(id, !req.cancel);
      return t.recovery.drainProgress(id);
    },
    async registServer(req) {
      return { serverId: (await term().topo.registServer(req)).serverId };
    },
    getServer(req) {
      const t = term();
      const s = req.serverId ? server(t, req.serverId) : t.topo.serverByHost(req.hostName);
      if (!s) throw new CurveError(StatusCode.TOPO_SERVER_NOT_FOUND, `server ${req.hostName} not found`);
      return { serverInfo: s };
    },
    async deleteServer(req) {
      await term().topo.deleteServer(id32(req.serverId, 'server id'));
      return {};
    },
    listZoneServer(req) {
      const t = term();
      let zoneId = req.zoneId;
      if (!zoneId) {
        const pool = t.topo.poolByName(req.poolName);
        if (!pool) throw new CurveError(StatusCode.TOPO_POOL_NOT_FOUND, `pool ${req.poolName} not found`);
        zoneId = t.topo.zoneByName(pool.poolId, req.zoneName)?.zoneId ?? 0;
      }
      if (!t.topo.zones.has(zoneId)) throw new CurveError(StatusCode.TOPO_ZONE_NOT_FOUND, `zone ${req.zoneId || req.zoneName} not found`);
      return { serverInfo: [...t.topo.servers.values()].filter((s) => s.zoneId === zoneId) };
    },
    async createZone(req) {
      return { zoneInfo: await term().topo.createZone(req.zoneName, req.poolName) };
    },
    async deleteZone(req) {
      await term().topo.deleteZone(id32(req.zoneId, 'zone id'));
      return {};
    },
    getZone(req) {
      const z = term().topo.zones.get(req.zoneId);
      if (!z) throw new CurveError(StatusCode.TOPO_ZONE_NOT_FOUND, `zone ${req.zoneId} not found`);
      return { zoneInfo: z };
    },
    listPoolZone(req) {
      const t = term();
      if (!t.topo.pools.has(req.poolId)) throw new CurveError(StatusCode.TOPO_POOL_NOT_FOUND, `pool ${req.poolId} not found`);
      return { zones: [...t.topo.zones.values()].filter((z) => z.poolId === req.poolId) };
    },
    async createPool(req) {
      const replicas = req.replicaNum || 3;
      return { poolInfo: await term().topo.createPool(req.poolName, replicas, req.zoneNum || replicas, req.copysetNum) };
    },
    async deletePool(req) {
      await term().topo.deletePool(id32(req.poolId, 'pool id'));
      return {};
    },
    getPool(req) {
      const p = term().topo.pools.get(req.poolId);
      if (!p) throw new CurveError(StatusCode.TOPO_POOL_NOT_FOUND, `pool ${req.poolId} not found`);
      return { poolInfo: p };
    },
    listPool() {
      return { poolInfos: [...term().topo.pools.values()] };
    },
    getMetaServerListInCopysets(req) {
      const t = term();
      return {
        csInfo: req.copysetId.map((id) => {
          const cs = t.topo.copysets.get(csKey(req.poolId, id));
          if (!cs) throw new CurveError(StatusCode.TOPO_COPYSET_NOT_FOUND, `copyset ${req.poolId}:${id} not found`);
          return copysetLocation(t.topo, cs);
        }),
      };
    },
    async createPartition(req, ctx) {
      const t = term();
      access.check(ctx, t.fs.get({ fsId: id32(req.fsId, 'fs id') }).fsName, 'CreatePartition');
      return { partitionInfoList: await t.fs.createPartitions(id32(req.fsId, 'fs id'), req.count || 3) };
    },
    async deletePartition(req) {
      await term().fs.deletePartition(id32(req.partitionId, 'partition id'));
      return {};
    },
    listPartition(req) {
      const t = term();
      t.fs.get({ fsId: id32(req.fsId, 'fs id') });
      return { partitionInfoList: t.topo.partitionsOfFs(req.fsId).map((p) => t.topo.partitionWithStats(p)) };
    },
    getCopysetOfPartition(req) {
      const t = term();
      const copysetMap: Record<number, Copyset> = {};
      for (const id of req.partitionId) {
        const p = t.topo.partitions.get(id);
        if (!p) throw new CurveError(StatusCode.TOPO_PARTITION_NOT_FOUND, `partition ${id} not found`);
        const cs = t.topo.copysets.get(csKey(p.poolId, p.copysetId));
        if (!cs) throw new CurveError(StatusCode.TOPO_COPYSET_NOT_FOUND, `copyset ${p.poolId}:${p.copysetId} not found`);
        copysetMap[id] = copysetForClient(t.topo, cs);
      }
      return { copysetMap };
    },
    getCopysetsInfo(req) {
      const t = term();
      const out = [];
      for (const k of req.copysetKeys) {
        const cs = t.topo.copysets.get(csKey(k.poolId, k.copysetId));
        if (cs) out.push(copysetInfo(t.topo, cs, t.recovery, now()));
      }
      return { copysetValues: out };
    },
    listCopysetInfo() {
      const t = term();
      return { copysetValues: [...t.topo.copysets.values()].map((cs) => copysetInfo(t.topo, cs, t.recovery, now())) };
    },
    listTopology() {
      const t = term();
      return {
        clusterId: t.topo.cluster.clusterId,
        pools: [...t.topo.pools.values()],
        zones: [...t.topo.zones.values()],
        servers: [...t.topo.servers.values()],
        metaservers: [...t.topo.metaservers.values()].map((m) => metaServerInfo(t.topo, m, now(), t.recovery)),
      };
    },
  };
}

/** A drain that could never finish is refused before it starts: name the copysets with nowhere to go. */
function refuseStuckDrain(t: MdsTerm, id: number): void {
  const stuck = t.recovery.drainBlockers(id);
  if (stuck.length === 0) return;
  const list = stuck.slice(0, 5).map((cs) => `${cs.poolId}:${cs.copysetId} (members ${cs.members.join(',')})`).join(', ');
  throw new CurveError(
    StatusCode.TOPO_NOT_ENOUGH_METASERVERS,
    `metaserver ${id} cannot be drained: ${stuck.length} of its copysets would have nowhere to go (${list}${stuck.length > 5 ? ', …' : ''}); ` +
      `every other metaserver of the pool is a member, draining or offline, and a copyset keeps ${stuck[0]!.replicaNum} members — add a metaserver first`,
  );
}

/** A metaserver a membership change is moving a replica onto must not be removed under it. */
function refuseWhileTarget(t: MdsTerm, id: number): void {
  const incoming = [...t.recovery.operators.values()].filter((o) => o.type === 'change_peer' && o.newPeer === id);
  if (incoming.length > 0) {
    throw new CurveError(StatusCode.TOPO_CANNOT_REMOVE_WHEN_NOT_EMPTY, `metaserver ${id} is receiving a replica of copyset ${incoming[0]!.poolId}:${incoming[0]!.copysetId}; try again when the change is over`);
  }
}

export function heartbeatService(ref: NodeRef): ServiceImplOf<typeof HeartbeatService> {
  return {
    metaServerHeartbeat(req) {
      return serving(ref).heartbeat.handle(req);
    },
  };
}
