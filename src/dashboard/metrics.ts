// The MDS's Prometheus metrics, set from the status document at each scrape. Figures about the
// cluster exist only on the leader (a standby knows none): they live in a registry of their own
// that is left out of a standby's answer, rather than being reported as zeros.
import { Metrics, RpcBoundsMetrics } from '../metrics/index.ts';
import type { MdsStatus } from './types.ts';

const ROLES = ['leader', 'loading', 'follower'] as const;
const STATES = ['ONLINE', 'UNSTABLE', 'OFFLINE'] as const;

export class MdsMetrics {
  private readonly base = new Metrics();
  private readonly cluster = new Metrics({ runtime: false });
  private hasCluster = false;

  private readonly status = this.base.gauge('curvefs_mds_status', 'Role of this MDS (1 for the current role).', ['role']);
  private readonly term = this.base.gauge('curvefs_mds_term', 'Election term served (0 when not serving).');
  private readonly uptime = this.base.gauge('curvefs_mds_uptime_seconds', 'Seconds since this MDS process started.');
  private readonly rpc = new RpcBoundsMetrics(this.base, 'curvefs_mds');

  private readonly fs = this.cluster.gauge('curvefs_mds_fs', 'File systems known to the leader.');
  private readonly metaservers = this.cluster.gauge('curvefs_mds_metaservers', 'Metaservers by online state.', ['state']);
  private readonly copysets = this.cluster.gauge('curvefs_mds_copysets', 'Copysets.');
  private readonly unhealthy = this.cluster.gauge('curvefs_mds_copysets_unhealthy', 'Copysets with a member that is not online or whose replica is broken.');
  private readonly changing = this.cluster.gauge('curvefs_mds_copysets_changing', 'Copysets with a membership change in flight.');
  private readonly partitions = this.cluster.gauge('curvefs_mds_partitions', 'Partitions.');
  private readonly sessions = this.cluster.gauge('curvefs_mds_sessions', 'Live mount sessions.');
  // The leader counts heartbeats from the start of its term; a new term starts again from zero,
  // which Prometheus's rate() reads as a counter reset.
  private readonly heartbeats = this.cluster.counter('curvefs_mds_heartbeats_total', 'Heartbeats handled in this term.');
  private readonly usedBytes = this.cluster.gauge('curvefs_mds_fs_used_bytes', 'Bytes in use: lengths of regular files, deleted ones not yet reclaimed included (partition reports).', ['fs', 'fs_id']);
  private readonly usedInodes = this.cluster.gauge('curvefs_mds_fs_used_inodes', 'Inodes in use (partition reports).', ['fs', 'fs_id']);
  private readonly capacityBytes = this.cluster.gauge('curvefs_mds_fs_capacity_bytes', 'Capacity in bytes (0 = unlimited).', ['fs', 'fs_id']);

  /** Sets every figure from a fresh status document. */
  update(s: MdsStatus): void {
    for (const role of ROLES) this.status.set({ role }, s.role === role ? 1 : 0);
    this.term.set(finite(s.term));
    this.uptime.set(finite(s.uptimeSec));
    if (s.rpc) this.rpc.set(s.rpc);
    const c = s.cluster;
    this.hasCluster = c !== null;
    if (!c) return;
    this.fs.set(c.fs.length);
    for (const st of STATES) this.metaservers.set({ state: st.toLowerCase() }, c.metaservers.filter((m) => m.state === st).length);
    this.copysets.set(c.copysets.length);
    this.unhealthy.set(c.copysets.filter((x) => !x.healthy).length);
    this.changing.set(c.copysets.filter((x) => x.change).length);
    this.partitions.set(finite(c.partitions));
    this.sessions.set(finite(c.sessions));
    this.heartbeats.reset();
    this.heartbeats.inc(finite(c.heartbeats));
    // From empty each time, so a deleted file system's series goes away.
    for (const g of [this.usedBytes, this.usedInodes, this.capacityBytes]) g.reset();
    for (const f of c.fs) {
      const labels = { fs: f.name, fs_id: String(f.fsId) };
      this.usedBytes.set(labels, finite(f.usedBytes));
      this.usedInodes.set(labels, finite(f.usedInodes));
      this.capacityBytes.set(labels, finite(f.capacity));
    }
  }

  /** The exposition: the MDS's own figures, the cluster's when leading, then the process's. */
  async text(): Promise<string> {
    if (!this.hasCluster) return this.base.text();
    const [cluster, base] = [await this.cluster.text(), await this.base.text()];
    return cluster + base;
  }
}

function finite(v: number): number {
  return Number.isFinite(v) ? v : 0;
}
