// Mounting a curvefs file system: connect to the fs through the MDS, build the FUSE ops, mount
// them with the kernel, and on the way out save every open file and end the mount session.
//
//   const m = await mountCurvefs({ mdsAddrs: ['127.0.0.1:6700'], fsName: 'curvefs', mountpoint: '/mnt/c' });
//   ...
//   await m.unmount();      // or: someone runs umount; `m.closed` resolves when all is saved
//
// The serving process must never touch the mount with synchronous fs calls (its main thread
// answers the kernel).
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { createLogger } from '../common/index.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../client/index.ts';
import { BlockCache, FileDataIO } from '../data/index.ts';
import { fusePreflight, mountFuse, recoverStaleMount, type FuseMount, type MountFuseOptions } from '../fuse/index.ts';
import type { MetricsServer } from '../metrics/index.ts';
import { ChannelPool } from '../rpc/index.ts';
import { CacheFirstStore } from './cache-first-store.ts';
import { CurvefsOps, type CurvefsOpsOptions } from './curvefs-ops.ts';
import { setKernelReadahead } from './kernel-readahead.ts';

const log = createLogger('mount');

export interface MountCurvefsOptions {
  mdsAddrs: string[];
  fsName: string;
  mountpoint: string;
  /** Kernel dentry cache timeout (seconds). Default 1. */
  entryTimeoutSec?: number;
  /** Kernel attribute cache timeout (seconds). Default 1. */
  attrTimeoutSec?: number;
  /** Bytes of data objects cached for reads. Default 256 MiB. */
  readCacheBytes?: number;
  /** Objects read ahead of a sequential reader. Default 4. */
  readaheadObjects?: number;
  /** The kernel's readahead window for the mount, KiB (kernel-readahead.ts). Default 16384; 0 keeps the kernel's. */
  kernelReadaheadKb?: number;
  /** Write buffering, open registration, listing page size. */
  ops?: CurvefsOpsOptions;
  /** FUSE session knobs (reader threads, debug log, allow_other ...). */
  fuse?: Omit<MountFuseOptions, 'entryTimeoutSec' | 'attrTimeoutSec' | 'unmountOnSignal'>;
  /** Serve Prometheus metrics at http://host:port/metrics (port 0: the OS chooses; host default 127.0.0.1). */
  metrics?: { port: number; host?: string };
}

export interface CurvefsMount {
  readonly mountpoint: string;
  readonly fsName: string;
  /**
   * The MDS mount session in use (also the owner of this mount's locks and open registrations);
   * a new one replaces it when it ends.
   */
  readonly sessionId: number;
  readonly ops: CurvefsOps;
  readonly fuse: FuseMount;
  /** "host:port" of the metrics endpoint, when serving one. */
  readonly metricsAddress?: string;
  /** Unmounts (lazy: detach even while busy) and waits until everything is saved and closed. */
  unmount(opts?: { lazy?: boolean }): Promise<void>;
  /** Resolves once the mount is gone (unmounted by anyone), its files saved and its session ended. */
  readonly closed: Promise<void>;
}

/** Why a mount could not be made, with the message to show. */
export class MountError extends Error {
  constructor(
    message: string,
    /** 'fuse': no root or /dev/fuse; 'mountpoint': bad directory; 'cluster': MDS or fs problem. */
    readonly reason: 'fuse' | 'mountpoint' | 'cluster',
  ) {
    super(message);
    this.name = 'MountError';
  }
}

export async function mountCurvefs(o: MountCurvefsOptions): Promise<CurvefsMount> {
  const mountpoint = resolve(o.mountpoint);
  const problem = await fusePreflight();
  if (problem) throw new MountError(`cannot mount FUSE: ${problem}`, 'fuse');
  // A mount whose serving process died answers ENOTCONN: detach it so the directory is usable.
  try {
    if (await recoverStaleMount(mountpoint)) log.warn('cleared a stale mount left by a dead process', { mountpoint });
    const s = await stat(mountpoint);
    if (!s.isDirectory()) throw new MountError(`mount point ${mountpoint} is not a directory`, 'mountpoint');
  } catch (e) {
    if (e instanceof MountError) throw e;
    throw new MountError(`mount point ${mountpoint}: ${(e as Error).message}`, 'mountpoint');
  }

  const pool = new ChannelPool();
  let conn: Connection | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    const mds = new MdsAdapter(new RotatingMdsConnector(pool, o.mdsAddrs, { callTimeoutMs: 15_000 }));
    conn = await connectFs({
      mds,
      fsName: o.fsName,
      pool,
      mountpoint: { host: hostname(), path: mountpoint },
      // The kernel caches entries and attributes; the client library must not add a second layer.
      entryTtlMs: 0,
      attrTtlMs: 0,
      readCacheBytes: 0,
    });
    // Metrics wrap the store and the ops (src/mount/metrics.ts), loaded only when asked for.
    const mm = o.metrics ? new (await import('./metrics.ts')).MountMetrics() : undefined;
    const store = mm ? mm.instrumentStore(conn.store) : conn.store;
    // Two views of the fs's block store: sequential access through a cache of whole objects
    // with readahead, random access by ranged reads of just the bytes asked for.
    const v = conn.view;
    const layout = { fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize, allocChunkIds: (n: number) => mds.allocateChunkIds(v.fsId, n) };
    const cacheBytes = o.readCacheBytes ?? 256 * 1024 * 1024;
    const cache = cacheBytes > 0 ? new BlockCache(cacheBytes) : undefined;
    // Reads may hand out views of cached objects: a reply write only copies them into the kernel.
    const data = new FileDataIO(store, { ...layout, cache, readaheadObjects: cache ? (o.readaheadObjects ?? 4) : 0, viewsOfCache: true });
    const randomData = new FileDataIO(cache ? new CacheFirstStore(store, cache) : store, layout);
    // What the mount keeps of a directory's attributes lives no longer than the kernel's copy would.
    const dirInfoTtlMs = (o.attrTimeoutSec ?? 1) * 1000;
    const newDirTtlMs = (o.entryTimeoutSec ?? 1) * 1000;
    const ops = new CurvefsOps({ core: conn.core, data, randomData, sessionId: conn.sessionId, session: conn.session, view: conn.view }, { dirInfoTtlMs, newDirTtlMs, ...o.ops });
    if (mm && o.metrics) {
      if (cache) mm.watchCache(cache);
      mm.watchOpen(() => ops.stats());
      metricsServer = await mm.serve({ host: o.metrics.host ?? '127.0.0.1', port: o.metrics.port });
    }
    const fuse = await mountFuse({
      mountpoint,
      ops: mm ? mm.instrumentOps(ops) : ops,
      fsName: o.fsName,
      subtype: 'curvefs',
      options: {
        ...o.fuse,
        entryTimeoutSec: o.entryTimeoutSec ?? 1,
        attrTimeoutSec: o.attrTimeoutSec ?? 1,
        unmountOnSignal: false,
      },
    });
    const raKb = o.kernelReadaheadKb ?? 16 * 1024;
    const raFailed = raKb > 0 ? await setKernelReadahead(mountpoint, raKb) : undefined;
    if (raFailed) log.warn('kernel readahead left as it was', { error: raFailed });
    const c = conn;
    const closed = fuse.closed.then(async () => {
      await ops.shutdown().catch((e: unknown) => log.error('saving open files at unmount failed', { error: String(e) }));
      await c.close();
      pool.close();
      await metricsServer?.close();
      log.info('unmounted', { mountpoint, fs: o.fsName });
    });
    log.info('mounted', { mountpoint, fs: o.fsName, session: conn.sessionId, metrics: metricsServer?.address });
    return {
      mountpoint,
      fsName: o.fsName,
      get sessionId() {
        return c.session.id;
      },
      ops,
      fuse,
      metricsAddress: metricsServer?.address,
      closed,
      async unmount(opts = {}) {
        await fuse.unmount(opts);
        await closed;
      },
    };
  } catch (e) {
    await conn?.close().catch(() => undefined);
    pool.close();
    await metricsServer?.close();
    if (e instanceof MountError) throw e;
    if (e instanceof Error && e.message.startsWith('cannot mount FUSE')) throw new MountError(e.message, 'fuse');
    throw e;
  }
}
