// The I/O side of healing: every round it asks the pure planner (recovery.ts) for new
// operators, prepares each CHANGE_PEER by creating the copyset replica on its target (admin
// RPC), and drops operators past their time limit. Heartbeats of copyset leaders then carry the
// instruction (heartbeat/handler.ts uses `instructionFor`). Operators live in memory only: after
// a failover the new leader plans again from what the heartbeats show.
import { create } from '@bufbuild/protobuf';
import { createLogger, type Clock, type Random } from '../../common/index.ts';
import { ConfigChangeType, CopySetConfSchema, type CopySetConf } from '../../gen/heartbeat_pb.ts';
import { OnlineState } from '../../gen/topology_pb.ts';
import type { PartitionAllocator } from '../topology/allocator.ts';
import type { MetaserverAdmin } from '../topology/metaserver-admin.ts';
import type { Topology } from '../topology/topology.ts';
import { coordinate, opKey, planRecovery, type CopysetView, type LeaderReport, type MetaserverView, type Operator, type RecoveryOptions } from './recovery.ts';

const log = createLogger('mds/schedule');

export class RecoveryDriver {
  readonly operators = new Map<string, Operator>();

  private readonly preparing = new Set<string>();
  /** Metaservers seen OFFLINE (announced once per outage). */
  private readonly offline = new Set<number>();

  constructor(
    private readonly topo: Topology,
    private readonly allocator: PartitionAllocator,
    private readonly admin: MetaserverAdmin,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly opts: RecoveryOptions,
  ) {}

  /** One scheduling round. */
  round(): void {
    const now = this.clock.now();
    for (const [k, op] of this.operators) {
      if (now > op.deadline) {
        log.warn('operator timed out', { copyset: k, type: op.type });
        this.operators.delete(k);
      }
    }
    const metaservers = this.metaserverViews(now);
    this.announceOffline(metaservers, now);
    const planned = planRecovery(this.copysetViews(), metaservers, [...this.operators.values()], now, this.random, this.opts);
    for (const op of planned) {
      const k = opKey(op.poolId, op.copysetId);
      this.operators.set(k, op);
      log.info('planned membership change', { copyset: k, type: op.type, oldPeer: op.oldPeer, newPeer: op.newPeer });
      if (!op.prepared) void this.prepare(k, op);
    }
  }

  /** Logs once per outage when a metaserver goes OFFLINE, saying when its replicas will be replaced. */
  private announceOffline(metaservers: readonly MetaserverView[], now: number): void {
    for (const m of metaservers) {
      if (m.state !== OnlineState.OFFLINE) {
        this.offline.delete(m.id);
        continue;
      }
      if (this.offline.has(m.id)) continue;
      this.offline.add(m.id);
      const healInMs = Math.max(0, (m.offlineSince ?? now) + this.opts.healDelayMs - now);
      log.warn('metaserver offline; its replicas are replaced elsewhere unless it is back in time', { metaserverId: m.id, healInMs });
    }
  }

  /** Creates the copyset replica on the target with the membership after the change. */
  private async prepare(k: string, op: Operator): Promise<void> {
    if (this.preparing.has(k)) return;
    this.preparing.add(k);
    try {
      const cs = this.topo.copysets.get(k);
      const addr = this.topo.adminAddress(op.newPeer);
      if (!cs || !addr) throw new Error('copyset or target vanished');
      const after = cs.metaserverIds.filter((id) => id !== op.oldPeer).concat(op.newPeer);
      await this.admin.createCopysetNode(addr, op.poolId, op.copysetId, this.allocator.peers(after));
      if (this.operators.get(k) === op) op.prepared = true;
    } catch (e) {
      log.warn('could not prepare the new replica; dropping the operator', { copyset: k, target: op.newPeer, error: String(e) });
      if (this.operators.get(k) === op) this.operators.delete(k);
    } finally {
      this.preparing.delete(k);
    }
  }

  /** The instruction for the leader of copyset `k` that reported `report`, if any. */
  instructionFor(k: string, report: LeaderReport): CopySetConf | undefined {
    const op = this.operators.get(k);
    if (!op) return undefined;
    const step = coordinate(op, report, this.clock.now());
    switch (step.kind) {
      case 'done':
        log.info('membership change done', { copyset: k, type: op.type, oldPeer: op.oldPeer, newPeer: op.newPeer });
        this.operators.delete(k);
        return undefined;
      case 'failed':
        log.warn('membership change failed', { copyset: k, reason: step.reason });
        this.operators.delete(k);
        return undefined;
      case 'wait':
        return undefined;
      case 'transfer':
        log.info('moving the leadership off a replica that leaves', { copyset: k, from: op.oldPeer, to: step.to });
        return create(CopySetConfSchema, {
          poolId: op.poolId,
          copysetId: op.copysetId,
          epoch: report.epoch,
          peers: this.allocator.peers(report.members),
          type: ConfigChangeType.TRANSFER_LEADER,
          configchangeItem: this.topo.peerOf(step.to),
        });
      case 'instruct':
        op.instructed = true;
        return create(CopySetConfSchema, {
          poolId: op.poolId,
          copysetId: op.copysetId,
          epoch: report.epoch,
          peers: this.allocator.peers(report.members),
          type: op.type === 'change_peer' ? ConfigChangeType.CHANGE_PEER : ConfigChangeType.REMOVE_PEER,
          configchangeItem: op.type === 'change_peer' ? this.topo.peerOf(op.newPeer) : this.topo.peerOf(op.oldPeer),
          oldPeer: op.type === 'change_peer' ? this.topo.peerOf(op.oldPeer) : undefined,
        });
    }
  }

  /** Copysets that still have metaserver `id` as a member, and operators moving a replica off it. */
  drainProgress(id: number): { copysetsLeft: number; changesRunning: number } {
    let copysetsLeft = 0;
    for (const cs of this.topo.copysets.values()) if (cs.metaserverIds.includes(id)) copysetsLeft++;
    let changesRunning = 0;
    for (const op of this.operators.values()) if (op.oldPeer === id) changesRunning++;
    return { copysetsLeft, changesRunning };
  }

  /** Metaservers that are the target of an operator (they may report copysets they are not yet members of). */
  isTarget(k: string, metaserverId: number): boolean {
    return this.operators.get(k)?.newPeer === metaserverId;
  }

  private copysetViews(): CopysetView[] {
    return [...this.topo.copysets.values()].map((cs) => ({
      poolId: cs.poolId,
      copysetId: cs.copysetId,
      epoch: cs.epoch,
      members: [...cs.metaserverIds],
      replicaNum: this.topo.pools.get(cs.poolId)?.replicaNum ?? cs.metaserverIds.length,
      broken: [...this.topo.csRuntimeOf(cs.poolId, cs.copysetId).broken.keys()],
    }));
  }

  private metaserverViews(now: number): MetaserverView[] {
    const counts = new Map<number, number>();
    for (const cs of this.topo.copysets.values()) for (const id of cs.metaserverIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    const out: MetaserverView[] = [];
    for (const m of this.topo.metaservers.values()) {
      const server = this.topo.servers.get(m.serverId);
      if (!server) continue;
      out.push({
        id: m.metaserverId,
        serverId: server.serverId,
        zoneId: server.zoneId,
        poolId: server.poolId,
        copysets: counts.get(m.metaserverId) ?? 0,
        state: this.topo.onlineState(m.metaserverId, now),
        draining: this.topo.draining.has(m.metaserverId),
        offlineSince: this.topo.offlineSince(m.metaserverId, now),
      });
    }
    return out;
  }
}
