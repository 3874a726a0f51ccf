// The I/O side of healing and balancing: every round it asks the pure planners (recovery.ts;
// balance.ts in its own, slower rounds) for new operators, prepares each CHANGE_PEER by
// creating the copyset replica on its target (admin RPC), and drops operators past their time
// limit. Heartbeats of copyset leaders then carry the
// instruction (heartbeat/handler.ts uses `instructionFor`). Operators live in memory only: after
// a failover the new leader plans again from what the heartbeats show.
import { create } from '@bufbuild/protobuf';
import { createLogger, type Clock, type Random } from '../../common/index.ts';
import { ConfigChangeType, CopySetConfSchema, type CopySetConf } from '../../gen/heartbeat_pb.ts';
import { OnlineState } from '../../gen/topology_pb.ts';
import type { PartitionAllocator } from '../topology/allocator.ts';
import type { MetaserverAdmin } from '../topology/metaserver-admin.ts';
import type { Topology } from '../topology/topology.ts';
import { planBalance, type BalanceCopysetView, type BalanceOptions } from './balance.ts';
import { coordinate, drainBlockers, opKey, planRecovery, type CopysetView, type LeaderReport, type MetaserverView, type Operator, type RecoveryOptions } from './recovery.ts';

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
    private readonly balanceOpts?: BalanceOptions,
  ) {}

  /** One recovery round. */
  round(): void {
    const now = this.clock.now();
    this.dropExpired(now);
    const metaservers = this.metaserverViews(now);
    this.announceOffline(metaservers, now);
    this.adopt(planRecovery(this.copysetViews(), metaservers, [...this.operators.values()], now, this.random, this.opts));
  }

  /** One balancing round (balance.ts): leaders and replicas evened out, after recovery's needs. */
  balanceRound(): void {
    if (!this.balanceOpts) return;
    const now = this.clock.now();
    this.dropExpired(now);
    this.adopt(planBalance(this.copysetViews(), this.metaserverViews(now), [...this.operators.values()], now, this.balanceOpts));
  }

  private dropExpired(now: number): void {
    for (const [k, op] of this.operators) {
      if (now > op.deadline) {
        log.warn('operator timed out', { copyset: k, type: op.type });
        this.operators.delete(k);
      }
    }
  }

  private adopt(planned: readonly Operator[]): void {
    for (const op of planned) {
      const k = opKey(op.poolId, op.copysetId);
      this.operators.set(k, op);
      log.info(op.balance ? 'planned balancing change' : 'planned membership change', { copyset: k, type: op.type, oldPeer: op.oldPeer, newPeer: op.newPeer });
      if (!op.prepared) void this.prepare(k, op);
    }
  }

  /** Copysets of metaserver `id` that a drain could not move anywhere (no metaserver left to take them). */
  drainBlockers(id: number): CopysetView[] {
    return drainBlockers(id, this.copysetViews(), this.metaserverViews(this.clock.now()));
  }

  /** When the replicas of OFFLINE metaserver `id` start being rebuilt elsewhere (the heal delay); undefined when no heal is pending. */
  healAt(id: number, now: number): number | undefined {
    if (this.topo.onlineState(id, now) !== OnlineState.OFFLINE || this.topo.copysetsOf(id).length === 0) return undefined;
    const since = this.topo.offlineSince(id, now) ?? now;
    // A drained metaserver's replicas are replaced without waiting out the delay.
    return this.topo.draining.has(id) ? since : since + this.opts.healDelayMs;
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
        if (op.type === 'transfer_leader') log.info('balancing leaders: moving a leadership', { copyset: k, from: op.oldPeer, to: step.to });
        else log.info('moving the leadership off a replica that leaves', { copyset: k, from: op.oldPeer, to: step.to });
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
    for (const op of this.operators.values()) if (op.oldPeer === id && op.type !== 'transfer_leader') changesRunning++;
    return { copysetsLeft, changesRunning };
  }

  /** Metaservers that are the target of an operator (they may report copysets they are not yet members of). */
  isTarget(k: string, metaserverId: number): boolean {
    return this.operators.get(k)?.newPeer === metaserverId;
  }

  private copysetViews(): BalanceCopysetView[] {
    return [...this.topo.copysets.values()].map((cs) => ({
      leaderId: this.topo.csRuntime.get(opKey(cs.poolId, cs.copysetId))?.leaderId ?? 0,
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
