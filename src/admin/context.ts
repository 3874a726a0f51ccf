// What the operator tools need of a cluster: the fs's metadata client, its block store and data
// layout, the wall clock (object ages), and a way to ask one replica for a copyset's status.
import type { FsCore, MetaClient } from '../client/index.ts';
import type { BlockStore, DataLayout } from '../data/index.ts';
import type { CopysetStatus } from '../gen/metaserver_pb.ts';

export interface AdminContext {
  meta: MetaClient;
  core: FsCore;
  store: BlockStore;
  fsId: number;
  layout: DataLayout;
  /** Wall clock, ms since the epoch (object ages are wall-clock ages). */
  now: () => number;
  /** The copyset's status as replica `address` sees it (fsck's agreement check). */
  copysetStatus?: (address: string, poolId: number, copysetId: number) => Promise<CopysetStatus | undefined>;
}
