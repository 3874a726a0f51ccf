// The client library: MetaClient (routing, leaders, retries), FsCore (by inode), Fs (by path).
export { MetaClient, type MetaCaller, type MetaClientOptions, type MetaMethod, type MetaBody } from './meta-client.ts';
export { RpcMetaCaller } from './rpc-caller.ts';
export { PartitionTable, copysetKey, type CopysetRoute } from './partition-table.ts';
export { FsCore, ROOT_INODE_ID, type CreateArgs, type SetAttrArgs, type FsCoreOptions, type ListPage } from './fs-core.ts';
export { OpenRegistry, type OpenRegistryOptions, type OpenHandleCall } from './open-registry.ts';
export { Fs, type FsOptions, type OpenFlags, type StatFs } from './fs.ts';
export { FileHandle, blockMapOf, type FileData, type BlockMap, type Slice } from './file.ts';
export { Stat, fileTypeOfMode, modeBitsOfType, type DirEntry } from './attr.ts';
export { checkName, splitPath, NAME_MAX, PATH_MAX } from './names.ts';
export { TtlCache } from './cache.ts';
export { SpaceGuard, type SpaceReport } from './space.ts';
export { backoffDelay, isRetryable, DEFAULT_BACKOFF } from './retry.ts';
export type { MdsApi, FsView, DataStoreConfig, MountSession } from './mds-api.ts';
export { connectFs, type ConnectOptions, type Connection } from './connect.ts';
export { ClientSession, type RenewListener } from './session.ts';
export { MdsAdapter, fsViewOf, dataStoreOf, peerAddress, type MdsConnector } from './mds-adapter.ts';
export { ChunkIdLease, type ChunkIdFetch, type ChunkIdLeaseOptions } from './chunk-ids.ts';
export { RotatingMdsConnector, type RotatingMdsOptions } from './mds-connector.ts';
