// RpcServer: serves protobuf-es services over the framed protocol. One ServerConnection per TCP
// connection decodes frames, runs handlers (many at once), answers each call with a status, and
// applies backpressure by pausing reads while its output is congested or too many calls run.
import { codecOf } from './codec.ts';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { peerCertificateName, type TlsConfig } from './tls.ts';
import { CurveError, StatusCode, createLogger, statusName, systemClock, trace, tracing } from '../common/index.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FLAG_ONE_WAY,
  FrameDecoder,
  FrameKind,
  HEADER_BYTES,
  PREFACE,
  compactPayload,
  encodeErrorTrailer,
  type FrameHandler,
  type FrameHeader,
} from './frame.ts';
import { FrameWriter } from './writer.ts';
import { methodFullName, methodIdOf } from './method-id.ts';
import type { CallContext, GenService, GenServiceMethods, Principal, RawHandler, RpcAuth, ServiceImpl } from './types.ts';

const log = createLogger('rpc-server');

export interface RpcServerOptions {
  /** Interface to bind; 127.0.0.1 unless configured. */
  host?: string;
  /** 0 lets the OS choose (see the value `listen()` returns). */
  port?: number;
  /** Largest frame accepted (header included); larger closes the connection. */
  maxFrameBytes?: number;
  /**
   * Calls running at once per connection; beyond it requests are refused with OVERLOAD (the
   * connection keeps being read, so cancel frames still arrive and free slots). Default 10000.
   */
  maxInflightPerConnection?: number;
  /**
   * A connection must complete its preface, and every frame it starts, within this long
   * (default 30 s); otherwise it gets a TIMEOUT error frame and is closed. Connections idle
   * between frames are not affected (pooled client connections sit idle for long).
   */
  frameTimeoutMs?: number;
  /**
   * Bytes held for partial frames across all connections (default 256 MiB). The connection whose
   * data would take the total over it gets an OVERLOAD error frame and is closed, so peers that
   * announce large frames and stall cannot grow the process without bound.
   */
  maxBufferedBytes?: number;
  /** Open connections per peer IP address (default 1024); more get OVERLOAD and are closed. */
  maxConnectionsPerPeer?: number;
  /** Who may call what (docs/security.md); without it every caller may call everything. */
  auth?: RpcAuth;
  /** Mutual TLS: only peers with a certificate signed by `tls.ca` connect (tls.ts). */
  tls?: TlsConfig;
}

/** Longest credential an Auth frame may carry. */
const MAX_CREDENTIAL_BYTES = 4096;

export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS_PER_PEER = 1024;

interface MethodEntry {
  name: string;
  decode: (payload: Buffer) => unknown;
  invoke: (req: unknown, ctx: CallContext) => unknown;
  encode: (result: unknown) => Uint8Array;
}

export interface RpcServerStats {
  connections: number;
  /** Async handlers running now. */
  inflight: number;
  /** Connections not being read because their output is congested (the peer reads too slowly). */
  pausedConnections: number;
  /** Requests received since start. */
  calls: number;
  /** Bytes held now for partial frames, all connections together. */
  bufferedBytes: number;
  /** Highest `bufferedBytes` after any read (what the budget bounds). */
  bufferedBytesPeak: number;
  /** Connections closed since start because a preface or frame did not complete in time. */
  closedFrameTimeout: number;
  /** Connections closed since start because their partial frame went over the buffer budget. */
  closedOverBudget: number;
  /** Connections refused since start because their address already had the most allowed. */
  refusedPerPeer: number;
}

export class RpcServer {
  private readonly host: string;
  private port: number;
  private readonly maxFrameBytes: number;
  private readonly maxInflight: number;
  /** @internal read by connections */
  readonly frameTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly maxPerPeer: number;
  private readonly tls: TlsConfig | undefined;
  /** @internal read by connections */
  readonly auth: RpcAuth | undefined;
  private readonly perPeer = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private buffered = 0;
  private bufferedPeak = 0;
  /** @internal counted by connections */
  closedFrameTimeout = 0;
  private closedOverBudget = 0;
  private refusedPerPeer = 0;
  private readonly methods = new Map<number, MethodEntry>();
  private isStarting = false;
  private readonly connections = new Set<ServerConnection>();
  private server: Server | undefined;

  constructor(opts: RpcServerOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxInflight = opts.maxInflightPerConnection ?? 10_000;
    this.frameTimeoutMs = positive(opts.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS, 'frameTimeoutMs');
    this.maxBufferedBytes = positive(opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, 'maxBufferedBytes');
    this.maxPerPeer = positive(opts.maxConnectionsPerPeer ?? DEFAULT_MAX_CONNECTIONS_PER_PEER, 'maxConnectionsPerPeer');
    this.auth = opts.auth;
    this.tls = opts.tls;
  }

  /** Serves every method of `service` with `impl`. Only unary methods are supported. */
  register<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): this {
    for (const method of service.methods) {
      if (method.methodKind !== 'unary') throw new Error(`${methodFullName(method)}: only unary methods are supported`);
      const fn = (impl as Record<string, (req: unknown, ctx: CallContext) => unknown>)[method.localName];
      if (typeof fn !== 'function') throw new Error(`${methodFullName(method)}: no implementation for ${method.localName}`);
      const input = codecOf(method.input);
      const output = codecOf(method.output);
      this.addMethod(methodFullName(method), {
        name: methodFullName(method),
        // The generated decoder copies what it keeps; protobuf-es's may keep views of the payload.
        decode: input.generated ? (payload) => input.decode(payload) : (payload) => input.decode(compactPayload(payload)),
        invoke: (req, ctx) => fn.call(impl, req, ctx),
        encode: (result) => output.encode(result),
      });
    }
    return this;
  }

  /** Serves `fullName` ("pkg.Service/Method") with a handler on raw payload bytes. */
  registerRaw(fullName: string, handler: RawHandler): this {
    this.addMethod(fullName, {
      name: fullName,
      decode: (payload) => payload,
      invoke: handler as MethodEntry['invoke'],
      encode: (r) => r as Uint8Array,
    });
    return this;
  }

  private addMethod(fullName: string, entry: MethodEntry): void {
    const id = methodIdOf(fullName);
    const existing = this.methods.get(id);
    if (existing) throw new Error(`method id collision: ${fullName} and ${existing.name} both hash to ${id}`);
    this.methods.set(id, entry);
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    if (this.server) throw new Error('RpcServer already listening');
    const t = this.tls;
    const server = t
      ? createTlsServer(
          // A handshake counts against the preface's time like any other incomplete start.
          { ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: true, handshakeTimeout: this.frameTimeoutMs, noDelay: true },
          (socket) => this.accept(socket),
        )
      : createServer({ noDelay: true }, (socket) => this.accept(socket));
    if (t) server.on('tlsClientError', (e, socket) => log.warn('TLS handshake refused', { peer: `${socket.remoteAddress}:${socket.remotePort}`, err: e.message }));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        server.on('error', (e) => log.error('server error', { err: String(e) }));
        const addr = server.address();
        this.port = typeof addr === 'object' && addr ? addr.port : this.port;
        // One timer for every connection's frame deadline, checked at a quarter of the timeout:
        // a connection is closed between 1 and 1.25 timeouts after its frame began.
        this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.floor(this.frameTimeoutMs / 4)));
        this.sweeper.unref();
        resolve(this.port);
      });
    });
  }

  /** "host:port" clients dial. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Number of open client connections (for tests and status pages). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Counters for status pages and tests. */
  stats(): RpcServerStats {
    let inflight = 0;
    let paused = 0;
    for (const c of this.connections) {
      inflight += c.inflightCount;
      if (c.isPaused) paused++;
    }
    return {
      connections: this.connections.size,
      inflight,
      pausedConnections: paused,
      calls: this.callCount,
      bufferedBytes: this.buffered,
      bufferedBytesPeak: this.bufferedPeak,
      closedFrameTimeout: this.closedFrameTimeout,
      closedOverBudget: this.closedOverBudget,
      refusedPerPeer: this.refusedPerPeer,
    };
  }

  /**
   * @internal A connection's partial-frame bytes changed by `delta`. False when the total would go
   * over the budget: the caller closes that connection (which releases its bytes).
   */
  accountBuffered(delta: number): boolean {
    if (delta > 0 && this.buffered + delta > this.maxBufferedBytes) return false;
    this.buffered += delta;
    if (this.buffered > this.bufferedPeak) this.bufferedPeak = this.buffered;
    return true;
  }

  /** @internal */
  overBudget(conn: ServerConnection, wanted: number): void {
    this.closedOverBudget++;
    log.warn('closing connection: partial frames over the buffer budget', { peer: conn.peerAddress, wanted, budget: this.maxBufferedBytes });
    conn.shutdown(StatusCode.OVERLOAD, `server buffer budget of ${this.maxBufferedBytes} bytes for partial frames is exhausted; retry later`);
  }

  private sweep(): void {
    const now = systemClock.now();
    for (const c of this.connections) c.checkFrameDeadline(now);
  }

  /** @internal counted by connections */
  callCount = 0;

  /** Stops accepting, tells every client SHUTTING_DOWN, aborts running handlers, closes. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    if (this.sweeper) clearInterval(this.sweeper);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of [...this.connections]) c.shutdown(StatusCode.SHUTTING_DOWN, 'server shutting down');
    await closed;
  }

  /** @internal */
  lookup(methodId: number): MethodEntry | undefined {
    return this.methods.get(methodId);
  }

  /**
   * Until `started()`, a call of a method not registered yet is answered UNAVAILABLE (retry)
   * instead of UNKNOWN_METHOD (final). Why: a server binds its port before it registers every
   * service (a metaserver's port is part of its identity, and opening its copysets takes time);
   * a client that reaches it in between must wait or go elsewhere, not fail the call for good
   * (a mount turned UNKNOWN_METHOD into ENOSYS for open(2) right after a restart).
   */
  starting(): void {
    this.isStarting = true;
  }

  /** Every service is registered: an unknown method is final again. */
  started(): void {
    this.isStarting = false;
  }

  /** The error for a call of `methodId`, which is not registered. */
  unknownMethod(methodId: number): CurveError {
    return this.isStarting
      ? new CurveError(StatusCode.UNAVAILABLE, `method ${methodId} is not served yet: this server is starting`)
      : new CurveError(StatusCode.UNKNOWN_METHOD, `no method with id ${methodId} on this server`);
  }

  private accept(socket: Socket): void {
    const conn = new ServerConnection(this, socket, this.maxFrameBytes, this.maxInflight);
    const ip = socket.remoteAddress ?? '';
    const open = this.perPeer.get(ip) ?? 0;
    if (open >= this.maxPerPeer) {
      this.refusedPerPeer++;
      log.warn('refusing connection: too many from one address', { peer: conn.peerAddress, open });
      conn.shutdown(StatusCode.OVERLOAD, `${open} connections from ${ip} already open (at most ${this.maxPerPeer})`);
      return;
    }
    this.perPeer.set(ip, open + 1);
    this.connections.add(conn);
    socket.once('close', () => {
      this.connections.delete(conn);
      const n = (this.perPeer.get(ip) ?? 1) - 1;
      if (n > 0) this.perPeer.set(ip, n);
      else this.perPeer.delete(ip);
    });
  }
}

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Per-call state: the handler's context, and for async handlers their cancellation. */
class ServerCall implements CallContext {
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  done = false;
  /** The deadline timer fired (it may fire up to a millisecond before `deadline` by the clock). */
  expired = false;

  constructor(
    readonly callId: number,
    readonly deadline: number,
    readonly peer: string,
    readonly principal: Principal | undefined,
    readonly peerCertName: string | undefined,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(new CurveError(StatusCode.CANCELLED, 'call finished'));
      else if (this.deadline !== Infinity) this.armDeadline();
    }
    return this.controller.signal;
  }

  /** Node runs a setTimeout longer than 2^31 - 1 ms after 1 ms: a far deadline is reached in steps. */
  private armDeadline(): void {
    const left = this.deadline - systemClock.now();
    if (left <= 0) return this.expire();
    const step = Math.min(left, MAX_TIMER_MS);
    this.timer = setTimeout(() => (step < left ? this.armDeadline() : this.expire()), step);
    this.timer.unref();
  }

  private expire(): void {
    this.expired = true;
    this.controller?.abort(new CurveError(StatusCode.TIMEOUT, 'deadline exceeded'));
  }

  abort(reason: CurveError): void {
    this.done = true;
    this.controller?.abort(reason);
    this.finish();
  }

  finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

class ServerConnection implements FrameHandler {
  private readonly decoder: FrameDecoder;
  private readonly writer = new FrameWriter();
  private readonly inflight = new Map<number, ServerCall>();
  private readonly peer: string;
  /** The name in the client's certificate (TLS), fixed for the connection's life. */
  private readonly peerCertName: string | undefined;
  private pausedForDrain = false;
  private paused = false;
  private closing = false;
  /** Partial-frame bytes this connection has accounted with the server. */
  private accounted = 0;
  /** Set by the Auth frame (when the server has an RpcAuth). */
  private principal: Principal | undefined;
  private authFailure: string | undefined;
  private authSeen = false;
  private requestSeen = false;
  private oneWayFailures = 0;
  private oneWayWarnedAt = -Infinity;
  /** When the current preface / frame began (`systemClock.now()`), or -1 between frames. */
  private frameStartedAt: number;

  constructor(
    private readonly server: RpcServer,
    private readonly socket: Socket,
    private readonly maxFrameBytes: number,
    private readonly maxInflight: number,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.peerCertName = peerCertificateName(socket);
    this.decoder = new FrameDecoder(this, maxFrameBytes);
    this.frameStartedAt = systemClock.now();
    this.writer.attach(socket);
    this.writer.raw(PREFACE);
    this.writer.onNeedDrain = () => {
      if (this.pausedForDrain || socket.destroyed) return;
      this.pausedForDrain = true;
      this.updateFlow();
      socket.once('drain', () => {
        this.pausedForDrain = false;
        this.updateFlow();
      });
    };
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      /* 'close' follows; nothing else to do */
    });
    socket.on('close', () => this.onClose());
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  get peerAddress(): string {
    return this.peer;
  }

  private onData(chunk: Buffer): void {
    const framesBefore = this.decoder.framesDecoded;
    this.decoder.push(chunk);
    if (this.closing) return;
    const delta = this.decoder.pendingBytes - this.accounted;
    if (delta !== 0) {
      if (!this.server.accountBuffered(delta)) {
        this.server.overBudget(this, this.decoder.pendingBytes);
        return;
      }
      this.accounted += delta;
    }
    // The deadline runs from the start of each frame: restart it when a frame completed.
    if (!this.decoder.incomplete) this.frameStartedAt = -1;
    else if (this.frameStartedAt < 0 || this.decoder.framesDecoded !== framesBefore) this.frameStartedAt = systemClock.now();
  }

  /** Closes the connection when its preface or current frame started too long ago. */
  checkFrameDeadline(now: number): void {
    if (this.closing || this.frameStartedAt < 0 || now - this.frameStartedAt < this.server.frameTimeoutMs) return;
    this.server.closedFrameTimeout++;
    const what = this.decoder.prefaceComplete ? 'frame' : 'preface';
    log.warn(`closing connection: no complete ${what} in time`, { peer: this.peer, buffered: this.decoder.pendingBytes });
    this.shutdown(StatusCode.TIMEOUT, `no complete ${what} within ${this.server.frameTimeoutMs} ms`);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  onFrame(h: FrameHeader, payload: Buffer): void {
    if (this.closing) return;
    switch (h.kind) {
      case FrameKind.Request:
        if (h.flags === FLAG_ONE_WAY) this.onOneWay(h.methodId, payload);
        else this.onRequest(h.callId, h.methodId, h.timeoutMs, payload);
        return;
      case FrameKind.Cancel: {
        const call = this.inflight.get(h.callId);
        if (call) {
          this.inflight.delete(h.callId);
          call.abort(new CurveError(StatusCode.CANCELLED, 'cancelled by the client'));
        }
        return;
      }
      case FrameKind.Ping:
        this.writer.frame(FrameKind.Pong, StatusCode.OK, h.callId, 0, 0);
        return;
      case FrameKind.Auth:
        this.onAuth(payload);
        return;
      case FrameKind.Error:
        // The client reports a protocol error of ours and closes; follow it.
        this.socket.destroy();
        return;
      default:
        this.decoder.fail(StatusCode.MALFORMED_FRAME, `frame kind ${h.kind} is not valid from a client`, h.callId);
    }
  }

  onProtocolError(status: StatusCode, message: string, callId: number): void {
    log.warn('closing connection after protocol error', { peer: this.peer, status: statusName(status), message });
    this.shutdown(status, message, callId);
  }

  /** Sends an Error frame, then closes the connection (only this one). */
  shutdown(status: StatusCode, message: string, callId = 0): void {
    if (this.closing) return;
    this.closing = true;
    this.release();
    this.writer.frame(FrameKind.Error, status, callId, 0, 0, encodeErrorTrailer(message, undefined));
    this.writer.flush();
    this.writer.close();
    this.abortAll(new CurveError(StatusCode.SHUTTING_DOWN, message));
    // end() lets the error frame reach the peer; destroy soon after in case it never reads.
    this.socket.end();
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onAuth(payload: Buffer): void {
    if (this.authSeen || this.requestSeen) {
      this.decoder.fail(StatusCode.MALFORMED_FRAME, 'an Auth frame may come only once, before any request', 0);
      return;
    }
    if (payload.length > MAX_CREDENTIAL_BYTES) {
      this.decoder.fail(StatusCode.MALFORMED_FRAME, `credential of ${payload.length} bytes exceeds ${MAX_CREDENTIAL_BYTES}`, 0);
      return;
    }
    this.authSeen = true;
    const auth = this.server.auth;
    if (!auth) return; // a server without auth accepts callers with or without credentials
    const r = auth.authenticate(payload.toString('utf8'));
    if ('error' in r) {
      this.authFailure = r.error;
      log.warn('credential refused', { peer: this.peer, reason: r.error });
    } else this.principal = r;
  }

  private onRequest(callId: number, methodId: number, timeoutMs: number, payload: Buffer): void {
    this.server.callCount++;
    this.requestSeen = true;
    if (this.inflight.size >= this.maxInflight) {
      this.respondError(callId, StatusCode.OVERLOAD, `more than ${this.maxInflight} calls running on this connection`, undefined);
      return;
    }
    const method = this.server.lookup(methodId);
    if (tracing && method) trace(`rpc.request ${method.name}`);
    if (!method) {
      const e = this.server.unknownMethod(methodId);
      this.respondError(callId, e.status, e.message, undefined);
      return;
    }
    const auth = this.server.auth;
    if (auth) {
      try {
        auth.authorize(method.name, this.principal, this.authFailure);
      } catch (e) {
        this.respondThrown(callId, method.name, e);
        return;
      }
    }
    let req: unknown;
    try {
      req = method.decode(payload);
    } catch (e) {
      this.respondError(callId, StatusCode.PARSE_FROM_STRING_FAILED, `${method.name}: bad request payload: ${String(e)}`, undefined);
      return;
    }
    const deadline = timeoutMs === 0 ? Infinity : systemClock.now() + timeoutMs;
    const call = new ServerCall(callId, deadline, this.peer, this.principal, this.peerCertName);
    let result: unknown;
    try {
      result = method.invoke(req, call);
    } catch (e) {
      call.finish();
      this.respondThrown(callId, method.name, e);
      return;
    }
    if (isThenable(result)) {
      this.inflight.set(callId, call);
      result.then(
        (value: unknown) => {
          if (!this.completeAsync(call)) return;
          this.respondOk(callId, method, value);
        },
        (e: unknown) => {
          if (!this.completeAsync(call)) return;
          this.respondThrown(callId, method.name, e);
        },
      );
    } else {
      call.finish();
      this.respondOk(callId, method, result);
    }
  }

  /**
   * A one-way request (FLAG_ONE_WAY): run the handler and send nothing back, whatever happens. A
   * failure is logged (at most one line per connection per 10 s: a peer that keeps sending to a
   * node still starting would flood the log) and otherwise lost — the sender asked for that.
   * Not counted against the connection's in-flight bound: meant for synchronous handlers (Raft's
   * Send steps messages and returns), whose work ends before the next frame is read.
   */
  private onOneWay(methodId: number, payload: Buffer): void {
    this.server.callCount++;
    this.requestSeen = true;
    const method = this.server.lookup(methodId);
    if (!method) return this.oneWayFailed(`method#${methodId}`, this.server.unknownMethod(methodId));
    if (tracing) trace(`rpc.request ${method.name}`);
    try {
      this.server.auth?.authorize(method.name, this.principal, this.authFailure);
      const call = new ServerCall(0, Infinity, this.peer, this.principal, this.peerCertName);
      const result = method.invoke(method.decode(payload), call);
      if (!isThenable(result)) return call.finish();
      result.then(
        () => call.finish(),
        (e: unknown) => {
          call.finish();
          this.oneWayFailed(method.name, e);
        },
      );
    } catch (e) {
      this.oneWayFailed(method.name, e);
    }
  }

  private oneWayFailed(name: string, e: unknown): void {
    this.oneWayFailures++;
    const now = systemClock.now();
    if (now - this.oneWayWarnedAt < 10_000) return;
    this.oneWayWarnedAt = now;
    log.warn('one-way request failed (no answer is sent)', { peer: this.peer, method: name, error: e instanceof Error ? e.message : String(e), failuresSoFar: this.oneWayFailures });
  }

  /** Bookkeeping when an async handler settles; false when nobody waits for the answer any more. */
  private completeAsync(call: ServerCall): boolean {
    if (call.done) return false; // cancelled or connection gone
    call.finish();
    this.inflight.delete(call.callId);
    // Past its deadline the client has already given up: drop the work's answer.
    return !call.expired && (call.deadline === Infinity || systemClock.now() <= call.deadline);
  }

  private respondOk(callId: number, method: MethodEntry, value: unknown): void {
    let bytes: Uint8Array;
    try {
      bytes = method.encode(value);
    } catch (e) {
      this.respondError(callId, StatusCode.SERIALIZE_TO_STRING_FAILED, `${method.name}: cannot encode response: ${String(e)}`, undefined);
      return;
    }
    if (HEADER_BYTES + bytes.length > this.maxFrameBytes) {
      // The client would have to close the connection over it; fail just this call instead.
      this.respondError(callId, StatusCode.FRAME_TOO_LARGE, `${method.name}: response of ${bytes.length} bytes exceeds the frame limit of ${this.maxFrameBytes}`, undefined);
      return;
    }
    this.writer.frame(FrameKind.Response, StatusCode.OK, callId, 0, 0, bytes);
    if (tracing) trace(`rpc.respond ${method.name}`);
  }

  private respondThrown(callId: number, name: string, e: unknown): void {
    if (tracing) trace(`rpc.respond ${name}`);
    if (e instanceof CurveError) {
      const prefix = `${statusName(e.status)}: `;
      const detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message === statusName(e.status) ? '' : e.message;
      this.respondError(callId, e.status === StatusCode.OK ? StatusCode.UNKNOWN_ERROR : e.status, detail, e.leaderHint);
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    log.warn('handler threw', { method: name, err: message });
    this.respondError(callId, StatusCode.UNKNOWN_ERROR, `${name}: ${message}`, undefined);
  }

  private respondError(callId: number, status: StatusCode, message: string, leaderHint: string | undefined): void {
    this.writer.frame(FrameKind.Response, status, callId, 0, 0, encodeErrorTrailer(message, leaderHint));
  }

  /**
   * Reads from the socket only while its output drains: a peer that does not read its answers
   * stops being served instead of growing our write buffer without bound.
   */
  private updateFlow(): void {
    if (this.closing) return;
    const pause = this.pausedForDrain;
    if (pause !== this.paused) {
      this.paused = pause;
      if (pause) this.socket.pause();
      else this.socket.resume();
    }
  }

  private abortAll(reason: CurveError): void {
    for (const call of this.inflight.values()) call.abort(reason);
    this.inflight.clear();
  }

  /** Stops decoding and gives this connection's partial-frame bytes back to the budget. */
  private release(): void {
    this.decoder.stop();
    if (this.accounted !== 0) this.server.accountBuffered(-this.accounted);
    this.accounted = 0;
    this.frameStartedAt = -1;
  }

  private onClose(): void {
    this.release();
    this.closing = true;
    this.writer.close();
    this.abortAll(new CurveError(StatusCode.CANCELLED, 'connection closed'));
  }
}

function positive(n: number, what: string): number {
  if (!(n > 0)) throw new Error(`RpcServer: ${what} must be positive, got ${n}`);
  return n;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v instanceof Promise || (typeof v === 'object' && v !== null && typeof (v as PromiseLike<unknown>).then === 'function');
}
