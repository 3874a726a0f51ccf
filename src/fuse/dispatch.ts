// Turns one kernel request (the bytes read from /dev/fuse) into a call on the ops and the
// reply bytes. Knows nothing about the device or threads: replies go to a ReplyWriter, which
// does exactly one write per reply (writev of header + payload parts).
//
// Interrupts: every request in flight has a context whose AbortSignal fires on INTERRUPT.
// Requests that change nothing (lookups, reads, listings, getlk ...) are answered EINTR at once;
// requests with effects are left to finish (their handler sees the signal and may throw EINTR),
// so the caller is never told "interrupted" about an operation that did happen.

import { isUtf8 } from 'node:buffer';
import { createLogger, isCurveError, trace, tracing, type Logger } from '../common/index.ts';
import * as abi from './abi.ts';
import { Op } from './abi.ts';
import { NodeTable } from './nodes.ts';
import {
  E,
  Errno,
  type Attr,
  type DirEntryPlus,
  type Entry,
  type FuseOps,
  type OpenReply,
  type RequestContext,
  type SetAttrRequest,
} from './ops.ts';

export interface ReplyWriter {
  /** Writes one reply (all parts in one write). Throws a node error with `code` on failure. */
  write(parts: Uint8Array[]): void;
}

export interface DispatchOptions {
  entryTimeoutSec: number;
  attrTimeoutSec: number;
  maxWrite: number;
  maxReadahead: number;
  writebackCache: boolean;
  debug: boolean;
}

export const DEFAULT_DISPATCH_OPTIONS: DispatchOptions = {
  entryTimeoutSec: 1,
  attrTimeoutSec: 1,
  maxWrite: 1024 * 1024,
  maxReadahead: 1024 * 1024,
  writebackCache: false,
  debug: false,
};

/** Requests without side effects: safe to answer EINTR the moment they are interrupted. */
const READ_ONLY = new Set<number>([
  Op.LOOKUP, Op.GETATTR, Op.READLINK, Op.READ, Op.STATFS, Op.GETXATTR, Op.LISTXATTR, Op.READDIR,
  Op.READDIRPLUS, Op.GETLK, Op.ACCESS, Op.LSEEK, Op.OPENDIR,
]);

class Context implements RequestContext {
  uid: number;
  gid: number;
  pid: number;
  readonly unique: number;
  readonly opcode: number;
  replied = false;
  interrupted = false;
  private controller: AbortController | undefined;

  constructor(unique: number, opcode: number, uid: number, gid: number, pid: number) {
    this.unique = unique;
    this.opcode = opcode;
    this.uid = uid;
    this.gid = gid;
    this.pid = pid;
  }
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.interrupted && !this.controller.signal.aborted) this.controller.abort(new Errno(E.EINTR, 'interrupted'));
    return this.controller.signal;
  }
  interrupt(): void {
    this.interrupted = true;
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(new Errno(E.EINTR, 'interrupted'));
  }
}

/** The errno for anything a handler throws. */
export function errnoOf(e: unknown, log?: Logger): number {
  if (e instanceof Errno) return e.errno;
  if (isCurveError(e)) return e.errno;
  if (e && typeof e === 'object') {
    const err = e as { code?: unknown; errno?: unknown; name?: unknown };
    if (err.name === 'AbortError') return E.EINTR;
    if (typeof err.code === 'string' && err.code in E) return E[err.code as keyof typeof E];
    if (typeof err.errno === 'number' && err.errno !== 0) return Math.abs(err.errno);
  }
  log?.error('handler failed without an errno; answering EIO', { error: String(e) });
  return E.EIO;
}

export interface InitResult {
  major: number;
  minor: number;
  flags: number;
  maxWrite: number;
}

export class Dispatcher {
  readonly nodes = new NodeTable();
  private readonly inFlight = new Map<number, Context>();
  /** Interrupts that arrived before their request (readers race); unique ids never repeat. */
  private readonly earlyInterrupts = new Set<number>();
  private readonly hdr = new Uint8Array(abi.OUT_HEADER_SIZE);
  private readonly hdrView = new DataView(this.hdr.buffer);
  /** Header and payload of a small reply, copied together (send). */
  private readonly reply = new Uint8Array(4096);
  private readonly replyView = new DataView(this.reply.buffer);
  private scratch = new Uint8Array(256 * 1024);
  private scratchView = new DataView(this.scratch.buffer);
  private readonly log: Logger;
  private initResult: InitResult | undefined;
  private onInit: ((r: InitResult) => void) | undefined;
  private onInitFail: ((e: Error) => void) | undefined;
  /** Resolves after INIT has been answered. */
  readonly initialized: Promise<InitResult>;
  destroyed = false;

  constructor(
    private readonly ops: FuseOps,
    private readonly writer: ReplyWriter,
    private readonly opts: DispatchOptions = DEFAULT_DISPATCH_OPTIONS,
    log?: Logger,
  ) {
    this.log = log ?? createLogger('fuse');
    this.initialized = new Promise<InitResult>((resolve, reject) => {
      this.onInit = resolve;
      this.onInitFail = reject;
    });
    this.initialized.catch(() => undefined);
  }

  get negotiated(): InitResult | undefined {
    return this.initResult;
  }
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Serves one request. borrowed: `msg` is the reader's buffer and is read into again once this
   * returns, so the bytes the ops may keep (WRITE data, xattr values) are copied; otherwise the
   * dispatcher owns `msg` and hands those bytes on as they are.
   */
  handle(msg: Uint8Array, borrowed = false): void {
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    if (msg.byteLength < abi.IN_HEADER_SIZE) {
      this.log.error('short request from the kernel', { bytes: msg.byteLength });
      return;
    }
    const h = abi.decodeInHeader(dv);
    const end = Math.min(h.len, msg.byteLength);
    if (this.opts.debug) this.log.info('request', { op: abi.opName(h.opcode), unique: h.unique, node: h.nodeid, len: h.len });
    if (tracing) trace(`fuse.handle ${abi.opName(h.opcode)}`);

    switch (h.opcode) {
      case Op.FORGET:
        this.forget(h.nodeid, abi.decodeForgetIn(dv, 40).nlookup);
        return;
      case Op.BATCH_FORGET: {
        const count = abi.decodeBatchForgetCount(dv, 40);
        for (let i = 0, off = 48; i < count && off + 16 <= end; i++, off += 16) {
          const one = abi.decodeForgetOne(dv, off);
          this.forget(one.nodeid, one.nlookup);
        }
        return;
      }
      case Op.INTERRUPT: {
        const target = abi.decodeInterruptIn(dv, 40).unique;
        const ctx = this.inFlight.get(target);
        if (ctx) this.interrupt(ctx);
        else {
          if (this.earlyInterrupts.size > 1024) this.earlyInterrupts.clear();
          this.earlyInterrupts.add(target);
        }
        return;
      }
      case Op.INIT:
        this.init(h.unique, abi.decodeInitIn(dv, 40));
        return;
    }

    const ctx = new Context(h.unique, h.opcode, h.uid, h.gid, h.pid);
    this.inFlight.set(h.unique, ctx);
    if (this.earlyInterrupts.delete(h.unique)) this.interrupt(ctx);
    try {
      this.serve(ctx, h.opcode, h.nodeid, msg, dv, end, borrowed);
    } catch (e) {
      this.fail(ctx, e);
    }
  }

  private interrupt(ctx: Context): void {
    ctx.interrupt();
    if (READ_ONLY.has(ctx.opcode)) this.replyError(ctx, E.EINTR);
  }

  private forget(nodeid: number, nlookup: number): void {
    if (this.nodes.forget(nodeid, nlookup)) {
      try {
        this.ops.forget?.(nodeid, nlookup);
      } catch (e) {
        this.log.warn('forget failed', { ino: nodeid, error: String(e) });
      }
    }
  }

  private init(unique: number, kernel: abi.InitIn): void {
    const out = abi.negotiateInit(kernel, {
      writebackCache: this.opts.writebackCache,
      readdirplus: typeof this.ops.readdirplus === 'function',
      maxWrite: this.opts.maxWrite,
      maxReadahead: this.opts.maxReadahead,
      maxBackground: 64,
    });
    const ctx = new Context(unique, Op.INIT, 0, 0, 0);
    if (!out) {
      this.log.error('kernel FUSE protocol not supported', { major: kernel.major, minor: kernel.minor });
      this.replyError(ctx, E.EPROTO);
      this.onInitFail?.(new Error(`kernel FUSE protocol ${kernel.major}.${kernel.minor} is older than 7.${abi.FUSE_MIN_MINOR}`));
      return;
    }
    const dv = this.scratchView;
    const n = abi.encodeInitOut(dv, 0, out);
    this.replyBytes(ctx, this.scratch.subarray(0, n));
    this.initResult = { major: out.major, minor: out.minor, flags: out.flags, maxWrite: out.maxWrite };
    try {
      this.ops.init?.(this.initResult);
    } catch (e) {
      this.log.warn('ops.init failed', { error: String(e) });
    }
    this.onInit?.(this.initResult);
  }

  // ---- serving ----

  private serve(ctx: Context, op: number, node: number, msg: Uint8Array, dv: DataView, end: number, borrowed: boolean): void {
    const ops = this.ops;
    const B = 40; // body offset
    switch (op) {
      case Op.LOOKUP: {
        if (!ops.lookup) return this.replyError(ctx, E.ENOSYS);
        const name = this.name(msg, B, end);
        return this.then(ctx, ops.lookup(ctx, node, name), (e) => this.replyEntry(ctx, e));
      }
      case Op.GETATTR: {
        if (!ops.getattr) return this.replyError(ctx, E.ENOSYS);
        const g = abi.decodeGetattrIn(dv, B);
        const fh = g.flags & abi.FUSE_GETATTR_FH ? g.fh : undefined;
        return this.then(ctx, ops.getattr(ctx, node, fh), (r) => this.replyAttr(ctx, r.attr, r.attrTimeoutSec));
      }
      case Op.SETATTR: {
        if (!ops.setattr) return this.replyError(ctx, E.ENOSYS);
        const set = toSetAttr(abi.decodeSetattrIn(dv, B));
        return this.then(ctx, ops.setattr(ctx, node, set), (r) => this.replyAttr(ctx, r.attr, r.attrTimeoutSec));
      }
      case Op.READLINK: {
        if (!ops.readlink) return this.replyError(ctx, E.ENOSYS);
        return this.then(ctx, ops.readlink(ctx, node), (t) => this.replyBytes(ctx, Buffer.from(t, 'utf8')));
      }
      case Op.SYMLINK: {
        if (!ops.symlink) return this.replyError(ctx, E.ENOSYS);
        const a = abi.cstring(msg, B, end);
        const b = abi.cstring(msg, a.next, end);
        const name = this.decodeName(a.value);
        const target = Buffer.from(b.value.buffer, b.value.byteOffset, b.value.byteLength).toString('utf8');
        return this.then(ctx, ops.symlink(ctx, node, name, target), (e) => this.replyEntry(ctx, e));
      }
      case Op.MKNOD: {
        if (!ops.mknod) return this.replyError(ctx, E.ENOSYS);
        const m = abi.decodeMknodIn(dv, B);
        const name = this.name(msg, B + abi.MKNOD_IN_SIZE, end);
        return this.then(ctx, ops.mknod(ctx, node, name, m.mode, m.rdev), (e) => this.replyEntry(ctx, e));
      }
      case Op.MKDIR: {
        if (!ops.mkdir) return this.replyError(ctx, E.ENOSYS);
        const m = abi.decodeMkdirIn(dv, B);
        const name = this.name(msg, B + abi.MKDIR_IN_SIZE, end);
        // The kernel sends permission bits only; the type is implied.
        return this.then(ctx, ops.mkdir(ctx, node, name, m.mode), (e) => this.replyEntry(ctx, e));
      }
      case Op.UNLINK:
      case Op.RMDIR: {
        const fn = op === Op.UNLINK ? ops.unlink : ops.rmdir;
        if (!fn) return this.replyError(ctx, E.ENOSYS);
        const name = this.name(msg, B, end);
        return this.then(ctx, fn.call(ops, ctx, node, name), () => this.replyEmpty(ctx));
      }
      case Op.RENAME:
      case Op.RENAME2: {
        if (!ops.rename) return this.replyError(ctx, E.ENOSYS);
        let newdir: number, flags = 0, off: number;
        if (op === Op.RENAME) {
          newdir = abi.u64(dv, B);
          off = B + abi.RENAME_IN_SIZE;
        } else {
          ({ newdir, flags } = abi.decodeRename2In(dv, B));
          off = B + abi.RENAME2_IN_SIZE;
        }
        const a = abi.cstring(msg, off, end);
        const b = abi.cstring(msg, a.next, end);
        const oldName = this.decodeName(a.value);
        const newName = this.decodeName(b.value);
        return this.then(ctx, ops.rename(ctx, node, oldName, newdir, newName, flags), () => this.replyEmpty(ctx));
      }
      case Op.LINK: {
        if (!ops.link) return this.replyError(ctx, E.ENOSYS);
        const oldNode = abi.u64(dv, B);
        const name = this.name(msg, B + abi.LINK_IN_SIZE, end);
        return this.then(ctx, ops.link(ctx, oldNode, node, name), (e) => this.replyEntry(ctx, e));
      }
      case Op.OPEN:
      case Op.OPENDIR: {
        const flags = abi.decodeOpenIn(dv, B).flags;
        const fn = op === Op.OPEN ? ops.open : ops.opendir;
        if (!fn) return op === Op.OPEN ? this.replyError(ctx, E.ENOSYS) : this.replyOpen(ctx, { fh: 0 });
        return this.then(ctx, fn.call(ops, ctx, node, flags), (o) => this.replyOpen(ctx, o));
      }
      case Op.READ: {
        if (!ops.read) return this.replyError(ctx, E.ENOSYS);
        const r = abi.decodeReadIn(dv, B);
        return this.then(ctx, ops.read(ctx, node, r.fh, r.offset, r.size), (data) =>
          this.replyBytes(ctx, data.byteLength > r.size ? data.subarray(0, r.size) : data),
        );
      }
      case Op.WRITE: {
        if (!ops.write) return this.replyError(ctx, E.ENOSYS);
        const w = abi.decodeWriteIn(dv, B);
        const start = B + abi.WRITE_IN_SIZE;
        const view = msg.subarray(start, Math.min(start + w.size, end));
        const data = borrowed ? view.slice() : view;
        return this.then(ctx, ops.write(ctx, node, w.fh, w.offset, data), (n) => {
          const m = abi.encodeWriteOut(this.scratchView, 0, n);
          this.replyBytes(ctx, this.scratch.subarray(0, m));
        });
      }
      case Op.STATFS: {
        if (!ops.statfs) {
          // statfs(2) must work for df and for programs that check free space.
          return this.replyStatfs(ctx, { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 4096, namelen: 255, frsize: 4096 });
        }
        return this.then(ctx, ops.statfs(ctx, node), (s) => this.replyStatfs(ctx, s));
      }
      case Op.RELEASE:
      case Op.RELEASEDIR: {
        const r = abi.decodeReleaseIn(dv, B);
        if (op === Op.RELEASE) {
          if (!ops.release) return this.replyEmpty(ctx);
          const flockOwner = r.releaseFlags & abi.FUSE_RELEASE_FLOCK_UNLOCK ? r.lockOwner : undefined;
          return this.then(ctx, ops.release(ctx, node, r.fh, r.flags, flockOwner), () => this.replyEmpty(ctx));
        }
        if (!ops.releasedir) return this.replyEmpty(ctx);
        return this.then(ctx, ops.releasedir(ctx, node, r.fh), () => this.replyEmpty(ctx));
      }
      case Op.FSYNC:
      case Op.FSYNCDIR: {
        const f = abi.decodeFsyncIn(dv, B);
        const fn = op === Op.FSYNC ? ops.fsync : ops.fsyncdir;
        if (!fn) return this.replyError(ctx, E.ENOSYS);
        return this.then(ctx, fn.call(ops, ctx, node, f.fh, (f.fsyncFlags & abi.FUSE_FSYNC_FDATASYNC) !== 0), () =>
          this.replyEmpty(ctx),
        );
      }
      case Op.FLUSH: {
        if (!ops.flush) return this.replyError(ctx, E.ENOSYS);
        const f = abi.decodeFlushIn(dv, B);
        return this.then(ctx, ops.flush(ctx, node, f.fh, f.lockOwner), () => this.replyEmpty(ctx));
      }
      case Op.SETXATTR: {
        if (!ops.setxattr) return this.replyError(ctx, E.EOPNOTSUPP);
        const s = abi.decodeSetxattrIn(dv, B);
        const n = abi.cstring(msg, B + abi.SETXATTR_IN_SIZE, end);
        const name = this.decodeName(n.value);
        const view = msg.subarray(n.next, Math.min(n.next + s.size, end));
        const value = borrowed ? view.slice() : view;
        return this.then(ctx, ops.setxattr(ctx, node, name, value, s.flags), () => this.replyEmpty(ctx));
      }
      case Op.GETXATTR: {
        if (!ops.getxattr) return this.replyError(ctx, E.EOPNOTSUPP);
        const size = abi.decodeGetxattrIn(dv, B).size;
        const name = this.name(msg, B + abi.GETXATTR_IN_SIZE, end);
        return this.then(ctx, ops.getxattr(ctx, node, name), (v) => this.replySized(ctx, size, v));
      }
      case Op.LISTXATTR: {
        if (!ops.listxattr) return this.replyError(ctx, E.EOPNOTSUPP);
        const size = abi.decodeGetxattrIn(dv, B).size;
        return this.then(ctx, ops.listxattr(ctx, node), (names) => {
          const bytes = Buffer.from(names.map((x) => x + '\0').join(''), 'utf8');
          this.replySized(ctx, size, bytes);
        });
      }
      case Op.REMOVEXATTR: {
        if (!ops.removexattr) return this.replyError(ctx, E.EOPNOTSUPP);
        const name = this.name(msg, B, end);
        return this.then(ctx, ops.removexattr(ctx, node, name), () => this.replyEmpty(ctx));
      }
      case Op.READDIR: {
        if (!ops.readdir) return this.replyError(ctx, E.ENOSYS);
        const r = abi.decodeReadIn(dv, B);
        return this.then(ctx, ops.readdir(ctx, node, r.fh, r.offset, r.size), (list) => {
          const buf = this.scratchFor(r.size);
          const bdv = this.scratchView;
          let off = 0;
          for (const d of list) {
            const nm = Buffer.from(d.name, 'utf8');
            if (off + abi.direntSize(nm.length) > r.size) break;
            off += abi.encodeDirent(buf, bdv, off, d.ino, d.cookie, (d.type & 0o170000) >>> 12, nm);
          }
          this.replyBytes(ctx, buf.subarray(0, off));
        });
      }
      case Op.READDIRPLUS: {
        if (!ops.readdirplus) return this.replyError(ctx, E.ENOSYS);
        const r = abi.decodeReadIn(dv, B);
        return this.then(ctx, ops.readdirplus(ctx, node, r.fh, r.offset, r.size), (list) => this.replyDirentPlus(ctx, r.size, list));
      }
      case Op.ACCESS: {
        if (!ops.access) return this.replyError(ctx, E.ENOSYS);
        return this.then(ctx, ops.access(ctx, node, abi.decodeAccessIn(dv, B).mask), () => this.replyEmpty(ctx));
      }
      case Op.CREATE: {
        if (!ops.create) return this.replyError(ctx, E.ENOSYS);
        const c = abi.decodeCreateIn(dv, B);
        const name = this.name(msg, B + abi.CREATE_IN_SIZE, end);
        return this.then(ctx, ops.create(ctx, node, name, c.mode, c.flags), (r) => this.replyCreate(ctx, r.entry, r.open));
      }
      case Op.GETLK: {
        if (!ops.getlk) return this.replyError(ctx, E.ENOSYS);
        const l = abi.decodeLkIn(dv, B);
        return this.then(ctx, ops.getlk(ctx, node, l.fh, l.owner, l.lk), (lk) => {
          const m = abi.encodeLkOut(this.scratchView, 0, lk);
          this.replyBytes(ctx, this.scratch.subarray(0, m));
        });
      }
      case Op.SETLK:
      case Op.SETLKW: {
        if (!ops.setlk) return this.replyError(ctx, E.ENOSYS);
        const l = abi.decodeLkIn(dv, B);
        const flock = (l.lkFlags & abi.FUSE_LK_FLOCK) !== 0;
        return this.then(ctx, ops.setlk(ctx, node, l.fh, l.owner, l.lk, op === Op.SETLKW, flock), () => this.replyEmpty(ctx));
      }
      case Op.FALLOCATE: {
        if (!ops.fallocate) return this.replyError(ctx, E.EOPNOTSUPP);
        const f = abi.decodeFallocateIn(dv, B);
        return this.then(ctx, ops.fallocate(ctx, node, f.fh, f.offset, f.length, f.mode), () => this.replyEmpty(ctx));
      }
      case Op.LSEEK: {
        if (!ops.lseek) return this.replyError(ctx, E.ENOSYS);
        const s = abi.decodeLseekIn(dv, B);
        return this.then(ctx, ops.lseek(ctx, node, s.fh, s.offset, s.whence), (pos) => {
          const m = abi.encodeLseekOut(this.scratchView, 0, pos);
          this.replyBytes(ctx, this.scratch.subarray(0, m));
        });
      }
      case Op.DESTROY: {
        this.destroyed = true;
        const r = this.ops.destroy?.();
        return this.then(ctx, r ?? undefined, () => this.replyEmpty(ctx));
      }
      default:
        return this.replyError(ctx, E.ENOSYS);
    }
  }

  /** Runs `done` with the value (sync or async), or replies the error. */
  private then<T>(ctx: Context, r: T | Promise<T>, done: (v: T) => void): void {
    if (r instanceof Promise) {
      r.then(
        (v) => {
          try {
            done(v);
          } catch (e) {
            this.fail(ctx, e);
          }
        },
        (e) => this.fail(ctx, e),
      );
    } else done(r);
  }

  private fail(ctx: Context, e: unknown): void {
    const errno = errnoOf(e, this.log);
    if (this.opts.debug) this.log.info('error', { op: abi.opName(ctx.opcode), unique: ctx.unique, errno });
    this.replyError(ctx, errno);
  }

  private name(msg: Uint8Array, off: number, end: number): string {
    return this.decodeName(abi.cstring(msg, off, end).value);
  }
  private decodeName(bytes: Uint8Array): string {
    if (!isUtf8(bytes)) throw new Errno(E.EILSEQ, 'name is not UTF-8');
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }

  private scratchFor(size: number): Uint8Array {
    if (this.scratch.byteLength < size) {
      this.scratch = new Uint8Array(size);
      this.scratchView = new DataView(this.scratch.buffer);
    }
    return this.scratch;
  }

  // ---- replies ----

  private finish(ctx: Context): boolean {
    this.inFlight.delete(ctx.unique);
    if (ctx.replied) return false;
    ctx.replied = true;
    return true;
  }

  /** Writes header + parts; returns false when the kernel no longer waits for this request. */
  private send(ctx: Context, error: number, parts: Uint8Array[]): boolean {
    let len = abi.OUT_HEADER_SIZE;
    for (const p of parts) len += p.byteLength;
    let out: Uint8Array[];
    if (parts.length === 0) {
      abi.encodeOutHeader(this.hdrView, len, -error, ctx.unique);
      out = [this.hdr];
    } else if (parts.length === 1 && len <= this.reply.byteLength) {
      // A small reply (an entry, attributes, an open) goes out as one buffer: a plain write(2)
      // instead of a writev of two, and no array of parts per reply.
      abi.encodeOutHeader(this.replyView, len, -error, ctx.unique);
      this.reply.set(parts[0]!, abi.OUT_HEADER_SIZE);
      out = [this.reply.subarray(0, len)];
    } else {
      abi.encodeOutHeader(this.hdrView, len, -error, ctx.unique);
      out = [this.hdr, ...parts];
    }
    try {
      this.writer.write(out);
      if (tracing) trace(`fuse.reply ${abi.opName(ctx.opcode)}`);
      return true;
    } catch (e) {
      const code = (e as { code?: string }).code;
      // ENOENT: the request was interrupted and is gone; ENODEV: unmounted. Neither is ours to fix.
      if (code !== 'ENOENT' && code !== 'ENODEV') {
        this.log.error('reply write failed', { op: abi.opName(ctx.opcode), unique: ctx.unique, error: String(e) });
      }
      return false;
    }
  }

  private replyError(ctx: Context, errno: number): void {
    if (!this.finish(ctx)) return;
    this.send(ctx, errno, []);
  }
  private replyEmpty(ctx: Context): void {
    if (!this.finish(ctx)) return;
    this.send(ctx, 0, []);
  }
  private replyBytes(ctx: Context, bytes: Uint8Array): void {
    if (!this.finish(ctx)) return;
    this.send(ctx, 0, [bytes]);
  }
  private replySized(ctx: Context, size: number, value: Uint8Array): void {
    if (size === 0) {
      const m = abi.encodeGetxattrOut(this.scratchView, 0, value.byteLength);
      return this.replyBytes(ctx, this.scratch.subarray(0, m));
    }
    if (value.byteLength > size) return this.replyError(ctx, E.ERANGE);
    this.replyBytes(ctx, value);
  }
  private replyAttr(ctx: Context, attr: Attr, timeout?: number): void {
    const n = abi.encodeAttrOut(this.scratchView, 0, timeout ?? this.opts.attrTimeoutSec, attr);
    this.replyBytes(ctx, this.scratch.subarray(0, n));
  }
  private encodeEntry(off: number, e: Entry): number {
    return abi.encodeEntryOut(
      this.scratchView,
      off,
      e.attr.ino,
      e.generation ?? 0,
      e.entryTimeoutSec ?? this.opts.entryTimeoutSec,
      e.attrTimeoutSec ?? this.opts.attrTimeoutSec,
      e.attr,
    );
  }
  private replyEntry(ctx: Context, e: Entry): void {
    if (e.attr.ino === 0) {
      // A negative entry: the kernel caches "no such name" for the entry timeout, takes no reference.
      if (this.finish(ctx)) this.send(ctx, 0, [this.scratch.subarray(0, this.encodeEntry(0, e))]);
      return;
    }
    if (!this.finish(ctx)) return this.forgetUnsent(e.attr.ino);
    const n = this.encodeEntry(0, e);
    if (this.send(ctx, 0, [this.scratch.subarray(0, n)])) this.nodes.ref(e.attr.ino);
    else this.forgetUnsent(e.attr.ino);
  }
  private replyCreate(ctx: Context, e: Entry, o: OpenReply): void {
    if (!this.finish(ctx)) return this.forgetUnsent(e.attr.ino);
    let n = this.encodeEntry(0, e);
    n += abi.encodeOpenOut(this.scratchView, n, o.fh, openFlags(o));
    if (this.send(ctx, 0, [this.scratch.subarray(0, n)])) this.nodes.ref(e.attr.ino);
    else this.forgetUnsent(e.attr.ino);
  }
  /** An entry the kernel never received: if the kernel holds no reference either, tell the ops. */
  private forgetUnsent(ino: number): void {
    if (this.nodes.lookupCount(ino) === 0 && ino !== abi.FUSE_ROOT_ID) {
      try {
        this.ops.forget?.(ino, 0);
      } catch {
        /* a hint only */
      }
    }
  }
  private replyOpen(ctx: Context, o: OpenReply): void {
    const n = abi.encodeOpenOut(this.scratchView, 0, o.fh, openFlags(o));
    this.replyBytes(ctx, this.scratch.subarray(0, n));
  }
  private replyStatfs(ctx: Context, s: abi.StatfsFields): void {
    const n = abi.encodeStatfsOut(this.scratchView, 0, s);
    this.replyBytes(ctx, this.scratch.subarray(0, n));
  }
  private replyDirentPlus(ctx: Context, size: number, list: DirEntryPlus[]): void {
    const buf = this.scratchFor(size);
    const dv = this.scratchView;
    let off = 0;
    const refs: number[] = [];
    for (const d of list) {
      const nm = Buffer.from(d.name, 'utf8');
      const rec = abi.direntplusSize(nm.length);
      if (off + rec > size) break;
      this.encodeEntry(off, d.entry);
      const dot = d.name === '.' || d.name === '..';
      abi.encodeDirent(buf, dv, off + abi.ENTRY_OUT_SIZE, d.entry.attr.ino, d.cookie, (d.entry.attr.mode & 0o170000) >>> 12, nm);
      if (!dot && d.entry.attr.ino !== 0) refs.push(d.entry.attr.ino);
      off += rec;
    }
    if (!this.finish(ctx)) return;
    if (this.send(ctx, 0, [buf.subarray(0, off)])) for (const ino of refs) this.nodes.ref(ino);
  }
}

function openFlags(o: OpenReply): number {
  return (
    (o.directIo ? abi.FOPEN_DIRECT_IO : 0) |
    (o.keepCache ? abi.FOPEN_KEEP_CACHE : 0) |
    (o.nonSeekable ? abi.FOPEN_NONSEEKABLE : 0)
  );
}

function toSetAttr(s: abi.SetattrIn): SetAttrRequest {
  const out: SetAttrRequest = {};
  const v = s.valid;
  if (v & abi.FATTR_MODE) out.mode = s.mode;
  if (v & abi.FATTR_UID) out.uid = s.uid;
  if (v & abi.FATTR_GID) out.gid = s.gid;
  if (v & abi.FATTR_SIZE) out.size = s.size;
  if (v & abi.FATTR_ATIME) out.atime = v & abi.FATTR_ATIME_NOW ? 'now' : { sec: s.atimeSec, nsec: s.atimeNsec };
  if (v & abi.FATTR_MTIME) out.mtime = v & abi.FATTR_MTIME_NOW ? 'now' : { sec: s.mtimeSec, nsec: s.mtimeNsec };
  if (v & abi.FATTR_CTIME) out.ctime = { sec: s.ctimeSec, nsec: s.ctimeNsec };
  if (v & abi.FATTR_FH) out.fh = s.fh;
  return out;
}
