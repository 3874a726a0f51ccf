// One call from "MDS addresses + fs name" to a working SDK: fetch the fs, open its block store,
// load the partition table, register a mount session, and keep the session alive (a new one
// when it ends: session.ts).
import { CurveError, StatusCode, createLogger, systemClock, systemRandom } from '../common/index.ts';
import { BlockCache, FileDataIO, openBlockStore, type BlockStore } from '../data/index.ts';
import { ChannelPool } from '../rpc/index.ts';
import { hostname } from 'node:os';
import { MetaClient, type MetaCaller } from './meta-client.ts';
import { RpcMetaCaller } from './rpc-caller.ts';
import { FsCore } from './fs-core.ts';
import { Fs } from './fs.ts';
import { QuotaTracker, Vfs } from '../vfs/index.ts';
import type { FsView, MdsApi } from './mds-api.ts';
import { ClientSession } from './session.ts';
import { claimedRole, squashRoot, type Identity } from '../mds/auth/root-squash.ts';

let sdkSessions = 0;
let quotaTrackers = 0;
const log = createLogger('client/connect');

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
  /** How calls reach a metaserver (default: the framed RPC over `pool`); tests put faults in front. */
  caller?: MetaCaller;
  /**
   * Who the SDK's path API (`Connection.fs`) acts as: owner of what it creates, whose
   * permissions the VFS checks. Default root (uid 0, gid 0). Root squash (docs/security.md):
   * uid 0 acts as root — may do anything — only when `pool` presents the admin token; with an fs
   * client's or the cluster's token it acts as nobody (65534:65534, group 0 dropped), as the
   * `curvefs` CLI does. Trusted code that must act as root connects with the admin token.
   * Without any token (a cluster run `--insecure`) root stays root.
   */
  identity?: { uid: number; gid: number; groups?: number[] };
  /** Bits cleared from the mode of what the SDK creates. Default 0o022. */
  umask?: number;
}

export interface Connection {
  fs: Fs;
  core: FsCore;
  meta: MetaClient;
  view: FsView;
  /** Whom `fs` acts as: `ConnectOptions.identity` after root squash. */
  identity: Identity;
  /** True when uid 0 was squashed to nobody (the credential is not the admin token). */
  rootSquashed: boolean;
  /** The mount session in use now (a new one replaces it when it ends: `session`). */
  readonly sessionId: number;
  session: ClientSession;
  store: BlockStore;
  close(): Promise<void>;
}

/**
 * Directory quotas of the fs (src/vfs/quota.ts): fetched now, then the client's deltas are sent
 * and the quotas fetched again with each session refresh.
 */
async function trackQuotas(mds: MdsApi, fsName: string, core: FsCore, session: ClientSession): Promise<QuotaTracker | undefined> {
  const syncQuota = mds.syncQuota?.bind(mds);
  if (!syncQuota) return undefined;
  const client = `${hostname()}:${process.pid}:${session.id}:${++quotaTrackers}`;
  const quota = new QuotaTracker({
    parentOf: async (dir) => (await core.getattr(dir, true)).parent[0] ?? 0,
    sync: (deltas, seq) => syncQuota(fsName, deltas, client, seq),
  });
  await quota.flush();
  session.onRefreshed(() => void quota.flush().catch((e: unknown) => log.warn('quota sync failed', { error: String(e) })));
  return quota;
}

export async function connectFs(opts: ConnectOptions): Promise<Connection> {
  const view = await opts.mds.getFsInfo(opts.fsName);
  const mountpoint = opts.mountpoint ?? { host: hostname(), path: `sdk:${process.pid}:${++sdkSessions}` };
  const session = new ClientSession(opts.mds, opts.fsName, mountpoint, (await opts.mds.mount(opts.fsName, mountpoint)).sessionId);
  const pool = opts.pool ?? new ChannelPool();
  const meta = new MetaClient({
    mds: opts.mds,
    caller: opts.caller ?? new RpcMetaCaller(pool),
    fsId: view.fsId,
    clientId: session.id,
    random: systemRandom,
    sessionEnded: (id) => session.renew(id),
  });
  session.onRenewed((id) => meta.setClientId(id));
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
  const opens = core.trackOpens(session.id, { registerAfterMs: opts.registerOpenAfterMs });
  session.onRenewed((id) => opens.renewed(id));
  session.onRefreshed((space) => core.space.update(space));
  core.quota = await trackQuotas(opts.mds, opts.fsName, core, session);
  // The SDK's VFS: permissions checked here (no kernel does it), nothing kept per inode beyond
  // open files (there is no FORGET), a new node's setgid group taken from its create's answer
  // when the walk did not bring the parent's attributes (no read per create).
  const vfs = new Vfs(
    { core, data, sessionId: session.id, session, view },
    { checkPermissions: true, rememberInodes: false, inheritAfterCreate: true, dirInfoTtlMs: opts.attrTtlMs ?? 1000 },
  );
  const asked = { uid: opts.identity?.uid ?? 0, gid: opts.identity?.gid ?? 0, groups: opts.identity?.groups ?? [] };
  const { identity, squashed } = squashRoot(asked, claimedRole(pool.credential));
  const fs = new Fs(vfs, { ...identity, umask: opts.umask });
  session.keepAlive(opts.refreshMs ?? 4000);
  return {
    fs,
    core,
    meta,
    view,
    identity,
    rootSquashed: squashed,
    get sessionId() {
      return session.id;
    },
    session,
    store,
    async close() {
      // Open files' data is saved, and handle releases still in flight reach the metaservers,
      // before the session ends.
      await vfs.shutdown().catch(() => undefined);
      core.opens?.stopTimers();
      await fs.settle().catch(() => undefined);
      await core.quota?.flush().catch(() => undefined); // this client's last quota deltas
      await session.close();
      await store.close();
      if (!opts.pool) pool.close();
    },
  };
}
