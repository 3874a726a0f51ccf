// The MDS status page: HTML, Prometheus metrics and JSON over HTTP.
export { startDashboard, type Dashboard } from './server.ts';
export { renderHtml } from './render.ts';
export { MdsMetrics } from './metrics.ts';
export type { MdsStatus, ClusterStatus } from './types.ts';
