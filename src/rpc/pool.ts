// ChannelPool: one Channel per address, shared by every typed client that talks to it.
import { create, toBinary, type DescMethod, type MessageInitShape } from '@bufbuild/protobuf';
import { codecOf } from './codec.ts';
import { CurveError, StatusCode, systemClock, systemRandom, systemTimer, type Clock, type Random, type Timer } from '../common/index.ts';
import { DEFAULT_MAX_FRAME_BYTES, compactPayload } from './frame.ts';
import { Channel, onCallTimeout, type ChannelOptions } from './channel.ts';
import { DeadlineWheel } from './deadline-wheel.ts';
import { defaultCredential, defaultTls } from './credential.ts';
import type { TlsConfig } from './tls.ts';
import { methodFullName, methodIdOf } from './method-id.ts';
import type { BackoffOptions } from './backoff.ts';
import type { CallOptions, GenService, GenServiceMethods, RpcClient } from './types.ts';

export interface ChannelPoolOptions {
  maxFrameBytes?: number;
  /** Deadline of calls that do not pass `timeoutMs` (default 30 s); 0 means none. */
  defaultTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** See ChannelOptions.pingTimeoutMs (default 2000). */
  pingTimeoutMs?: number;
  backoff?: BackoffOptions;
  clock?: Clock;
  timer?: Timer;
  random?: Random;
  /** Granularity of call deadlines (a call times out up to this much late). */
  deadlineResolutionMs?: number;
  /**
   * Credential (a token) presented on every connection; servers with auth judge calls by it.
   * Default: the token file named by $CURVEFS_TOKEN_FILE, if set (credential.ts).
   */
  credential?: string;
  /**
   * Mutual TLS with the cluster CA for every connection (tls.ts). Default: the certificate named
   * by $CURVEFS_TLS_DIR / $CURVEFS_TLS_NAME, if set; `false` means plain TCP whatever is set.
   */
  tls?: TlsConfig | false;
}

export class ChannelPool {
  private readonly channels = new Map<string, Channel>();
  private readonly opts: ChannelOptions;
  private readonly clients = new WeakMap<object, Map<string, unknown>>();
  private closed = false;
  /** The token this pool presents (undefined: none); the SDK's root squash reads its role. */
  readonly credential: string | undefined;

  constructor(opts: ChannelPoolOptions = {}) {
    const clock = opts.clock ?? systemClock;
    this.credential = opts.credential ?? defaultCredential();
    this.opts = {
      maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      defaultTimeoutMs: opts.defaultTimeoutMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      pingTimeoutMs: opts.pingTimeoutMs ?? 2_000,
      backoff: opts.backoff ?? {},
      clock,
      random: opts.random ?? systemRandom,
      deadlines: new DeadlineWheel(clock, opts.timer ?? systemTimer, onCallTimeout, opts.deadlineResolutionMs ?? 5),
      credential: credentialBytes(this.credential),
      tls: opts.tls === false ? undefined : (opts.tls ?? defaultTls()),
    };
  }

  /** The channel for `address` ("host:port"), created on first use. */
  channel(address: string): Channel {
    let ch = this.channels.get(address);
    if (!ch) {
      if (this.closed) throw new CurveError(StatusCode.UNAVAILABLE, 'channel pool is closed');
      ch = new Channel(address, this.opts);
      this.channels.set(address, ch);
    }
    return ch;
  }

  /** A typed client for `service` at `address`. Cheap; clients are cached per (service, address). */
  client<S extends GenServiceMethods>(service: GenService<S>, address: string): RpcClient<S> {
    let byAddr = this.clients.get(service);
    if (!byAddr) this.clients.set(service, (byAddr = new Map()));
    let client = byAddr.get(address) as RpcClient<S> | undefined;
    if (!client) {
      const channel = this.channel(address);
      const c: Record<string, unknown> = {};
      for (const method of service.methods) {
        if (method.methodKind === 'unary') c[method.localName] = unaryCaller(channel, method);
      }
      client = c as RpcClient<S>;
      byAddr.set(address, client);
    }
    return client;
  }

  /**
   * Calls a method with an already-encoded request and returns the raw response bytes (a view
   * into the receive buffer: copy it if you keep it long). `method` is "pkg.Service/Method" or its id.
   */
  callRaw(address: string, method: string | number, request: Uint8Array, opts?: CallOptions): Promise<Uint8Array> {
    const id = typeof method === 'number' ? method : methodIdOf(method);
    const name = typeof method === 'number' ? `method#${method}` : method;
    return this.channel(address).call(id, name, request, opts, identity);
  }

  /**
   * Sends `req` to `method` at `address` as a one-way request (no answer; Channel.notify). True
   * when handed to the connection, false when not (the caller counts the message as lost).
   * Throws PARAM_ERROR when `req` cannot be encoded.
   */
  notify<M extends DescMethod>(address: string, method: M, req: MessageInitShape<M['input']>): boolean {
    const name = methodFullName(method);
    let bytes: Uint8Array;
    try {
      bytes = toBinary(method.input, create(method.input, req as never));
    } catch (e) {
      throw new CurveError(StatusCode.PARAM_ERROR, `${name}: cannot encode request: ${String(e)}`);
    }
    return this.channel(address).notify(methodIdOf(name), name, bytes);
  }

  /**
   * notify() with an already-encoded request. With `flushNow` the frame goes to the socket at
   * once instead of at the end of this event-loop turn (Channel.notify): for a sender that makes
   * one batch per peer per turn anyway and whose receiver waits on it (a Raft round).
   */
  notifyRaw(address: string, method: string, payload: Uint8Array, flushNow = false): boolean {
    return this.channel(address).notify(methodIdOf(method), method, payload, flushNow);
  }

  /** Closes every connection; in-flight calls fail with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
  }
}

function credentialBytes(c: string | undefined): Buffer | undefined {
  return c ? Buffer.from(c, 'utf8') : undefined;
}

function identity(b: Buffer): Uint8Array {
  return b;
}

function unaryCaller(channel: Channel, method: DescMethod) {
  const id = methodIdOf(methodFullName(method));
  const name = methodFullName(method);
  const input = codecOf(method.input);
  const output = codecOf(method.output);
  // The generated decoder copies what it keeps; protobuf-es's may keep views of the payload.
  const decode = output.generated ? (payload: Buffer) => output.decode(payload) : (payload: Buffer) => output.decode(compactPayload(payload));
  return (req: unknown, opts?: CallOptions): Promise<unknown> => {
    let bytes: Uint8Array;
    try {
      bytes = input.encode(req);
    } catch (e) {
      return Promise.reject(new CurveError(StatusCode.PARAM_ERROR, `${name}: cannot encode request: ${String(e)}`));
    }
    return channel.call(id, name, bytes, opts, decode);
  };
}
