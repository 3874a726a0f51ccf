// Copyset creation and partition allocation (digest §5 "Creation", §6.5).
//
// CreatePartition(fs, n): partitions go to the copysets with the fewest partitions among those
// with room (< maxPartitionsPerCopyset) and a live majority; when fewer such copysets exist than
// partitions are asked for, new copysets are created first (as many as the metaservers can take),
// so an fs's partitions — and their Raft leaders — spread over the cluster. Ranges are handed out
// in order per fs: [next, next + 2^20 − 1], never reused. Each partition is created on its
// copyset's leader, then recorded (with the fs's next range) in one fenced transaction.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode, createLogger, type Random } from '../../common/index.ts';
import { PartitionInfoSchema, PartitionStatus, PeerSchema, type PartitionInfo, type Peer } from '../../gen/common_pb.ts';
import { OnlineState, type CopysetData, type PoolInfo } from '../../gen/topology_pb.ts';
import { Mutex } from '../mutex.ts';
import type { IdAllocator } from '../id-allocator.ts';
import type { CopysetTarget, MetaserverAdmin } from './metaserver-admin.ts';
import { chooseReplicas, copysetsByLoad, type PlacementCandidate } from './placement.ts';
import { csKey, type Topology } from './topology.ts';

const log = createLogger('mds/placement');

/** Inode ids per partition (CurveFS IdNumberInPartition). */
export const PARTITION_SIZE = 1 << 20;
/** Ids 1 (root) and 2 (recycle bin) are reserved; a partition starting at 0 hands out 3 first. */
export const MIN_INODE_ID = 3;

export interface AllocatorOptions {
  maxPartitionsPerCopyset: number;
  maxCopysetsPerMetaserver: number;
}

export const DEFAULT_ALLOCATOR_OPTIONS: AllocatorOptions = { maxPartitionsPerCopyset: 128, maxCopysetsPerMetaserver: 100 };

export class PartitionAllocator {
  private readonly mutex = new Mutex();

  constructor(
    private readonly topo: Topology,
    private readonly admin: MetaserverAdmin,
    private readonly partitionIds: IdAllocator,
    private readonly random: Random,
    private readonly opts: AllocatorOptions = DEFAULT_ALLOCATOR_OPTIONS,
  ) {}

  /** Creates `count` partitions for `fsId` (serialised with every other placement decision). */
  createPartitions(fsId: number, count: number): Promise<PartitionInfo[]> {
    return this.mutex.run(() => this.create(fsId, count));
  }

  /** The admin-call view of a copyset: member addresses and the leader last reported. */
  target(cs: CopysetData): CopysetTarget {
    const rt = this.topo.csRuntime.get(csKey(cs.poolId, cs.copysetId));
    const leader = rt?.leaderId ? this.topo.adminAddress(rt.leaderId) : undefined;
    return {
      poolId: cs.poolId,
      copysetId: cs.copysetId,
      members: cs.metaserverIds.map((id) => this.topo.adminAddress(id)).filter((a): a is string => a !== undefined),
      leader,
    };
  }

  peers(ids: number[]): Peer[] {
    return ids.map((id) => create(PeerSchema, { id, address: this.topo.peerOf(id).address }));
  }

  private async create(fsId: number, count: number): Promise<PartitionInfo[]> {
    const pool = this.pickPool();
    let usable = this.usableCopysets(pool.poolId);
    for (let i = usable.length; i < count; i++) {
      const cs = await this.tryCreateCopyset(pool);
      if (!cs) break;
      usable = this.usableCopysets(pool.poolId);
    }
    if (usable.length === 0) {
      throw new CurveError(StatusCode.TOPO_NOT_ENOUGH_METASERVERS, `pool ${pool.poolName}: no copyset can take a partition and none can be created`);
    }
    const made: PartitionInfo[] = [];
    for (let i = 0; i < count; i++) {
      const [cs] = copysetsByLoad(this.usableCopysets(pool.poolId), this.opts.maxPartitionsPerCopyset);
      if (!cs) break;
      const start = this.topo.nextRangeStart(fsId);
      const p = create(PartitionInfoSchema, {
        fsId,
        poolId: cs.data.poolId,
        copysetId: cs.data.copysetId,
        partitionId: await this.partitionIds.allocate(),
        start,
        end: start + PARTITION_SIZE - 1,
        txId: 0,
        nextId: Math.max(start, MIN_INODE_ID),
        status: PartitionStatus.READWRITE,
      });
      await this.admin.createPartition(this.target(cs.data), p);
      await this.topo.addPartition(p);
      made.push(p);
    }
    if (made.length < count) log.warn('created fewer partitions than asked', { fsId, asked: count, made: made.length });
    if (made.length === 0) throw new CurveError(StatusCode.CREATE_PARTITION_ERROR, `no partition created for fs ${fsId}`);
    return made;
  }

  /** The pool for new partitions: the first (by id) with enough live metaservers. */
  private pickPool(): PoolInfo {
    const pools = [...this.topo.pools.values()].sort((a, b) => a.poolId - b.poolId);
    for (const p of pools) if (this.candidates(p.poolId).length >= p.replicaNum) return p;
    for (const p of pools) if (this.usableCopysets(p.poolId).length > 0) return p;
    throw new CurveError(StatusCode.TOPO_NOT_ENOUGH_METASERVERS, `no pool has enough online metaservers (have ${this.topo.metaservers.size} registered)`);
  }

  /** Copysets of a pool with room for a partition and a live majority, with their loads. */
  private usableCopysets(poolId: number): { copysetId: number; partitions: number; data: CopysetData }[] {
    const out: { copysetId: number; partitions: number; data: CopysetData }[] = [];
    for (const cs of this.topo.copysets.values()) {
      if (cs.poolId !== poolId) continue;
      const live = cs.metaserverIds.filter((id) => this.topo.onlineState(id) !== OnlineState.OFFLINE).length;
      if (live * 2 <= cs.metaserverIds.length) continue;
      const partitions = this.topo.partitionsOfCopyset(cs.poolId, cs.copysetId).length;
      if (partitions >= this.opts.maxPartitionsPerCopyset) continue;
      out.push({ copysetId: cs.copysetId, partitions, data: cs });
    }
    return out;
  }

  private candidates(poolId: number): PlacementCandidate[] {
    const counts = new Map<number, number>();
    for (const cs of this.topo.copysets.values()) for (const id of cs.metaserverIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    const out: PlacementCandidate[] = [];
    for (const m of this.topo.metaservers.values()) {
      const server = this.topo.servers.get(m.serverId);
      if (!server || server.poolId !== poolId) continue;
      if (this.topo.onlineState(m.metaserverId) !== OnlineState.ONLINE) continue;
      if (this.topo.draining.has(m.metaserverId)) continue;
      const n = counts.get(m.metaserverId) ?? 0;
      if (n >= this.opts.maxCopysetsPerMetaserver) continue;
      out.push({ id: m.metaserverId, serverId: server.serverId, zoneId: server.zoneId, copysets: n });
    }
    return out;
  }

  /** Creates one copyset in `pool`, or returns undefined when the metaservers cannot take one. */
  private async tryCreateCopyset(pool: PoolInfo): Promise<CopysetData | undefined> {
    const pick = chooseReplicas(this.candidates(pool.poolId), pool.replicaNum, this.random);
    if (!pick) return undefined;
    // Record first: heartbeats that report the new copyset find it known, never purge it.
    const cs = await this.topo.addCopyset(pool.poolId, pick.ids);
    const peers = this.peers(pick.ids);
    try {
      await Promise.all(pick.ids.map((id) => this.admin.createCopysetNode(this.topo.adminAddress(id)!, cs.poolId, cs.copysetId, peers)));
    } catch (e) {
      log.warn('copyset creation failed; removing its record', { copyset: csKey(cs.poolId, cs.copysetId), error: String(e) });
      await this.topo.removeCopyset(cs.poolId, cs.copysetId).catch(() => undefined);
      throw new CurveError(StatusCode.CREATE_COPYSET_ERROR, `copyset ${cs.poolId}:${cs.copysetId}: ${(e as Error).message}`);
    }
    log.info('created copyset', { copyset: csKey(cs.poolId, cs.copysetId), members: pick.ids, spread: pick.spread });
    return cs;
  }
}
