// The RPC server's resource bounds (src/rpc/server.ts) as Prometheus metrics: what stalled or
// greedy peers cost and how often a bound closed or refused a connection. One definition for the
// MDS (curvefs_mds_rpc_*) and the metaservers (curvefs_metaserver_rpc_*).
import type { Metrics } from './registry.ts';

/** The figures RpcServer.stats() reports about its bounds. */
export interface RpcBoundsFigures {
  connections: number;
  bufferedBytes: number;
  bufferedBytesPeak: number;
  closedFrameTimeout: number;
  closedOverBudget: number;
  refusedPerPeer: number;
}

export class RpcBoundsMetrics {
  private readonly connections;
  private readonly buffered;
  private readonly bufferedPeak;
  private readonly closed;

  /** `prefix`: the component's metric prefix, e.g. `curvefs_mds`. */
  constructor(m: Metrics, prefix: string) {
    this.connections = m.gauge(`${prefix}_rpc_connections`, 'Open RPC connections.');
    this.buffered = m.gauge(`${prefix}_rpc_buffered_bytes`, 'Bytes held for partial RPC frames, all connections.');
    this.bufferedPeak = m.gauge(`${prefix}_rpc_buffered_bytes_peak`, 'Highest bytes held for partial RPC frames since start.');
    this.closed = m.counter(`${prefix}_rpc_connections_closed_total`, 'RPC connections closed or refused by a resource bound.', ['reason']);
  }

  /** Sets every figure from the server's own counters (read at scrape time). */
  set(r: RpcBoundsFigures): void {
    this.connections.set(r.connections);
    this.buffered.set(r.bufferedBytes);
    this.bufferedPeak.set(r.bufferedBytesPeak);
    // The server keeps the totals; the counter mirrors them (reset + inc keeps it monotonic
    // as long as the server's totals are, which they are for the life of the process).
    this.closed.reset();
    this.closed.inc({ reason: 'frame_timeout' }, r.closedFrameTimeout);
    this.closed.inc({ reason: 'buffer_budget' }, r.closedOverBudget);
    this.closed.inc({ reason: 'per_peer_cap' }, r.refusedPerPeer);
  }
}
