// Tunables of the MDS, with CurveFS's defaults where it has one (digest §9) and smaller ones
// where a one-machine cluster needs them.
import type { AllocatorOptions } from './topology/allocator.ts';
import { DEFAULT_BALANCE_OPTIONS, type BalanceOptions } from './schedule/balance.ts';
import type { RecoveryOptions } from './schedule/recovery.ts';

export interface MdsTuning {
  /** Silence after which a metaserver is UNSTABLE (CurveFS 30 s). */
  unstableAfterMs: number;
  /**
   * Silence after which it is OFFLINE: down, shown so at once. Its copysets get a new replica
   * elsewhere only after `recovery.healDelayMs` more (CurveFS has no separate delay and waits
   * 30 min here; we detect in a minute and heal after the delay).
   */
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
  /** Leader and replica balancing (schedule/balance.ts); `intervalMs: 0` turns it off. */
  balance: BalanceOptions;
  allocator: AllocatorOptions;
}

export const DEFAULT_TUNING: MdsTuning = {
  unstableAfterMs: 30_000,
  offlineAfterMs: 60_000,
  replicaNum: 3,
  partitionsPerFs: 3,
  minWritablePartitions: 2,
  sessionTimeoutMs: 20_000,
  sessionScanMs: 10_000,
  fsScanMs: 10_000,
  scheduleIntervalMs: 5_000,
  cleanFollowerAfterMs: 1_200_000,
  // Heal delay 10 min, Ceph's mon_osd_down_out_interval: a reboot or a restart comes back well
  // within it and catches up from its own log; a machine that is really gone is back to three
  // replicas ~11 min after its last heartbeat (it was 30 min).
  recovery: { healDelayMs: 600_000, changePeerTimeoutMs: 1_800_000, removePeerTimeoutMs: 300_000, maxOpsPerMetaserver: 1 },
  balance: DEFAULT_BALANCE_OPTIONS,
  allocator: { maxPartitionsPerCopyset: 128, maxCopysetsPerMetaserver: 100 },
};

export function tuning(over: Partial<MdsTuning> = {}): MdsTuning {
  return {
    ...DEFAULT_TUNING,
    ...over,
    recovery: { ...DEFAULT_TUNING.recovery, ...over.recovery },
    balance: { ...DEFAULT_TUNING.balance, ...over.balance },
    allocator: { ...DEFAULT_TUNING.allocator, ...over.allocator },
  };
}
