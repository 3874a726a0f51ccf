// Configuration of one Raft replica, with etcd-io/raft's defaults.
import { CurveError, StatusCode, type Random } from '../../common/index.ts';
import type { NodeId } from './types.ts';

/**
 * How a leader confirms it may serve a read.
 *  - 'safe': ReadIndex with a heartbeat round to a quorum for every batch of reads.
 *  - 'lease': answer at once while a quorum acknowledged a heartbeat sent less than
 *    electionTick − 2 ticks ago (requires checkQuorum; assumes ticks advance at the same rate on
 *    every replica, within a tick per election timeout). Falls back to 'safe' when the lease
 *    lapsed.
 */
export type ReadOnlyOption = 'safe' | 'lease';

export interface RaftConfig {
  id: NodeId;
  /** Source of the randomized election timeout. */
  random: Random;
  /** Ticks without a leader before a follower campaigns (randomized in [e, 2e)). Default 10. */
  electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  heartbeatTick?: number;
  /** Run a pre-election so a partitioned node cannot inflate terms. Default true. */
  preVote?: boolean;
  /** Leader steps down without a quorum of recent contact; followers ignore votes in lease. Default true. */
  checkQuorum?: boolean;
  /** Bytes of entries per append message (at least one entry). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Append messages in flight per follower while replicating. Default 256. */
  maxInflightMsgs?: number;
  /** Bytes of entries in flight per follower (0: unbounded). Default 32 MiB. */
  maxInflightBytes?: number;
  /** Bytes of committed entries handed out per Ready (at least one entry). Default 16 MiB. */
  maxCommittedSizePerReady?: number;
  /** Leader refuses proposals (OVERLOAD) beyond this many uncommitted bytes (0: unbounded). Default 0. */
  maxUncommittedBytes?: number;
  readOnlyOption?: ReadOnlyOption;
  /** Ticks a follower may stay in snapshot state with no outcome reported. Default 20 × electionTick. */
  snapshotStallTicks?: number;
}

export type ResolvedRaftConfig = Required<RaftConfig>;

export function resolveConfig(c: RaftConfig): ResolvedRaftConfig {
  const electionTick = c.electionTick ?? 10;
  const r: ResolvedRaftConfig = {
    id: c.id,
    random: c.random,
    electionTick,
    heartbeatTick: c.heartbeatTick ?? 1,
    preVote: c.preVote ?? true,
    checkQuorum: c.checkQuorum ?? true,
    maxSizePerMsg: c.maxSizePerMsg ?? 1 << 20,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxInflightBytes: c.maxInflightBytes ?? 32 << 20,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? 16 << 20,
    maxUncommittedBytes: c.maxUncommittedBytes ?? 0,
    readOnlyOption: c.readOnlyOption ?? 'safe',
    snapshotStallTicks: c.snapshotStallTicks ?? 20 * electionTick,
  };
  const bad = (why: string) => new CurveError(StatusCode.PARAM_ERROR, `raft config: ${why}`);
  if (!Number.isSafeInteger(r.id) || r.id <= 0) throw bad(`id ${r.id} must be a positive integer`);
  if (!Number.isInteger(r.heartbeatTick) || r.heartbeatTick <= 0) throw bad('heartbeatTick must be > 0');
  if (!Number.isInteger(r.electionTick) || r.electionTick <= r.heartbeatTick) throw bad('electionTick must be > heartbeatTick');
  if (r.maxInflightMsgs <= 0) throw bad('maxInflightMsgs must be > 0');
  if (r.maxSizePerMsg <= 0) throw bad('maxSizePerMsg must be > 0');
  if (r.readOnlyOption !== 'safe' && r.readOnlyOption !== 'lease') throw bad(`readOnlyOption ${String(r.readOnlyOption)}`);
  if (r.readOnlyOption === 'lease' && !r.checkQuorum) throw bad("readOnlyOption 'lease' requires checkQuorum");
  if (r.readOnlyOption === 'lease' && r.electionTick < 4) throw bad("readOnlyOption 'lease' needs electionTick >= 4");
  return r;
}
