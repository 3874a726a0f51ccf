// Everything a leader holds for one term: its fenced store, id allocators, topology, file
// systems, heartbeat handling and background jobs. Built from the store when the term begins,
// dropped when it ends; nothing of it survives into another term.
import { createLogger, type Clock, type Random, type Timer, type TimerHandle } from '../common/index.ts';
import type { Leadership } from './election/index.ts';
import { FencedStore } from './fenced-store.ts';
import { FsManager, type DataReclaimer } from './fs/fs-manager.ts';
import type { DataProber } from './fs/probe-store.ts';
import type { SecretSeal } from './auth/secret-seal.ts';
import { HeartbeatHandler } from './heartbeat/handler.ts';
import { IdAllocator } from './id-allocator.ts';
import type { MdsTuning } from './options.ts';
import { RecoveryDriver } from './schedule/driver.ts';
import type { KvStore } from './store/index.ts';
import { PartitionAllocator } from './topology/allocator.ts';
import { QuotaManager } from './quota.ts';
import type { MetaserverAdmin } from './topology/metaserver-admin.ts';
import { Topology } from './topology/topology.ts';

const log = createLogger('mds/term');

export interface TermDeps {
  store: KvStore;
  admin: MetaserverAdmin;
  clock: Clock;
  timer: Timer;
  random: Random;
  tuning: MdsTuning;
  reclaimData?: DataReclaimer;
  probeData?: DataProber;
  secrets?: SecretSeal;
  /** Called when a write finds the fence gone (the term is over). */
  onFenceLost: () => void;
}

export class MdsTerm {
  private readonly handles: TimerHandle[] = [];
  private closed = false;

  private constructor(
    readonly leadership: Leadership,
    readonly store: FencedStore,
    readonly topo: Topology,
    readonly fs: FsManager,
    readonly allocator: PartitionAllocator,
    readonly heartbeat: HeartbeatHandler,
    readonly recovery: RecoveryDriver,
    readonly quota: QuotaManager,
    private readonly deps: TermDeps,
  ) {}

  static async open(leadership: Leadership, deps: TermDeps): Promise<MdsTerm> {
    const t = deps.tuning;
    const store = new FencedStore(deps.store, leadership.fence, deps.onFenceLost);
    const id = (kind: string, bundle: number, max?: number) => new IdAllocator(store, kind, bundle, max);
    const partitionIds = id('partition', 100);
    const topo = await Topology.load(
      store,
      { pool: id('pool', 10), zone: id('zone', 10), server: id('server', 10), metaserver: id('metaserver', 10), copyset: id('copyset', 100), partition: partitionIds },
      deps.clock,
      deps.random,
      { unstableAfterMs: t.unstableAfterMs, offlineAfterMs: t.offlineAfterMs, replicaNum: t.replicaNum },
    );
    const allocator = new PartitionAllocator(topo, deps.admin, partitionIds, deps.random, t.allocator);
    const fs = await FsManager.load(
      store,
      topo,
      allocator,
      deps.admin,
      { fs: id('fs', 10), chunk: id('chunk', 1000, Number.MAX_SAFE_INTEGER), session: id('session', 100, Number.MAX_SAFE_INTEGER) },
      deps.clock,
      { partitionsPerFs: t.partitionsPerFs, sessionTimeoutMs: t.sessionTimeoutMs, minWritablePartitions: t.minWritablePartitions, secrets: deps.secrets },
      deps.reclaimData,
      deps.probeData,
    );
    const recovery = new RecoveryDriver(topo, allocator, deps.admin, deps.clock, deps.random, t.recovery, t.balance);
    const heartbeat = new HeartbeatHandler(topo, fs, allocator, recovery, deps.clock, { cleanFollowerAfterMs: t.cleanFollowerAfterMs });
    const quota = await QuotaManager.load(store);
    return new MdsTerm(leadership, store, topo, fs, allocator, heartbeat, recovery, quota, deps);
  }

  /** Starts the periodic jobs of a leader. */
  start(): void {
    const { timer, tuning } = this.deps;
    const every = (ms: number, what: string, fn: () => void | Promise<void>) => {
      let running = false;
      this.handles.push(
        timer.setInterval(() => {
          if (this.closed || running) return;
          running = true;
          Promise.resolve()
            .then(fn)
            .catch((e) => log.warn(`${what} failed`, { error: String(e) }))
            .finally(() => (running = false));
        }, ms),
      );
    };
    every(tuning.scheduleIntervalMs, 'recovery round', () => this.recovery.round());
    // The first balancing round comes a whole period after the term began: by then heartbeats
    // have shown every copyset's leader and membership.
    if (tuning.balance.intervalMs > 0) every(tuning.balance.intervalMs, 'balance round', () => this.recovery.balanceRound());
    every(tuning.sessionScanMs, 'session scan', () => this.fs.expireSessions());
    every(tuning.fsScanMs, 'fs reclaim', async () => {
      await this.fs.reclaimDeleted();
      // Quotas of a reclaimed fs go with it (its records are unreachable: the name is free).
      const live = new Set(this.fs.list().map((f) => f.fsId));
      await this.quota.dropGone((id) => live.has(id));
    });
  }

  close(): void {
    this.closed = true;
    for (const h of this.handles) this.deps.timer.clear(h);
    this.handles.length = 0;
  }
}
