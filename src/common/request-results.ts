/**
 * How many results of one client's mutations a partition keeps (per client, per partition) to
 * answer retries; the client keeps its mutations in flight within half of it
 * (src/client/request-window.ts, src/metaserver/partition/request-table.ts).
 */
export const RESULTS_KEPT_PER_CLIENT = 64;
