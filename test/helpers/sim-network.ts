// The simulated network of the driver-level simulation: a RaftTransport per process whose
// batches travel through the world's event queue with a random delay (so they reorder), are
// dropped, duplicated or cut by partitions, and are encoded and decoded on the way as they are
// over RPC (src/raft/wire.ts), so no replica shares an object with another.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import type { GroupMessage, NodeId, RaftMessage, RaftTransport, RaftTransportHandler } from '../../src/raft/index.ts';
import { RaftMsgSchema } from '../../src/gen/raft_pb.ts';
import { fromWire, toWire } from '../../src/raft/wire.ts';
import type { Proc, SimWorld } from './sim-world.ts';

export interface SimNetworkOptions {
  minDelay: number;
  maxDelay: number;
  /** Probability that a batch (or its answer) is lost: the sender's call fails after a timeout. */
  dropRate: number;
  /** Probability that a batch is delivered twice. */
  dupRate: number;
}

export interface SimNetworkStats {
  batches: number;
  dropped: number;
  duplicated: number;
  cut: number;
  snapshotChunks: number;
}

const copy = (m: RaftMessage): RaftMessage => fromWire(fromBinary(RaftMsgSchema, toBinary(RaftMsgSchema, toWire(m))));

export class SimNetwork {
  private readonly endpoints = new Map<NodeId, { proc: Proc; handler?: RaftTransportHandler }>();
  /** Cut directions, "from>to". */
  private readonly down = new Set<string>();
  readonly stats: SimNetworkStats = { batches: 0, dropped: 0, duplicated: 0, cut: 0, snapshotChunks: 0 };

  constructor(
    private readonly world: SimWorld,
    private readonly opts: SimNetworkOptions,
  ) {}

  /** The transport of process `proc` of node `id` (replaces the node's previous incarnation). */
  transport(id: NodeId, proc: Proc): RaftTransport {
    const ep: { proc: Proc; handler?: RaftTransportHandler } = { proc };
    this.endpoints.set(id, ep);
    return {
      listen: (h) => {
        ep.handler = h;
      },
      send: (to, batch) => this.send(id, proc, to, batch),
      sendSnapshot: (to, groupId, msg, chunks) => this.stream(id, proc, to, groupId, msg, chunks),
    };
  }

  /** Cuts (or heals) both directions between a and b. */
  setLink(a: NodeId, b: NodeId, up: boolean): void {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) {
      if (up) this.down.delete(k);
      else this.down.add(k);
    }
  }

  healAll(): void {
    this.down.clear();
  }

  get cutLinks(): number {
    return this.down.size;
  }

  private delay(): number {
    const { minDelay, maxDelay } = this.opts;
    return minDelay + this.world.rng.next() * (maxDelay - minDelay);
  }

  /** The receiving handler if `to` is up and reachable from `from` now. */
  private target(from: NodeId, to: NodeId): RaftTransportHandler | undefined {
    const ep = this.endpoints.get(to);
    if (!ep || !ep.proc.alive || !ep.handler || this.down.has(`${from}>${to}`)) return undefined;
    return ep.handler;
  }

  private send(from: NodeId, proc: Proc, to: NodeId, batch: GroupMessage[]): Promise<void> {
    if (!proc.alive) return new Promise(() => undefined);
    this.stats.batches++;
    const rng = this.world.rng;
    // Encoded now: the sender may go on changing nothing, but the receiver must own its copy.
    const wire = batch.map((g) => ({ groupId: g.groupId, msg: copy(g.msg) }));
    const fail = (why: string) => new CurveError(StatusCode.UNAVAILABLE, `node ${to} unreachable from ${from}: ${why}`);
    return new Promise((resolve, reject) => {
      const lostRequest = rng.next() < this.opts.dropRate;
      const lostAnswer = !lostRequest && rng.next() < this.opts.dropRate / 2;
      const dup = rng.next() < this.opts.dupRate;
      const deliver = (copyNo: number): void => {
        const h = this.target(from, to);
        if (!h) {
          if (copyNo === 0) {
            this.stats.cut++;
            this.world.schedule(this.delay() * 5, () => proc.alive && reject(fail('down or cut')));
          }
          return;
        }
        this.world.note(`deliver ${from}>${to} ${describe(wire)}`);
        h.onMessages(copyNo === 0 ? wire : wire.map((g) => ({ groupId: g.groupId, msg: copy(g.msg) })), from);
        if (copyNo !== 0) return;
        if (lostAnswer) {
          this.stats.dropped++;
          this.world.schedule(this.delay() * 5, () => proc.alive && reject(fail('answer lost')));
        } else {
          this.world.schedule(this.delay(), () => proc.alive && resolve());
        }
      };
      if (lostRequest) {
        this.stats.dropped++;
        this.world.schedule(this.delay() * 5, () => proc.alive && reject(fail('request lost')));
      } else {
        this.world.schedule(this.delay(), () => deliver(0));
      }
      if (dup) {
        this.stats.duplicated++;
        this.world.schedule(this.delay() * 2, () => deliver(1));
      }
    });
  }

  private async stream(from: NodeId, proc: Proc, to: NodeId, groupId: number, msg: RaftMessage, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let offset = 0;
    const hop = async (data: Uint8Array, done: boolean): Promise<void> => {
      await this.world.after(this.delay(), proc);
      const h = this.target(from, to);
      if (!h || (!done && this.world.rng.next() < this.opts.dropRate)) {
        await this.world.after(this.delay() * 5, proc);
        throw new CurveError(StatusCode.UNAVAILABLE, `snapshot to ${to} from ${from}: down, cut or lost`);
      }
      this.stats.snapshotChunks++;
      this.world.note(`snapshot-chunk ${from}>${to} g${groupId} @${offset} ${data.length}B${done ? ' done' : ''}`);
      // A receiver that dies while storing the chunk never answers (its disk's operations never
      // complete); the real transport's call then fails (connection reset, or its chunk timeout),
      // and so does this one, so the sender's transfer ends and it may send again.
      const answered = h.onSnapshotChunk({ groupId, msg: copy(msg), offset, data: data.slice(), done });
      const silent = this.world.after(CHUNK_TIMEOUT_MS, proc).then(() => {
        throw new CurveError(StatusCode.UNAVAILABLE, `snapshot to ${to} from ${from}: no answer in ${CHUNK_TIMEOUT_MS} ms`);
      });
      await Promise.race([answered, silent]);
    };
    for await (const data of chunks) {
      await hop(data, false);
      offset += data.length;
    }
    await hop(new Uint8Array(0), true);
    await this.world.after(this.delay(), proc);
  }
}

/** Simulated ms a snapshot chunk may wait for its answer (RpcRaftTransport: chunkTimeoutMs). */
const CHUNK_TIMEOUT_MS = 5000;

function describe(batch: GroupMessage[]): string {
  return batch.map(({ groupId, msg: m }) => `g${groupId}:${m.type}/t${m.term}/i${m.index}/c${m.commit}/n${m.entries?.length ?? 0}${m.reject ? '/r' : ''}`).join(',') || 'ping';
}
