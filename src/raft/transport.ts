// How Raft messages travel between processes. The driver hands a transport one batch per peer
// per round (messages of every group bound for that peer) and streams snapshot files through it
// in chunks. Implementations: LocalNetwork (in-process, for tests) and RpcRaftTransport.
import type { NodeId, RaftMessage } from './core/types.ts';

export interface GroupMessage {
  groupId: number;
  msg: RaftMessage;
}

/** One piece of a snapshot file on its way to a follower. */
export interface SnapshotChunk {
  groupId: number;
  /** The Snapshot message it belongs to (meta in msg.snapshot.meta, data empty). */
  msg: RaftMessage;
  /** Byte offset of `data` in the snapshot file. */
  offset: number;
  data: Uint8Array;
  /** The last chunk: the file is complete. */
  done: boolean;
}

export interface RaftTransportHandler {
  /**
   * Messages arrived from node `from` (steps them into their groups synchronously, in order). An
   * empty batch is a liveness ping: `from` is alive (quiescence, driver/peer-liveness.ts).
   */
  onMessages(batch: GroupMessage[], from?: NodeId): void;
  /** A snapshot chunk arrived; resolves once stored (rejects to abort the transfer). */
  onSnapshotChunk(chunk: SnapshotChunk): Promise<void>;
}

export interface RaftTransport {
  /** Registers the receiving side (once, by the RaftNode). */
  listen(handler: RaftTransportHandler): void;
  /** Sends a batch to `to`; rejects when it could not be delivered (Raft retransmits). */
  send(to: NodeId, batch: GroupMessage[]): Promise<void>;
  /**
   * Streams a snapshot file to `to`, chunk by chunk, each acknowledged before the next; resolves
   * when the receiver has the whole file.
   */
  sendSnapshot(to: NodeId, groupId: number, msg: RaftMessage, chunks: AsyncIterable<Uint8Array>): Promise<void>;
}
