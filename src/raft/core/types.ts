// The data that crosses the boundary of the pure Raft core. The core never does I/O: the driver
// (src/raft/node.ts) persists what a Ready asks for, sends its messages, applies its committed
// entries, and then calls advance(). This file is the contract between the core, the log and
// snapshot storage, the transport and the driver.

/** Replica id: the metaserver id (a positive integer; 0 means "none"). */
export type NodeId = number;

export const enum EntryType {
  /** A state-machine command (the payload is opaque to Raft). */
  Normal = 0,
  /** A membership change; payload is an encoded ConfChange (see confchange codec in core). */
  ConfChange = 1,
}

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before the node may vote or acknowledge again. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers, and its term. */
  index: number;
  term: number;
  /** Membership as of `index`. */
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** State-machine bytes, produced and consumed by the state machine. */
  data: Uint8Array;
}

export interface ReadState {
  /** Commit index at which the read may be served once applied. */
  index: number;
  /** Caller's context, returned as given. */
  requestCtx: Uint8Array;
}

export const enum Role {
  Follower = 0,
  PreCandidate = 1,
  Candidate = 2,
  Leader = 3,
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/**
 * One batch of work for the driver. Order the driver must follow:
 *  1. persist `snapshot` (if any; it replaces the whole log, which restarts after
 *     snapshot.meta.index), `entries` (appending, truncating any conflicting suffix from
 *     entries[0].index) and `hardState` (if any) — synced when `mustSync`;
 *  2. send `messages`;
 *  3. apply `snapshot` (if any) then `committedEntries` to the state machine, in order;
 *  4. call `advance()`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: RaftMessage[];
  readStates: ReadState[];
  mustSync: boolean;
}

/**
 * Messages only a leader sends. They acknowledge nothing and carry no vote, so they need not wait
 * for the disk: the core counts the leader's own copy of the log, and a candidate's own vote,
 * only once the driver reports them durable (docs/raft.md, "The Ready contract").
 */
export function isLeaderTraffic(type: MessageType): boolean {
  return type === MessageType.Append || type === MessageType.Heartbeat || type === MessageType.Snapshot || type === MessageType.TimeoutNow;
}

/** State a node restarts from: what its storage loaded. */
export interface RestartState {
  hardState: HardState;
  /** Latest durable snapshot's meta (index 0 / term 0 / initial conf when none). */
  snapshotMeta: SnapshotMeta;
  /** Entries after snapshotMeta.index, contiguous. */
  entries: Entry[];
  /** Highest index already applied to the state machine (>= snapshotMeta.index). */
  applied: number;
}

export const enum MessageType {
  PreVote = 1,
  PreVoteResp = 2,
  Vote = 3,
  VoteResp = 4,
  Append = 5,
  AppendResp = 6,
  Heartbeat = 7,
  HeartbeatResp = 8,
  Snapshot = 9,
  /** Ask the transferee to start an election at once (leadership transfer). */
  TimeoutNow = 10,
  /**
   * Leader → member: everyone holds the leader's whole log (index/logTerm: its last entry,
   * commit: its commit index) and nothing is pending; stop the election timer until woken.
   */
  Quiesce = 11,
  /** A woken member → its quiesced leader: resume heartbeats (else we would time out and campaign). */
  Wake = 12,
}

/** A message between replicas of one group. The transport adds the group id. */
export interface RaftMessage {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /**
   * Append: prevLogIndex; AppendResp: the index acknowledged (on reject: the rejected
   * prevLogIndex); (Pre)Vote: candidate's last log index; Heartbeat/HeartbeatResp: the leader's
   * tick count at send, echoed back (the basis of the read lease).
   */
  index: number;
  /** Append: prevLogTerm; (Pre)Vote: candidate's last log term; AppendResp reject: term at rejectHint. */
  logTerm: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppendResp reject hint: the follower's guess of the last index where the logs agree. */
  rejectHint: number;
  snapshot?: Snapshot;
  /**
   * ReadIndex context carried on heartbeats (echoed on HeartbeatResp); on (Pre)Vote, the bytes
   * "transfer" mark a campaign started by TimeoutNow (see CAMPAIGN_TRANSFER).
   */
  context?: Uint8Array;
}
