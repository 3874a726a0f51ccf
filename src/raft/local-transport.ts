// An in-process network of RaftNodes for tests: delivers batches asynchronously (on a later
// turn of the event loop, like a socket would) and can cut links.
import { CurveError, StatusCode } from '../common/index.ts';
import type { NodeId, RaftMessage } from './core/types.ts';
import type { GroupMessage, RaftTransport, RaftTransportHandler } from './transport.ts';

export class LocalNetwork {
  private readonly handlers = new Map<NodeId, RaftTransportHandler>();
  private readonly down = new Set<string>();

  /** The transport of node `id` on this network. */
  transport(id: NodeId): RaftTransport {
    return {
      listen: (h) => {
        this.handlers.set(id, h);
      },
      send: (to, batch) => this.deliver(id, to, batch),
      sendSnapshot: (to, groupId, msg, chunks) => this.stream(id, to, groupId, msg, chunks),
    };
  }

  /** Removes a node's receiver (its process is gone). */
  detach(id: NodeId): void {
    this.handlers.delete(id);
  }

  /** Cuts (or heals) both directions between a and b. */
  setLink(a: NodeId, b: NodeId, up: boolean): void {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) {
      if (up) this.down.delete(k);
      else this.down.add(k);
    }
  }

  private reachable(from: NodeId, to: NodeId): RaftTransportHandler {
    const h = this.handlers.get(to);
    if (!h || this.down.has(`${from}>${to}`)) throw new CurveError(StatusCode.UNAVAILABLE, `node ${to} unreachable from ${from}`);
    return h;
  }

  private async deliver(from: NodeId, to: NodeId, batch: GroupMessage[]): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.reachable(from, to).onMessages(batch, from);
  }

  private async stream(from: NodeId, to: NodeId, groupId: number, msg: RaftMessage, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let offset = 0;
    for await (const data of chunks) {
      await this.reachable(from, to).onSnapshotChunk({ groupId, msg, offset, data, done: false });
      offset += data.length;
    }
    await this.reachable(from, to).onSnapshotChunk({ groupId, msg, offset, data: new Uint8Array(0), done: true });
  }
}
