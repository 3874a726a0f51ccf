// The Raft transport over the project's framed RPC: RaftService (proto/raft.proto) served on the
// process's RpcServer, and called on peers through a ChannelPool, peers found in the AddressBook.
import { CurveError, StatusCode } from '../common/index.ts';
import { RaftService, type GroupMsg } from '../gen/raft_pb.ts';
import type { ChannelPool, RpcServer } from '../rpc/index.ts';
import type { NodeId, RaftMessage } from './core/types.ts';
import type { AddressBook } from './address-book.ts';
import type { GroupMessage, RaftTransport, RaftTransportHandler } from './transport.ts';
import { fromWire, toWire } from './wire.ts';

export interface RpcRaftTransportOptions {
  /** This node's id (sent with every batch). */
  self: NodeId;
  /** The process's RPC server; RaftService is registered on it. */
  server: RpcServer;
  pool: ChannelPool;
  addresses: AddressBook;
  /** Deadline of one snapshot chunk (default 30 s). */
  chunkTimeoutMs?: number;
}

function checkGroup(id: number): number {
  if (!Number.isSafeInteger(id) || id < 0) throw new CurveError(StatusCode.PARAM_ERROR, `group id ${id} out of range`);
  return id;
}

export class RpcRaftTransport implements RaftTransport {
  private handler: RaftTransportHandler | undefined;
  private readonly chunkTimeoutMs: number;

  constructor(private readonly opts: RpcRaftTransportOptions) {
    this.chunkTimeoutMs = opts.chunkTimeoutMs ?? 30_000;
    opts.server.register(RaftService, {
      send: (req) => {
        const h = this.receiver();
        // Decode the whole batch first: a malformed message rejects the batch and steps nothing.
        const batch = req.msgs.map((g) => ({ groupId: checkGroup(g.groupId), msg: fromWire(g.msg ?? missing()) }));
        h.onMessages(batch, Number.isSafeInteger(req.from) && req.from > 0 ? req.from : undefined);
        return {};
      },
      installSnapshotChunk: async (req) => {
        const h = this.receiver();
        const msg = fromWire(req.msg ?? missing());
        if (!msg.snapshot) throw new CurveError(StatusCode.PARAM_ERROR, 'snapshot chunk without snapshot meta');
        if (!Number.isSafeInteger(req.offset)) throw new CurveError(StatusCode.PARAM_ERROR, `chunk offset ${req.offset}`);
        await h.onSnapshotChunk({ groupId: checkGroup(req.groupId), msg, offset: req.offset, data: req.data, done: req.done });
        return {};
      },
    });
  }

  listen(handler: RaftTransportHandler): void {
    this.handler = handler;
  }

  /**
   * One-way (FLAG_ONE_WAY in src/rpc): a batch's answers come back as Raft messages of their own,
   * so an RPC response would only cost a frame, a socket write and a wake-up on each side.
   * Resolves once the batch is handed to the connection; rejects when it could not be (no
   * address, peer in connect backoff, connection congested). A batch lost after that is like
   * one lost on the network: Raft retransmits.
   */
  send(to: NodeId, batch: GroupMessage[]): Promise<void> {
    try {
      const msgs: GroupMsg[] = batch.map(({ groupId, msg }) => ({ $typeName: 'curvefs.raft.GroupMsg', groupId, msg: toWire(msg) }));
      const addr = this.opts.addresses.get(to);
      if (!addr) throw new CurveError(StatusCode.UNAVAILABLE, `no address for node ${to}`);
      if (!this.opts.pool.notify(addr, RaftService.method.send, { from: this.opts.self, msgs })) {
        throw new CurveError(StatusCode.UNAVAILABLE, `raft batch to node ${to} (${addr}) not sent: connection unavailable or congested`);
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async sendSnapshot(to: NodeId, groupId: number, msg: RaftMessage, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const client = this.client(to);
    const wire = toWire(msg);
    let offset = 0;
    for await (const data of chunks) {
      await client.installSnapshotChunk({ groupId, msg: wire, offset, data, done: false }, { timeoutMs: this.chunkTimeoutMs });
      offset += data.length;
    }
    await client.installSnapshotChunk({ groupId, msg: wire, offset, done: true }, { timeoutMs: this.chunkTimeoutMs });
  }

  private client(to: NodeId) {
    const addr = this.opts.addresses.get(to);
    if (!addr) throw new CurveError(StatusCode.UNAVAILABLE, `no address for node ${to}`);
    return this.opts.pool.client(RaftService, addr);
  }

  private receiver(): RaftTransportHandler {
    if (!this.handler) throw new CurveError(StatusCode.UNAVAILABLE, 'raft node not started');
    return this.handler;
  }
}

function missing(): never {
  throw new CurveError(StatusCode.PARAM_ERROR, 'raft message missing');
}
