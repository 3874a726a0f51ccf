// Which peer processes are alive, as far as this node can tell (docs/raft.md "Quiescence").
//
// A quiesced follower's election timer stands still, so the death of its leader's process must
// be noticed by the node, once for all its groups: the node sends each peer that shares a group
// with it a batch at least every electionTick / 3 timer callbacks — an empty one when it has
// nothing else for that peer — so a live peer is heard several times per silence bound. A peer counts as gone when a send to it failed
// since it was last heard (a killed process refuses connections at once), or when it has been
// silent for `silentTicks` of this node's timer callbacks (a hung process, a partition). A wrong verdict only wakes groups early:
// liveness, never safety, depends on it.
import type { NodeId } from '../core/types.ts';

export class PeerLiveness {
  /** The node's timer-callback count when each peer was last heard (or first asked about). */
  private readonly lastHeard = new Map<NodeId, number>();
  /** Peers a send failed to since they were last heard. */
  private readonly failed = new Set<NodeId>();

  constructor(private readonly silentTicks: number) {}

  /** Anything (a batch, possibly empty) arrived from `peer`. */
  heard(peer: NodeId, now: number): void {
    this.lastHeard.set(peer, now);
    this.failed.delete(peer);
  }

  /** A batch to `peer` could not be delivered. */
  sendFailed(peer: NodeId): void {
    this.failed.add(peer);
  }

  /** Is `peer` presumed gone at node tick `now`? A peer never heard starts its silence now. */
  gone(peer: NodeId, now: number): boolean {
    if (this.failed.has(peer)) return true;
    const t = this.lastHeard.get(peer);
    if (t === undefined) {
      this.lastHeard.set(peer, now);
      return false;
    }
    return now - t >= this.silentTicks;
  }
}
