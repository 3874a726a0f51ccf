// The driver's outgoing Raft messages (not snapshots: driver/snapshot-transfer.ts). A round's
// messages go out as one batch per peer, whatever groups they belong to; commit-index-only appends
// are held for the next batch or tick; a peer with too many batches still being handed to its
// connection gets no more until some are (Raft retransmits what is dropped).
//
// Why hold empty appends: after every commit the core tells each follower the new commit index in
// an Append without entries, and each follower answers it, which at one proposal in flight
// doubled the Raft messages of a commit (a frame, a socket write and a wake-up each) for a
// follower's apply that nothing waits on — reads are served by the leader. A held append rides in
// the next batch to that peer (the next proposal's Append, an acknowledgement, a heartbeat) or
// leaves at the next tick, at most one tick late; a newer one for the same group replaces it, and
// an Append of the same group in that batch supersedes it (it carries the same or a newer commit
// index, and the follower would acknowledge both). Raft allows any message to be late or lost:
// the core keeps no in-flight state for an empty append, and heartbeats carry the commit index too.
import { trace, tracing } from '../../common/index.ts';
import { MessageType, type NodeId, type RaftMessage } from '../core/types.ts';
import type { GroupMessage, RaftTransport } from '../transport.ts';

export interface OutboxHost {
  transport: RaftTransport;
  /** Batches being handed to one peer's connection before further ones are dropped. */
  maxInflightBatchesPerPeer: number;
  /** Peer liveness's clock (timer callbacks so far): when each peer was last sent something. */
  now(): number;
  /** Whether group `groupId` is still open here (held appends of a closed group are dropped). */
  isOpen(groupId: number): boolean;
  /** A batch was not handed over (peer unreachable, congested, or too many in flight). */
  unreachable(to: NodeId, batch: GroupMessage[]): void;
}

export class Outbox {
  private readonly inflightToPeer = new Map<NodeId, number>();
  private readonly lastSentTo = new Map<NodeId, number>();
  /** Empty appends held per peer and group (see the header). */
  private readonly held = new Map<NodeId, Map<number, RaftMessage>>();

  constructor(private readonly host: OutboxHost) {}

  /** Sends a round's messages, one batch per peer (each group's messages in their order). */
  send(msgs: Iterable<GroupMessage>): void {
    const byPeer = new Map<NodeId, GroupMessage[]>();
    for (const gm of msgs) {
      const m = gm.msg;
      if (m.type === MessageType.Append && m.entries.length === 0) {
        let held = this.held.get(m.to);
        if (!held) this.held.set(m.to, (held = new Map()));
        held.set(gm.groupId, m);
        continue;
      }
      let batch = byPeer.get(m.to);
      if (!batch) byPeer.set(m.to, (batch = []));
      batch.push(gm);
    }
    for (const [to, batch] of byPeer) this.sendBatch(to, this.withHeld(to, batch));
  }

  /** Sends every held empty append (at each tick). */
  flushHeld(): void {
    for (const to of [...this.held.keys()]) {
      const batch = this.withHeld(to, []);
      if (batch.length > 0) this.sendBatch(to, batch);
    }
  }

  /** An empty batch: a liveness ping (quiescence). */
  ping(to: NodeId): void {
    this.sendBatch(to, []);
  }

  /** host.now() when `to` was last sent a batch, or -Infinity. */
  lastSent(to: NodeId): number {
    return this.lastSentTo.get(to) ?? -Infinity;
  }

  /** `batch` with the empty appends held for `to` in front, less those it supersedes. */
  private withHeld(to: NodeId, batch: GroupMessage[]): GroupMessage[] {
    const held = this.held.get(to);
    if (!held) return batch;
    this.held.delete(to);
    for (const { groupId, msg } of batch) {
      const h = held.get(groupId);
      if (h && msg.type === MessageType.Append && msg.term >= h.term) held.delete(groupId);
    }
    if (held.size === 0) return batch;
    const out: GroupMessage[] = [];
    for (const [groupId, msg] of held) if (this.host.isOpen(groupId)) out.push({ groupId, msg });
    return out.concat(batch);
  }

  private sendBatch(to: NodeId, batch: GroupMessage[]): void {
    const n = this.inflightToPeer.get(to) ?? 0;
    if (n >= this.host.maxInflightBatchesPerPeer) {
      this.host.unreachable(to, batch);
      return;
    }
    this.inflightToPeer.set(to, n + 1);
    this.lastSentTo.set(to, this.host.now());
    if (tracing) traceSend(batch);
    this.host.transport.send(to, batch).then(
      () => this.inflightToPeer.set(to, (this.inflightToPeer.get(to) ?? 1) - 1),
      () => {
        this.inflightToPeer.set(to, (this.inflightToPeer.get(to) ?? 1) - 1);
        this.host.unreachable(to, batch);
      },
    );
  }
}

// CURVEFS_TRACE (src/common/trace.ts): only batches that carry entries or acknowledgements.
function traceSend(batch: GroupMessage[]): void {
  for (const { msg } of batch) {
    if (msg.type === MessageType.Append && msg.entries.length > 0) return trace('raft.send Append');
    if (msg.type === MessageType.AppendResp) return trace('raft.send AppendResp');
  }
}
