// The MDS key-value store: one contract (types.ts), three engines (etcd, embedded file,
// memory for tests).
export * from './types.ts';
export { EtcdStore, prefixEnd } from './etcd.ts';
export { createEtcdClient, type EtcdClientOptions } from './etcd-client.ts';
export { EmbeddedStore, type EmbeddedStoreOptions, type OpenReport, LOG_FILE, SNAP_FILE, LOG_MIRROR_FILE, SNAP_MIRROR_FILE, LOCK_FILE } from './embedded.ts';
export { MemoryStore } from './memory.ts';
export { LockFile } from './lock-file.ts';
export { loadEtcdSecurity, etcdSecurityFailure, probeEtcdTls, ETCD_PASSWORD_ENV, type EtcdSecurity, type EtcdSecurityFiles } from './etcd-security.ts';
