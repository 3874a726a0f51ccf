// The MDS status page: a live HTML page (Server-Sent Events), Prometheus metrics and JSON over
// HTTP, behind the admin token when the cluster has authentication on.
export { startDashboard, type Dashboard, type DashboardOptions } from './server.ts';
export { renderHtml, renderLive, alerts, HEARTBEAT_LATE_MS, MAX_COPYSET_ROWS } from './render.ts';
export { adminOnly, pageAccess, PAGE_CERT_NAMES, type TokenCheck } from './access.ts';
export { chooseTransport, isLoopbackHost } from './transport.ts';
export type { ReplicaProbe, ReplicaState } from './lag.ts';
export { MdsMetrics } from './metrics.ts';
export type { MdsStatus, ClusterStatus, MountSessionStatus } from './types.ts';
