// One call from "MDS addresses + fs name" to a working SDK: fetch the fs, open its block store,
// load the partition table, register a mount session, and keep the session alive.
import { CurveError, StatusCode, systemClock, systemRandom, createLogger } from '../common/index.ts';
import { BlockCache, FileDataIO, openBlockStore, type BlockStore } from '../data/index.ts';
import { ChannelPool } from '../rpc/index.ts';
import { hostname } from 'node:os';
import { MetaClient } from './meta-client.ts';
import { RpcMetaCaller } from './rpc-caller.ts';
import { FsCore } from './fs-core.ts';
import { Fs } from './fs.ts';
import type { FsView, MdsApi } from './mds-api.ts';

const log = createLogger('client');
let sdkSessions = 0;

export interface ConnectOptions {
  mds: MdsApi;
  fsName: string;
  /** Where this client is mounted (recorded by the MDS); the SDK uses host + "sdk:<pid>". */
  mountpoint?: { host: string; path: string };
  entryTtlMs?: number;
  attrTtlMs?: number;
  /** Bytes of whole objects cached for reads (0 = no cache). */
  readCacheBytes?: number;
  pool?: ChannelPool;
  /**
   * Register an open with the metaserver this long after it is made (ms; 0 = at once). Must stay
   * below the metaservers' reclaim grace (30 s): see open-registry.ts. Default 5000.
   */
  registerOpenAfterMs?: number;
  /** Session refresh period; the MDS expires sessions silent for several periods. */
  refreshMs?: number;
}

export interface Connection {
  fs: Fs;
  core: FsCore;
  meta: MetaClient;
  view: FsView;
  sessionId: number;
  store: BlockStore;
  close(): Promise<void>;
}

export async function connectFs(opts: ConnectOptions): Promise<Connection> {
  const view = await opts.mds.getFsInfo(opts.fsName);
  const mountpoint = opts.mountpoint ?? { host: hostname(), path: `sdk:${process.pid}:${++sdkSessions}` };
  const session = await opts.mds.mount(opts.fsName, mountpoint);
  const pool = opts.pool ?? new ChannelPool();
  const meta = new MetaClient({
    mds: opts.mds,
    caller: new RpcMetaCaller(pool),
    fsId: view.fsId,
    clientId: session.sessionId,
    random: systemRandom,
  });
  await meta.refresh();
  if (meta.table.partitions().length === 0) throw new CurveError(StatusCode.PARTITION_NOT_FOUND, `fs ${opts.fsName} has no partitions`);
  const store = await openBlockStore(view.dataStore);
  const data = new FileDataIO(store, {
    fsId: view.fsId,
    chunkSize: view.chunkSize,
    blockSize: view.blockSize,
    allocChunkIds: (n) => opts.mds.allocateChunkIds(view.fsId, n),
    cache: opts.readCacheBytes ? new BlockCache(opts.readCacheBytes) : undefined,
  });
  const core = new FsCore(meta, { entryTtlMs: opts.entryTtlMs, attrTtlMs: opts.attrTtlMs, clock: systemClock });
  // Capacity checks and statfs start from the usage the MDS answered with the fs (no extra call).
  core.space.capacity = view.capacity;
  if (view.usage) core.space.update(view.usage);
  core.trackOpens(session.sessionId, { registerAfterMs: opts.registerOpenAfterMs });
  const fs = new Fs(core, data, { maxBufferBytes: view.blockSize });
  const refreshMs = opts.refreshMs ?? 4000;
  const timer = setInterval(() => {
    opts.mds
      .refreshSession(opts.fsName, session.sessionId)
      .then((space) => space && core.space.update(space))
      .catch((e) => log.warn('session refresh failed', { error: String(e) }));
  }, refreshMs);
  timer.unref();
  return {
    fs,
    core,
    meta,
    view,
    sessionId: session.sessionId,
    store,
    async close() {
      clearInterval(timer);
      // Handle releases still in flight reach the metaservers before the session ends.
      core.opens?.stopTimers();
      await fs.settle().catch(() => undefined);
      await opts.mds.umount(opts.fsName, session.sessionId).catch(() => undefined);
      await store.close();
      if (!opts.pool) pool.close();
    },
  };
}
