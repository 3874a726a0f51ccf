// The cluster topology of one leadership term: pools → zones → servers → metaservers, copysets
// and partitions. Loaded from the store when this MDS becomes leader; every change is written
// (fenced) first and applied in memory after the write succeeded, so memory never runs ahead of
// the store. Runtime facts that heartbeats bring (liveness, leaders, partition counters) live
// only in memory and are rebuilt by the next heartbeats after a failover.
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { createLogger, CurveError, StatusCode, type Clock, type Random } from '../../common/index.ts';
import { PartitionInfoSchema, PartitionStatus, PeerSchema, type PartitionInfo, type Peer } from '../../gen/common_pb.ts';
import {
  ClusterDataSchema,
  CopysetDataSchema,
  MetaServerDataSchema,
  OnlineState,
  PoolInfoSchema,
  ServerInfoSchema,
  ZoneInfoSchema,
  type ClusterData,
  type CopysetData,
  type MetaServerData,
  type PoolInfo,
  type ServerInfo,
  type ZoneInfo,
} from '../../gen/topology_pb.ts';
import type { FencedStore } from '../fenced-store.ts';
import type { IdAllocator } from '../id-allocator.ts';
import { keys } from '../keys.ts';
import { Mutex } from '../mutex.ts';
import type { KvOp } from '../store/index.ts';

export const DEFAULT_POOL = 'defaultpool';

export interface TopologyOptions {
  /** Silence after which a metaserver is UNSTABLE (CurveFS 30 s). */
  unstableAfterMs: number;
  /** Silence after which it is OFFLINE: down (its copysets are healed elsewhere once it has been
   *  OFFLINE for the recovery scheduler's heal delay). */
  offlineAfterMs: number;
  /** Replicas per copyset of the default pool. */
  replicaNum: number;
}

export interface TopologyIds {
  pool: IdAllocator;
  zone: IdAllocator;
  server: IdAllocator;
  metaserver: IdAllocator;
  copyset: IdAllocator;
  partition: IdAllocator;
}

/** What heartbeats told us about a metaserver. */
export interface MetaServerRuntime {
  lastSeen: number;
  heard: boolean;
  startTime: number;
  leaderCount: number;
  diskUsed: number;
  diskThreshold: number;
  memoryUsed: number;
  memoryThreshold: number;
}

/** Counters of one partition as its copyset's leader last reported them. */
export interface PartitionStats {
  nextId: number;
  inodeNum: number;
  dentryNum: number;
  /** Sum of the lengths of its regular files (unreclaimed deleted ones included). */
  fileBytes: number;
  status: PartitionStatus;
}

/** Space an fs uses, summed over its partitions' last reports. */
export interface FsUsage {
  bytes: number;
  inodes: number;
  /** False while some partition has not reported since this MDS began to lead. */
  complete: boolean;
  /** Each reported partition's id range and next inode id, as of the report counted in `inodes`. */
  nextIds: { start: number; end: number; nextId: number }[];
}

/** What the copyset's leader told us. */
export interface CopysetRuntime {
  leaderId: number;
  term: number;
  reportedAt: number;
  /** Partition counters by id, from the leader's report. */
  partitions: Map<number, PartitionStats>;
  /**
   * Members whose replica cannot open (damaged storage), as their own metaserver reports it, with
   * the reason; healing replaces them like dead members. In memory: heartbeats rebuild it.
   */
  broken: Map<number, string>;
}

export function csKey(poolId: number, copysetId: number): string {
  return `${poolId}:${copysetId}`;
}

function encode<D extends DescMessage>(schema: D, msg: MessageShape<D>): Uint8Array {
  return toBinary(schema, msg);
}

const te = new TextEncoder();
const log = createLogger('mds/topology');

export interface MetaserverRegistration {
  hostName: string;
  internalIp: string;
  internalPort: number;
  externalIp: string;
  externalPort: number;
}

export interface ServerRegistration extends MetaserverRegistration {
  zoneName: string;
  poolName: string;
}

export class Topology {
  readonly pools = new Map<number, PoolInfo>();
  readonly zones = new Map<number, ZoneInfo>();
  readonly servers = new Map<number, ServerInfo>();
  readonly metaservers = new Map<number, MetaServerData>();
  readonly copysets = new Map<string, CopysetData>();
  readonly partitions = new Map<number, PartitionInfo>();
  cluster: ClusterData = create(ClusterDataSchema);
  readonly msRuntime = new Map<number, MetaServerRuntime>();
  readonly csRuntime = new Map<string, CopysetRuntime>();
  /**
   * Metaservers being drained (`curvefs metaserver drain`): the recovery scheduler moves their
   * replicas away and no new replica is placed on them. Stored in each one's record
   * (`MetaServerData.draining`, written by `setDraining`), so the next leader continues a drain.
   */
  readonly draining = new Set<number>();

  private constructor(
    private readonly store: FencedStore,
    private readonly ids: TopologyIds,
    private readonly clock: Clock,
    private readonly random: Random,
    readonly opts: TopologyOptions,
  ) {}

  static async load(store: FencedStore, ids: TopologyIds, clock: Clock, random: Random, opts: TopologyOptions): Promise<Topology> {
    const t = new Topology(store, ids, clock, random, opts);
    const read = async <D extends DescMessage>(prefix: string, schema: D) =>
      (await store.list(prefix)).map((e) => fromBinary(schema, e.value) as MessageShape<D>);
    for (const p of await read(keys.poolPrefix, PoolInfoSchema)) t.pools.set(p.poolId, p);
    for (const z of await read(keys.zonePrefix, ZoneInfoSchema)) t.zones.set(z.zoneId, z);
    for (const s of await read(keys.serverPrefix, ServerInfoSchema)) t.servers.set(s.serverId, s);
    for (const m of await read(keys.metaserverPrefix, MetaServerDataSchema)) {
      t.metaservers.set(m.metaserverId, m);
      if (m.draining) t.draining.add(m.metaserverId);
    }
    for (const c of await read(keys.copysetPrefix, CopysetDataSchema)) t.copysets.set(csKey(c.poolId, c.copysetId), c);
    for (const p of await read(keys.partitionPrefix, PartitionInfoSchema)) t.partitions.set(p.partitionId, p);
    const cluster = await store.get(keys.cluster);
    if (cluster) {
      t.cluster = fromBinary(ClusterDataSchema, cluster.value);
    } else {
      const id = Array.from({ length: 4 }, () => t.random.int(0, 0x10000).toString(16).padStart(4, '0')).join('-');
      const c = create(ClusterDataSchema, { clusterId: id });
      await store.commit([{ type: 'put', key: keys.cluster, value: encode(ClusterDataSchema, c) }], [{ key: keys.cluster, target: 'createRevision', equals: 0 }]);
      t.cluster = c;
    }
    // Every metaserver starts "just seen" (CurveFS does the same): a new leader must not declare
    // the whole cluster offline before the first heartbeats arrive.
    const now = clock.now();
    for (const id of t.metaservers.keys()) t.msRuntime.set(id, freshRuntime(now));
    await t.foldDuplicates();
    return t;
  }

  /**
   * Pools, zones and servers stored twice under one name — left by registrations that raced
   * before topology changes ran one at a time — are folded into the one with the lowest id: an
   * empty duplicate pool's zones and servers, a duplicate zone's servers, a duplicate server's
   * metaservers move over, then the duplicate's record is deleted, one store transaction per fold.
   * Copysets do not name zones or servers, so nothing else changes; a duplicate pool that holds
   * copysets is left as it is (its copysets would have to move) and logged.
   */
  private async foldDuplicates(): Promise<void> {
    const keep = <T>(items: Iterable<T>, name: (x: T) => string, id: (x: T) => number) => {
      const first = new Map<string, T>();
      const dups: [T, T][] = [];
      for (const x of [...items].sort((a, b) => id(a) - id(b))) {
        const kept = first.get(name(x));
        if (kept) dups.push([x, kept]);
        else first.set(name(x), x);
      }
      return dups;
    };
    for (const [dup, kept] of keep(this.pools.values(), (p) => p.poolName, (p) => p.poolId)) {
      if ([...this.copysets.values()].some((c) => c.poolId === dup.poolId)) {
        log.error('two pools have one name and both hold copysets; left as they are', { name: dup.poolName, pools: [kept.poolId, dup.poolId] });
        continue;
      }
      const zones = [...this.zones.values()].filter((z) => z.poolId === dup.poolId).map((z) => ({ ...z, poolId: kept.poolId, poolName: kept.poolName }));
      const servers = [...this.servers.values()].filter((v) => v.poolId === dup.poolId).map((v) => ({ ...v, poolId: kept.poolId, poolName: kept.poolName }));
      await this.store.commit([
        ...zones.map((z) => ({ type: 'put' as const, key: keys.zone(z.zoneId), value: encode(ZoneInfoSchema, z) })),
        ...servers.map((v) => ({ type: 'put' as const, key: keys.server(v.serverId), value: encode(ServerInfoSchema, v) })),
        { type: 'delete', key: keys.pool(dup.poolId) },
      ]);
      for (const z of zones) this.zones.set(z.zoneId, z);
      for (const v of servers) this.servers.set(v.serverId, v);
      this.pools.delete(dup.poolId);
      log.warn('folded a duplicate pool into the first of its name', { name: dup.poolName, kept: kept.poolId, removed: dup.poolId });
    }
    for (const [dup, kept] of keep(this.zones.values(), (z) => `${z.poolId}/${z.zoneName}`, (z) => z.zoneId)) {
      const servers = [...this.servers.values()].filter((v) => v.zoneId === dup.zoneId).map((v) => ({ ...v, zoneId: kept.zoneId, zoneName: kept.zoneName }));
      await this.store.commit([
        ...servers.map((v) => ({ type: 'put' as const, key: keys.server(v.serverId), value: encode(ServerInfoSchema, v) })),
        { type: 'delete', key: keys.zone(dup.zoneId) },
      ]);
      for (const v of servers) this.servers.set(v.serverId, v);
      this.zones.delete(dup.zoneId);
      log.warn('folded a duplicate zone into the first of its name', { name: dup.zoneName, kept: kept.zoneId, removed: dup.zoneId });
    }
    for (const [dup, kept] of keep(this.servers.values(), (v) => v.hostName, (v) => v.serverId)) {
      const members = [...this.metaservers.values()].filter((m) => m.serverId === dup.serverId).map((m) => ({ ...m, serverId: kept.serverId }));
      await this.store.commit([
        ...members.map((m) => ({ type: 'put' as const, key: keys.metaserver(m.metaserverId), value: encode(MetaServerDataSchema, m) })),
        { type: 'delete', key: keys.server(dup.serverId) },
      ]);
      for (const m of members) this.metaservers.set(m.metaserverId, m);
      this.servers.delete(dup.serverId);
      log.warn('folded a duplicate server into the first of its name', { name: dup.hostName, kept: kept.serverId, removed: dup.serverId });
    }
  }

  // ---- queries ----

  onlineState(metaserverId: number, now = this.clock.now()): OnlineState {
    const rt = this.msRuntime.get(metaserverId);
    if (!rt) return OnlineState.OFFLINE;
    const silent = now - rt.lastSeen;
    if (silent < this.opts.unstableAfterMs) return OnlineState.ONLINE;
    if (silent < this.opts.offlineAfterMs) return OnlineState.UNSTABLE;
    return OnlineState.OFFLINE;
  }

  /** When metaserver `id` became OFFLINE (last heartbeat + the offline bound); undefined while it is not. */
  offlineSince(metaserverId: number, now = this.clock.now()): number | undefined {
    const rt = this.msRuntime.get(metaserverId);
    if (!rt) return undefined;
    const since = rt.lastSeen + this.opts.offlineAfterMs;
    return since <= now ? since : undefined;
  }

  poolByName(name: string): PoolInfo | undefined {
    for (const p of this.pools.values()) if (p.poolName === name) return p;
    return undefined;
  }

  zoneByName(poolId: number, name: string): ZoneInfo | undefined {
    for (const z of this.zones.values()) if (z.poolId === poolId && z.zoneName === name) return z;
    return undefined;
  }

  serverByHost(hostName: string): ServerInfo | undefined {
    for (const s of this.servers.values()) if (s.hostName === hostName) return s;
    return undefined;
  }

  serverByIp(ip: string): ServerInfo | undefined {
    for (const s of this.servers.values()) if (s.internalIp === ip || s.externalIp === ip) return s;
    return undefined;
  }

  metaserverByAddr(ip: string, port: number): MetaServerData | undefined {
    for (const m of this.metaservers.values()) if (m.internalIp === ip && m.internalPort === port) return m;
    return undefined;
  }

  /** Copysets a metaserver is a member of. */
  copysetsOf(metaserverId: number): CopysetData[] {
    return [...this.copysets.values()].filter((c) => c.metaserverIds.includes(metaserverId));
  }

  partitionsOfCopyset(poolId: number, copysetId: number): PartitionInfo[] {
    return [...this.partitions.values()].filter((p) => p.poolId === poolId && p.copysetId === copysetId);
  }

  partitionsOfFs(fsId: number): PartitionInfo[] {
    return [...this.partitions.values()].filter((p) => p.fsId === fsId).sort((a, b) => a.start - b.start);
  }

  /** "ip:port:0" of a metaserver, as Raft and clients name it (the internal address). */
  peerOf(metaserverId: number): Peer {
    const m = this.metaservers.get(metaserverId);
    return create(PeerSchema, { id: metaserverId, address: m ? `${m.internalIp}:${m.internalPort}:0` : '' });
  }

  /** "ip:port" the MDS uses for admin calls to a metaserver. */
  adminAddress(metaserverId: number): string | undefined {
    const m = this.metaservers.get(metaserverId);
    return m ? `${m.internalIp}:${m.internalPort}` : undefined;
  }

  // ---- pools, zones, servers ----

  // Every change below reads the topology, awaits an id and a store write, then updates memory;
  // two at once could both pass the same check (metaservers of one host registering together
  // made two zones "zone-<ip>", and the balancer then could never move the replicas of the one
  // alone in its zone). They run one at a time; the *Now bodies assume they hold the turn.
  private readonly changes = new Mutex();

  createPool(name: string, replicaNum: number, zoneNum: number, copysetNum: number): Promise<PoolInfo> {
    return this.changes.run(() => this.createPoolNow(name, replicaNum, zoneNum, copysetNum));
  }

  createZone(zoneName: string, poolName: string): Promise<ZoneInfo> {
    return this.changes.run(() => this.createZoneNow(zoneName, poolName));
  }

  registServer(req: ServerRegistration): Promise<ServerInfo> {
    return this.changes.run(() => this.registServerNow(req));
  }

  deleteServer(serverId: number): Promise<void> {
    return this.changes.run(() => this.deleteServerNow(serverId));
  }

  deleteZone(zoneId: number): Promise<void> {
    return this.changes.run(() => this.deleteZoneNow(zoneId));
  }

  deletePool(poolId: number): Promise<void> {
    return this.changes.run(() => this.deletePoolNow(poolId));
  }

  /** Registers a metaserver (see registMetaServerNow). */
  registMetaServer(req: MetaserverRegistration): Promise<MetaServerData> {
    return this.changes.run(() => this.registMetaServerNow(req));
  }

  /** Removes a metaserver's record (see deleteMetaServerNow). */
  deleteMetaServer(id: number, opts: { decommission?: boolean } = {}): Promise<void> {
    return this.changes.run(() => this.deleteMetaServerNow(id, opts));
  }

  private async createPoolNow(name: string, replicaNum: number, zoneNum: number, copysetNum: number): Promise<PoolInfo> {
    if (!name) throw new CurveError(StatusCode.PARAM_ERROR, 'pool name is empty');
    if (!(replicaNum >= 1 && replicaNum <= 7)) throw new CurveError(StatusCode.PARAM_ERROR, `replica count ${replicaNum} is not in [1, 7]`);
    if (this.poolByName(name)) throw new CurveError(StatusCode.TOPO_POOL_EXIST, `pool ${name} exists`);
    const pool = create(PoolInfoSchema, {
      poolId: await this.ids.pool.allocate(),
      poolName: name,
      createTimeMs: Date.now(),
      replicaNum,
      zoneNum: zoneNum || replicaNum,
      copysetNum,
    });
    await this.store.commit([{ type: 'put', key: keys.pool(pool.poolId), value: encode(PoolInfoSchema, pool) }]);
    this.pools.set(pool.poolId, pool);
    return pool;
  }

  private async createZoneNow(zoneName: string, poolName: string): Promise<ZoneInfo> {
    if (!zoneName) throw new CurveError(StatusCode.PARAM_ERROR, 'zone name is empty');
    const pool = this.poolByName(poolName);
    if (!pool) throw new CurveError(StatusCode.TOPO_POOL_NOT_FOUND, `pool ${poolName} not found`);
    if (this.zoneByName(pool.poolId, zoneName)) throw new CurveError(StatusCode.TOPO_NAME_DUPLICATED, `zone ${zoneName} exists in pool ${poolName}`);
    const zone = create(ZoneInfoSchema, { zoneId: await this.ids.zone.allocate(), zoneName, poolId: pool.poolId, poolName: pool.poolName });
    await this.store.commit([{ type: 'put', key: keys.zone(zone.zoneId), value: encode(ZoneInfoSchema, zone) }]);
    this.zones.set(zone.zoneId, zone);
    return zone;
  }

  private async registServerNow(req: ServerRegistration): Promise<ServerInfo> {
    if (!req.hostName || !req.internalIp) throw new CurveError(StatusCode.PARAM_ERROR, 'server host name and internal ip are required');
    const pool = this.poolByName(req.poolName);
    if (!pool) throw new CurveError(StatusCode.TOPO_POOL_NOT_FOUND, `pool ${req.poolName} not found`);
    const zone = this.zoneByName(pool.poolId, req.zoneName);
    if (!zone) throw new CurveError(StatusCode.TOPO_ZONE_NOT_FOUND, `zone ${req.zoneName} not found in pool ${req.poolName}`);
    if (this.serverByHost(req.hostName)) throw new CurveError(StatusCode.TOPO_NAME_DUPLICATED, `server ${req.hostName} exists`);
    const server = create(ServerInfoSchema, {
      serverId: await this.ids.server.allocate(),
      hostName: req.hostName,
      internalIp: req.internalIp,
      internalPort: req.internalPort,
      externalIp: req.externalIp || req.internalIp,
      externalPort: req.externalPort,
      zoneId: zone.zoneId,
      zoneName: zone.zoneName,
      poolId: pool.poolId,
      poolName: pool.poolName,
    });
    await this.store.commit([{ type: 'put', key: keys.server(server.serverId), value: encode(ServerInfoSchema, server) }]);
    this.servers.set(server.serverId, server);
    return server;
  }

  private async deleteServerNow(serverId: number): Promise<void> {
    if (!this.servers.has(serverId)) throw new CurveError(StatusCode.TOPO_SERVER_NOT_FOUND, `server ${serverId} not found`);
    if ([...this.metaservers.values()].some((m) => m.serverId === serverId)) {
      throw new CurveError(StatusCode.TOPO_CANNOT_REMOVE_WHEN_NOT_EMPTY, `server ${serverId} still has metaservers`);
    }
    await this.store.commit([{ type: 'delete', key: keys.server(serverId) }]);
    this.servers.delete(serverId);
  }

  private async deleteZoneNow(zoneId: number): Promise<void> {
    if (!this.zones.has(zoneId)) throw new CurveError(StatusCode.TOPO_ZONE_NOT_FOUND, `zone ${zoneId} not found`);
    if ([...this.servers.values()].some((s) => s.zoneId === zoneId)) throw new CurveError(StatusCode.TOPO_CANNOT_REMOVE_WHEN_NOT_EMPTY, `zone ${zoneId} still has servers`);
    await this.store.commit([{ type: 'delete', key: keys.zone(zoneId) }]);
    this.zones.delete(zoneId);
  }

  private async deletePoolNow(poolId: number): Promise<void> {
    if (!this.pools.has(poolId)) throw new CurveError(StatusCode.TOPO_POOL_NOT_FOUND, `pool ${poolId} not found`);
    if ([...this.zones.values()].some((z) => z.poolId === poolId) || [...this.copysets.values()].some((c) => c.poolId === poolId)) {
      throw new CurveError(StatusCode.TOPO_CANNOT_REMOVE_WHEN_NOT_EMPTY, `pool ${poolId} still has zones or copysets`);
    }
    await this.store.commit([{ type: 'delete', key: keys.pool(poolId) }]);
    this.pools.delete(poolId);
  }

  // ---- metaservers ----

  /**
   * Registers a metaserver (digest §6.7). Idempotent for a live metaserver at the same address
   * that holds no copysets. A host without a server record gets one on the fly: pool
   * `defaultpool`, zone `zone-<ip>`, server `server-<ip>` — one zone per host, so replicas spread
   * over hosts when there are several, and over processes on one machine.
   */
  private async registMetaServerNow(req: MetaserverRegistration): Promise<MetaServerData> {
    if (!req.internalIp || !(req.internalPort > 0 && req.internalPort < 65536)) {
      throw new CurveError(StatusCode.PARAM_ERROR, `invalid metaserver address ${req.internalIp}:${req.internalPort}`);
    }
    const externalIp = req.externalIp || req.internalIp;
    const externalPort = req.externalPort || req.internalPort;
    // A live metaserver at this address (an OFFLINE one at the same address is a dead
    // predecessor: the newcomer gets a new id).
    const existing = [...this.metaservers.values()].find(
      (m) => m.internalIp === req.internalIp && m.internalPort === req.internalPort && this.onlineState(m.metaserverId) !== OnlineState.OFFLINE,
    );
    if (existing) {
      if (this.copysetsOf(existing.metaserverId).length > 0) {
        throw new CurveError(StatusCode.TOPO_METASERVER_EXIST, `metaserver ${existing.metaserverId} at ${req.internalIp}:${req.internalPort} exists and holds copysets`);
      }
      return existing;
    }
    const server = this.serverByIp(req.internalIp) ?? (await this.autoServer(req.hostName, req.internalIp, externalIp));
    const ms = create(MetaServerDataSchema, {
      metaserverId: await this.ids.metaserver.allocate(),
      hostname: req.hostName || req.internalIp,
      token: Array.from({ length: 8 }, () => String.fromCharCode(97 + this.random.int(0, 26))).join(''),
      internalIp: req.internalIp,
      internalPort: req.internalPort,
      externalIp,
      externalPort,
      serverId: server.serverId,
    });
    await this.store.commit([{ type: 'put', key: keys.metaserver(ms.metaserverId), value: encode(MetaServerDataSchema, ms) }]);
    this.metaservers.set(ms.metaserverId, ms);
    this.msRuntime.set(ms.metaserverId, freshRuntime(this.clock.now()));
    return ms;
  }

  private async autoServer(hostName: string, ip: string, externalIp: string): Promise<ServerInfo> {
    const pool = this.poolByName(DEFAULT_POOL) ?? (await this.createPoolNow(DEFAULT_POOL, this.opts.replicaNum, this.opts.replicaNum, 0));
    const zoneName = `zone-${ip}`;
    const zone = this.zoneByName(pool.poolId, zoneName) ?? (await this.createZoneNow(zoneName, pool.poolName));
    return this.registServerNow({
      hostName: `server-${ip}`,
      internalIp: ip,
      internalPort: 0,
      externalIp,
      externalPort: 0,
      zoneName: zone.zoneName,
      poolName: pool.poolName,
    }).catch((e) => {
      if (hostName && e instanceof CurveError && e.status === StatusCode.TOPO_NAME_DUPLICATED) return this.serverByHost(`server-${ip}`)!;
      throw e;
    });
  }

  /**
   * Removes a metaserver's record. Plain deletion (DeleteMetaServer) takes an OFFLINE one only;
   * `decommission` also takes a running one — it was drained, and the operator stops it next
   * (its heartbeats are then refused as from an unknown metaserver). Either way it must hold no
   * copyset replica: removing a member would leave that copyset a replica short.
   */
  private async deleteMetaServerNow(id: number, opts: { decommission?: boolean } = {}): Promise<void> {
    if (!this.metaservers.has(id)) throw new CurveError(StatusCode.TOPO_METASERVER_NOT_FOUND, `metaserver ${id} not found`);
    if (!opts.decommission && this.onlineState(id) !== OnlineState.OFFLINE) throw new CurveError(StatusCode.TOPO_CANNOT_REMOVE_NOT_OFFLINE, `metaserver ${id} is not offline`);
    const held = this.copysetsOf(id).length;
    if (held > 0) {
      throw new CurveError(
        StatusCode.TOPO_CANNOT_REMOVE_WHEN_NOT_EMPTY,
        `metaserver ${id} still holds ${held} copyset replica${held === 1 ? '' : 's'}; drain it first (curvefs metaserver decommission ${id} drains, waits, then removes it)`,
      );
    }
    await this.store.commit([{ type: 'delete', key: keys.metaserver(id) }]);
    this.metaservers.delete(id);
    this.msRuntime.delete(id);
    this.draining.delete(id);
  }

  /** Starts or stops draining metaserver `id`; stored with its record before memory changes. */
  async setDraining(id: number, on: boolean): Promise<void> {
    const ms = this.metaservers.get(id);
    if (!ms) throw new CurveError(StatusCode.TOPO_METASERVER_NOT_FOUND, `metaserver ${id} not found`);
    if (ms.draining !== on) {
      const next = create(MetaServerDataSchema, { ...ms, draining: on });
      await this.store.commit([{ type: 'put', key: keys.metaserver(id), value: encode(MetaServerDataSchema, next) }]);
      this.metaservers.set(id, next);
    }
    if (on) this.draining.add(id);
    else this.draining.delete(id);
  }

  // ---- copysets ----

  async addCopyset(poolId: number, metaserverIds: number[]): Promise<CopysetData> {
    const cs = create(CopysetDataSchema, { poolId, copysetId: await this.ids.copyset.allocate(), epoch: 0, metaserverIds });
    await this.putCopyset(cs);
    return cs;
  }

  /** Stores a new membership (a higher epoch reported by the leader). */
  async putCopyset(cs: CopysetData): Promise<void> {
    await this.store.commit([{ type: 'put', key: keys.copyset(cs.poolId, cs.copysetId), value: encode(CopysetDataSchema, cs) }]);
    this.copysets.set(csKey(cs.poolId, cs.copysetId), cs);
  }

  async removeCopyset(poolId: number, copysetId: number): Promise<void> {
    await this.store.commit([{ type: 'delete', key: keys.copyset(poolId, copysetId) }]);
    this.copysets.delete(csKey(poolId, copysetId));
    this.csRuntime.delete(csKey(poolId, copysetId));
  }

  // ---- partitions ----

  /** The inode range of the next partition of `fsId`: [start, start + 2^20 − 1]. */
  nextRangeStart(fsId: number): number {
    return this.cluster.fsNextInodeId[fsId] ?? 0;
  }

  /** Stores a new partition and advances the fs's next range, in one transaction. */
  async addPartition(p: PartitionInfo): Promise<void> {
    const cluster = create(ClusterDataSchema, { clusterId: this.cluster.clusterId, fsNextInodeId: { ...this.cluster.fsNextInodeId, [p.fsId]: p.end + 1 } });
    await this.store.commit([
      { type: 'put', key: keys.partition(p.partitionId), value: encode(PartitionInfoSchema, stored(p)) },
      { type: 'put', key: keys.cluster, value: encode(ClusterDataSchema, cluster) },
    ]);
    this.partitions.set(p.partitionId, p);
    this.cluster = cluster;
  }

  async setPartitionStatus(partitionId: number, status: PartitionStatus): Promise<void> {
    const p = this.partitions.get(partitionId);
    if (!p) throw new CurveError(StatusCode.TOPO_PARTITION_NOT_FOUND, `partition ${partitionId} not found`);
    if (p.status === status) return;
    const next = { ...p, status };
    await this.store.commit([{ type: 'put', key: keys.partition(partitionId), value: encode(PartitionInfoSchema, stored(next)) }]);
    this.partitions.set(partitionId, next);
  }

  /** Removes partition records; `dropFsRange` also forgets the fs's next-range counter (fs gone). */
  async removePartitions(ids: number[], extra: KvOp[] = [], dropFsRange?: number): Promise<void> {
    const ops: KvOp[] = ids.map((id) => ({ type: 'delete', key: keys.partition(id) }) as KvOp).concat(extra);
    let cluster = this.cluster;
    if (dropFsRange !== undefined && dropFsRange in this.cluster.fsNextInodeId) {
      const rest = { ...this.cluster.fsNextInodeId };
      delete rest[dropFsRange];
      cluster = create(ClusterDataSchema, { clusterId: this.cluster.clusterId, fsNextInodeId: rest });
      ops.push({ type: 'put', key: keys.cluster, value: encode(ClusterDataSchema, cluster) });
    }
    if (ops.length > 0) await this.store.commit(ops);
    for (const id of ids) this.partitions.delete(id);
    this.cluster = cluster;
  }

  // ---- heartbeat facts ----

  touch(metaserverId: number, facts: Partial<MetaServerRuntime>): void {
    const rt = this.msRuntime.get(metaserverId) ?? freshRuntime(this.clock.now());
    Object.assign(rt, facts, { lastSeen: this.clock.now(), heard: true });
    this.msRuntime.set(metaserverId, rt);
  }

  csRuntimeOf(poolId: number, copysetId: number): CopysetRuntime {
    const k = csKey(poolId, copysetId);
    let rt = this.csRuntime.get(k);
    if (!rt) this.csRuntime.set(k, (rt = { leaderId: 0, term: 0, reportedAt: 0, partitions: new Map(), broken: new Map() }));
    return rt;
  }

  /** A partition with the counters last reported by its copyset's leader. */
  partitionWithStats(p: PartitionInfo): PartitionInfo {
    const s = this.csRuntime.get(csKey(p.poolId, p.copysetId))?.partitions.get(p.partitionId);
    if (!s) return p;
    return { ...p, nextId: s.nextId, inodeNum: s.inodeNum, dentryNum: s.dentryNum, fileBytes: s.fileBytes };
  }

  /**
   * Used bytes and inodes of an fs: the sum of its partitions' last reports (exact as of each
   * report: the partitions count them in their replicated state). O(partitions of the fs).
   */
  fsUsage(fsId: number): FsUsage {
    let bytes = 0;
    let inodes = 0;
    let complete = true;
    const nextIds: FsUsage['nextIds'] = [];
    for (const p of this.partitionsOfFs(fsId)) {
      const s = this.csRuntime.get(csKey(p.poolId, p.copysetId))?.partitions.get(p.partitionId);
      if (!s) {
        complete = false;
        continue;
      }
      bytes += s.fileBytes;
      inodes += s.inodeNum;
      nextIds.push({ start: p.start, end: p.end, nextId: s.nextId });
    }
    return { bytes, inodes, complete, nextIds };
  }

  encodeValue(value: string): Uint8Array {
    return te.encode(value);
  }
}

function freshRuntime(now: number): MetaServerRuntime {
  return { lastSeen: now, heard: false, startTime: 0, leaderCount: 0, diskUsed: 0, diskThreshold: 0, memoryUsed: 0, memoryThreshold: 0 };
}

/** The persisted form of a partition: counters are heartbeat facts and are not stored. */
function stored(p: PartitionInfo): PartitionInfo {
  return create(PartitionInfoSchema, { ...p, nextId: 0, inodeNum: 0, dentryNum: 0, fileBytes: 0 });
}
