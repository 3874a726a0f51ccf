// The trash's expiry pass (docs/architecture.md §6c), run by the leader of each copyset: a name
// that has been in its partition's trash for the fs's retention is purged (TrashPurge: the inode
// loses its last link and joins the deletion list, where the reclaimer deletes its blocks after
// the usual grace; a directory, or an inode in another partition, loses it by a follow-up there:
// trash-entry.ts). Expiry is judged on this leader's clock against the unlink's time stamped in
// the log; a retention of 0 (trash turned off) empties the trash on the next pass.
import { create } from '@bufbuild/protobuf';
import { StatusCode, createLogger, systemClock, systemTimer, type Clock, type Timer } from '../../common/index.ts';
import { TimespecSchema } from '../../gen/common_pb.ts';
import { PartitionRefSchema } from '../../gen/metaserver_pb.ts';
import type { Copyset } from '../copyset/copyset.ts';
import { OpType } from '../copyset/op-codec.ts';
import { PartitionStatus } from '../partition/index.ts';
import type { TrashRetention } from '../trash-policy.ts';
import { LeaderPass } from './leader-pass.ts';
import { proposeTrashOp, type TrashRouting } from './trash-entry.ts';

const log = createLogger('metaserver-trash');
/** How long one purge may wait out transaction locks. */
const PURGE_TIMEOUT_MS = 5000;

export interface TrashExpiryOptions {
  copysets: () => Iterable<Copyset>;
  retention: TrashRetention;
  /** Where an entry's inode lives when that is another partition (a directory: its purge there is a follow-up). */
  routing: TrashRouting;
  clock?: Clock;
  timer?: Timer;
  /** Pass period (default 60 s). */
  intervalMs?: number;
  /** Purges per copyset per pass (default 1000): a huge expired trash drains over passes. */
  batch?: number;
}

export interface TrashExpiryStats {
  purged: number;
  failures: number;
}

export class TrashExpiry extends LeaderPass {
  private readonly clock: Clock;
  readonly stats: TrashExpiryStats = { purged: 0, failures: 0 };

  constructor(private readonly opts: TrashExpiryOptions) {
    super(opts.timer ?? systemTimer, opts.intervalMs ?? 60_000, opts.copysets);
    this.clock = opts.clock ?? systemClock;
  }

  protected passFailed(cs: Copyset, e: unknown): void {
    this.stats.failures++;
    log.warn('trash expiry pass failed', { copyset: cs.name, error: String(e) });
  }

  protected async passCopyset(cs: Copyset): Promise<void> {
    let budget = this.opts.batch ?? 1000;
    for (const part of [...cs.sm.partitions.values()]) {
      if (part.trash.size === 0 || part.status === PartitionStatus.DELETING) continue;
      const retention = await this.opts.retention.retentionSec(part.fsId);
      const [sec, nsec] = this.clock.wallTime();
      const expired = part.trashList().filter((t) => sec - t.trashedAt >= retention);
      for (const t of expired) {
        if (budget-- <= 0) return;
        const r = await proposeTrashOp(
          cs,
          this.opts.routing,
          OpType.TrashPurge,
          {
            p: create(PartitionRefSchema, { poolId: cs.poolId, copysetId: cs.copysetId, partitionId: part.partitionId, fsId: part.fsId }),
            inodeId: t.ino,
            time: create(TimespecSchema, { sec, nsec }),
          },
          this.clock.now() + PURGE_TIMEOUT_MS,
        );
        if (r.status === StatusCode.OK) this.stats.purged++;
        else if (r.status !== StatusCode.NOT_FOUND) log.warn('TrashPurge refused', { copyset: cs.name, ino: t.ino, status: StatusCode[r.status], message: r.message });
      }
    }
  }
}
