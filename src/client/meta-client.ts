// MetaClient: routes every metadata call by inode id -> partition -> copyset -> leader, caches
// leaders, follows redirects, retries with capped exponential backoff and jitter within a
// per-call deadline, and keeps the partition table fresh (more partitions from the MDS when the
// writable ones run out of ids).
import type { MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { PartitionInfo } from '../gen/common_pb.ts';
import { MetaServerService } from '../gen/metaserver_pb.ts';
import type { PartitionRef, RequestId } from '../gen/metaserver_pb.ts';
import { CurveError, StatusCode, createLogger, systemRandom, type Random } from '../common/index.ts';
import { PartitionTable, type CopysetRoute } from './partition-table.ts';
import { backoffDelay, DEFAULT_BACKOFF, isRetryable, sleep, type BackoffOptions } from './retry.ts';
import type { MdsApi } from './mds-api.ts';
import { RequestWindow } from './request-window.ts';

type Svc = typeof MetaServerService;
export type MetaMethod = keyof Svc['method'];
export type MetaRequest<M extends MetaMethod> = MessageInitShape<Svc['method'][M]['input']>;
export type MetaResponse<M extends MetaMethod> = MessageShape<Svc['method'][M]['output']>;
/** A request without its routing header and request id: the MetaClient fills them. */
export type MetaBody<M extends MetaMethod> = Omit<MetaRequest<M>, 'p' | 'rid' | '$typeName'>;

/** Sends one call to one replica. Implemented over the framed RPC (rpc-caller.ts). */
export interface MetaCaller {
  call<M extends MetaMethod>(
    address: string,
    method: M,
    req: MetaRequest<M>,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<MetaResponse<M>>;
}

export interface MetaClientOptions {
  mds: MdsApi;
  caller: MetaCaller;
  fsId: number;
  /** Idempotence key prefix; unique per client (mount session id). */
  clientId: number;
  random?: Random;
  /** Per-attempt RPC timeout. */
  attemptTimeoutMs?: number;
  /** Whole-call deadline, all retries included. */
  callTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Partitions requested from the MDS at a time when none is writable. */
  partitionsPerRequest?: number;
  /**
   * Called when a metaserver answers SESSION_EXPIRED for session `clientId`: registers a new
   * session (ClientSession.renew, which then calls setClientId). Without it the answer is final.
   */
  sessionEnded?: (clientId: number) => Promise<unknown>;
}

const READ_METHODS = new Set<MetaMethod>([
  'getDentry', 'listDentry', 'getInode', 'batchGetInodeAttr', 'batchGetXAttr', 'getXAttr', 'listXAttr', 'getDirStats',
  'listInodes', 'listDentries', 'listTrash',
]);

const log = createLogger('client');

export class MetaClient {
  readonly table = new PartitionTable();
  readonly fsId: number;
  private readonly mds: MdsApi;
  private readonly caller: MetaCaller;
  private readonly random: Random;
  private readonly attemptTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly backoff: BackoffOptions;
  private readonly partitionsPerRequest: number;
  private readonly sessionEnded: ((clientId: number) => Promise<unknown>) | undefined;
  private clientId: number;
  /** This session's mutation sequence numbers (request-window.ts); a new one per session. */
  private window = new RequestWindow();
  private refreshing: Promise<void> | undefined;
  private growing: Promise<void> | undefined;

  constructor(opts: MetaClientOptions) {
    this.mds = opts.mds;
    this.caller = opts.caller;
    this.fsId = opts.fsId;
    this.clientId = opts.clientId;
    this.random = opts.random ?? systemRandom;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2000;
    this.callTimeoutMs = opts.callTimeoutMs ?? 30000;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.partitionsPerRequest = opts.partitionsPerRequest ?? 3;
    this.sessionEnded = opts.sessionEnded;
  }

  /** A new session: request ids from now on are (id, 1), (id, 2), ... */
  setClientId(id: number): void {
    if (id === this.clientId) return;
    this.clientId = id;
    this.window = new RequestWindow();
  }

  /** Loads the partition table and the members of every copyset it names. */
  async refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          this.table.setPartitions(await this.mds.listPartitions(this.fsId));
          await this.refreshCopysets(true);
        } finally {
          this.refreshing = undefined;
        }
      })();
    }
    return this.refreshing;
  }

  private async refreshCopysets(all: boolean): Promise<void> {
    const wanted = all
      ? dedupeCopysets(this.table.partitions())
      : this.table.missingCopysets();
    if (wanted.length === 0) return;
    for (const route of await this.mds.getCopysets(wanted)) this.table.setCopyset(route);
  }

  partitionOf(inodeId: number): PartitionInfo {
    const p = this.table.find(inodeId);
    if (!p) throw new CurveError(StatusCode.PARTITION_NOT_FOUND, `no partition holds inode ${inodeId}`);
    return p;
  }

  /** A call routed to the partition that owns `inodeId`. */
  callForInode<M extends MetaMethod>(method: M, inodeId: number, body: MetaBody<M>, signal?: AbortSignal): Promise<MetaResponse<M>> {
    return this.callPartition(method, () => this.partitionOf(inodeId), body, signal);
  }

  /**
   * A call to a given partition (chosen by `pick`, re-evaluated after a table refresh). Mutations
   * get one RequestId for all their retries, so the server applies them at most once.
   */
  async callPartition<M extends MetaMethod>(
    method: M,
    pick: () => PartitionInfo,
    body: MetaBody<M>,
    signal?: AbortSignal,
  ): Promise<MetaResponse<M>> {
    if (READ_METHODS.has(method)) return this.attempts(method, pick, body, undefined, signal);
    let window = this.window;
    let rid = { clientId: this.clientId, seq: await window.next() };
    try {
      return await this.attempts(method, pick, body, rid, signal, async () => {
        // The same mutation as a new request of the new session.
        window.done(rid.seq);
        window = this.window;
        rid = { clientId: this.clientId, seq: await window.next() };
        return rid;
      });
    } finally {
      window.done(rid.seq);
    }
  }

  /** The attempts of one call under request id `rid` (none for reads) until one answers. */
  private async attempts<M extends MetaMethod>(
    method: M,
    pick: () => PartitionInfo,
    body: MetaBody<M>,
    rid: { clientId: number; seq: number } | undefined,
    signal: AbortSignal | undefined,
    renumber?: () => Promise<{ clientId: number; seq: number }>,
  ): Promise<MetaResponse<M>> {
    const deadline = performance.now() + this.callTimeoutMs;
    let attempt = 0;
    let lastError: unknown;
    // Whether an attempt under `rid` may have been applied: any attempt that failed, except one
    // refused with SESSION_EXPIRED, may have been (a lost answer, a leader deposed mid-commit).
    let maybeApplied = false;
    let resentUnderNewSession = false;
    for (;;) {
      if (signal?.aborted) throw new CurveError(StatusCode.CANCELLED, `${method} cancelled`);
      let partition: PartitionInfo;
      try {
        partition = pick();
      } catch (e) {
        if (e instanceof CurveError && e.status === StatusCode.PARTITION_NOT_FOUND && attempt === 0) {
          attempt++;
          await this.refresh();
          continue;
        }
        throw e;
      }
      let route = this.table.copyset(partition.poolId, partition.copysetId);
      if (!route) {
        await this.refreshCopysets(false);
        route = this.table.copyset(partition.poolId, partition.copysetId);
        if (!route) throw new CurveError(StatusCode.COPYSET_NOTEXIST, `copyset ${partition.poolId}:${partition.copysetId} unknown to the MDS`);
      }
      const address = route.leader ?? route.peers[attempt % Math.max(1, route.peers.length)]!;
      const p = {
        poolId: partition.poolId,
        copysetId: partition.copysetId,
        partitionId: partition.partitionId,
        fsId: this.fsId,
      };
      const req = { ...body, p, ...(rid ? { rid } : {}) } as unknown as MetaRequest<M>;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw lastError instanceof CurveError ? lastError : new CurveError(StatusCode.TIMEOUT, `${method}: deadline passed`);
      try {
        const res = await this.caller.call(address, method, req, {
          timeoutMs: Math.min(this.attemptTimeoutMs * 2 ** Math.min(attempt, 3), remaining),
          signal,
        });
        route.leader = address;
        return res;
      } catch (e) {
        lastError = e;
        const status = e instanceof CurveError ? e.status : StatusCode.UNAVAILABLE;
        if (status === StatusCode.SESSION_EXPIRED && rid && this.sessionEnded) {
          // Our session ended (docs/architecture.md §2, "A client whose session ended").
          const ended = rid.clientId;
          await this.sessionEnded(ended).catch((err: unknown) => log.warn('registering a new session failed', { error: String(err) }));
          if (this.clientId === ended) {
            throw new CurveError(StatusCode.SESSION_EXPIRED, `${method}: session ${ended} ended and no new session could be registered yet`);
          }
          if (maybeApplied || resentUnderNewSession) {
            // An earlier attempt may have been applied, and nobody can tell any more: sending it
            // again under the new session could apply it twice. Its caller gets EIO, once.
            throw new CurveError(StatusCode.SESSION_EXPIRED, `${method} ${ended}/${rid.seq}: the session ended while it was in flight; outcome unknown`);
          }
          // Refused before any attempt could apply it: a new request under the new session.
          // (Once: a new session refused as well is not a session that just ended.)
          rid = await renumber!();
          resentUnderNewSession = true;
          continue;
        }
        if (rid) maybeApplied = true;
        if (!isRetryable(status) && !replicaFailed(status)) throw e;
        attempt++;
        if (status === StatusCode.NOT_LEADER || status === StatusCode.REDIRECTED) {
          const hint = e instanceof CurveError ? e.leaderHint : undefined;
          if (hint && hint !== address) {
            if (!route.peers.includes(hint)) await this.refreshCopysets(true).catch(() => undefined);
            const fresh = this.table.copyset(partition.poolId, partition.copysetId) ?? route;
            fresh.leader = hint;
            continue; // straight to the leader, no wait
          }
        }
        route.leader = undefined;
        if (status === StatusCode.PARTITION_NOT_FOUND || status === StatusCode.COPYSET_NOTEXIST) {
          await this.refresh().catch(() => undefined);
        }
        const delay = backoffDelay(attempt, this.backoff, this.random);
        if (performance.now() + delay >= deadline) throw e;
        log.debug('retrying', { method, address, status: StatusCode[status], attempt });
        await sleep(delay, signal);
      }
    }
  }

  /**
   * Runs `fn` on a writable partition (the least loaded first for directories, or `preferred`
   * when it is writable). A partition out of ids answers PARTITION_ALLOC_ID_FAIL: mark it
   * read-only and try the next; when none is left ask the MDS for more.
   */
  async withWritablePartition<T>(preferred: PartitionInfo | undefined, fn: (p: PartitionInfo) => Promise<T>): Promise<T> {
    for (let round = 0; round < 4; round++) {
      const candidates = this.table.writable();
      const ordered = preferred && candidates.includes(preferred) ? [preferred, ...candidates.filter((c) => c !== preferred)] : candidates;
      for (const p of ordered) {
        try {
          return await fn(p);
        } catch (e) {
          if (e instanceof CurveError && (e.status === StatusCode.PARTITION_ALLOC_ID_FAIL || e.status === StatusCode.PARTITION_DELETING)) {
            this.table.markReadonly(p.partitionId);
            continue;
          }
          throw e;
        }
      }
      await this.growPartitions();
    }
    throw new CurveError(StatusCode.NO_SPACE, 'no writable partition');
  }

  private async growPartitions(): Promise<void> {
    if (!this.growing) {
      this.growing = (async () => {
        try {
          await this.mds.createPartitions(this.fsId, this.partitionsPerRequest);
          await this.refresh();
        } finally {
          this.growing = undefined;
        }
      })();
    }
    return this.growing;
  }
}

/**
 * A replica whose storage failed (issue [H] scenario 5: a full disk, EIO on its Raft log) answers
 * STORAGE_INTERNAL_ERROR, for the request it was committing and for any sent before it closed the
 * group. It has stepped down and the others elect a leader: the request goes to another replica
 * (the cached leader is dropped), with the same request id, so it applies at most once.
 */
function replicaFailed(status: StatusCode): boolean {
  return status === StatusCode.STORAGE_INTERNAL_ERROR;
}

function dedupeCopysets(parts: readonly PartitionInfo[]): Array<{ poolId: number; copysetId: number }> {
  const seen = new Map<string, { poolId: number; copysetId: number }>();
  for (const p of parts) seen.set(`${p.poolId}:${p.copysetId}`, { poolId: p.poolId, copysetId: p.copysetId });
  return [...seen.values()];
}

export type { CopysetRoute, PartitionRef, RequestId };
