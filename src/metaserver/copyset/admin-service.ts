// CopysetService: admin calls from the MDS and tools — create/delete copysets on this
// metaserver, create/delete partitions (through the copyset's log), leader and status queries,
// membership changes and leader transfer.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode, systemClock, type Clock } from '../../common/index.ts';
import { PeerSchema, type Peer } from '../../gen/common_pb.ts';
import { CopysetService, CopysetStatusSchema, type CopysetStatus } from '../../gen/metaserver_pb.ts';
import type { ServiceImplOf } from '../../rpc/types.ts';
import type { Copyset } from './copyset.ts';
import type { CopysetManager } from './manager.ts';
import { OpType } from './op-codec.ts';

export interface AdminOptions {
  manager: CopysetManager;
  /** This metaserver's own peer entry (id, "ip:port:0"). */
  self: () => Peer;
  clock?: Clock;
  defaultTimeoutMs?: number;
  /**
   * After a membership change: tells replicas that left to drop their copy (a removed replica
   * may never apply the entry that removed it; with an MDS its heartbeat would tell it too).
   */
  onRemoved?: (poolId: number, copysetId: number, removed: Peer[]) => void;
}

/** Status of one copyset as this replica sees it. */
export function copysetStatus(cs: Copyset, self: Peer): CopysetStatus {
  const st = cs.group.status();
  const leader = st.peers.find((p) => p.id === st.leaderId);
  return create(CopysetStatusSchema, {
    poolId: cs.poolId,
    copysetId: cs.copysetId,
    state: st.role,
    peer: self,
    leader: leader ? create(PeerSchema, { id: leader.id, address: leader.address }) : st.leaderAddress ? create(PeerSchema, { id: st.leaderId, address: st.leaderAddress }) : undefined,
    term: st.term,
    committedIndex: st.commitIndex,
    appliedIndex: st.appliedIndex,
    firstIndex: st.firstIndex,
    lastIndex: st.lastIndex,
    epoch: cs.epoch,
    peers: st.peers.map((p) => create(PeerSchema, { id: p.id, address: p.address })),
    partitions: cs.sm.partitionInfos(),
    snapshotIndex: st.snapshotIndex,
  });
}

export function adminImpl(opts: AdminOptions): ServiceImplOf<typeof CopysetService> {
  const clock = opts.clock ?? systemClock;
  const timeout = opts.defaultTimeoutMs ?? 10_000;
  const find = (poolId: number, copysetId: number): Copyset => {
    const cs = opts.manager.get(poolId, copysetId);
    if (!cs) throw new CurveError(StatusCode.COPYSET_NOTEXIST, `copyset ${poolId}:${copysetId} is not on this metaserver`);
    return cs;
  };
  const deadline = (d: number): number => (Number.isFinite(d) ? Math.min(d, clock.now() + timeout) : clock.now() + timeout);
  return {
    createCopysetNode: async (req) => {
      for (const c of req.copysets) await opts.manager.create(c.poolId, c.copysetId, c.peers);
      return {};
    },
    deleteCopysetNode: async (req) => {
      await opts.manager.remove(req.poolId, req.copysetId);
      return {};
    },
    createPartition: async (req, ctx) => {
      const info = req.partition;
      if (!info) throw new CurveError(StatusCode.PARAM_ERROR, 'CreatePartition without a partition');
      const cs = find(info.poolId, info.copysetId);
      const r = await cs.proposeWaiting(OpType.CreatePartition, req, deadline(ctx.deadline));
      if (r.status !== StatusCode.OK) throw new CurveError(r.status, r.message);
      return {};
    },
    deletePartition: async (req, ctx) => {
      if (!req.p) throw new CurveError(StatusCode.PARAM_ERROR, 'DeletePartition without a partition');
      const cs = find(req.p.poolId, req.p.copysetId);
      const r = await cs.proposeWaiting(OpType.DeletePartition, req, deadline(ctx.deadline));
      if (r.status !== StatusCode.OK) throw new CurveError(r.status, r.message);
      return {};
    },
    getLeader: async (req) => {
      const cs = find(req.poolId, req.copysetId);
      const st = cs.group.status();
      const leader = st.peers.find((p) => p.id === st.leaderId);
      const address = leader?.address ?? st.leaderAddress;
      if (!st.leaderId || !address) throw new CurveError(StatusCode.UNAVAILABLE, `copyset ${cs.name} has no known leader`);
      return { leader: { id: st.leaderId, address }, term: st.term };
    },
    getCopysetStatus: async (req) => ({ status: copysetStatus(find(req.poolId, req.copysetId), opts.self()) }),
    listCopysets: async () => ({ copysets: opts.manager.list().map((cs) => copysetStatus(cs, opts.self())) }),
    changePeers: async (req) => {
      const cs = find(req.poolId, req.copysetId);
      const old = cs.group.status().peers.map((p) => create(PeerSchema, p));
      await cs.group.changePeers(req.newPeers.map((p) => ({ id: p.id, address: p.address })));
      cs.peers = req.newPeers;
      const removed = old.filter((o) => !req.newPeers.some((n) => n.id === o.id));
      if (removed.length > 0) opts.onRemoved?.(req.poolId, req.copysetId, removed);
      return { oldPeers: old, newPeers: req.newPeers };
    },
    transferLeader: async (req) => {
      const cs = find(req.poolId, req.copysetId);
      if (!req.transferee) throw new CurveError(StatusCode.PARAM_ERROR, 'TransferLeader without a transferee');
      await cs.group.transferLeader(req.transferee.id);
      return {};
    },
  };
}
