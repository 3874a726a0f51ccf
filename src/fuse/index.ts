// The FUSE mount: the kernel protocol spoken from TypeScript, an inode-based operations
// interface, and MemFs, the in-memory reference file system.
export { mountFuse, type FuseMount, type MountFuseParams, type MountFuseOptions } from './session.ts';
export type { ReaderKind } from './device-reader.ts';
export { recoverStaleMount, unmountDir, fusePreflight, mountInfo, abortConnection } from './mount-cmd.ts';
export { Dispatcher, errnoOf, type ReplyWriter, type DispatchOptions, type InitResult } from './dispatch.ts';
export { MemFs, type MemFsOptions } from './memfs.ts';
export { LockTable } from './locks.ts';
export { NodeTable } from './nodes.ts';
export * from './ops.ts';
export { FUSE_MAX_MINOR, FUSE_MIN_MINOR, negotiateInit, InitFlag } from './abi.ts';
