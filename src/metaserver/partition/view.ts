// A frozen, point-in-time view of a partition for the snapshot writer (see the copy-on-write
// notes in inode-store.ts). Taking it copies only the page table and the client list.
import type { Page } from './inode-store.ts';
import type { ClientWindow, RequestTableLimits } from './request-table.ts';
import type { PartitionStatus, TrashEntry } from './types.ts';

/** The parts of a Partition a view reads at freeze time (avoids an import cycle). */
interface Frozen {
  readonly partitionId: number;
  readonly fsId: number;
  readonly start: number;
  readonly end: number;
  readonly nextId: number;
  readonly status: PartitionStatus;
  readonly maxLinks: number;
  readonly inodeCount: number;
  readonly dentryCount: number;
  readonly chunkLists: number;
  readonly deleted: ReadonlyMap<number, number>;
  trashList(): TrashEntry[];
  readonly cow: { liveViews: number };
  readonly requests: { limits: RequestTableLimits };
}

export class PartitionView {
  readonly partitionId: number;
  readonly fsId: number;
  readonly start: number;
  readonly end: number;
  readonly nextId: number;
  readonly status: PartitionStatus;
  readonly maxLinks: number;
  readonly inodeCount: number;
  readonly dentryCount: number;
  readonly chunkLists: number;
  readonly deletedCount: number;
  readonly limits: RequestTableLimits;
  /** The trash, copied at freeze (entries are few next to inodes: O(trash) per snapshot). */
  readonly trash: readonly TrashEntry[];
  private released = false;

  constructor(
    private readonly source: Frozen,
    readonly pages: readonly (Page | undefined)[],
    readonly clients: readonly [number, ClientWindow][],
  ) {
    this.partitionId = source.partitionId;
    this.fsId = source.fsId;
    this.start = source.start;
    this.end = source.end;
    this.nextId = source.nextId;
    this.status = source.status;
    this.maxLinks = source.maxLinks;
    this.inodeCount = source.inodeCount;
    this.dentryCount = source.dentryCount;
    this.chunkLists = source.chunkLists;
    this.deletedCount = source.deleted.size;
    this.limits = { ...source.requests.limits };
    this.trash = source.trashList();
  }

  /** Number of key/value pairs this partition contributes to a snapshot. */
  get pairCount(): number {
    return 1 + this.inodeCount + this.chunkLists + this.dentryCount + this.deletedCount + this.clients.length + this.trash.length;
  }

  /** Lets the partition mutate in place again once no view is alive. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.source.cow.liveViews--;
  }
}
