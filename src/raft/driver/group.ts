// The driver's state for one Raft group hosted by a RaftNode: the pure core, its storage, its
// state machine, and the client requests waiting on it.
import type { RawNode } from '../core/index.ts';
import type { NodeId, Role } from '../core/types.ts';
import type { RaftLog } from '../log/index.ts';
import type { SnapshotReceiver, SnapshotStore } from '../snapshot/index.ts';
import type { StateMachine } from '../state-machine.ts';

export interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  /** Clock time after which it fails with TIMEOUT. */
  deadline: number;
}

export interface PendingProposal extends Waiter<unknown> {
  /** Term in which it was appended: the entry applied at its index is ours iff terms match. */
  term: number;
}

export class Group {
  /** Proposals by log index. */
  readonly proposals = new Map<number, PendingProposal>();
  /** Reads not yet handed to the core (one ReadIndex serves all reads queued in a round). */
  readQueue: Waiter<void>[] = [];
  /** Reads handed to the core, by request context (hex). */
  readonly readsByCtx = new Map<string, Waiter<void>[]>();
  /** Reads with a read index, waiting for apply to reach it (ascending index). */
  readsAwaitingApply: { index: number; waiters: Waiter<void>[] }[] = [];
  readCounter = 0;

  applied: number;
  /** Last log index known to be on this replica's disk (persisted by an earlier round). */
  durableIndex: number;
  /** Index of the newest durable snapshot, and bytes applied since it. */
  snapshotIndex: number;
  bytesSinceSnapshot = 0;
  /** When (RaftNode's clock) the newest snapshot was started or installed, or the group opened. */
  snapshotAt = 0;
  /** The node's tick count this group's core has been ticked to (RaftNode.tickCount). */
  ticked = 0;
  snapshotTask: Promise<void> | undefined;
  /** This leader's log write running behind the rounds (RawNode.advanceWriting), if any. */
  writeBehind: Promise<void> | undefined;

  role: Role;
  leader: NodeId = 0;
  /** Snapshot files being received, by sending node. */
  readonly receiving = new Map<NodeId, SnapshotReceiver>();
  /** Received and checked snapshot files the core has been told about, by "index-term". */
  readonly received = new Map<string, SnapshotReceiver>();
  /** Followers a snapshot is being streamed to. */
  readonly sendingSnapshot = new Set<NodeId>();

  removed = false;
  /** Set when storage failed: the group stops (its Ready is never advanced). */
  failed: Error | undefined;

  constructor(
    readonly id: number,
    readonly dir: string,
    readonly node: RawNode,
    readonly log: RaftLog,
    readonly snaps: SnapshotStore,
    readonly sm: StateMachine,
    startIndex: number,
    durableIndex: number,
  ) {
    this.applied = startIndex;
    this.durableIndex = durableIndex;
    this.snapshotIndex = startIndex;
    this.role = node.role;
  }

  /** Rejects every waiting request with `e`. */
  failAll(e: Error): void {
    for (const p of this.proposals.values()) p.reject(e);
    this.proposals.clear();
    this.failReads(e);
  }

  failReads(e: Error): void {
    for (const w of this.readQueue) w.reject(e);
    this.readQueue = [];
    for (const ws of this.readsByCtx.values()) for (const w of ws) w.reject(e);
    this.readsByCtx.clear();
    for (const r of this.readsAwaitingApply) for (const w of r.waiters) w.reject(e);
    this.readsAwaitingApply = [];
  }
}
