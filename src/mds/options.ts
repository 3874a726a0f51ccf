// Tunables of the MDS, with CurveFS's defaults where it has one (digest §9) and smaller ones
// where a one-machine cluster needs them.
import type { AllocatorOptions } from './topology/allocator.ts';
import type { RecoveryOptions } from './schedule/recovery.ts';

export interface MdsTuning {
  /** Silence after which a metaserver is UNSTABLE (CurveFS 30 s). */
  unstableAfterMs: number;
  /** Silence after which it is OFFLINE and its copysets get a new replica elsewhere (CurveFS 30 min). */
  offlineAfterMs: number;
  /** Replicas per copyset in the pool created on the fly (3). */
  replicaNum: number;
  /** Partitions created with a new fs (CurveFS 12). */
  partitionsPerFs: number;
  /** Read-write partitions with room an fs should keep; more are allocated ahead of need. */
  minWritablePartitions: number;
  /** A mount whose session is not refreshed for this long is removed (CurveFS 20 s). */
  sessionTimeoutMs: number;
  /** How often sessions are checked and usage counters stored (CurveFS 10 s). */
  sessionScanMs: number;
  /** How often deleted file systems are reclaimed (CurveFS 10 s). */
  fsScanMs: number;
  /** How often the recovery scheduler runs (CurveFS 5 s). */
  scheduleIntervalMs: number;
  /** Followers outside a copyset's membership are told so only after this long as leader (CurveFS 20 min). */
  cleanFollowerAfterMs: number;
  recovery: RecoveryOptions;
  allocator: AllocatorOptions;
}

export const DEFAULT_TUNING: MdsTuning = {
  unstableAfterMs: 30_000,
  offlineAfterMs: 1_800_000,
  replicaNum: 3,
  partitionsPerFs: 3,
  minWritablePartitions: 2,
  sessionTimeoutMs: 20_000,
  sessionScanMs: 10_000,
  fsScanMs: 10_000,
  scheduleIntervalMs: 5_000,
  cleanFollowerAfterMs: 1_200_000,
  recovery: { changePeerTimeoutMs: 1_800_000, removePeerTimeoutMs: 300_000, maxOpsPerMetaserver: 1 },
  allocator: { maxPartitionsPerCopyset: 128, maxCopysetsPerMetaserver: 100 },
};

export function tuning(over: Partial<MdsTuning> = {}): MdsTuning {
  return {
    ...DEFAULT_TUNING,
    ...over,
    recovery: { ...DEFAULT_TUNING.recovery, ...over.recovery },
    allocator: { ...DEFAULT_TUNING.allocator, ...over.allocator },
  };
}
