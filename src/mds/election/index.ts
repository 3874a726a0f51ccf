// MDS leader election: etcd (lease + fenced key) or embedded (single node).
export * from './types.ts';
export { LeaseGuard } from './lease-guard.ts';
export { EtcdElector, DEFAULT_ELECTION_PREFIX, type EtcdElectorOptions } from './etcd-elector.ts';
export { EmbeddedElector } from './embedded-elector.ts';
