// ReadIndex bookkeeping (Raft dissertation §6.4): a read request remembers the commit index at
// the time it arrived; once a quorum has answered a heartbeat carrying its context, the leader
// knows it was still leader then, and every request queued up to that one can be served at its
// recorded index.
import type { NodeId, ReadState } from './types.ts';

interface PendingRead {
  index: number;
  ctx: Uint8Array;
  acks: Set<NodeId>;
}

export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

export class ReadOnlyQueue {
  private pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  /** Returns false if a request with the same context is already pending. */
  add(index: number, ctx: Uint8Array): boolean {
    const k = ctxKey(ctx);
    if (this.pending.has(k)) return false;
    this.pending.set(k, { index, ctx, acks: new Set() });
    this.queue.push(k);
    return true;
  }

  /** Records that `from` answered the heartbeat carrying ctx; returns who has acked so far. */
  recvAck(from: NodeId, ctx: Uint8Array): Set<NodeId> | undefined {
    const p = this.pending.get(ctxKey(ctx));
    if (!p) return undefined;
    p.acks.add(from);
    return p.acks;
  }

  /** Releases every request up to and including ctx, in arrival order. */
  advance(ctx: Uint8Array): ReadState[] {
    const k = ctxKey(ctx);
    const at = this.queue.indexOf(k);
    if (at < 0) return [];
    const out: ReadState[] = [];
    for (const key of this.queue.slice(0, at + 1)) {
      const p = this.pending.get(key)!;
      out.push({ index: p.index, requestCtx: p.ctx });
      this.pending.delete(key);
    }
    this.queue = this.queue.slice(at + 1);
    return out;
  }

  lastPendingCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.ctx;
  }

  get size(): number {
    return this.queue.length;
  }
}
