// Talks to whichever MDS serves: tries the configured addresses in turn, jumps to the leader a
// standby names (NOT_LEADER carries its address), and retries with backoff within a deadline —
// the policy of src/rpc/address-rotation.ts, the same one MdsClient (src/mds) follows.
import type { Random } from '../common/index.ts';
import {
  AddressRotation, MDS_RETRY_STATUSES,
  type ChannelPool, type GenService, type GenServiceMethods, type RpcClient,
} from '../rpc/index.ts';
import type { MdsConnector } from './mds-adapter.ts';

export interface RotatingMdsOptions {
  attemptTimeoutMs?: number;
  callTimeoutMs?: number;
  random?: Random;
}

export class RotatingMdsConnector implements MdsConnector {
  private readonly rotation: AddressRotation;
  private readonly clients = new WeakMap<object, unknown>();

  constructor(
    private readonly pool: ChannelPool,
    addrs: string[],
    private readonly opts: RotatingMdsOptions = {},
  ) {
    this.rotation = new AddressRotation(addrs);
  }

  client<S extends GenServiceMethods>(service: GenService<S>): RpcClient<S> {
    let c = this.clients.get(service) as RpcClient<S> | undefined;
    if (c) return c;
    const out: Record<string, unknown> = {};
    for (const m of service.methods) {
      out[m.localName] = (req: unknown, o?: { timeoutMs?: number }) => this.call(service, m.localName, req, o?.timeoutMs);
    }
    c = out as RpcClient<S>;
    this.clients.set(service, c);
    return c;
  }

  private call<S extends GenServiceMethods>(service: GenService<S>, method: string, req: unknown, timeoutMs?: number): Promise<unknown> {
    return this.rotation.call(
      (addr, attemptTimeoutMs) => {
        const client = this.pool.client(service, addr) as unknown as Record<string, (r: unknown, o: unknown) => Promise<unknown>>;
        return client[method]!(req, { timeoutMs: attemptTimeoutMs });
      },
      {
        deadlineMs: timeoutMs ?? this.opts.callTimeoutMs ?? 20_000,
        attemptTimeoutMs: this.opts.attemptTimeoutMs ?? 5000,
        backoffMs: 20,
        maxBackoffMs: 1000,
        retryOn: MDS_RETRY_STATUSES,
        random: this.opts.random,
        serverName: 'MDS',
      },
    );
  }
}
