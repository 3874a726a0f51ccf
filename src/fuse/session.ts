// One mounted FUSE file system: the /dev/fuse descriptor, the mount, the reader and the
// dispatcher that serves requests on the main thread.
//
//   kernel ──read(2)──▶ main thread: libuv stream on the descriptor (device-reader.ts; worker
//          ◀─writev(2)── threads as the fallback) → Dispatcher → ops → one write per reply
//
// The session ends when the reader saw ENODEV (the file system was unmounted, by us or by
// anyone) or ECONNABORTED (the connection was aborted); `closed` resolves then.
//
// The main thread answers every request, so the serving process must never block it on its own
// mount: no synchronous fs calls on the mount, and no spawning of child processes while this
// process holds files open on the mount (exec(2) in the child closes the inherited close-on-exec
// descriptors, each close sends FLUSH, and node's spawn blocks the main thread until that exec
// is done: a deadlock). Serve mounts from a process of their own, as `curvefs mount` does.

import { closeSync, openSync, write, writeSync, writevSync } from 'node:fs';
import { createLogger } from '../common/index.ts';
import { startDeviceReader, type DeviceReader, type ReaderKind } from './device-reader.ts';
import { Dispatcher, type InitResult, type ReplyWriter } from './dispatch.ts';
import { fusePreflight, mountDevice, unmountDir } from './mount-cmd.ts';
import * as abi from './abi.ts';
import type { FuseOps } from './ops.ts';

export interface MountFuseOptions {
  /** Kernel dentry cache timeout (seconds); 0 asks the kernel to look up every time. */
  entryTimeoutSec?: number;
  /** Kernel attribute cache timeout (seconds). */
  attrTimeoutSec?: number;
  /** Let users other than the mounting one use the mount (allow_other). Default true. */
  allowOther?: boolean;
  /**
   * Let the kernel check permission bits (default_permissions, default true): it knows the
   * caller's supplementary groups and capabilities, which the ops do not see.
   */
  defaultPermissions?: boolean;
  /** Kernel write-back caching of writes (FUSE_WRITEBACK_CACHE). Default false. */
  writebackCache?: boolean;
  /** Largest WRITE the kernel sends (bytes). Default 1 MiB. */
  maxWrite?: number;
  /**
   * How /dev/fuse is read: 'stream' (default) on the main thread, no thread hand-off per request;
   * 'worker' by threads blocked in read(2), used anyway when the stream cannot be made. The
   * environment variable CURVEFS_FUSE_READER=worker|stream sets the default (to compare the two
   * on a `curvefs mount`, or to step around a node that mishandles the stream).
   */
  reader?: ReaderKind;
  /** Reader threads blocked on /dev/fuse, for reader 'worker'. Default 2. */
  readers?: number;
  /** Log every request and error reply. */
  debug?: boolean;
  /** Unmount on SIGINT / SIGTERM, then die of the signal. Default true. */
  unmountOnSignal?: boolean;
}

export interface MountFuseParams {
  mountpoint: string;
  ops: FuseOps;
  /** The "device" shown in /proc/mounts. Default "curvefs". */
  fsName?: string;
  /** The type is fuse.<subtype>. Default "curvefs". */
  subtype?: string;
  options?: MountFuseOptions;
}

export interface FuseMount {
  readonly mountpoint: string;
  /** What INIT settled: protocol minor, flags, max write. */
  readonly negotiated: InitResult;
  /** Unmounts and waits for the session to end. lazy: detach even while busy (umount -l). */
  unmount(opts?: { lazy?: boolean }): Promise<void>;
  /** Resolves when the session ended (unmounted by anyone). */
  readonly closed: Promise<void>;
  stats(): { requests: number; inFlight: number; nodes: number };
  /** The reader in use ('worker' when asked for, or when the stream could not be made). */
  readonly readerKind: ReaderKind;
}

const live = new Set<FuseSession>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  const onSignal = (sig: NodeJS.Signals) => {
    const all = [...live].map((s) => s.unmount().catch(() => s.unmount({ lazy: true })).catch(() => undefined));
    void Promise.all(all).then(() => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      process.kill(process.pid, sig);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

class FuseSession implements FuseMount {
  readonly mountpoint: string;
  negotiated!: InitResult;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private reader: DeviceReader | undefined;
  private ended = false;
  private fdOpen = true;
  private requests = 0;
  readonly dispatcher: Dispatcher;
  private readonly log = createLogger('fuse');

  constructor(
    private readonly fd: number,
    params: MountFuseParams,
    private readonly opts: Required<MountFuseOptions>,
  ) {
    this.mountpoint = params.mountpoint;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    const writer: ReplyWriter = {
      write: (parts) => {
        // Once the descriptor is closed its number may belong to another file: never write there.
        if (!this.fdOpen) throw Object.assign(new Error('FUSE session ended'), { code: 'ENODEV' });
        if (parts.length === 1) writeSync(fd, parts[0]!);
        else writevSync(fd, parts);
      },
    };
    this.dispatcher = new Dispatcher(
      params.ops,
      writer,
      {
        entryTimeoutSec: opts.entryTimeoutSec,
        attrTimeoutSec: opts.attrTimeoutSec,
        maxWrite: opts.maxWrite,
        maxReadahead: 1024 * 1024,
        writebackCache: opts.writebackCache,
        debug: opts.debug,
      },
      this.log,
    );
    params.ops.attachNotifier?.({
      // Off the main thread (the thread pool): the kernel takes the parent's lock for it, which
      // a request waiting on this process may hold.
      invalEntry: (parent, name) =>
        new Promise<void>((resolve, reject) => {
          if (!this.fdOpen) return reject(Object.assign(new Error('FUSE session ended'), { code: 'ENODEV' }));
          write(fd, abi.encodeNotifyInvalEntry(parent, name), (err) => (err ? reject(err) : resolve()));
        }),
    });
  }

  get readerKind(): ReaderKind {
    return this.reader?.kind ?? this.opts.reader;
  }

  startReader(): void {
    this.reader = startDeviceReader(
      this.opts.reader,
      // The kernel refuses reads into buffers smaller than max_write plus the request headers.
      { fd: this.fd, bufSize: this.opts.maxWrite + 4096, workers: this.opts.readers },
      {
        request: (msg, borrowed) => {
          this.requests++;
          this.dispatcher.handle(msg, borrowed);
        },
        ended: (error) => {
          if (error) this.log.error('fuse reader stopped', { error: error.message, code: error.code });
          this.readerEnded();
        },
      },
    );
  }

  private readerEnded(): void {
    if (this.ended) return;
    this.ended = true;
    this.closeFd();
    live.delete(this);
    this.resolveClosed();
  }

  closeFd(): void {
    if (!this.fdOpen) return;
    this.fdOpen = false;
    if (this.reader) {
      this.reader.close();
      return;
    }
    try {
      closeSync(this.fd);
    } catch {
      /* already gone */
    }
  }

  async unmount(opts: { lazy?: boolean } = {}): Promise<void> {
    if (this.ended) return;
    await unmountDir(this.mountpoint, opts);
    await this.closed;
  }

  stats() {
    return { requests: this.requests, inFlight: this.dispatcher.inFlightCount, nodes: this.dispatcher.nodes.size };
  }
}

function defaultReader(): ReaderKind {
  const env = process.env.CURVEFS_FUSE_READER;
  if (env === 'worker' || env === 'stream') return env;
  if (env) throw new Error(`CURVEFS_FUSE_READER must be "stream" or "worker", not ${JSON.stringify(env)}`);
  return 'stream';
}

/**
 * Mounts `ops` at `mountpoint` and serves it until unmounted. Fails with a clear message when
 * not root or /dev/fuse is missing. Resolves once the kernel's INIT is answered.
 */
export async function mountFuse(params: MountFuseParams): Promise<FuseMount> {
  const problem = await fusePreflight();
  if (problem) throw new Error(`cannot mount FUSE: ${problem}`);
  const o = params.options ?? {};
  const opts: Required<MountFuseOptions> = {
    entryTimeoutSec: o.entryTimeoutSec ?? 1,
    attrTimeoutSec: o.attrTimeoutSec ?? 1,
    allowOther: o.allowOther ?? true,
    defaultPermissions: o.defaultPermissions ?? true,
    writebackCache: o.writebackCache ?? false,
    maxWrite: o.maxWrite ?? 1024 * 1024,
    reader: o.reader ?? defaultReader(),
    readers: Math.max(1, o.readers ?? 2),
    debug: o.debug ?? false,
    unmountOnSignal: o.unmountOnSignal ?? true,
  };
  const fd = openSync('/dev/fuse', 'r+');
  const session = new FuseSession(fd, params, opts);
  try {
    await mountDevice({
      fd,
      mountpoint: params.mountpoint,
      fsName: params.fsName ?? 'curvefs',
      subtype: params.subtype ?? 'curvefs',
      allowOther: opts.allowOther,
      defaultPermissions: opts.defaultPermissions,
    });
  } catch (e) {
    session.closeFd();
    throw e;
  }
  // Reads on /dev/fuse fail (EPERM) until the mount attached the descriptor, so the reader
  // starts only now; the kernel's INIT is already queued for it.
  session.startReader();
  live.add(session);
  if (opts.unmountOnSignal) hookSignals();
  const ended = session.closed.then(() => {
    throw new Error(`FUSE session at ${params.mountpoint} ended before INIT completed`);
  });
  try {
    session.negotiated = await Promise.race([session.dispatcher.initialized, ended]);
  } catch (e) {
    await unmountDir(params.mountpoint, { lazy: true }).catch(() => undefined);
    throw e;
  }
  return session;
}
