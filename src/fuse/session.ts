// One mounted FUSE file system: the /dev/fuse descriptor, the mount, the reader workers and the
// dispatcher that serves requests on the main thread.
//
//   kernel ──read(2)──▶ reader workers (blocked in readSync, one thread each)
//          ◀─writev(2)── main thread: Dispatcher → ops → one write per reply
//
// The session ends when every reader saw ENODEV (the file system was unmounted, by us or by
// anyone); `closed` resolves then.
//
// The main thread answers every request, so the serving process must never block it on its own
// mount: no synchronous fs calls on the mount, and no spawning of child processes while this
// process holds files open on the mount (exec(2) in the child closes the inherited close-on-exec
// descriptors, each close sends FLUSH, and node's spawn blocks the main thread until that exec
// is done: a deadlock). Serve mounts from a process of their own, as `curvefs mount` does.

import { closeSync, openSync, writeSync, writevSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createLogger, traceAt } from '../common/index.ts';
import { Dispatcher, type InitResult, type ReplyWriter } from './dispatch.ts';
import { fusePreflight, mountDevice, unmountDir } from './mount-cmd.ts';
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
  /** Reader threads blocked on /dev/fuse. Default 2. */
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
  private readonly workers: Worker[] = [];
  private endedReaders = 0;
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
  }

  startReaders(): void {
    const url = new URL('./reader-worker.mjs', import.meta.url);
    // The kernel refuses reads into buffers smaller than max_write plus the request headers.
    const bufSize = this.opts.maxWrite + 4096;
    for (let i = 0; i < this.opts.readers; i++) {
      const w = new Worker(url, { workerData: { fd: this.fd, bufSize } });
      w.on('message', (m: unknown) => {
        if (m instanceof Uint8Array) {
          this.requests++;
          this.dispatcher.handle(m);
        } else if (Array.isArray(m)) {
          // Tracing on: [request, when the reader's read(2) returned].
          traceAt(m[1] as bigint, 'fuse.read');
          this.requests++;
          this.dispatcher.handle(m[0] as Uint8Array);
        } else {
          const info = m as { end?: string; error?: string; code?: string };
          if (info.error) this.log.error('fuse reader stopped', { error: info.error, code: info.code });
          this.readerEnded();
        }
      });
      w.on('error', (e) => {
        this.log.error('fuse reader crashed', { error: String(e) });
        this.readerEnded();
      });
      this.workers.push(w);
    }
  }

  private readerEnded(): void {
    this.endedReaders++;
    if (this.endedReaders < this.workers.length) return;
    this.closeFd();
    live.delete(this);
    this.resolveClosed();
  }

  closeFd(): void {
    if (!this.fdOpen) return;
    this.fdOpen = false;
    try {
      closeSync(this.fd);
    } catch {
      /* already gone */
    }
  }

  async unmount(opts: { lazy?: boolean } = {}): Promise<void> {
    if (this.endedReaders >= this.workers.length && this.workers.length > 0) return;
    await unmountDir(this.mountpoint, opts);
    await this.closed;
  }

  stats() {
    return { requests: this.requests, inFlight: this.dispatcher.inFlightCount, nodes: this.dispatcher.nodes.size };
  }
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
  // Reads on /dev/fuse fail (EPERM) until the mount attached the descriptor, so readers start
  // only now; the kernel's INIT is already queued for them.
  session.startReaders();
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
