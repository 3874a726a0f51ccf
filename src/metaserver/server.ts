// One metaserver process's parts wired together: the RPC server (MetaServerService,
// CopysetService, the internal transaction service, and Raft's own service when the group
// factory adds it), the copysets, the transaction coordinator and its recovery, the reclaimer,
// and the metrics endpoint.
import { CurveError, StatusCode, createLogger, systemClock, systemTimer, type Clock, type Timer } from '../common/index.ts';
import { PeerSchema, type Peer } from '../gen/common_pb.ts';
import { CopysetService, MetaServerInternalService, MetaServerService } from '../gen/metaserver_pb.ts';
import { ChannelPool, RpcServer, type RpcAuth, type TlsConfig } from '../rpc/index.ts';
import { Metrics, RpcBoundsMetrics, serveMetrics, type MetricsServer } from '../metrics/index.ts';
import { create } from '@bufbuild/protobuf';
import { adminImpl } from './copyset/admin-service.ts';
import type { Copyset } from './copyset/copyset.ts';
import { CopysetManager, type GroupFactory } from './copyset/manager.ts';
import { DiscoveryRouter, RpcCluster, dialAddress, type Cluster, type Router } from './cluster.ts';
import { MetaService } from './service.ts';
import { TxCoordinator, type CoordinatorOptions } from './tx/coordinator.ts';
import { OpMetrics, SnapshotMetrics, registerCopysetGauges, type CopysetGauges } from './metrics.ts';
import { Reclaimer } from './reclaim/reclaimer.ts';
import { OrphanSweeper } from './reclaim/orphan-sweeper.ts';
import { TrashExpiry } from './reclaim/trash-expiry.ts';
import { noTrash, type TrashRetention } from './trash-policy.ts';
import type { FsDataProvider } from './reclaim/fs-data.ts';
import { FsScope, guardDataPath, type FsNameLookup } from './authz.ts';

const log = createLogger('metaserver');

export interface MetaServerOptions {
  /** "host:port" to listen on; port 0 lets the OS choose. */
  listen: string;
  /**
   * This metaserver's id: a number, or a function of the bound "host:port" (MDS registration
   * needs the port, which is only known after binding when listening on port 0).
   */
  id: number | ((address: string) => Promise<number>);
  /**
   * Builds the consensus groups once the listen address is known (Raft in a real process;
   * `localGroupFactory` for single-replica tests). May register extra services on `rpc`.
   */
  groups: (ctx: { rpc: RpcServer; pool: ChannelPool; self: Peer }) => GroupFactory | Promise<GroupFactory>;
  /** Where partitions live; default: discovery from the copysets' peers plus `seeds`. */
  router?: Router;
  seeds?: string[];
  /** Port for GET /metrics (Prometheus text); undefined = no metrics server, 0 = any port. */
  metricsPort?: number;
  clock?: Clock;
  timer?: Timer;
  defaultTimeoutMs?: number;
  chunkSizeOf?: (fsId: number) => number;
  coordinator?: Partial<CoordinatorOptions>;
  /** Deferred deletion: where fs data lives, and timing. */
  reclaim?: { data?: FsDataProvider; graceSec?: number; intervalMs?: number };
  /** The trash (architecture.md §6c): each fs's retention, and the expiry pass's period. */
  trash?: { retention?: TrashRetention; intervalMs?: number };
  /** The orphan sweeper (reclaim/orphan-sweeper.ts): pass period and the age bound. */
  orphans?: { intervalMs?: number; ageMs?: number };
  /** Who may call what on this metaserver (docs/security.md); default: everyone everything. */
  auth?: RpcAuth;
  /**
   * With `auth`: a client of one fs may touch only that fs's partitions (authz.ts); the fs
   * names of fs ids come from here (the MDS).
   */
  fsNameOf?: FsNameLookup;
  /** Token presented to other metaservers (Raft, transactions); default $CURVEFS_TOKEN_FILE's. */
  credential?: string;
  /** Mutual TLS for this server and the connections it makes (src/rpc/tls.ts). */
  tls?: TlsConfig;
}

export class MetaServer {
  readonly rpc: RpcServer;
  readonly pool: ChannelPool;
  /** Everything served at /metrics (the process's runtime metrics included). */
  readonly registry = new Metrics();
  readonly metrics = new OpMetrics(this.registry);
  readonly snapshotMetrics = new SnapshotMetrics(this.registry);
  manager!: CopysetManager;
  service!: MetaService;
  coordinator!: TxCoordinator;
  cluster!: Cluster;
  router!: Router;
  reclaimer!: Reclaimer;
  orphans!: OrphanSweeper;
  trashExpiry!: TrashExpiry;
  private host: string;
  private port: number;
  private metricsServer: MetricsServer | undefined;
  private readonly clock: Clock;
  private readonly timer: Timer;
  private stopped = false;
  private myId = 0;

  constructor(private readonly opts: MetaServerOptions) {
    const m = /^(.*):(\d+)$/.exec(opts.listen);
    if (!m) throw new CurveError(StatusCode.PARAM_ERROR, `bad listen address ${JSON.stringify(opts.listen)}`);
    this.host = m[1]!;
    this.port = Number(m[2]);
    this.rpc = new RpcServer({ host: this.host, port: this.port, auth: opts.auth, tls: opts.tls });
    this.pool = new ChannelPool({ credential: opts.credential, tls: opts.tls ?? false });
    this.clock = opts.clock ?? systemClock;
    this.timer = opts.timer ?? systemTimer;
    registerCopysetGauges(this.registry, () => this.copysetGauges());
    const rpcBounds = new RpcBoundsMetrics(this.registry, 'curvefs_metaserver');
    this.registry.beforeScrape(() => rpcBounds.set(this.rpc.stats()));
  }

  get id(): number {
    return this.myId;
  }

  /** "host:port" of the RPC server (after start). */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** "host:port" of the metrics endpoint ('' when not serving metrics). */
  get metricsAddress(): string {
    return this.metricsServer?.address ?? '';
  }

  self(): Peer {
    return create(PeerSchema, { id: this.myId, address: `${this.address}:0` });
  }

  async start(): Promise<void> {
    // Bind first: the port is part of this replica's identity in its copysets. Calls that
    // arrive before the services below are registered are told to retry, not refused for good.
    this.rpc.starting();
    this.port = await this.rpc.listen();
    this.myId = typeof this.opts.id === 'number' ? this.opts.id : await this.opts.id(this.address);
    const factory = await this.opts.groups({ rpc: this.rpc, pool: this.pool, self: this.self() });
    this.manager = new CopysetManager(factory, this.clock, this.timer);
    this.router =
      this.opts.router ??
      new DiscoveryRouter(this.pool, () => [
        this.address,
        ...(this.opts.seeds ?? []),
        ...this.manager.list().flatMap((cs) => cs.peers.map((p) => p.address)),
      ]);
    const local: { meta?: MetaService } = {};
    this.cluster = new RpcCluster({
      pool: this.pool,
      router: this.router,
      clock: this.clock,
      local: {
        copyset: (p, c) => this.manager.get(p, c),
        get meta() {
          return local.meta!.impl();
        },
        get internal() {
          return local.meta!.internalImpl();
        },
      },
    });
    this.coordinator = new TxCoordinator({ cluster: this.cluster, clock: this.clock, timer: this.timer, ...this.opts.coordinator });
    this.service = new MetaService({
      copysets: this.manager,
      coordinator: this.coordinator,
      clock: this.clock,
      defaultTimeoutMs: this.opts.defaultTimeoutMs,
      chunkSizeOf: this.opts.chunkSizeOf,
      metrics: this.metrics,
      trash: this.opts.trash?.retention,
      stepHook: this.opts.coordinator?.stepHook ? (step) => void this.opts.coordinator!.stepHook!(step) : undefined,
    });
    local.meta = this.service;
    const dataPath = this.service.impl();
    this.rpc.register(MetaServerService, this.opts.auth ? guardDataPath(dataPath, new FsScope({ fsNameOf: this.opts.fsNameOf, metrics: this.registry })) : dataPath);
    this.rpc.register(MetaServerInternalService, this.service.internalImpl());
    this.rpc.register(
      CopysetService,
      adminImpl({
        manager: this.manager,
        self: () => this.self(),
        clock: this.clock,
        defaultTimeoutMs: this.opts.defaultTimeoutMs,
        onRemoved: (poolId, copysetId, removed) => this.tellRemoved(poolId, copysetId, removed),
      }),
    );
    this.rpc.started();
    const reopened = await this.manager.reopenExisting();
    this.coordinator.startRecovery(() => this.manager.list());
    this.reclaimer = new Reclaimer({
      copysets: () => this.manager.list(),
      data: this.opts.reclaim?.data,
      graceSec: this.opts.reclaim?.graceSec,
      intervalMs: this.opts.reclaim?.intervalMs,
      clock: this.clock,
      timer: this.timer,
    });
    this.reclaimer.start();
    this.orphans = new OrphanSweeper({ copysets: () => this.manager.list(), cluster: this.cluster, clock: this.clock, timer: this.timer, ...this.opts.orphans });
    this.orphans.start();
    this.trashExpiry = new TrashExpiry({
      copysets: () => this.manager.list(),
      retention: this.opts.trash?.retention ?? noTrash,
      routing: this.coordinator,
      intervalMs: this.opts.trash?.intervalMs,
      clock: this.clock,
      timer: this.timer,
    });
    this.trashExpiry.start();
    if (this.opts.metricsPort !== undefined) this.metricsServer = await serveMetrics(this.registry, { host: this.host, port: this.opts.metricsPort });
    log.info('metaserver started', { id: this.myId, address: this.address, copysets: reopened, broken: this.manager.broken().length, metrics: this.metricsAddress });
  }

  /** Best effort: asks replicas removed from a copyset to delete their copy. */
  tellRemoved(poolId: number, copysetId: number, removed: Peer[]): void {
    for (const p of removed) {
      if (p.id === this.myId) continue;
      void this.pool
        .client(CopysetService, dialAddress(p.address))
        .deleteCopysetNode({ poolId, copysetId }, { timeoutMs: 5000 })
        .catch((e: unknown) => log.info('could not tell a removed replica to drop its copy', { copyset: `${poolId}-${copysetId}`, peer: p.address, error: String(e) }));
    }
  }

  copysets(): Copyset[] {
    return this.manager.list();
  }

  /** Prometheus text of every metric (what GET /metrics answers). */
  renderMetrics(): Promise<string> {
    return this.registry.text();
  }

  /** The copysets' state, read at each scrape. */
  private copysetGauges(): CopysetGauges[] {
    // Before start() there is no manager yet: nothing to report.
    if (!this.manager) return [];
    return this.manager.list().map((cs) => {
      const st = cs.group.status();
      let inodes = 0;
      let dentries = 0;
      for (const p of cs.sm.partitions.values()) {
        inodes += p.inodeCount;
        dentries += p.dentryCount;
      }
      return {
        copyset: cs.name,
        role: st.role,
        term: st.term,
        leaderId: st.leaderId,
        commitIndex: st.commitIndex,
        appliedIndex: st.appliedIndex,
        firstIndex: st.firstIndex,
        lastIndex: st.lastIndex,
        snapshotIndex: st.snapshotIndex,
        logEntries: st.logEntries,
        partitions: cs.sm.partitions.size,
        inodes,
        dentries,
        txRecords: cs.sm.tx.records.size,
        txLocks: cs.sm.tx.lockCount,
      };
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.coordinator?.stopRecovery();
    this.reclaimer?.stop();
    this.orphans?.stop();
    this.trashExpiry?.stop();
    await this.opts.reclaim?.data?.close();
    await this.rpc.close();
    this.pool.close();
    await this.metricsServer?.close();
  }
}
