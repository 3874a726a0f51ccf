// The RPC wire format: a connection preface, then length-prefixed frames with a fixed 20-byte
// header. Byte-by-byte description in docs/formats.md ("RPC frame"). This file only encodes and
// decodes; it owns no socket.
import { StatusCode } from '../common/index.ts';

/** Sent by both sides first on every connection: "CRPC", version, three zero bytes. */
export const PREFACE = Buffer.from([0x43, 0x52, 0x50, 0x43, 0x01, 0x00, 0x00, 0x00]);
export const PREFACE_BYTES = PREFACE.length;
export const PROTOCOL_VERSION = 1;

/** Bytes before the payload: length(4) kind(1) flags(1) status(2) callId(4) methodId(4) timeoutMs(4). */
export const HEADER_BYTES = 20;
/** The length field counts the bytes after itself: the rest of the header plus the payload. */
export const LENGTH_FIELD_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export const enum FrameKind {
  /** Client → server: call `methodId` with the payload as the request message. */
  Request = 1,
  /** Server → client: the result of call `callId`; `status` says which. */
  Response = 2,
  /** Client → server: the caller gave up on `callId` (cancelled or timed out). */
  Cancel = 3,
  /** Either way: a connection-level error (bad frame, shutting down); the sender closes next. */
  Error = 4,
  /** Client → server: are you there? Answered by Pong with the same call id. */
  Ping = 5,
  /** Server → client: answer to Ping. */
  Pong = 6,
  /**
   * Client → server, at most once, before any request: the payload is the client's credential
   * (a token, UTF-8). Call id 0; never answered — each later call is judged by it (docs/security.md).
   */
  Auth = 7,
}

/**
 * Flag of a Request frame: the caller wants no answer (no Response, whatever happens). Such a
 * request has call id 0 and no deadline; a failure is logged by the server and lost. For traffic
 * whose answers travel as messages of their own, e.g. Raft batches (src/raft/rpc-transport.ts):
 * no call bookkeeping, and half the frames, socket writes and wake-ups.
 */
export const FLAG_ONE_WAY = 0x01;

export interface FrameHeader {
  kind: FrameKind;
  /** FLAG_ONE_WAY or 0. */
  flags: number;
  status: StatusCode;
  callId: number;
  methodId: number;
  timeoutMs: number;
}

/** The optional part of a non-OK Response or Error frame: a message and a leader address. */
export interface ErrorTrailer {
  message: string;
  leaderHint: string;
}

const MAX_TRAILER_STRING = 0xffff;

/** Encoded size of an error trailer (u16 length + UTF-8 for each string, truncated to 64 KiB). */
export function encodeErrorTrailer(message: string, leaderHint: string | undefined): Buffer {
  const msg = truncateUtf8(message);
  const hint = truncateUtf8(leaderHint ?? '');
  const out = Buffer.allocUnsafe(4 + msg.length + hint.length);
  out.writeUInt16LE(msg.length, 0);
  msg.copy(out, 2);
  out.writeUInt16LE(hint.length, 2 + msg.length);
  hint.copy(out, 4 + msg.length);
  return out;
}

function truncateUtf8(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return b.length <= MAX_TRAILER_STRING ? b : b.subarray(0, MAX_TRAILER_STRING);
}

/** Parses an error trailer; an empty payload is an empty trailer. Undefined when malformed. */
export function decodeErrorTrailer(payload: Uint8Array): ErrorTrailer | undefined {
  if (payload.length === 0) return { message: '', leaderHint: '' };
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.length < 4) return undefined;
  const msgLen = b.readUInt16LE(0);
  if (2 + msgLen + 2 > b.length) return undefined;
  const hintLen = b.readUInt16LE(2 + msgLen);
  if (4 + msgLen + hintLen !== b.length) return undefined;
  return {
    message: b.toString('utf8', 2, 2 + msgLen),
    leaderHint: b.toString('utf8', 4 + msgLen, 4 + msgLen + hintLen),
  };
}

/**
 * The payload as bytes that own their memory when it is a small part of a larger receive buffer.
 * protobuf-es decodes `bytes` fields as views into its input, so a message kept for long (a Raft
 * entry, an xattr value) would otherwise pin a whole socket read (up to 64 KiB) per message.
 */
export function compactPayload(payload: Buffer): Uint8Array {
  if (payload.buffer.byteLength <= 2 * payload.length + 64) return payload;
  const own = new Uint8Array(payload.length);
  own.set(payload);
  return own;
}

/** Writes a frame header at `off` of `buf`; the payload of `payloadBytes` must follow. */
export function writeHeader(
  buf: Buffer,
  off: number,
  kind: FrameKind,
  status: StatusCode,
  callId: number,
  methodId: number,
  timeoutMs: number,
  payloadBytes: number,
  flags = 0,
): void {
  buf.writeUInt32LE(HEADER_BYTES - LENGTH_FIELD_BYTES + payloadBytes, off);
  buf[off + 4] = kind;
  buf[off + 5] = flags;
  buf.writeUInt16LE(status, off + 6);
  buf.writeUInt32LE(callId >>> 0, off + 8);
  buf.writeUInt32LE(methodId >>> 0, off + 12);
  buf.writeUInt32LE(timeoutMs >>> 0, off + 16);
}

export interface FrameHandler {
  /** One complete, header-valid frame. `payload` is a view into the receive buffer. */
  onFrame(header: FrameHeader, payload: Buffer): void;
  /**
   * The peer broke the protocol. After this the decoder ignores all input; the owner answers
   * with an Error frame and closes the connection. `callId` is the offending call when known.
   */
  onProtocolError(status: StatusCode, message: string, callId: number): void;
}

/**
 * Turns a byte stream into frames. Chunks are kept by reference; a frame that spans chunks is
 * assembled with one concat once all of its bytes have arrived (so a large frame costs one copy,
 * not one per chunk). The header is checked as soon as its bytes are in, so an oversized or
 * garbage frame is rejected without waiting for (or buffering) its claimed payload.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before parsing can make progress. */
  private need: number;
  private prefaceSeen = false;
  private failed = false;
  private frames = 0;
  private readonly header: FrameHeader = { kind: FrameKind.Request, flags: 0, status: 0, callId: 0, methodId: 0, timeoutMs: 0 };

  constructor(
    private readonly handler: FrameHandler,
    private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  ) {
    this.need = PREFACE_BYTES;
  }

  get broken(): boolean {
    return this.failed;
  }

  /** Bytes held for a frame (or preface) not yet complete: what a stalled peer costs us. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Whether the preface has been received. */
  get prefaceComplete(): boolean {
    return this.prefaceSeen;
  }

  /** Frames decoded so far. */
  get framesDecoded(): number {
    return this.frames;
  }

  /** True while the peer is inside a frame or has not completed its preface. */
  get incomplete(): boolean {
    return !this.failed && (this.buffered > 0 || !this.prefaceSeen);
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.need && !this.canCheckEarly()) return;
      chunk = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
    }
    const end = this.parse(chunk);
    if (end < chunk.length && !this.failed) {
      // The start of the next frame; copied when it is a small part of a large (concatenated)
      // buffer, so that what we count as buffered is what we actually keep alive.
      let rest = chunk.subarray(end);
      if (chunk.length > 65536 && rest.length * 2 < chunk.length) rest = Buffer.from(rest);
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
  }

  /** Whether buffered bytes already allow a header check before the whole `need` is in. */
  private canCheckEarly(): boolean {
    return this.prefaceSeen ? this.buffered >= LENGTH_FIELD_BYTES && this.need <= HEADER_BYTES : this.buffered >= PREFACE_BYTES;
  }

  /** Parses as many frames as `buf` holds; returns the offset of the first unconsumed byte. */
  private parse(buf: Buffer): number {
    let off = 0;
    if (!this.prefaceSeen) {
      const n = Math.min(buf.length, PREFACE_BYTES);
      // Compare what is there: garbage is rejected on its first wrong byte.
      for (let i = 0; i < n; i++) {
        if (buf[i] !== PREFACE[i]) {
          const what = i === 4 ? `unsupported protocol version ${buf[i]}` : 'bad connection preface (not a curvefs RPC peer)';
          return this.fail(StatusCode.MALFORMED_FRAME, what, 0);
        }
      }
      if (buf.length < PREFACE_BYTES) {
        this.need = PREFACE_BYTES;
        return 0;
      }
      this.prefaceSeen = true;
      off = PREFACE_BYTES;
    }
    const h = this.header;
    for (;;) {
      const avail = buf.length - off;
      if (avail < LENGTH_FIELD_BYTES) {
        this.need = HEADER_BYTES;
        return off;
      }
      const len = buf.readUInt32LE(off);
      const total = LENGTH_FIELD_BYTES + len;
      if (total > this.maxFrameBytes) {
        const callId = avail >= 12 ? buf.readUInt32LE(off + 8) : 0;
        return this.fail(StatusCode.FRAME_TOO_LARGE, `frame of ${total} bytes exceeds the limit of ${this.maxFrameBytes}`, callId);
      }
      if (total < HEADER_BYTES) {
        return this.fail(StatusCode.MALFORMED_FRAME, `frame length ${len} is shorter than a header`, 0);
      }
      if (avail >= 6) {
        const kind = buf[off + 4]!;
        if (kind < FrameKind.Request || kind > FrameKind.Auth) {
          return this.fail(StatusCode.MALFORMED_FRAME, `unknown frame kind ${kind}`, 0);
        }
        const flags = buf[off + 5]!;
        if (flags !== 0 && (flags !== FLAG_ONE_WAY || kind !== FrameKind.Request)) {
          return this.fail(StatusCode.MALFORMED_FRAME, `flags ${flags} not valid on a frame of kind ${kind}`, 0);
        }
      }
      if (avail < total) {
        this.need = total;
        return off;
      }
      h.kind = buf[off + 4] as FrameKind;
      h.flags = buf[off + 5]!;
      h.status = buf.readUInt16LE(off + 6);
      h.callId = buf.readUInt32LE(off + 8);
      h.methodId = buf.readUInt32LE(off + 12);
      h.timeoutMs = buf.readUInt32LE(off + 16);
      if (h.flags === FLAG_ONE_WAY) {
        if (h.callId !== 0) return this.fail(StatusCode.MALFORMED_FRAME, `a one-way request must have call id 0, not ${h.callId}`, 0);
      } else if (h.callId === 0 && h.kind !== FrameKind.Error && h.kind !== FrameKind.Auth) {
        return this.fail(StatusCode.MALFORMED_FRAME, 'call id 0 is reserved', 0);
      }
      const payload = buf.subarray(off + HEADER_BYTES, off + total);
      off += total;
      this.frames++;
      this.handler.onFrame(h, payload);
      if (this.failed) return off;
    }
  }

  /** Ignores all further input without reporting anything (the owner closed the connection). */
  stop(): void {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
  }

  /** Marks the stream broken (also callable by the owner for semantic errors). */
  fail(status: StatusCode, message: string, callId: number): number {
    if (!this.failed) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      this.handler.onProtocolError(status, message, callId);
    }
    return Number.MAX_SAFE_INTEGER;
  }
}
