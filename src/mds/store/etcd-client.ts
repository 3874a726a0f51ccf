// Construction of npm `etcd3` clients for the MDS. Two defaults of the library are replaced:
//  - its circuit breaker (after 3 failures a host is skipped for 5 s) and global retry policy:
//    a 5 s breaker would keep the MDS from noticing that etcd is back for longer than a lease;
//    here a failed host is skipped for 500 ms and a call is retried on another host only when
//    its connection failed;
//  - unary calls have no deadline: every unary call made through these clients gets
//    `opTimeoutMs`, so a call to an unreachable etcd fails instead of hanging.
import { Etcd3, GRPCUnavailableError, isRecoverableError, type IOptions } from 'etcd3';

export interface EtcdClientOptions {
  endpoints: string[];
  /** Deadline of every unary call (ms). */
  opTimeoutMs?: number;
  dialTimeoutMs?: number;
  /** gRPC keepalive ping interval (ms); etcd refuses pings more often than its
   *  --grpc-keepalive-min-time (default 5 s). */
  keepaliveMs?: number;
}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

const noEvent = () => ({ dispose: () => undefined });

/**
 * Per host: after a connection-level failure the host is skipped for `skipMs` (the pool then
 * tries the next host), so one dead member of a 3-member cluster does not fail a third of all
 * calls. Unlike the library's breaker the pause is short, so a returning etcd is used at once.
 */
function hostPolicy(skipMs: number): Policy {
  let skipUntil = 0;
  return {
    execute: async (fn: (ctx: { signal: AbortSignal }) => unknown) => {
      if (Date.now() < skipUntil) throw new HostSkipped();
      try {
        return await fn({ signal: new AbortController().signal });
      } catch (e) {
        if (isRecoverableError(e as Error)) skipUntil = Date.now() + skipMs;
        throw e;
      }
    },
    onSuccess: noEvent,
    onFailure: noEvent,
  } as unknown as Policy;
}

class HostSkipped extends Error {
  constructor() {
    super('etcd host skipped after a recent failure');
  }
}

/** Whole call: one more attempt (on the next host) when the connection failed before the call
 *  reached etcd. */
function globalPolicy(attempts: number): Policy {
  return {
    execute: async (fn: (ctx: { signal: AbortSignal }) => unknown) => {
      for (let i = 0; ; i++) {
        try {
          return await fn({ signal: new AbortController().signal });
        } catch (e) {
          if (i + 1 >= attempts || !(e instanceof GRPCUnavailableError || e instanceof HostSkipped)) throw e;
        }
      }
    },
    onSuccess: noEvent,
    onFailure: noEvent,
  } as unknown as Policy;
}

export function createEtcdClient(opts: EtcdClientOptions): Etcd3 {
  const opTimeoutMs = opts.opTimeoutMs ?? 2000;
  const keepaliveMs = opts.keepaliveMs ?? 5000;
  return new Etcd3({
    hosts: opts.endpoints.map((e) => e.replace(/^https?:\/\//, '')),
    dialTimeout: opts.dialTimeoutMs ?? opTimeoutMs,
    faultHandling: { host: () => hostPolicy(500), global: globalPolicy(Math.max(2, opts.endpoints.length)) },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opTimeoutMs }),
    grpcOptions: {
      'grpc.keepalive_time_ms': keepaliveMs,
      'grpc.keepalive_timeout_ms': Math.max(1000, Math.floor(keepaliveMs / 2)),
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    },
  });
}
