// The MDS's calls to metaservers: create copyset replicas, create/delete partitions and the root
// inode. Partition-level calls go through Raft, so they must reach the copyset's leader: the
// known leader (from heartbeats) is tried first, then the members in turn; a NOT_LEADER /
// REDIRECTED answer with a hint is followed at once; a fresh copyset may have no leader yet, so
// rounds repeat with backoff until the deadline.
import { CurveError, StatusCode, createLogger, isCurveError, systemTimer, type Timer } from '../../common/index.ts';
import type { PartitionInfo, Peer, Timespec } from '../../gen/common_pb.ts';
import { CopysetService, MetaServerService } from '../../gen/metaserver_pb.ts';
import type { ChannelPool } from '../../rpc/index.ts';

const log = createLogger('mds/admin');

/** A copyset as the admin calls need it: members' admin addresses and the leader if known. */
export interface CopysetTarget {
  poolId: number;
  copysetId: number;
  /** "ip:port" of each member. */
  members: string[];
  leader?: string;
}

export interface MetaserverAdmin {
  createCopysetNode(address: string, poolId: number, copysetId: number, peers: Peer[]): Promise<void>;
  createPartition(cs: CopysetTarget, partition: PartitionInfo): Promise<void>;
  deletePartition(cs: CopysetTarget, fsId: number, partitionId: number): Promise<void>;
  createRootInode(cs: CopysetTarget, fsId: number, partitionId: number, attrs: { uid: number; gid: number; mode: number; time: Timespec }): Promise<void>;
}

export interface RpcMetaserverAdminOptions {
  /** Total time for one call to find the leader and succeed (ms). */
  deadlineMs?: number;
  /** Per-attempt RPC timeout (ms). */
  attemptTimeoutMs?: number;
  timer?: Timer;
}

/** Statuses after which another member (or a later round) may succeed. */
const RETRY = new Set<StatusCode>([
  StatusCode.NOT_LEADER,
  StatusCode.REDIRECTED,
  StatusCode.UNAVAILABLE,
  StatusCode.TIMEOUT,
  StatusCode.COPYSET_NOTEXIST,
  StatusCode.SHUTTING_DOWN,
  StatusCode.OVERLOAD,
]);

export class RpcMetaserverAdmin implements MetaserverAdmin {
  private readonly deadlineMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly timer: Timer;

  constructor(
    private readonly pool: ChannelPool,
    opts: RpcMetaserverAdminOptions = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? 15_000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 3_000;
    this.timer = opts.timer ?? systemTimer;
  }

  async createCopysetNode(address: string, poolId: number, copysetId: number, peers: Peer[]): Promise<void> {
    await this.retrying(`CreateCopysetNode ${poolId}:${copysetId} on ${address}`, [address], async (addr) => {
      await this.pool.client(CopysetService, addr).createCopysetNode({ copysets: [{ poolId, copysetId, peers }] }, { timeoutMs: this.attemptTimeoutMs });
    });
  }

  async createPartition(cs: CopysetTarget, partition: PartitionInfo): Promise<void> {
    await this.onLeader(cs, `CreatePartition ${partition.partitionId}`, async (addr) => {
      try {
        await this.pool.client(CopysetService, addr).createPartition({ partition }, { timeoutMs: this.attemptTimeoutMs });
      } catch (e) {
        if (isCurveError(e, StatusCode.PARTITION_EXIST)) return; // a retry after a lost answer
        throw e;
      }
    });
  }

  async deletePartition(cs: CopysetTarget, fsId: number, partitionId: number): Promise<void> {
    await this.onLeader(cs, `DeletePartition ${partitionId}`, async (addr) => {
      try {
        await this.pool
          .client(CopysetService, addr)
          .deletePartition({ p: { poolId: cs.poolId, copysetId: cs.copysetId, partitionId, fsId } }, { timeoutMs: this.attemptTimeoutMs });
      } catch (e) {
        if (isCurveError(e, StatusCode.PARTITION_NOT_FOUND) || isCurveError(e, StatusCode.NOT_FOUND)) return;
        throw e;
      }
    });
  }

  async createRootInode(cs: CopysetTarget, fsId: number, partitionId: number, attrs: { uid: number; gid: number; mode: number; time: Timespec }): Promise<void> {
    await this.onLeader(cs, `CreateRootInode fs ${fsId}`, async (addr) => {
      try {
        await this.pool
          .client(MetaServerService, addr)
          .createRootInode({ p: { poolId: cs.poolId, copysetId: cs.copysetId, partitionId, fsId }, ...attrs }, { timeoutMs: this.attemptTimeoutMs });
      } catch (e) {
        if (isCurveError(e, StatusCode.INODE_EXIST)) return; // the digest: INODE_EXIST counts as success
        throw e;
      }
    });
  }

  private onLeader(cs: CopysetTarget, what: string, fn: (addr: string) => Promise<void>): Promise<void> {
    const order = cs.leader ? [cs.leader, ...cs.members.filter((m) => m !== cs.leader)] : [...cs.members];
    return this.retrying(`${what} on copyset ${cs.poolId}:${cs.copysetId}`, order, fn, (hint) => {
      // A hint is "ip:port" or a peer string "ip:port:idx".
      const parts = hint.split(':');
      return parts.length >= 2 ? `${parts[0]}:${parts[1]}` : undefined;
    });
  }

  private async retrying(what: string, order: string[], fn: (addr: string) => Promise<void>, hintToAddr?: (hint: string) => string | undefined): Promise<void> {
    const deadline = Date.now() + this.deadlineMs;
    let delay = 50;
    let last: unknown;
    for (;;) {
      const queue = [...order];
      const tried = new Set<string>();
      while (queue.length > 0) {
        const addr = queue.shift()!;
        if (tried.has(addr)) continue;
        tried.add(addr);
        try {
          await fn(addr);
          return;
        } catch (e) {
          last = e;
          if (!(e instanceof CurveError) || !RETRY.has(e.status)) throw e;
          const hinted = e.leaderHint && hintToAddr ? hintToAddr(e.leaderHint) : undefined;
          if (hinted && !tried.has(hinted)) queue.unshift(hinted);
        }
        if (Date.now() > deadline) break;
      }
      if (Date.now() + delay > deadline) break;
      await new Promise<void>((r) => this.timer.setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
    log.warn(`${what} failed`, { error: String(last) });
    if (last instanceof CurveError) throw last;
    throw new CurveError(StatusCode.UNAVAILABLE, `${what}: ${String(last)}`);
  }
}
