// What the client needs from the MDS. `MdsAdapter` (mds-adapter.ts) implements it over the MDS's
// RPC services; tests may implement it directly.
import type { PartitionInfo } from '../gen/common_pb.ts';
import type { CopysetRoute } from './partition-table.ts';
import type { BlockStoreConfig } from '../data/index.ts';
import type { SpaceReport } from './space.ts';
import type { Quota, QuotaDelta } from '../gen/mds_pb.ts';

/** Where an fs's blocks live (src/data's block store configuration). */
export type DataStoreConfig = BlockStoreConfig;

export interface FsView {
  fsId: number;
  fsName: string;
  rootInodeId: number;
  blockSize: number;
  chunkSize: number;
  capacity: number;
  dataStore: DataStoreConfig;
  /** Space in use when the view was fetched (the MDS's sums of partition reports), if it said. */
  usage?: SpaceReport;
}

export interface MountSession {
  sessionId: number;
}

export interface MdsApi {
  getFsInfo(fsName: string): Promise<FsView>;
  listPartitions(fsId: number): Promise<PartitionInfo[]>;
  getCopysets(copysets: Array<{ poolId: number; copysetId: number }>): Promise<CopysetRoute[]>;
  createPartitions(fsId: number, count: number): Promise<PartitionInfo[]>;
  /** First of `count` consecutive, globally unique chunk ids. */
  allocateChunkIds(fsId: number, count: number): Promise<number>;
  mount(fsName: string, mountpoint: { host: string; path: string }): Promise<MountSession>;
  /** Keeps the session alive; answers the fs's space when the MDS reports it. */
  refreshSession(fsName: string, sessionId: number): Promise<SpaceReport | void>;
  umount(fsName: string, sessionId: number): Promise<void>;
  /**
   * Sends a client's directory-quota deltas (applied once per (client, seq)) and answers every
   * quota of the fs (src/vfs/quota.ts). Absent: the client knows no quotas.
   */
  syncQuota?(fsName: string, deltas: QuotaDelta[], client: string, seq: number): Promise<Quota[]>;
}
