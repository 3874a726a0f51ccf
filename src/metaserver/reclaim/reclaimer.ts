// Deferred deletion (docs/architecture.md §6), run by the leader of each copyset: an inode whose
// link count reached 0 is reclaimed once no open handle holds it (handles of expired sessions
// are dropped by ExpireSessions) and a grace period since its dtime has passed. Per inode:
//   1. MarkReclaim (log entry): refused while a handle is open; afterwards nobody can open it;
//   2. delete its blocks through the fs's block store (every object under the inode's prefix);
//   3. DeleteInode (log entry).
// A leader that dies between the steps leaves the inode marked; the next leader repeats 2 and 3
// (deleting missing objects is fine). Objects shared with clones go only when their last user
// goes (shared-objects.ts, docs/architecture.md §6d). Partitions being deleted (DELETING) have the blocks of all
// their files deleted, then are dropped (DropPartition); the fs's data store is looked up afresh
// on each such pass, so a forced fs delete (no data store any more) is seen.
import { create } from '@bufbuild/protobuf';
import { StatusCode, createLogger, systemClock, systemTimer, type Clock, type Timer } from '../../common/index.ts';
import { FileType, PartitionStatus } from '../../gen/common_pb.ts';
import { DeleteInodeRequestSchema, DeletePartitionRequestSchema, PartitionRefSchema } from '../../gen/metaserver_pb.ts';
import type { Partition } from '../partition/index.ts';
import type { Copyset } from '../copyset/copyset.ts';
import { OpType } from '../copyset/op-codec.ts';
import { LeaderPass } from './leader-pass.ts';
import type { FsDataProvider } from './fs-data.ts';
import { ownersOf, reclaimPrefixes } from './shared-objects.ts';

const log = createLogger('metaserver-reclaim');

export interface ReclaimerOptions {
  copysets: () => Iterable<Copyset>;
  data?: FsDataProvider;
  clock?: Clock;
  timer?: Timer;
  /** Pass period (default 5 s). */
  intervalMs?: number;
  /** Seconds after dtime before an unlinked inode is reclaimed (default 30). */
  graceSec?: number;
  /** Inodes per copyset per pass (default 1000). */
  batch?: number;
}

export interface ReclaimStats {
  reclaimed: number;
  skippedOpen: number;
  failures: number;
  partitionsDropped: number;
  /** Reclaimed inodes whose own objects stayed because clones still share them (§6d). */
  sharedKept: number;
}

export class Reclaimer extends LeaderPass {
  private readonly clock: Clock;
  readonly stats: ReclaimStats = { reclaimed: 0, skippedOpen: 0, failures: 0, partitionsDropped: 0, sharedKept: 0 };

  constructor(private readonly opts: ReclaimerOptions) {
    super(opts.timer ?? systemTimer, opts.intervalMs ?? 5000, opts.copysets);
    this.clock = opts.clock ?? systemClock;
  }

  protected passFailed(cs: Copyset, e: unknown): void {
    this.stats.failures++;
    log.warn('reclaim pass failed', { copyset: cs.name, error: String(e) });
  }

  protected async passCopyset(cs: Copyset): Promise<void> {
    const now = this.clock.wallTime()[0];
    const grace = this.opts.graceSec ?? 30;
    let budget = this.opts.batch ?? 1000;
    for (const part of [...cs.sm.partitions.values()]) {
      if (part.status === PartitionStatus.DELETING) {
        await this.dropDeleting(cs, part);
        continue;
      }
      const marked = cs.sm.reclaiming.get(part.partitionId) ?? new Set<number>();
      for (const { ino, dtime } of part.deletionList()) {
        if (budget-- <= 0) return;
        if (!marked.has(ino)) {
          if (now - dtime < grace) continue;
          if (cs.sm.handles.get(part.partitionId)?.isOpen(ino)) {
            this.stats.skippedOpen++;
            continue;
          }
          if (cs.sm.tx.inodeLock(part.fsId, ino)) continue;
          const m = await cs.propose(OpType.MarkReclaim, this.req(cs, part, ino));
          if (m.status !== StatusCode.OK) continue;
        }
        await this.deleteData(part, ino);
        const d = await cs.propose(OpType.DeleteInode, this.req(cs, part, ino));
        if (d.status === StatusCode.OK) this.stats.reclaimed++;
        else log.warn('DeleteInode refused', { copyset: cs.name, ino, status: StatusCode[d.status], message: d.message });
      }
    }
  }

  private req(cs: Copyset, part: Partition, ino: number) {
    return create(DeleteInodeRequestSchema, {
      p: create(PartitionRefSchema, { poolId: cs.poolId, copysetId: cs.copysetId, partitionId: part.partitionId, fsId: part.fsId }),
      inodeId: ino,
    });
  }

  /**
   * Deletes the objects reclaiming `ino` frees: by the reference rule of clones
   * (shared-objects.ts) unless `everything` (a partition being dropped: all of its inodes go).
   */
  private async deleteData(part: Partition, ino: number, everything = false): Promise<void> {
    const a = part.getInodeAttr(ino);
    if (a.status !== StatusCode.OK) return;
    if (a.inode.type !== FileType.TYPE_S3 && a.inode.type !== FileType.TYPE_FILE) return;
    const io = await this.opts.data?.forFs(part.fsId);
    if (!io) return;
    const got = part.getChunks(ino);
    const chunks = got.status === StatusCode.OK ? got.chunks : undefined;
    const may = everything ? { own: true, owners: ownersOf(part, ino) } : reclaimPrefixes(part, ino);
    if (may.own) await io.deleteAll(ino, chunks);
    else this.stats.sharedKept++;
    for (const o of may.owners) await io.deleteAll(o);
  }

  private async dropDeleting(cs: Copyset, part: Partition): Promise<void> {
    // Ask where the fs's data lives again on each pass: `fs delete --force` (for a store that is
    // gone, on which the cached store fails for ever) makes the MDS answer it without a store,
    // and then the partition is dropped without touching a block.
    await this.opts.data?.refresh?.(part.fsId);
    for (let ino = part.start; ino < part.nextId && ino <= part.end; ino++) {
      if (part.getInodeAttr(ino).status !== StatusCode.OK) continue;
      await this.deleteData(part, ino, true);
    }
    const r = await cs.propose(
      OpType.DropPartition,
      create(DeletePartitionRequestSchema, {
        p: create(PartitionRefSchema, { poolId: cs.poolId, copysetId: cs.copysetId, partitionId: part.partitionId, fsId: part.fsId }),
      }),
    );
    if (r.status === StatusCode.OK) {
      this.stats.partitionsDropped++;
      log.info('partition data deleted and partition dropped', { copyset: cs.name, partition: part.partitionId });
    }
  }
}
