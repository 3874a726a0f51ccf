// The Raft transport over the project's framed RPC: RaftService (proto/raft.proto) served on the
// process's RpcServer, and called on peers through a ChannelPool, peers found in the AddressBook.
import { CurveError, StatusCode } from '../common/index.ts';
import { RaftService } from '../gen/raft_pb.ts';
import { compactPayload } from '../rpc/frame.ts';
import { methodFullName, type CallContext, type ChannelPool, type RpcServer } from '../rpc/index.ts';
import type { NodeId, RaftMessage } from './core/types.ts';
import type { AddressBook } from './address-book.ts';
import type { GroupMessage, RaftTransport, RaftTransportHandler } from './transport.ts';
import { fromWire, toWire } from './wire.ts';
import { decodeBatch, encodeBatch } from './wire-batch.ts';

const SEND_METHOD = methodFullName(RaftService.method.send);
/** RaftService without Send (served raw with the hand codec, see the constructor), for RpcServer.register. */
const WITHOUT_SEND = { ...RaftService, methods: RaftService.methods.filter((m) => m !== RaftService.method.send) } as unknown as typeof RaftService;
const EMPTY = new Uint8Array(0);

export interface RpcRaftTransportOptions {
  /** This node's id (sent with every batch). */
  self: NodeId;
  /** The process's RPC server; RaftService is registered on it. */
  server: RpcServer;
  pool: ChannelPool;
  addresses: AddressBook;
  /** Deadline of one snapshot chunk (default 30 s). */
  chunkTimeoutMs?: number;
  /**
   * Proof that the caller is node `from` (e.g. by its TLS certificate: mds/auth/peer-identity.ts);
   * throws to refuse. With it, every message of a batch must carry the batch's sender.
   */
  checkSender?: (from: NodeId, ctx: CallContext) => void | Promise<void>;
  /**
   * Most bytes one received snapshot transfer may carry (default 16 GiB): a chunk that would take
   * a transfer past it is refused, so a peer streaming forever fills at most this much disk per
   * (group, sender) — the receiver keeps one partial file per sender (issue [L] finding 5).
   */
  maxSnapshotBytes?: number;
}

export const DEFAULT_MAX_SNAPSHOT_BYTES = 16 * 1024 ** 3;

function checkGroup(id: number): number {
  if (!Number.isSafeInteger(id) || id < 0) throw new CurveError(StatusCode.PARAM_ERROR, `group id ${id} out of range`);
  return id;
}

export class RpcRaftTransport implements RaftTransport {
  private handler: RaftTransportHandler | undefined;
  private readonly chunkTimeoutMs: number;
  private readonly maxSnapshotBytes: number;
  /** Snapshot chunks refused for going over `maxSnapshotBytes` (status pages, tests). */
  refusedSnapshotChunks = 0;

  constructor(private readonly opts: RpcRaftTransportOptions) {
    this.chunkTimeoutMs = opts.chunkTimeoutMs ?? 30_000;
    this.maxSnapshotBytes = opts.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
    // Send is served raw with the hand codec (wire-batch.ts: the same bytes as the generated
    // code); the rest of RaftService through the generated code.
    opts.server.registerRaw(SEND_METHOD, (payload, ctx) => {
      const h = this.receiver();
      // Decode the whole batch first: a malformed message rejects the batch and steps nothing.
      const req = decodeBatch(compactPayload(payload as Buffer));
      const batch = req.msgs;
      const from = Number.isSafeInteger(req.from) && req.from > 0 ? req.from : undefined;
      const check = this.opts.checkSender;
      if (!check) {
        h.onMessages(batch, from);
        return EMPTY;
      }
      if (from === undefined) throw new CurveError(StatusCode.PARAM_ERROR, `raft batch sender ${req.from} out of range`);
      for (const { msg } of batch) {
        if (msg.from !== from) throw new CurveError(StatusCode.FORBIDDEN, `a raft batch from node ${from} carries a message from node ${msg.from}`);
      }
      // Synchronous once the sender is known, so batches step in their order of arrival.
      const pending = check(from, ctx);
      if (!pending) {
        h.onMessages(batch, from);
        return EMPTY;
      }
      return pending.then(() => {
        h.onMessages(batch, from);
        return EMPTY;
      });
    });
    opts.server.register(WITHOUT_SEND, {
      // Not registered (WITHOUT_SEND lists no Send); served raw above.
      send: () => {
        throw new CurveError(StatusCode.UNKNOWN_METHOD, 'RaftService/Send is served raw');
      },
      installSnapshotChunk: async (req, ctx) => {
        const h = this.receiver();
        const msg = fromWire(req.msg ?? missing());
        await this.opts.checkSender?.(msg.from, ctx);
        if (!msg.snapshot) throw new CurveError(StatusCode.PARAM_ERROR, 'snapshot chunk without snapshot meta');
        if (!Number.isSafeInteger(req.offset) || req.offset < 0) throw new CurveError(StatusCode.PARAM_ERROR, `chunk offset ${req.offset}`);
        // Chunks arrive in order (the receiver checks), so the offset is what the transfer holds.
        if (req.offset + req.data.length > this.maxSnapshotBytes) {
          this.refusedSnapshotChunks++;
          throw new CurveError(StatusCode.PARAM_ERROR, `snapshot transfer from node ${msg.from} would exceed ${this.maxSnapshotBytes} bytes (chunk at ${req.offset} of ${req.data.length} bytes)`);
        }
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
      const addr = this.opts.addresses.get(to);
      if (!addr) throw new CurveError(StatusCode.UNAVAILABLE, `no address for node ${to}`);
      // Written to the socket at once: the driver sends one batch per peer per round, and the
      // peer's disk write (or the commit) waits on it — not on the rest of this turn.
      if (!this.opts.pool.notifyRaw(addr, SEND_METHOD, encodeBatch(this.opts.self, batch), true)) {
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
