// Configuration of one Raft replica, with etcd-io/raft's defaults.
import { CurveError, StatusCode, type Random } from '../../common/index.ts';
import type { NodeId } from './types.ts';

/**
 * How a leader confirms it may serve a read.
 *  - 'safe': ReadIndex with a heartbeat round to a quorum for every batch of reads.
 *  - 'lease': answer at once while a quorum acknowledged a heartbeat sent at most
 *    voteLeaseTicks − 2 = electionTick − 4 ticks ago (requires checkQuorum; assumes ticks advance
 *    at the same rate on every replica, within a tick per election timeout). Falls back to 'safe'
 *    when the lease lapsed.
 */
export type ReadOnlyOption = 'safe' | 'lease';

export interface RaftConfig {
  id: NodeId;
  /** Source of the randomized election timeout. */
  random: Random;
  /**
   * Ticks without a leader before a follower campaigns (randomized in [e, 2e)). Default 10. Must
   * be at least heartbeatTick + 3: followers' vote lease is electionTick − 2 ticks.
   */
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
  /**
   * Quiescence (docs/raft.md "Quiescence"): a leader whose followers all hold its whole log,
   * with nothing pending, tells them to stop their election timers and stops heartbeating; any
   * message, request or `wake()` resumes. Default false (the driver turns it on).
   */
  quiesce?: boolean;
}

export type ResolvedRaftConfig = Required<RaftConfig>;

/**
 * Ticks between the smallest randomized election timeout (electionTick) and the end of a
 * follower's vote lease. Tick phases differ between processes, and the last leader message may
 * reach one follower a tick after another (a lost or slower message): with a lease as long as
 * the timeout, the first follower to time out (a draw of electionTick) found its peer still one
 * tick inside its lease, was ignored, and waited a whole second timeout. Two ticks cover both.
 */
export const VOTE_LEASE_MARGIN_TICKS = 2;

/**
 * Check-quorum's follower lease: a follower that heard from its leader less than this many of
 * its own ticks ago ignores (pre-)vote requests of higher terms. Strictly below the smallest
 * randomized election timeout, so a peer whose timer fired is not refused by a follower that
 * heard the same (or a one-tick-later) leader message; the leader's read lease is derived from
 * it (see Raft.leaseValid) and so is a restarted replica's vote guard.
 */
export function voteLeaseTicks(c: ResolvedRaftConfig): number {
  return c.electionTick - VOTE_LEASE_MARGIN_TICKS;
}

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
    quiesce: c.quiesce ?? false,
  };
  const bad = (why: string) => new CurveError(StatusCode.PARAM_ERROR, `raft config: ${why}`);
  if (!Number.isSafeInteger(r.id) || r.id <= 0) throw bad(`id ${r.id} must be a positive integer`);
  if (!Number.isInteger(r.heartbeatTick) || r.heartbeatTick <= 0) throw bad('heartbeatTick must be > 0');
  if (!Number.isInteger(r.electionTick) || r.electionTick < r.heartbeatTick + VOTE_LEASE_MARGIN_TICKS + 1) {
    // The vote lease (electionTick − 2) must outlast the gap between heartbeats.
    throw bad(`electionTick must be >= heartbeatTick + ${VOTE_LEASE_MARGIN_TICKS + 1}`);
  }
  if (r.maxInflightMsgs <= 0) throw bad('maxInflightMsgs must be > 0');
  if (r.maxSizePerMsg <= 0) throw bad('maxSizePerMsg must be > 0');
  if (r.readOnlyOption !== 'safe' && r.readOnlyOption !== 'lease') throw bad(`readOnlyOption ${String(r.readOnlyOption)}`);
  if (r.readOnlyOption === 'lease' && !r.checkQuorum) throw bad("readOnlyOption 'lease' requires checkQuorum");
  // The read lease covers voteLeaseTicks − 2 ticks; at least one.
  if (r.readOnlyOption === 'lease' && voteLeaseTicks(r) - 2 < 1) throw bad("readOnlyOption 'lease' needs electionTick >= 5");
  return r;
}
