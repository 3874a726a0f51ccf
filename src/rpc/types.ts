// The typed surface of the RPC layer: what a service implementation receives and returns, and
// what a client method looks like, both derived from a protobuf-es v2 service descriptor.
import type { MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';

export type { GenService, GenServiceMethods };

/** What a handler knows about the call it serves. */
export interface CallContext {
  /**
   * Aborted when the client cancels, the deadline passes (reason: CurveError TIMEOUT) or the
   * server shuts down. Created on first access, so handlers that never look cost nothing.
   */
  readonly signal: AbortSignal;
  /** Deadline on this process's monotonic clock (`systemClock.now()` ms); Infinity when none. */
  readonly deadline: number;
  /** "ip:port" of the caller. */
  readonly peer: string;
  /**
   * Who the caller proved to be (its Auth frame's credential, checked by the server's RpcAuth);
   * undefined when the server has no RpcAuth or the caller sent no valid credential.
   */
  readonly principal?: Principal;
  /**
   * The name (common name) in the caller's TLS client certificate, which the cluster CA signed:
   * who the caller is, as far as the CA vouches (tls.ts). Undefined on plain TCP.
   */
  readonly peerCertName?: string;
}

/** An authenticated caller: a role, and for an fs client the one fs it may use. */
export interface Principal {
  role: 'admin' | 'cluster' | 'fs';
  /** For role 'fs': the fs's name. */
  fsName?: string;
}

/**
 * Authentication and authorisation of a server's calls (docs/security.md). Both run on the
 * event loop for every connection / call: keep them cheap and synchronous.
 */
export interface RpcAuth {
  /** The principal a credential names, or why it names none (sent back to the caller). */
  authenticate(credential: string): Principal | { error: string };
  /**
   * Throws a CurveError (UNAUTHENTICATED, FORBIDDEN) when the caller may not call `method`
   * ("pkg.Service/Method") at all. `failure` is why its credential was refused, if it sent one.
   */
  authorize(method: string, principal: Principal | undefined, failure: string | undefined): void;
}

export type HandlerResult<T> = T | Promise<T>;

/** One method of a service implementation. It may return a message or its init shape. */
export type UnaryHandler<M extends GenServiceMethods[string]> = (
  req: MessageShape<M['input']>,
  ctx: CallContext,
) => HandlerResult<MessageInitShape<M['output']>>;

/** An implementation of every method of service `S`. */
export type ServiceImpl<S extends GenServiceMethods> = {
  [K in keyof S]: UnaryHandler<S[K]>;
};

/**
 * Untyped handler on raw payload bytes (e.g. Raft messages that the caller encodes itself). The
 * payload is a view into the connection's receive buffer: copy what you keep for long.
 */
export type RawHandler = (payload: Uint8Array, ctx: CallContext) => HandlerResult<Uint8Array>;

export interface CallOptions {
  /**
   * Deadline relative to now; defaults to the pool's `defaultTimeoutMs`. 0 or Infinity means no
   * deadline; a negative value (an exhausted budget) fails at once with TIMEOUT.
   */
  timeoutMs?: number;
  /** Aborting it rejects the call with CANCELLED and tells the server to stop. */
  signal?: AbortSignal;
}

/** A typed client for service `S`: one async function per method. */
export type RpcClient<S extends GenServiceMethods> = {
  [K in keyof S]: (req: MessageInitShape<S[K]['input']>, opts?: CallOptions) => Promise<MessageShape<S[K]['output']>>;
};

/** The implementation type for a generated service constant: `ServiceImplOf<typeof MdsService>`. */
export type ServiceImplOf<D> = D extends GenService<infer S> ? ServiceImpl<S> : never;
/** The client type for a generated service constant: `RpcClientOf<typeof MdsService>`. */
export type RpcClientOf<D> = D extends GenService<infer S> ? RpcClient<S> : never;
