// The VFS: one POSIX file system by inode with the caller's identity, shared by the FUSE
// adapter (src/mount) and the SDK's path API (src/client/fs.ts).
export { Vfs, type VfsConnection, type VfsOptions, type OpenResult, type DirEntryPlus } from './vfs.ts';
export { ClusterLocks } from './cluster-locks.ts';
export { QuotaTracker, ownerUsage, treeUsage, type TreeReader, type Usage } from './quota.ts';
export { PAGE_SIZE } from './allocation.ts';
export { checkAccess, isPrivileged, inGroup } from './permissions.ts';
export * from './types.ts';
