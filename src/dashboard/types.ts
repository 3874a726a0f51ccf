// The status document an MDS serves at /api/status and renders at / and /metrics. Any MDS
// answers (a standby reports its role and the leader's address; `cluster` only on the leader).
import type { RpcBoundsFigures } from '../metrics/index.ts';

export interface MdsStatus {
  role: 'leader' | 'loading' | 'follower';
  address: string;
  leaderAddress: string | null;
  /** Term being served (election key revision), 0 when not serving. */
  term: number;
  /** Milliseconds the current lease still allows serving (null when not leader, -1 = unbounded). */
  leaseValidForMs: number | null;
  store: 'etcd' | 'embedded';
  pid: number;
  uptimeSec: number;
  cluster: ClusterStatus | null;
  /** The RPC server's resource bounds (connections closed or refused by each). */
  rpc?: RpcBoundsStatus;
}

/** The RPC server's bound counters (one shape for the status page and the metrics). */
export type RpcBoundsStatus = RpcBoundsFigures;

export interface ClusterStatus {
  clusterId: string;
  fs: { fsId: number; name: string; status: string; mounts: number; partitions: number; capacity: number;
    /** Sum of regular files' lengths (deleted, not yet reclaimed ones included) and inodes, from the partitions' reports. */
    usedBytes: number; usedInodes: number;
    /** False while some partition has not reported since this MDS began to lead. */
    usageComplete: boolean }[];
  metaservers: { id: number; address: string; state: string; copysets: number; leaders: number; lastHeartbeatMsAgo: number }[];
  copysets: { id: string; members: number[]; leader: number; epoch: number; healthy: boolean; /** Members whose replica cannot open (damaged storage). */ broken: number[]; partitions: number; change: string | null }[];
  partitions: number;
  heartbeats: number;
  sessions: number;
}
