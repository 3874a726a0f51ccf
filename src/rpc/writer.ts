// Coalesces outgoing frames: every frame queued during one turn of the event loop goes to the
// socket in one write (or one corked writev), which is what makes many small multiplexed calls
// cheap. Small frames are copied into a shared slab (no allocation per frame); large payloads are
// queued by reference (no copy).
import type { Socket } from 'node:net';
import { trace, tracing, type StatusCode } from '../common/index.ts';
import { FrameKind, HEADER_BYTES, writeHeader } from './frame.ts';

/** Slabs start small (idle connections stay cheap) and double while traffic fills them. */
const MIN_SLAB_BYTES = 8 * 1024;
const MAX_SLAB_BYTES = 256 * 1024;
/** Payloads at least this large are written by reference instead of copied into the slab. */
const COPY_LIMIT = 32 * 1024;

export class FrameWriter {
  private slab = Buffer.allocUnsafe(MIN_SLAB_BYTES);
  /** Start of the bytes in `slab` not yet handed to the socket. */
  private start = 0;
  private end = 0;
  /** Buffers ready to go, in order, before the slab's [start, end). */
  private queued: Buffer[] = [];
  private scheduled = false;
  private socket: Socket | undefined;
  private closed = false;
  /** Called after a flush that left the socket above its high-water mark (caller may pause reads). */
  onNeedDrain: (() => void) | undefined;

  /** Frames queued before attach (e.g. while connecting) are sent on the first flush after it. */
  attach(socket: Socket): void {
    this.socket = socket;
    this.schedule();
  }

  /** Drops everything queued and refuses further frames. */
  close(): void {
    this.closed = true;
    this.queued = [];
    this.start = this.end;
    this.socket = undefined;
  }

  /** Bytes queued but not yet given to the socket. */
  get pendingBytes(): number {
    let n = this.end - this.start;
    for (const b of this.queued) n += b.length;
    return n;
  }

  /** Queues raw bytes (the connection preface). */
  raw(bytes: Buffer): void {
    if (this.closed) return;
    this.reserve(bytes.length);
    bytes.copy(this.slab, this.end);
    this.end += bytes.length;
    this.schedule();
  }

  frame(kind: FrameKind, status: StatusCode, callId: number, methodId: number, timeoutMs: number, payload?: Uint8Array, flags = 0): void {
    if (this.closed) return;
    const n = payload ? payload.length : 0;
    if (n >= COPY_LIMIT) {
      this.reserve(HEADER_BYTES);
      writeHeader(this.slab, this.end, kind, status, callId, methodId, timeoutMs, n, flags);
      this.end += HEADER_BYTES;
      this.cut();
      this.queued.push(Buffer.from(payload!.buffer, payload!.byteOffset, payload!.byteLength));
    } else {
      this.reserve(HEADER_BYTES + n);
      writeHeader(this.slab, this.end, kind, status, callId, methodId, timeoutMs, n, flags);
      this.end += HEADER_BYTES;
      if (n > 0) {
        this.slab.set(payload!, this.end);
        this.end += n;
      }
    }
    this.schedule();
  }

  /** Sends everything queued now. Returns false when the socket asks the writer to wait (drain). */
  flush(): boolean {
    this.scheduled = false;
    const socket = this.socket;
    if (!socket || this.closed) return true;
    this.cut();
    const q = this.queued;
    if (q.length === 0) return !socket.writableNeedDrain;
    this.queued = [];
    if (socket.destroyed) return true;
    if (tracing) trace('rpc.flush');
    if (q.length === 1) return socket.write(q[0]!);
    socket.cork();
    for (const b of q) socket.write(b);
    socket.uncork();
    return !socket.writableNeedDrain;
  }

  /**
   * Flushes now instead of at the end of this turn (the scheduled flush then finds nothing to do),
   * telling onNeedDrain when the socket is over its high-water mark.
   */
  flushNow(): void {
    if (!this.flush()) this.onNeedDrain?.();
  }

  /** Moves the slab's pending bytes to the queue (the slab region is never reused after). */
  private cut(): void {
    if (this.end > this.start) {
      this.queued.push(this.slab.subarray(this.start, this.end));
      this.start = this.end;
    }
  }

  private reserve(n: number): void {
    if (this.end + n <= this.slab.length) return;
    this.cut();
    this.slab = Buffer.allocUnsafe(Math.max(Math.min(this.slab.length * 2, MAX_SLAB_BYTES), n));
    this.start = this.end = 0;
  }

  private schedule(): void {
    if (this.scheduled || !this.socket) return;
    this.scheduled = true;
    setImmediate(flushWriter, this);
  }
}

function flushWriter(w: FrameWriter): void {
  if (!w.flush()) w.onNeedDrain?.();
}
