// Healing without an operator: a pure function of (topology view, operators in flight, now) →
// new membership-change operators, plus the coordinator step that turns an operator and a
// leader's heartbeat report into the instruction for that leader (digest §6.8 RecoverScheduler
// and Coordinator).
//
//  - A copyset with a member whose metaserver has been OFFLINE (silent past the offline bound) for
//    the heal delay, or whose replica is broken (its metaserver reports it cannot open: damaged
//    storage), and a live majority gets CHANGE_PEER(offline → target); a copyset with more
//    members than its pool's replica count gets REMOVE_PEER(offline) instead.
//  - The heal delay (`--heal-delay-ms`, 10 min like Ceph's mon_osd_down_out_interval) lets a
//    metaserver that reboots or restarts come back and catch up from its own log instead of
//    having every replica copied elsewhere; a member still inside it counts as down for the
//    majority but is not replaced yet. A broken replica will not come back by waiting, and a
//    drained metaserver is being taken away on purpose: both are replaced at once.
//  - A member whose metaserver is being drained (`curvefs metaserver drain`) is replaced the same
//    way, after any offline or broken member of that copyset; a draining metaserver is never a
//    target. Its replicas are alive, so they do not count against the live majority.
//  - A change that would remove the copyset's leader starts with TRANSFER_LEADER to a member that
//    stays (a leader is not asked to remove itself).
//  - The target is chosen like any replica (placement.ts): distinct zone, else server, else
//    process, least loaded; at most `maxOpsPerMetaserver` operators involve one target at once.
//  - An operator is done when the leader reports the new membership; it fails when the leader
//    reports an error, when the epoch moved on while no change of ours runs, or when it exceeds
//    its time limit; a failed operator is dropped, and the
//    next planning round starts over.
import type { Random } from '../../common/index.ts';
import { OnlineState } from '../../gen/topology_pb.ts';
import { chooseReplicas, type PlacementCandidate } from '../topology/placement.ts';

export interface MetaserverView extends PlacementCandidate {
  poolId: number;
  state: OnlineState;
  /** Being drained: its replicas move elsewhere, none moves to it. */
  draining?: boolean;
  /** When it became OFFLINE (state OFFLINE only; unknown: the heal delay is over). */
  offlineSince?: number;
}

export interface CopysetView {
  poolId: number;
  copysetId: number;
  epoch: number;
  members: number[];
  replicaNum: number;
  /** Members whose replica cannot open (damaged storage): replaced like offline ones. */
  broken?: number[];
}

/** Membership changes (recovery, drains, replica balancing) and leadership moves (balancing). */
export type OperatorType = 'change_peer' | 'remove_peer' | 'transfer_leader';

export interface Operator {
  poolId: number;
  copysetId: number;
  type: OperatorType;
  /** The member that leaves (transfer_leader: the leader now). */
  oldPeer: number;
  /** change_peer: the member that joins; transfer_leader: the member that is to lead. */
  newPeer: number;
  /** The copyset's epoch when planned. */
  startEpoch: number;
  createdAt: number;
  deadline: number;
  /** The copyset node exists on newPeer (the driver created it); instructions wait for this. */
  prepared: boolean;
  /** The leader was told to run the change at least once. */
  instructed?: boolean;
  /** Planned by the balancer (balance.ts), not to repair: it yields to recovery. */
  balance?: boolean;
}

export interface RecoveryOptions {
  /** Time a metaserver stays OFFLINE before its replicas are replaced elsewhere. */
  healDelayMs: number;
  changePeerTimeoutMs: number;
  removePeerTimeoutMs: number;
  maxOpsPerMetaserver: number;
}

export const DEFAULT_RECOVERY_OPTIONS: RecoveryOptions = {
  healDelayMs: 600_000,
  changePeerTimeoutMs: 1_800_000,
  removePeerTimeoutMs: 300_000,
  maxOpsPerMetaserver: 1,
};

export function opKey(poolId: number, copysetId: number): string {
  return `${poolId}:${copysetId}`;
}

/** New operators for copysets that lost a member; never more than one per copyset. */
export function planRecovery(
  copysets: readonly CopysetView[],
  metaservers: readonly MetaserverView[],
  inFlight: readonly Operator[],
  now: number,
  random: Random,
  opts: RecoveryOptions = DEFAULT_RECOVERY_OPTIONS,
): Operator[] {
  const byId = new Map(metaservers.map((m) => [m.id, m]));
  const busy = new Set(inFlight.map((o) => opKey(o.poolId, o.copysetId)));
  const targetLoad = new Map<number, number>();
  for (const o of inFlight) if (o.type === 'change_peer') targetLoad.set(o.newPeer, (targetLoad.get(o.newPeer) ?? 0) + 1);
  const planned: Operator[] = [];
  const ordered = [...copysets].sort((a, b) => a.poolId - b.poolId || a.copysetId - b.copysetId);
  for (const cs of ordered) {
    if (busy.has(opKey(cs.poolId, cs.copysetId))) continue;
    const down = cs.members.filter((id) => (byId.get(id)?.state ?? OnlineState.OFFLINE) === OnlineState.OFFLINE || (cs.broken?.includes(id) ?? false));
    const due = down.filter((id) => cs.broken?.includes(id) || healDelayOver(byId.get(id), now, opts.healDelayMs));
    const draining = cs.members.filter((id) => byId.get(id)?.draining === true && !down.includes(id));
    if (due.length + draining.length === 0) continue;
    // A membership change needs a quorum of the current members (draining ones are alive; one
    // still inside its heal delay is not).
    if (down.length * 2 >= cs.members.length) continue;
    const oldPeer = due[0] ?? draining[0]!;
    if (cs.members.length > cs.replicaNum) {
      planned.push({ ...base(cs, now), type: 'remove_peer', oldPeer, newPeer: 0, deadline: now + opts.removePeerTimeoutMs, prepared: true });
      continue;
    }
    const staying = cs.members.filter((id) => id !== oldPeer).map((id) => byId.get(id)).filter((m): m is MetaserverView => m !== undefined);
    const candidates = metaservers.filter(
      (m) => m.poolId === cs.poolId && m.state === OnlineState.ONLINE && !m.draining && !cs.members.includes(m.id) && (targetLoad.get(m.id) ?? 0) < opts.maxOpsPerMetaserver,
    );
    const pick = chooseReplicas(candidates, 1, random, staying);
    if (!pick) continue;
    const newPeer = pick.ids[0]!;
    targetLoad.set(newPeer, (targetLoad.get(newPeer) ?? 0) + 1);
    planned.push({ ...base(cs, now), type: 'change_peer', oldPeer, newPeer, deadline: now + opts.changePeerTimeoutMs, prepared: false });
  }
  return planned;
}

/** An OFFLINE metaserver (or one no longer known) whose replicas may now be replaced elsewhere. */
function healDelayOver(m: MetaserverView | undefined, now: number, healDelayMs: number): boolean {
  if (m === undefined || m.draining) return true;
  return m.offlineSince === undefined || now - m.offlineSince >= healDelayMs;
}

export function base(cs: CopysetView, now: number) {
  return { poolId: cs.poolId, copysetId: cs.copysetId, startEpoch: cs.epoch, createdAt: now };
}

/** What the leader of a copyset reported about itself. */
export interface LeaderReport {
  epoch: number;
  members: number[];
  /** The reporting leader's metaserver id (0: unknown). */
  leaderId?: number;
  /** A change the leader is running: its target and whether it finished (with an error). */
  change?: { peer: number; finished: boolean; error?: string };
}

export type CoordinatorStep =
  | { kind: 'done' }
  | { kind: 'failed'; reason: string }
  | { kind: 'wait' }
  /** Tell the leader to run the operator's change now. */
  | { kind: 'instruct' }
  /** The change would remove the leader itself: first move the leadership to `to`. */
  | { kind: 'transfer'; to: number };

/** Decides what an operator needs given the leader's latest report. */
export function coordinate(op: Operator, report: LeaderReport, now: number): CoordinatorStep {
  if (op.type === 'transfer_leader') return coordinateTransfer(op, report, now);
  const hasOld = report.members.includes(op.oldPeer);
  if (op.type === 'change_peer' ? !hasOld && report.members.includes(op.newPeer) : !hasOld) return { kind: 'done' };
  if (now > op.deadline) return { kind: 'failed', reason: 'time limit exceeded' };
  // A change the leader reports is ours only if it concerns our target peer; an error counts only
  // after we instructed (a leader may still report an old attempt's failure).
  const target = op.type === 'change_peer' ? op.newPeer : op.oldPeer;
  const ours = report.change !== undefined && report.change.peer === target;
  // A CHANGE_PEER runs as several committed steps (learner, promotion, removal), each raising
  // the epoch: while ours is running, a higher epoch is its own progress.
  if (ours && !report.change!.finished) return { kind: 'wait' };
  if (report.epoch > op.startEpoch) return { kind: 'failed', reason: `membership changed differently (epoch ${op.startEpoch} → ${report.epoch})` };
  if (ours && report.change!.error && op.instructed) return { kind: 'failed', reason: `leader reported: ${report.change!.error}` };
  if (!op.prepared) return { kind: 'wait' };
  if (report.leaderId !== undefined && report.leaderId === op.oldPeer) {
    const to = report.members.find((id) => id !== op.oldPeer && id !== op.newPeer);
    return to === undefined ? { kind: 'wait' } : { kind: 'transfer', to };
  }
  return { kind: 'instruct' };
}

/** A leadership move: done once the target reports as leader; dropped if the copyset moved on. */
function coordinateTransfer(op: Operator, report: LeaderReport, now: number): CoordinatorStep {
  if (report.leaderId === op.newPeer) return { kind: 'done' };
  if (now > op.deadline) return { kind: 'failed', reason: 'time limit exceeded' };
  if (!report.members.includes(op.newPeer)) return { kind: 'failed', reason: `metaserver ${op.newPeer} is no longer a member` };
  if (report.leaderId !== undefined && report.leaderId !== op.oldPeer) return { kind: 'failed', reason: `metaserver ${report.leaderId} leads it now` };
  return { kind: 'transfer', to: op.newPeer };
}

/**
 * Copysets of metaserver `id` that a drain could never move: no metaserver of their pool that is
 * not OFFLINE, not being drained and not already a member is left to take the replica. (A copyset
 * with more members than its replica count is not stuck: its extra member is simply removed.)
 */
export function drainBlockers(id: number, copysets: readonly CopysetView[], metaservers: readonly MetaserverView[]): CopysetView[] {
  return copysets.filter(
    (cs) =>
      cs.members.includes(id) &&
      cs.members.length <= cs.replicaNum &&
      !metaservers.some((m) => m.id !== id && m.poolId === cs.poolId && m.state !== OnlineState.OFFLINE && !m.draining && !cs.members.includes(m.id)),
  );
}
