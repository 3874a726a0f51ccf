// MdsClient: typed calls to "the MDS" given the list of MDS addresses. Clients, metaservers and
// tools use it. It remembers which address served last, follows NOT_LEADER hints, rotates
// through the list on UNAVAILABLE / TIMEOUT / NOT_LEADER without a hint, and retries with capped,
// jittered backoff until the call's deadline (CurveFS's RPCExcutorRetryPolicy, digest §7.4, with
// the leader hint added; the policy itself is src/rpc/address-rotation.ts, shared with the client
// library's RotatingMdsConnector). Other statuses are the answer and are thrown at once.
//
//   const mds = new MdsClient({ addresses: ['127.0.0.1:6700', '127.0.0.1:6701'] });
//   const { fsInfo } = await mds.mds.getFsInfo({ fsName: 'fs1' });
//   await mds.heartbeat.metaServerHeartbeat(req, { deadlineMs: 2000 });
import type { MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { CurveError, StatusCode, systemRandom, type Random } from '../common/index.ts';
import { HeartbeatService } from '../gen/heartbeat_pb.ts';
import { MdsService } from '../gen/mds_pb.ts';
import { TopologyService } from '../gen/topology_pb.ts';
import { AddressRotation, ChannelPool, MDS_RETRY_STATUSES, type GenService, type GenServiceMethods } from '../rpc/index.ts';

export interface MdsClientOptions {
  /** MDS addresses ("host:port"); hints may add others. */
  addresses: string[];
  /** Shared pool (else the client owns one and closes it in close()). */
  pool?: ChannelPool;
  /** Total time for one call, retries included (default 16 s, CurveFS's budget). */
  deadlineMs?: number;
  /** Timeout of one attempt (default 2 s). */
  attemptTimeoutMs?: number;
  /** First retry pause; doubles per full rotation up to maxBackoffMs (defaults 50 / 1000 ms). */
  backoffMs?: number;
  maxBackoffMs?: number;
  random?: Random;
}

export interface MdsCallOptions {
  /** Overrides the client's total deadline for this call. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

export type MdsMethods<S extends GenServiceMethods> = {
  [K in keyof S]: (req: MessageInitShape<S[K]['input']>, opts?: MdsCallOptions) => Promise<MessageShape<S[K]['output']>>;
};

export class MdsClient {
  readonly mds: MdsMethods<(typeof MdsService)['method']>;
  readonly topology: MdsMethods<(typeof TopologyService)['method']>;
  readonly heartbeat: MdsMethods<(typeof HeartbeatService)['method']>;
  private readonly rotation: AddressRotation;
  private readonly pool: ChannelPool;
  private readonly ownPool: boolean;
  private readonly random: Random;

  constructor(private readonly opts: MdsClientOptions) {
    if (opts.addresses.length === 0) throw new CurveError(StatusCode.PARAM_ERROR, 'MdsClient needs at least one MDS address');
    this.rotation = new AddressRotation(opts.addresses);
    this.pool = opts.pool ?? new ChannelPool();
    this.ownPool = !opts.pool;
    this.random = opts.random ?? systemRandom;
    this.mds = this.bind(MdsService);
    this.topology = this.bind(TopologyService);
    this.heartbeat = this.bind(HeartbeatService);
  }

  /** The address that answered last (the leader, as far as this client knows). */
  get leader(): string {
    return this.rotation.leader;
  }

  close(): void {
    if (this.ownPool) this.pool.close();
  }

  private bind<S extends GenServiceMethods>(service: GenService<S>): MdsMethods<S> {
    const out: Record<string, unknown> = {};
    for (const m of service.methods) {
      out[m.localName] = (req: unknown, o?: MdsCallOptions) =>
        this.call((addr, timeoutMs) => {
          const client = this.pool.client(service, addr) as unknown as Record<string, (r: unknown, c: unknown) => Promise<unknown>>;
          return client[m.localName]!(req, { timeoutMs, signal: o?.signal });
        }, o);
    }
    return out as MdsMethods<S>;
  }

  private call<T>(attempt: (addr: string, timeoutMs: number) => Promise<T>, o?: MdsCallOptions): Promise<T> {
    return this.rotation.call(attempt, {
      deadlineMs: o?.deadlineMs ?? this.opts.deadlineMs ?? 16_000,
      attemptTimeoutMs: this.opts.attemptTimeoutMs ?? 2000,
      backoffMs: this.opts.backoffMs ?? 50,
      maxBackoffMs: this.opts.maxBackoffMs ?? 1000,
      retryOn: MDS_RETRY_STATUSES,
      random: this.random,
      signal: o?.signal,
      serverName: 'MDS',
    });
  }
}
