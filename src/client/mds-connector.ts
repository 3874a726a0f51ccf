// Talks to whichever MDS serves: tries the configured addresses in turn, jumps to the leader a
// standby names (NOT_LEADER carries its address), and retries with backoff within a deadline.
import { CurveError, StatusCode, systemRandom, type Random } from '../common/index.ts';
import type { ChannelPool, GenService, GenServiceMethods, RpcClient } from '../rpc/index.ts';
import { backoffDelay, DEFAULT_BACKOFF, sleep } from './retry.ts';
import type { MdsConnector } from './mds-adapter.ts';

export interface RotatingMdsOptions {
  attemptTimeoutMs?: number;
  callTimeoutMs?: number;
  random?: Random;
}

const RETRY_ON = new Set<StatusCode>([
  StatusCode.NOT_LEADER, StatusCode.REDIRECTED, StatusCode.UNAVAILABLE, StatusCode.TIMEOUT,
  StatusCode.SHUTTING_DOWN, StatusCode.OVERLOAD,
]);

export class RotatingMdsConnector implements MdsConnector {
  private current = 0;
  private readonly addrs: string[];
  private readonly clients = new WeakMap<object, unknown>();

  constructor(
    private readonly pool: ChannelPool,
    addrs: string[],
    private readonly opts: RotatingMdsOptions = {},
  ) {
    if (addrs.length === 0) throw new CurveError(StatusCode.PARAM_ERROR, 'no MDS address given');
    this.addrs = [...addrs];
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

  private async call<S extends GenServiceMethods>(service: GenService<S>, method: string, req: unknown, timeoutMs?: number): Promise<unknown> {
    const random = this.opts.random ?? systemRandom;
    const deadline = performance.now() + (timeoutMs ?? this.opts.callTimeoutMs ?? 20_000);
    for (let attempt = 0; ; attempt++) {
      const addr = this.addrs[this.current % this.addrs.length]!;
      const client = this.pool.client(service, addr) as unknown as Record<string, (r: unknown, o: unknown) => Promise<unknown>>;
      try {
        return await client[method]!(req, { timeoutMs: Math.max(1, Math.min(this.opts.attemptTimeoutMs ?? 5000, deadline - performance.now())) });
      } catch (e) {
        if (!(e instanceof CurveError) || !RETRY_ON.has(e.status)) throw e;
        const hint = e.leaderHint;
        if (hint && hint !== addr) {
          if (!this.addrs.includes(hint)) this.addrs.push(hint);
          this.current = this.addrs.indexOf(hint);
        } else {
          this.current = (this.current + 1) % this.addrs.length;
        }
        const delay = attempt < this.addrs.length ? 0 : backoffDelay(attempt - this.addrs.length, DEFAULT_BACKOFF, random);
        if (performance.now() + delay >= deadline) throw e;
        if (delay) await sleep(delay);
      }
    }
  }
}
