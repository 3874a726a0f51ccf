// Balancing without an operator: a pure function of (topology view, operators in flight, options)
// → new operators that even out copyset replicas and Raft leaders across metaservers (digest
// §6.8 CopySetScheduler and LeaderScheduler, simplified). Recovery always comes first: the
// driver plans it before this, and this plans nothing on a copyset that has an operator.
//
//  - Replicas, per pool: while the metaserver with the most copysets holds at least two more than
//    the one with the fewest, one of its copysets gets CHANGE_PEER(most → fewest). Only a copyset
//    whose members are all ONLINE and unbroken, with exactly its replica count (so a move never
//    leaves it below it), and only when the move keeps its members on as many distinct zones and
//    servers as before. At most `maxReplicaMoves` such moves run at once in the whole cluster, and
//    none while a recovery change runs (healing has the bandwidth). A new, empty metaserver thus
//    fills up one copyset at a time until it is within one of the others.
//  - Leaders, per pool: while a metaserver leads at least two more copysets than another member of
//    one of them, that copyset gets TRANSFER_LEADER to the member that leads the fewest; at most
//    `maxLeaderTransfers` at once. Leaders spread so that each metaserver serves its share of
//    the writes (every write goes to its copyset's leader).
//  - Only ONLINE metaservers that are not being drained count, as sources and as targets.
//  - Operators in flight count as done when planning (a move's target already has the replica,
//    a transfer's target already leads), so one round never overshoots the next.
//  - Ties are broken by id: the same view always gives the same plan.
import { OnlineState } from '../../gen/topology_pb.ts';
import { base, opKey, type CopysetView, type MetaserverView, type Operator } from './recovery.ts';

export interface BalanceOptions {
  /** Period of the balancing rounds (CurveFS's leader scheduler: 30 s); 0 turns balancing off. */
  intervalMs: number;
  /** Replica moves (CHANGE_PEER) running at once in the whole cluster. */
  maxReplicaMoves: number;
  /** Leadership transfers running at once in the whole cluster. */
  maxLeaderTransfers: number;
  /** A transfer that has not happened by then is dropped (a later round may try again). */
  transferTimeoutMs: number;
  /** A replica move that has not finished by then is dropped. */
  moveTimeoutMs: number;
}

export const DEFAULT_BALANCE_OPTIONS: BalanceOptions = {
  intervalMs: 30_000,
  maxReplicaMoves: 2,
  maxLeaderTransfers: 4,
  transferTimeoutMs: 30_000,
  moveTimeoutMs: 1_800_000,
};

/** A copyset as balancing sees it: the recovery view plus its current leader (0: unknown). */
export interface BalanceCopysetView extends CopysetView {
  leaderId: number;
}

/** New balancing operators; never more than one per copyset, none on a copyset that has one. */
export function planBalance(
  copysets: readonly BalanceCopysetView[],
  metaservers: readonly MetaserverView[],
  inFlight: readonly Operator[],
  now: number,
  opts: BalanceOptions = DEFAULT_BALANCE_OPTIONS,
): Operator[] {
  if (opts.intervalMs <= 0) return [];
  const byId = new Map(metaservers.map((m) => [m.id, m]));
  const eligible = (id: number) => {
    const m = byId.get(id);
    return m !== undefined && m.state === OnlineState.ONLINE && !m.draining;
  };
  const busy = new Set(inFlight.map((o) => opKey(o.poolId, o.copysetId)));
  const settled = [...copysets]
    .filter((cs) => !busy.has(opKey(cs.poolId, cs.copysetId)))
    .filter((cs) => cs.members.length === cs.replicaNum && cs.members.every(eligible) && (cs.broken?.length ?? 0) === 0)
    .sort((a, b) => a.poolId - b.poolId || a.copysetId - b.copysetId);
  const ctx: Plan = { all: copysets, settled, metaservers, eligible, inFlight, now, opts };
  const planned: Operator[] = [];
  const recovering = inFlight.some((o) => !o.balance);
  const moving = inFlight.filter((o) => o.balance && o.type === 'change_peer').length;
  if (!recovering) planned.push(...planReplicaMoves(ctx, opts.maxReplicaMoves - moving));
  const taken = new Set(planned.map((o) => opKey(o.poolId, o.copysetId)));
  const transferring = inFlight.filter((o) => o.type === 'transfer_leader').length;
  ctx.settled = settled.filter((cs) => !taken.has(opKey(cs.poolId, cs.copysetId)));
  planned.push(...planLeaderTransfers(ctx, opts.maxLeaderTransfers - transferring));
  return planned;
}

/** What one planning step looks at. */
interface Plan {
  all: readonly BalanceCopysetView[];
  /** Copysets balancing may touch: healthy, full, no operator. */
  settled: readonly BalanceCopysetView[];
  metaservers: readonly MetaserverView[];
  /** ONLINE and not draining: may give or take replicas and leaderships. */
  eligible: (id: number) => boolean;
  inFlight: readonly Operator[];
  now: number;
  opts: BalanceOptions;
}

function planReplicaMoves({ all, settled, metaservers, eligible, inFlight, now, opts }: Plan, budget: number): Operator[] {
  const out: Operator[] = [];
  if (budget <= 0) return out;
  const byId = new Map(metaservers.map((m) => [m.id, m]));
  const load = new Map<number, number>();
  for (const cs of all) for (const id of cs.members) load.set(id, (load.get(id) ?? 0) + 1);
  for (const o of inFlight) {
    if (o.type !== 'change_peer') continue;
    load.set(o.oldPeer, (load.get(o.oldPeer) ?? 0) - 1);
    load.set(o.newPeer, (load.get(o.newPeer) ?? 0) + 1);
  }
  const used = new Set<string>();
  for (const poolId of [...new Set(metaservers.map((m) => m.poolId))].sort((a, b) => a - b)) {
    const pool = metaservers.filter((m) => m.poolId === poolId && eligible(m.id)).map((m) => m.id);
    while (out.length < budget) {
      const byLoad = [...pool].sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a - b);
      const move = findMove(byLoad, load, settled, used, byId, poolId);
      if (!move) break;
      const { cs, from, to } = move;
      used.add(opKey(cs.poolId, cs.copysetId));
      load.set(from, (load.get(from) ?? 0) - 1);
      load.set(to, (load.get(to) ?? 0) + 1);
      out.push({ ...base(cs, now), type: 'change_peer', oldPeer: from, newPeer: to, deadline: now + opts.moveTimeoutMs, prepared: false, balance: true });
    }
  }
  return out;
}

/** The most loaded source and least loaded target two apart, and a copyset that can move between them. */
function findMove(
  byLoad: readonly number[],
  load: ReadonlyMap<number, number>,
  settled: readonly BalanceCopysetView[],
  used: ReadonlySet<string>,
  byId: ReadonlyMap<number, MetaserverView>,
  poolId: number,
): { cs: BalanceCopysetView; from: number; to: number } | undefined {
  const n = (id: number) => load.get(id) ?? 0;
  for (const from of [...byLoad].reverse()) {
    for (const to of byLoad) {
      if (n(from) - n(to) < 2) break;
      const cs = settled.find((c) => c.poolId === poolId && !used.has(opKey(c.poolId, c.copysetId)) && c.members.includes(from) && !c.members.includes(to) && keepsSpread(c.members, from, to, byId));
      if (cs) return { cs, from, to };
    }
  }
  return undefined;
}

/** Whether replacing `from` by `to` keeps the members on as many distinct zones and servers. */
function keepsSpread(members: readonly number[], from: number, to: number, byId: ReadonlyMap<number, MetaserverView>): boolean {
  const after = members.filter((id) => id !== from).concat(to);
  const distinct = (ids: readonly number[], attr: (m: MetaserverView) => number) => new Set(ids.map((id) => attr(byId.get(id)!))).size;
  return distinct(after, (m) => m.zoneId) >= distinct(members, (m) => m.zoneId) && distinct(after, (m) => m.serverId) >= distinct(members, (m) => m.serverId);
}

function planLeaderTransfers({ all, settled, metaservers, eligible, inFlight, now, opts }: Plan, budget: number): Operator[] {
  const out: Operator[] = [];
  if (budget <= 0) return out;
  const leads = new Map<number, number>();
  for (const m of metaservers) leads.set(m.id, 0);
  const pending = new Map(inFlight.filter((o) => o.type === 'transfer_leader').map((o) => [opKey(o.poolId, o.copysetId), o.newPeer]));
  for (const cs of all) {
    const leader = pending.get(opKey(cs.poolId, cs.copysetId)) ?? cs.leaderId;
    if (cs.members.includes(leader)) leads.set(leader, (leads.get(leader) ?? 0) + 1);
  }
  const n = (id: number) => leads.get(id) ?? 0;
  const used = new Set<string>();
  while (out.length < budget) {
    let best: { cs: BalanceCopysetView; from: number; to: number } | undefined;
    for (const cs of settled) {
      if (used.has(opKey(cs.poolId, cs.copysetId)) || !cs.members.includes(cs.leaderId) || !eligible(cs.leaderId)) continue;
      const to = cs.members.filter((id) => id !== cs.leaderId).sort((a, b) => n(a) - n(b) || a - b)[0];
      if (to === undefined || n(cs.leaderId) - n(to) < 2) continue;
      // The widest gap first, so the busiest leader sheds first.
      if (!best || n(cs.leaderId) - n(to) > n(best.from) - n(best.to)) best = { cs, from: cs.leaderId, to };
    }
    if (!best) break;
    used.add(opKey(best.cs.poolId, best.cs.copysetId));
    leads.set(best.from, n(best.from) - 1);
    leads.set(best.to, n(best.to) + 1);
    out.push({ ...base(best.cs, now), type: 'transfer_leader', oldPeer: best.from, newPeer: best.to, deadline: now + opts.transferTimeoutMs, prepared: true, balance: true });
  }
  return out;
}
