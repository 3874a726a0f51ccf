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
    usageComplete: boolean;
    /** Live mount sessions of the fs (host, the mount's pid, path); absent from older MDSes. */
    sessions?: MountSessionStatus[] }[];
  metaservers: { id: number; address: string; state: string; copysets: number; leaders: number; lastHeartbeatMsAgo: number;
    /** Load as the metaserver last reported it (bytes; 0 when it has not reported). */
    memoryUsedBytes?: number; diskUsedBytes?: number;
    /** Being drained (`curvefs metaserver drain`): its replicas are moving away. */
    draining?: boolean;
    /** OFFLINE with replicas: when (Unix ms) the MDS starts rebuilding them elsewhere (the heal delay; past: under way). */
    healAtMs?: number }[];
  copysets: { id: string; members: number[]; leader: number; epoch: number; healthy: boolean; /** Members whose replica cannot open (damaged storage). */ broken: number[]; partitions: number; change: string | null }[];
  partitions: number;
  heartbeats: number;
  sessions: number;
}

/** One mounted client of a file system, as its MountFs registered it. */
export interface MountSessionStatus {
  sessionId: number;
  host: string;
  /** The mount process's id (the "port" of CurveFS's mount point, which tells mounts of one path apart). */
  pid: number;
  path: string;
  /** Wall clock (Unix ms) of the mount. */
  mountedAtMs: number;
}
