// What a replicated state machine provides to the Raft driver (src/raft/node.ts).
import type { ConfChangeEntry } from './core/index.ts';
import type { Entry, NodeId, Role } from './core/types.ts';

/** Where the state machine streams its snapshot bytes. */
export interface SnapshotSink {
  write(chunk: Uint8Array): Promise<void>;
}

/**
 * Streams a snapshot image into `sink`. The driver calls it after `snapshot()` returned, while
 * apply continues: the image must be the state as of the `snapshot()` call (a copy-on-write
 * view, an immutable structure, or a copy — the state machine decides).
 */
export type SnapshotSource = (sink: SnapshotSink) => Promise<void>;

export interface StateMachine {
  /**
   * Applies one committed command, in log order, on every replica. Must be deterministic. The
   * value settles the proposer's promise on the replica that proposed it: return failures as
   * values. A thrown exception (or rejected promise) is not a result — it may happen on this
   * replica only — so the driver stops the group here, naming the entry (docs/raft.md). A
   * promise is awaited before the next entry is applied.
   */
  apply(entry: Entry): unknown;
  /** Captures the current state (after the last applied entry) for a snapshot. */
  snapshot(): SnapshotSource;
  /** Replaces the whole state with a snapshot image. */
  restore(data: AsyncIterable<Uint8Array>): Promise<void>;
  /** A membership change was applied at `index` (after Raft acted on it). */
  onConfChange?(change: ConfChangeEntry, index: number): void;
  /** This replica's view of the leader changed. */
  onRoleChange?(role: Role, leader: NodeId, term: number): void;
}
