// Prometheus metrics shared by every process (prom-client): a per-component registry with the
// process and Node.js runtime metrics added, and the HTTP endpoint that serves it. A folder of
// its own rather than part of src/common so that commands which serve no metrics (the CLI)
// never load prom-client.
export { Metrics, LATENCY_BUCKETS, METRICS_CONTENT_TYPE, type Counter, type Gauge, type Histogram } from './registry.ts';
export { serveMetrics, answerMetrics, isMetricsRequest, type MetricsServer, type MetricsSource } from './server.ts';
export { RpcBoundsMetrics, type RpcBoundsFigures } from './rpc-bounds.ts';
export { OpHistogram, OpSeries } from './op-histogram.ts';
