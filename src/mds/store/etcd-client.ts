// Construction of npm `etcd3` clients for the MDS. Two defaults of the library are replaced:
//  - its circuit breaker (after 3 failures a host is skipped for 5 s) and global retry policy:
//    a 5 s breaker would keep the MDS from noticing that etcd is back for longer than a lease.
//    Here a call is retried on the next host (the pool walks a shuffled host list) only when its
//    connection failed (UNAVAILABLE: usually the call never reached etcd; every MDS write is a
//    guarded transaction, so a repeat is harmless), so a dead member of a 3-member cluster
//    costs one refused connection; a timed-out call is not repeated;
//  - unary calls have no deadline: every unary call made through these clients gets
//    `opTimeoutMs`, so a call to an unreachable etcd fails instead of hanging.
import { Etcd3, GRPCUnavailableError, type IOptions } from 'etcd3';
import type { EtcdSecurity } from './etcd-security.ts';

export interface EtcdClientOptions {
  endpoints: string[];
  /** Deadline of every unary call (ms). */
  opTimeoutMs?: number;
  dialTimeoutMs?: number;
  /** gRPC keepalive ping interval (ms); etcd refuses pings more often than its
   *  --grpc-keepalive-min-time (default 5 s). */
  keepaliveMs?: number;
  /** TLS and user/password towards etcd (etcd-security.ts); without it plain gRPC, no auth. */
  security?: EtcdSecurity;
}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

const noEvent = () => ({ dispose: () => undefined });

/** Per host: run the call once. (The library's breaker would skip a host for 5 s after three
 *  failures — longer than a lease; it is also fed by cancelled watches.) */
const passThrough = {
  execute: async (fn: (ctx: { signal: AbortSignal }) => unknown) => fn({ signal: new AbortController().signal }),
  onSuccess: noEvent,
  onFailure: noEvent,
} as unknown as Policy;

/** Whole call: one more attempt (on the next host) when the connection failed before the call
 *  reached etcd. */
function globalPolicy(attempts: number): Policy {
  return {
    execute: async (fn: (ctx: { signal: AbortSignal }) => unknown) => {
      for (let i = 0; ; i++) {
        try {
          return await fn({ signal: new AbortController().signal });
        } catch (e) {
          if (i + 1 >= attempts || !(e instanceof GRPCUnavailableError)) throw e;
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
  const tls = opts.security?.tls;
  return new Etcd3({
    // The scheme is dropped: the library then takes TLS from `credentials` alone (loadEtcdSecurity
    // made sure https:// endpoints come with a CA and the other way round).
    hosts: opts.endpoints.map((e) => e.replace(/^https?:\/\//, '')),
    credentials: tls ? { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } : undefined,
    auth: opts.security?.auth ? { ...opts.security.auth } : undefined,
    dialTimeout: opts.dialTimeoutMs ?? opTimeoutMs,
    faultHandling: { host: () => passThrough, global: globalPolicy(Math.max(2, opts.endpoints.length)) },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opTimeoutMs }),
    grpcOptions: {
      'grpc.keepalive_time_ms': keepaliveMs,
      'grpc.keepalive_timeout_ms': Math.max(1000, Math.floor(keepaliveMs / 2)),
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    },
  });
}
