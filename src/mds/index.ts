// The MDS: file systems, topology, heartbeats, placement and healing, on etcd (with fenced
// leader election) or on the embedded store. Public face for other folders.
export { runMds, parseMdsArgs, mdsMain, type RunMdsOptions, type MdsHandle } from './main.ts';
export { MdsClient, type MdsClientOptions, type MdsCallOptions, type MdsMethods } from './client.ts';
export { MdsNode, type MdsRole } from './node.ts';
export { DEFAULT_TUNING, tuning, type MdsTuning } from './options.ts';
export type { DataReclaimer } from './fs/fs-manager.ts';
export { ROOT_INODE_ID, ROOT_MODE } from './fs/fs-manager.ts';
export { PARTITION_SIZE, MIN_INODE_ID } from './topology/allocator.ts';
export { validateFsName } from './fs/validate.ts';
export type { JournalEvent } from './journal.ts';
export * as store from './store/index.ts';
export * as election from './election/index.ts';
export { ClusterKey, readTokenFile, writeSecret, FsAccess, MDS_RULES, METASERVER_RULES, tokenAuth, type Rule } from './auth/index.ts';
