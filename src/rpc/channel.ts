// Channel: the client side of one connection to one address. Multiplexes calls by call id,
// enforces deadlines and cancellation, reconnects lazily with backoff, and fails every in-flight
// call with UNAVAILABLE when the connection drops.
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { skipHostnameCheck, type TlsConfig } from './tls.ts';
import { CurveError, StatusCode, trace, tracing, type Clock, type Random } from '../common/index.ts';
import {
  FrameDecoder,
  FLAG_ONE_WAY,
  FrameKind,
  HEADER_BYTES,
  PREFACE,
  decodeErrorTrailer,
  encodeErrorTrailer,
  type FrameHandler,
  type FrameHeader,
} from './frame.ts';
import { FrameWriter } from './writer.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { DeadlineWheel, type Expirable } from './deadline-wheel.ts';

export interface ChannelOptions {
  maxFrameBytes: number;
  /** Deadline for calls that do not give one; 0 means none. */
  defaultTimeoutMs: number;
  /** Give up on a TCP connect after this long. */
  connectTimeoutMs: number;
  /**
   * When a call times out on a connection that has been silent for longer than the call's
   * timeout, the channel pings; no answer within this long and the connection is dropped
   * (a peer that vanished without a FIN/RST would otherwise hold it for TCP keepalive's ~11 min).
   */
  pingTimeoutMs: number;
  backoff: BackoffOptions;
  clock: Clock;
  random: Random;
  /** Shared by the pool's channels: one timer for every call's deadline. */
  deadlines: DeadlineWheel<PendingCall>;
  /** Sent in an Auth frame after the preface of every connection (docs/security.md). */
  credential: Buffer | undefined;
  /** Mutual TLS with the cluster CA (tls.ts); undefined = plain TCP. */
  tls: TlsConfig | undefined;
}

export type Decode<T> = (payload: Buffer) => T;

/** Longest deadline the u32 wire field carries (~49 days); longer means none. */
const MAX_TIMEOUT_MS = 0xffffffff;

/** One outstanding call. A class (not closures) so a call costs one object and one promise. */
export class PendingCall implements Expirable {
  wheelSlot: Set<Expirable> | undefined;
  onAbort: (() => void) | undefined;
  /** Request bytes while waiting for the socket to drain; dropped once sent. */
  payload: Uint8Array | undefined;
  settled = false;

  constructor(
    readonly channel: Channel,
    readonly callId: number,
    readonly methodId: number,
    readonly name: string,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
    readonly decode: Decode<unknown>,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: CurveError) => void,
  ) {}

  /** Stops timers and listeners; true the first time (the caller then settles the promise). */
  settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.payload = undefined;
    if (this.wheelSlot) this.channel.deadlines.remove(this);
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
    return true;
  }
}

export function onCallTimeout(call: PendingCall): void {
  call.channel.timedOut(call);
}

export class Channel implements FrameHandler {
  private socket: Socket | undefined;
  private writer: FrameWriter | undefined;
  private decoder: FrameDecoder | undefined;
  private connected = false;
  private congested = false;
  private closed = false;
  private readonly calls = new Map<number, PendingCall>();
  /** Calls waiting for the socket to drain before their request is written. */
  private sendQueue: PendingCall[] = [];
  private nextCallId = 1;
  private retryAt = 0;
  private lastReceiveAt = 0;
  private probing = false;
  private lastError = '';
  private readonly backoff: Backoff;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly address: string,
    private readonly opts: ChannelOptions,
  ) {
    [this.host, this.port] = parseAddress(address);
    this.backoff = new Backoff(opts.random, opts.backoff);
  }

  get deadlines(): DeadlineWheel<PendingCall> {
    return this.opts.deadlines;
  }

  /** Calls whose request waits for the socket to drain (tests and metrics). */
  get queued(): number {
    return this.sendQueue.length;
  }

  /** Calls waiting for an answer (tests and metrics). */
  get inflight(): number {
    return this.calls.size;
  }

  call<T>(methodId: number, name: string, payload: Uint8Array, opts: { timeoutMs?: number; signal?: AbortSignal } | undefined, decode: Decode<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) return reject(new CurveError(StatusCode.UNAVAILABLE, `${name}: channel to ${this.address} is closed`));
      const signal = opts?.signal;
      if (signal?.aborted) return reject(new CurveError(StatusCode.CANCELLED, `${name} cancelled before it was sent`));
      let timeoutMs = opts?.timeoutMs ?? this.opts.defaultTimeoutMs;
      // Callers pass what is left of a larger budget: nothing left means fail now.
      if (timeoutMs < 0 || Number.isNaN(timeoutMs)) return reject(new CurveError(StatusCode.TIMEOUT, `${name}: deadline already passed`));
      timeoutMs = timeoutMs > MAX_TIMEOUT_MS ? 0 : Math.ceil(timeoutMs);
      if (HEADER_BYTES + payload.length > this.opts.maxFrameBytes) {
        return reject(new CurveError(StatusCode.FRAME_TOO_LARGE, `${name}: request of ${payload.length} bytes exceeds the frame limit of ${this.opts.maxFrameBytes}`));
      }
      if (!this.socket && !this.connect()) {
        const wait = Math.max(0, Math.ceil(this.retryAt - this.opts.clock.now()));
        return reject(new CurveError(StatusCode.UNAVAILABLE, `${name}: ${this.address} unreachable (${this.lastError}); next attempt in ${wait} ms`));
      }
      const callId = this.allocateCallId();
      const call = new PendingCall(this, callId, methodId, name, timeoutMs, signal, decode, resolve as (v: unknown) => void, reject);
      this.calls.set(callId, call);
      if (timeoutMs > 0) this.opts.deadlines.add(call, timeoutMs);
      if (signal) {
        call.onAbort = () => this.giveUp(call, new CurveError(StatusCode.CANCELLED, `${name} cancelled`));
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      if (tracing) trace(`rpc.call ${name}`);
      if (this.congested) {
        call.payload = payload;
        this.sendQueue.push(call);
      } else {
        this.writer!.frame(FrameKind.Request, StatusCode.OK, callId, methodId, timeoutMs, payload);
      }
    });
  }

  /**
   * Sends a one-way request (FLAG_ONE_WAY): no answer, no call id, no deadline. True when the
   * frame was handed to the connection; false when it was not (channel closed, peer in connect
   * backoff, socket congested, frame too large) — the caller treats that as a lost message.
   * Handed over is not delivered: a connection that drops later loses it silently.
   * `flushNow`: write it (and everything queued before it) to the socket now rather than at the
   * end of this turn of the event loop.
   */
  notify(methodId: number, name: string, payload: Uint8Array, flushNow = false): boolean {
    if (this.closed || HEADER_BYTES + payload.length > this.opts.maxFrameBytes) return false;
    // Connect first: a connection that dropped while congested must not stay refused forever
    // (connect() starts a fresh, uncongested one).
    if (!this.socket && !this.connect()) return false;
    if (this.congested) return false;
    if (tracing) trace(`rpc.notify ${name}`);
    this.writer!.frame(FrameKind.Request, StatusCode.OK, 0, methodId, 0, payload, FLAG_ONE_WAY);
    if (flushNow && this.connected) this.writer!.flushNow();
    return true;
  }

  /** A call's deadline passed: reject it, and check the connection if it has gone quiet. */
  timedOut(call: PendingCall): void {
    this.giveUp(call, new CurveError(StatusCode.TIMEOUT, `${call.name} to ${this.address} timed out after ${call.timeoutMs} ms`));
    const socket = this.socket;
    if (!socket || !this.connected || this.probing) return;
    const sentAt = this.opts.clock.now();
    if (sentAt - this.lastReceiveAt <= call.timeoutMs) return;
    this.probing = true;
    this.writer!.frame(FrameKind.Ping, StatusCode.OK, 1, 0, 0);
    setTimeout(() => {
      this.probing = false;
      if (this.socket !== socket || this.lastReceiveAt >= sentAt) return;
      this.lastError = `no answer to ping within ${this.opts.pingTimeoutMs} ms`;
      this.drop(new CurveError(StatusCode.UNAVAILABLE, `${this.address} unresponsive (${this.lastError})`));
    }, this.opts.pingTimeoutMs).unref();
  }

  /** The caller stopped waiting (timeout or abort): reject, and tell the server if it has the call. */
  giveUp(call: PendingCall, err: CurveError): void {
    const wasQueued = call.payload !== undefined;
    if (!call.settle()) return;
    this.calls.delete(call.callId);
    if (!wasQueued && this.writer) {
      this.writer.frame(FrameKind.Cancel, StatusCode.OK, call.callId, call.methodId, 0);
    }
    call.reject(err);
  }

  /** Closes the connection and fails everything in flight; the channel refuses new calls. */
  close(): void {
    this.closed = true;
    this.drop(new CurveError(StatusCode.UNAVAILABLE, `channel to ${this.address} closed`));
  }

  onFrame(h: FrameHeader, payload: Buffer): void {
    if (!this.decoder) return;
    if (h.kind === FrameKind.Response) {
      const call = this.calls.get(h.callId);
      if (!call) return; // timed out or cancelled meanwhile
      if (tracing) trace(`rpc.response ${call.name}`);
      this.calls.delete(h.callId);
      call.settle();
      if (h.status === StatusCode.OK) {
        let value: unknown;
        try {
          value = call.decode(payload);
        } catch (e) {
          call.reject(new CurveError(StatusCode.PARSE_FROM_STRING_FAILED, `${call.name}: bad response payload: ${String(e)}`));
          return;
        }
        call.resolve(value);
        return;
      }
      const trailer = decodeErrorTrailer(payload);
      if (!trailer) {
        call.reject(new CurveError(StatusCode.MALFORMED_FRAME, `${call.name}: malformed error trailer`));
        this.decoder!.fail(StatusCode.MALFORMED_FRAME, 'malformed error trailer', h.callId);
        return;
      }
      call.reject(new CurveError(h.status, trailer.message || undefined, trailer.leaderHint || undefined));
      return;
    }
    if (h.kind === FrameKind.Pong) return; // liveness already noted on receipt
    if (h.kind === FrameKind.Error) {
      const trailer = decodeErrorTrailer(payload);
      const message = `${this.address} closed the connection: ${trailer?.message ?? 'unknown reason'}`;
      this.lastError = message;
      if (h.callId !== 0) this.failOne(h.callId, new CurveError(h.status, message));
      this.drop(new CurveError(StatusCode.UNAVAILABLE, message));
      return;
    }
    this.decoder!.fail(StatusCode.MALFORMED_FRAME, `frame kind ${h.kind} is not valid from a server`, h.callId);
  }

  onProtocolError(status: StatusCode, message: string, callId: number): void {
    const text = `protocol error from ${this.address}: ${message}`;
    this.lastError = text;
    if (this.writer) {
      this.writer.frame(FrameKind.Error, status, callId, 0, 0, encodeErrorTrailer(message, undefined));
      this.writer.flush();
    }
    if (callId !== 0) this.failOne(callId, new CurveError(status, text));
    this.drop(new CurveError(StatusCode.UNAVAILABLE, text));
  }

  private failOne(callId: number, err: CurveError): void {
    const call = this.calls.get(callId);
    if (!call) return;
    this.calls.delete(callId);
    if (call.settle()) call.reject(err);
  }

  private allocateCallId(): number {
    for (;;) {
      const id = this.nextCallId;
      this.nextCallId = id >= 0xffffffff ? 1 : id + 1;
      if (!this.calls.has(id)) return id;
    }
  }

  /** Starts a connection unless in backoff. Frames written before 'connect' are buffered by node. */
  private connect(): boolean {
    if (this.opts.clock.now() < this.retryAt) return false;
    const t = this.opts.tls;
    const socket: Socket = t
      ? connectTls({ host: this.host, port: this.port, ca: t.ca, cert: t.cert, key: t.key, checkServerIdentity: skipHostnameCheck })
      : connect({ host: this.host, port: this.port, noDelay: true });
    if (t) socket.setNoDelay(true);
    const writer = new FrameWriter();
    const decoder = new FrameDecoder(this, this.opts.maxFrameBytes);
    this.socket = socket;
    this.writer = writer;
    this.decoder = decoder;
    this.connected = false;
    this.congested = false;
    writer.attach(socket);
    writer.raw(PREFACE);
    if (this.opts.credential) writer.frame(FrameKind.Auth, StatusCode.OK, 0, 0, 0, this.opts.credential);
    writer.onNeedDrain = () => {
      if (this.socket !== socket || this.congested) return;
      this.congested = true;
      socket.once('drain', () => this.onDrain(socket));
    };
    socket.setTimeout(this.opts.connectTimeoutMs, () => socket.destroy(new Error(`connect timed out after ${this.opts.connectTimeoutMs} ms`)));
    // Over TLS the connection is up once the handshake verified the server's certificate.
    socket.once(t ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 10_000);
      this.connected = true;
      this.backoff.reset();
    });
    socket.on('data', (chunk: Buffer) => {
      this.lastReceiveAt = this.opts.clock.now();
      decoder.push(chunk);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.lastError = e.code ?? e.message;
    });
    socket.once('close', () => {
      if (this.socket !== socket) return;
      this.drop(new CurveError(StatusCode.UNAVAILABLE, `connection to ${this.address} lost (${this.lastError || 'closed by peer'})`));
    });
    return true;
  }

  private onDrain(socket: Socket): void {
    if (this.socket !== socket) return;
    this.congested = false;
    const writer = this.writer!;
    const queue = this.sendQueue;
    this.sendQueue = [];
    for (let i = 0; i < queue.length; i++) {
      const call = queue[i]!;
      if (call.settled || call.payload === undefined) continue;
      writer.frame(FrameKind.Request, StatusCode.OK, call.callId, call.methodId, call.timeoutMs, call.payload);
      call.payload = undefined;
      if (!writer.flush()) {
        // Congested again: keep the rest for the next drain.
        this.sendQueue = queue.slice(i + 1).concat(this.sendQueue);
        writer.onNeedDrain?.();
        return;
      }
    }
  }

  /** Tears the connection down and fails every call in flight with `err`. */
  private drop(err: CurveError): void {
    const socket = this.socket;
    if (socket) {
      this.socket = undefined;
      this.writer!.close();
      this.decoder!.stop();
      this.writer = undefined;
      this.decoder = undefined;
      socket.destroy();
      // A connection that never came up counts as a failure; one that was up may retry at once.
      this.retryAt = this.connected ? 0 : this.opts.clock.now() + this.backoff.next();
      this.connected = false;
    }
    this.sendQueue = [];
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) if (call.settle()) call.reject(err);
  }
}

/** "host:port", "host:port:idx" (CurveFS peer form) or "[v6]:port" → [host, port]. */
export function parseAddress(address: string): [string, number] {
  let host: string;
  let rest: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    host = address.slice(1, close);
    rest = address.slice(close + 2);
  } else {
    const parts = address.split(':');
    host = parts[0]!;
    rest = parts[1] ?? '';
  }
  const port = Number(rest.split(':')[0]);
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new CurveError(StatusCode.PARAM_ERROR, `bad address "${address}" (want host:port)`);
  }
  return [host, port];
}
