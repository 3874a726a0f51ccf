// How a metaserver reaches partitions it does not lead, for transactions (docs/rename.md):
// find the partition of an inode, then call that copyset's leader, following NOT_LEADER hints and
// trying the other members when one is down. Copysets this process leads are called directly.
import { CurveError, StatusCode, createLogger, systemClock, type Clock } from '../common/index.ts';
import type { PartitionInfo } from '../gen/common_pb.ts';
import { create } from '@bufbuild/protobuf';
import {
  BatchGetInodeAttrRequestSchema,
  BatchGetInodeAttrResponseSchema,
  GetDentryRequestSchema,
  GetDentryResponseSchema,
  ListDentryRequestSchema,
  ListDentryResponseSchema,
  ListTrashRequestSchema,
  ListTrashResponseSchema,
  CopysetService,
  MetaServerInternalService,
  MetaServerService,
  type InodeAttr,
  type PartitionRef,
  type TxFinishRequest,
  type TxPrepareRequest,
} from '../gen/metaserver_pb.ts';
import type { ChannelPool } from '../rpc/index.ts';
import type { CallContext, ServiceImplOf } from '../rpc/types.ts';
import type { Copyset } from './copyset/copyset.ts';

const log = createLogger('metaserver-cluster');

/** Where partitions and copysets are. */
export interface Router {
  /** The partition of fs `fsId` whose range holds `ino`. */
  locate(fsId: number, ino: number): Promise<PartitionRef>;
  /** Service addresses ("host:port") of a copyset's members. */
  members(poolId: number, copysetId: number): Promise<string[]>;
  /** Drops cached knowledge (after a miss). */
  invalidate(): void;
}

export interface DentryRef {
  ino: number;
  type: number;
}

/** What the transaction coordinator needs from other partitions. */
export interface Cluster {
  locate(fsId: number, ino: number): Promise<PartitionRef>;
  getDentry(ref: PartitionRef, parent: number, name: string, deadline: number): Promise<DentryRef | undefined>;
  getInodeAttr(ref: PartitionRef, ino: number, deadline: number): Promise<InodeAttr>;
  /** Whether directory `parent` (in partition `ref`) has an entry naming `ino` (the orphan sweeper). */
  namesInode?(ref: PartitionRef, parent: number, ino: number, deadline: number): Promise<boolean>;
  prepare(ref: PartitionRef, req: TxPrepareRequest, deadline: number): Promise<void>;
  finish(ref: PartitionRef, req: TxFinishRequest, deadline: number): Promise<void>;
}

/** "ip:port:0" (CurveFS peer form) or "ip:port" → "ip:port". */
export function dialAddress(peer: string): string {
  const parts = peer.split(':');
  return parts.length === 3 ? `${parts[0]}:${parts[1]}` : peer;
}

/** The handlers of this process, for calls to copysets it leads. */
export interface LocalHandlers {
  copyset(poolId: number, copysetId: number): Copyset | undefined;
  meta: ServiceImplOf<typeof MetaServerService>;
  internal: ServiceImplOf<typeof MetaServerInternalService>;
}

const RETRY_STATUSES = new Set<StatusCode>([
  StatusCode.NOT_LEADER,
  StatusCode.REDIRECTED,
  StatusCode.UNAVAILABLE,
  StatusCode.TIMEOUT,
  StatusCode.SHUTTING_DOWN,
  StatusCode.COPYSET_NOTEXIST,
  StatusCode.CANCELLED,
  StatusCode.OVERLOAD,
]);

export interface RpcClusterOptions {
  pool: ChannelPool;
  router: Router;
  local?: LocalHandlers;
  clock?: Clock;
  /** Per-attempt timeout. */
  attemptTimeoutMs?: number;
}

export class RpcCluster implements Cluster {
  private readonly pool: ChannelPool;
  private readonly router: Router;
  private readonly local: LocalHandlers | undefined;
  private readonly clock: Clock;
  private readonly attemptTimeoutMs: number;
  private readonly leaders = new Map<string, string>();

  constructor(opts: RpcClusterOptions) {
    this.pool = opts.pool;
    this.router = opts.router;
    this.local = opts.local;
    this.clock = opts.clock ?? systemClock;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2000;
  }

  locate(fsId: number, ino: number): Promise<PartitionRef> {
    return this.router.locate(fsId, ino);
  }

  async getDentry(ref: PartitionRef, parent: number, name: string, deadline: number): Promise<DentryRef | undefined> {
    const req = create(GetDentryRequestSchema, { p: ref, parentInodeId: parent, name });
    try {
      const r = await this.withLeader(
        ref,
        deadline,
        async (ctx) => create(GetDentryResponseSchema, await this.local!.meta.getDentry(req, ctx)),
        (addr, o) => this.pool.client(MetaServerService, addr).getDentry(req, o),
      );
      return r.dentry ? { ino: r.dentry.inodeId, type: r.dentry.type } : undefined;
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
      throw e;
    }
  }

  async getInodeAttr(ref: PartitionRef, ino: number, deadline: number): Promise<InodeAttr> {
    const req = create(BatchGetInodeAttrRequestSchema, { p: ref, inodeId: [ino] });
    const r = await this.withLeader(
      ref,
      deadline,
      async (ctx) => create(BatchGetInodeAttrResponseSchema, await this.local!.meta.batchGetInodeAttr(req, ctx)),
      (addr, o) => this.pool.client(MetaServerService, addr).batchGetInodeAttr(req, o),
    );
    const a = r.attr.find((x) => x.inodeId === ino);
    if (!a) throw new CurveError(StatusCode.NOT_FOUND, `inode ${ino} not found in partition ${ref.partitionId}`);
    return a;
  }

  async namesInode(ref: PartitionRef, parent: number, ino: number, deadline: number): Promise<boolean> {
    let last = '';
    for (;;) {
      const req = create(ListDentryRequestSchema, { p: ref, dirInodeId: parent, last, count: 1024 });
      let r;
      try {
        r = await this.withLeader(
          ref,
          deadline,
          async (ctx) => create(ListDentryResponseSchema, await this.local!.meta.listDentry(req, ctx)),
          (addr, o) => this.pool.client(MetaServerService, addr).listDentry(req, o),
        );
      } catch (e) {
        // The parent directory is gone: nothing names the inode there.
        if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return false;
        throw e;
      }
      if (r.dentrys.some((d) => d.inodeId === ino)) return true;
      if (!r.more || r.dentrys.length === 0) return this.trashNames(ref, parent, ino, deadline);
      last = r.dentrys[r.dentrys.length - 1]!.name;
    }
  }

  /** True when the partition's trash keeps a name of `ino` under `parent` (architecture.md §6c). */
  private async trashNames(ref: PartitionRef, parent: number, ino: number, deadline: number): Promise<boolean> {
    const req = create(ListTrashRequestSchema, { p: ref });
    const r = await this.withLeader(
      ref,
      deadline,
      async (ctx) => create(ListTrashResponseSchema, await this.local!.meta.listTrash(req, ctx)),
      (addr, o) => this.pool.client(MetaServerService, addr).listTrash(req, o),
    );
    return r.entries.some((e) => e.inodeId === ino && e.parentInodeId === parent);
  }

  async prepare(ref: PartitionRef, req: TxPrepareRequest, deadline: number): Promise<void> {
    await this.withLeader(
      ref,
      deadline,
      async (ctx) => void (await this.local!.internal.txPrepare(req, ctx)),
      async (addr, o) => void (await this.pool.client(MetaServerInternalService, addr).txPrepare(req, o)),
    );
  }

  async finish(ref: PartitionRef, req: TxFinishRequest, deadline: number): Promise<void> {
    await this.withLeader(
      ref,
      deadline,
      async (ctx) => void (await this.local!.internal.txFinish(req, ctx)),
      async (addr, o) => void (await this.pool.client(MetaServerInternalService, addr).txFinish(req, o)),
    );
  }

  /** Runs a call at the copyset's leader: here when this process leads it, else over RPC. */
  private async withLeader<R>(
    ref: PartitionRef,
    deadline: number,
    local: (ctx: CallContext) => R | Promise<R>,
    remote: (addr: string, o: { timeoutMs: number }) => Promise<R>,
  ): Promise<R> {
    const key = `${ref.poolId}:${ref.copysetId}`;
    let lastError: unknown;
    let tried = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) {
        throw lastError instanceof CurveError ? lastError : new CurveError(StatusCode.TIMEOUT, `copyset ${key}: no leader answered in time`);
      }
      const here = this.local?.copyset(ref.poolId, ref.copysetId);
      if (here && here.isLeader()) {
        try {
          return await local({ deadline, peer: 'local', signal: new AbortController().signal });
        } catch (e) {
          if (!(e instanceof CurveError) || !RETRY_STATUSES.has(e.status)) throw e;
          lastError = e;
          if (e.leaderHint) this.leaders.set(key, dialAddress(e.leaderHint));
        }
      } else {
        let addr = this.leaders.get(key);
        if (!addr || tried.has(addr)) {
          const members = await this.router.members(ref.poolId, ref.copysetId);
          addr = members.map(dialAddress).find((a) => !tried.has(a));
          if (!addr) {
            tried = new Set();
            this.router.invalidate();
            await sleep(Math.min(200, 10 * 2 ** Math.min(attempt, 5)), deadline, this.clock);
            continue;
          }
        }
        try {
          return await remote(addr, { timeoutMs: Math.max(1, Math.min(this.attemptTimeoutMs, remaining)) });
        } catch (e) {
          if (!(e instanceof CurveError) || !RETRY_STATUSES.has(e.status)) throw e;
          lastError = e;
          tried.add(addr);
          if (e.leaderHint && !tried.has(dialAddress(e.leaderHint))) this.leaders.set(key, dialAddress(e.leaderHint));
          else this.leaders.delete(key);
          log.debug('retrying at another member', { copyset: key, addr, status: StatusCode[e.status] });
        }
      }
      await sleep(Math.min(100, 5 * 2 ** Math.min(attempt, 5)), deadline, this.clock);
    }
  }
}

function sleep(ms: number, deadline: number, clock: Clock): Promise<void> {
  const t = Math.max(0, Math.min(ms, deadline - clock.now()));
  return new Promise((r) => setTimeout(r, t));
}

/**
 * A Router that learns the cluster from the metaservers themselves (ListCopysets), starting
 * from seed addresses and the members of every copyset it hears of — for clusters run without
 * an MDS (tests, tools). With an MDS, MdsRouter answers from the MDS's topology instead.
 */
export class DiscoveryRouter implements Router {
  private partitions = new Map<number, PartitionInfo[]>();
  private copysets = new Map<string, string[]>();
  private refreshing: Promise<void> | undefined;
  private stale = true;

  constructor(
    private readonly pool: ChannelPool,
    private readonly seeds: () => string[],
    private readonly timeoutMs = 2000,
  ) {}

  invalidate(): void {
    this.stale = true;
  }

  async locate(fsId: number, ino: number): Promise<PartitionRef> {
    for (let pass = 0; pass < 2; pass++) {
      if (this.stale || pass === 1) await this.refresh();
      const p = (this.partitions.get(fsId) ?? []).find((x) => ino >= x.start && ino <= x.end);
      if (p) return { $typeName: 'curvefs.metaserver.PartitionRef', poolId: p.poolId, copysetId: p.copysetId, partitionId: p.partitionId, fsId };
    }
    throw new CurveError(StatusCode.PARTITION_NOT_FOUND, `no partition of fs ${fsId} holds inode ${ino}`);
  }

  async members(poolId: number, copysetId: number): Promise<string[]> {
    const key = `${poolId}:${copysetId}`;
    if (this.stale || !this.copysets.has(key)) await this.refresh();
    return this.copysets.get(key) ?? [];
  }

  private refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const seen = new Set<string>();
    const queue = this.seeds().map(dialAddress);
    const partitions = new Map<number, Map<number, PartitionInfo>>();
    const copysets = new Map<string, string[]>();
    while (queue.length > 0) {
      const addr = queue.shift()!;
      if (seen.has(addr)) continue;
      seen.add(addr);
      let res;
      try {
        res = await this.pool.client(CopysetService, addr).listCopysets({}, { timeoutMs: this.timeoutMs });
      } catch {
        continue;
      }
      for (const c of res.copysets) {
        const key = `${c.poolId}:${c.copysetId}`;
        const peers = c.peers.map((p) => dialAddress(p.address));
        if (peers.length > 0) copysets.set(key, peers);
        for (const p of peers) if (!seen.has(p)) queue.push(p);
        for (const p of c.partitions) {
          let m = partitions.get(p.fsId);
          if (!m) partitions.set(p.fsId, (m = new Map()));
          m.set(p.partitionId, p);
        }
      }
    }
    this.partitions = new Map([...partitions].map(([fs, m]) => [fs, [...m.values()].sort((a, b) => a.start - b.start)]));
    this.copysets = copysets;
    this.stale = false;
  }
}
