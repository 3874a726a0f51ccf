// MetaServerHeartbeat (digest §6.6): validate the reporter, record liveness and space, and for
// each copyset it reports:
//  - unknown to the MDS → answer epoch 0 without peers: the reporter removes its replica;
//  - the reporter leads it → record leader, term and partition counters; a higher epoch than
//    recorded means a membership change committed: store the reported members (newer epoch
//    wins; a lower epoch is a stale leader and is ignored); ask the recovery driver whether the
//    leader should start a membership change; note partitions that turned read-only or are
//    running out of ids (more partitions are allocated ahead of need);
//  - the reporter's replica is broken (it could not open: damaged storage) → mark it, so healing
//    replaces it like a dead member (schedule/recovery.ts); once it is no longer a member, answer
//    with the membership so it deletes its files;
//  - the reporter is a follower no longer among the members (and not the target of a change in
//    flight) → answer with the real membership, so it removes itself — only after this MDS has
//    led for `cleanFollowerAfterMs`, so that a fresh leader never acts on half-known state.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode, createLogger, type Clock } from '../../common/index.ts';
import { PartitionStatus } from '../../gen/common_pb.ts';
import {
  CopySetConfSchema,
  MetaServerHeartbeatResponseSchema,
  type CopySetConf,
  type CopySetInfo,
  type MetaServerHeartbeatRequest,
  type MetaServerHeartbeatResponse,
} from '../../gen/heartbeat_pb.ts';
import { CopysetDataSchema } from '../../gen/topology_pb.ts';
import type { FsManager } from '../fs/fs-manager.ts';
import type { RecoveryDriver } from '../schedule/driver.ts';
import type { PartitionAllocator } from '../topology/allocator.ts';
import { csKey, type PartitionStats, type Topology } from '../topology/topology.ts';

const log = createLogger('mds/heartbeat');

export interface HeartbeatOptions {
  /** Followers outside the membership are told so only after this long as leader (CurveFS 20 min). */
  cleanFollowerAfterMs: number;
}

export class HeartbeatHandler {
  readonly since: number;
  received = 0;

  constructor(
    private readonly topo: Topology,
    private readonly fs: FsManager,
    private readonly allocator: PartitionAllocator,
    private readonly recovery: RecoveryDriver,
    private readonly clock: Clock,
    private readonly opts: HeartbeatOptions,
  ) {
    this.since = clock.now();
  }

  async handle(req: MetaServerHeartbeatRequest): Promise<MetaServerHeartbeatResponse> {
    const ms = this.topo.metaservers.get(req.metaserverId);
    if (!ms) throw new CurveError(StatusCode.TOPO_METASERVER_NOT_FOUND, `metaserver ${req.metaserverId} is not registered`);
    if (ms.token !== req.token) throw new CurveError(StatusCode.TOPO_TOKEN_MISMATCH, `metaserver ${req.metaserverId}: wrong token`);
    if (ms.internalIp !== req.ip || ms.internalPort !== req.port) {
      throw new CurveError(StatusCode.PARAM_ERROR, `metaserver ${req.metaserverId} registered at ${ms.internalIp}:${ms.internalPort}, heartbeat says ${req.ip}:${req.port}`);
    }
    this.received++;
    const sp = req.spaceStatus;
    this.topo.touch(req.metaserverId, {
      startTime: req.startTime,
      leaderCount: req.leaderCount,
      diskUsed: sp?.diskUsedByte ?? 0,
      diskThreshold: sp?.diskThresholdByte ?? 0,
      memoryUsed: sp?.memoryUsedByte ?? 0,
      memoryThreshold: sp?.memoryThresholdByte ?? 0,
    });
    const confs: CopySetConf[] = [];
    const grow = new Set<number>();
    for (const info of req.copysetInfos) {
      const conf = await this.copyset(req.metaserverId, info, grow);
      if (conf) confs.push(conf);
    }
    for (const fsId of grow) this.fs.growIfNeeded(fsId);
    return create(MetaServerHeartbeatResponseSchema, {
      needUpdateCopysets: confs,
      liveSessionIds: this.fs.liveSessionIds(),
      maxSessionId: this.fs.maxSessionId,
    });
  }

  private async copyset(reporter: number, info: CopySetInfo, grow: Set<number>): Promise<CopySetConf | undefined> {
    const k = csKey(info.poolId, info.copysetId);
    const record = this.topo.copysets.get(k);
    if (!record) {
      log.info('reported copyset is unknown; telling the reporter to remove it', { copyset: k, reporter });
      return create(CopySetConfSchema, { poolId: info.poolId, copysetId: info.copysetId, epoch: 0, peers: [] });
    }
    const reportedMembers = info.peers.map((p) => p.id);
    const member = record.metaserverIds.includes(reporter);
    const rt = this.topo.csRuntimeOf(info.poolId, info.copysetId);
    if (info.broken) {
      if (member) {
        if (!rt.broken.has(reporter)) log.error('a copyset replica cannot open; it will be replaced', { copyset: k, metaserver: reporter, reason: info.broken });
        rt.broken.set(reporter, info.broken);
        return undefined;
      }
      // Replaced already: the membership without it tells the reporter to delete its files.
      rt.broken.delete(reporter);
      if (this.clock.now() - this.since < this.opts.cleanFollowerAfterMs) return undefined;
      return create(CopySetConfSchema, { poolId: record.poolId, copysetId: record.copysetId, epoch: record.epoch, peers: this.allocator.peers(record.metaserverIds) });
    }
    // A healthy report from a replica once marked broken (repaired, or created anew).
    if (rt.broken.has(reporter)) rt.broken.delete(reporter);
    if (info.leaderPeer?.id === reporter) {
      if (info.epoch < record.epoch) return undefined; // a stale leader; the real one will report
      rt.leaderId = reporter;
      rt.term = info.term;
      rt.reportedAt = this.clock.now();
      if (info.epoch > record.epoch && reportedMembers.length > 0) {
        log.info('copyset membership changed', { copyset: k, epoch: info.epoch, members: reportedMembers });
        await this.topo.putCopyset(create(CopysetDataSchema, { poolId: record.poolId, copysetId: record.copysetId, epoch: info.epoch, metaserverIds: reportedMembers }));
      }
      if (!info.isCopysetLoading) await this.partitions(info, rt.partitions, grow);
      const change = info.configChangeInfo;
      return this.recovery.instructionFor(k, {
        leaderId: reporter,
        epoch: info.epoch,
        members: reportedMembers.length > 0 ? reportedMembers : [...record.metaserverIds],
        change: change && change.type !== 0 ? { peer: change.peer?.id ?? 0, finished: change.finished, error: change.errMsg || undefined } : undefined,
      });
    }
    if (!member && record.epoch >= info.epoch && !this.recovery.isTarget(k, reporter) && this.clock.now() - this.since >= this.opts.cleanFollowerAfterMs) {
      log.info('reporter is not a member of the copyset; sending the membership', { copyset: k, reporter });
      return create(CopySetConfSchema, { poolId: record.poolId, copysetId: record.copysetId, epoch: record.epoch, peers: this.allocator.peers(record.metaserverIds) });
    }
    return undefined;
  }

  private async partitions(info: CopySetInfo, stats: Map<number, PartitionStats>, grow: Set<number>): Promise<void> {
    for (const p of info.partitionInfoList) {
      const known = this.topo.partitions.get(p.partitionId);
      if (!known) continue;
      stats.set(p.partitionId, { nextId: p.nextId, inodeNum: p.inodeNum, dentryNum: p.dentryNum, fileBytes: p.fileBytes, status: p.status });
      // RW → RO is the only change a metaserver makes on its own (ids ran out).
      if (known.status === PartitionStatus.READWRITE && p.status === PartitionStatus.READONLY) {
        await this.topo.setPartitionStatus(p.partitionId, PartitionStatus.READONLY);
      }
      grow.add(known.fsId);
    }
  }
}
