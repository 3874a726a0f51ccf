// Public face of src/raft: the pure core, and (added by the driver) storage, transport, node.
export * from './core/index.ts';
export { RaftNode } from './node.ts';
export type { RaftNodeOptions, RequestOptions, MembershipChange, GroupStatus, GroupOpenReport } from './node.ts';
export type { StateMachine, SnapshotSink, SnapshotSource } from './state-machine.ts';
export type { RaftTransport, RaftTransportHandler, GroupMessage, SnapshotChunk } from './transport.ts';
export { AddressBook } from './address-book.ts';
export { LocalNetwork } from './local-transport.ts';
export { RaftLog, logSyncCounters } from './log/index.ts';
export type { RaftLogOptions, LogOpenReport, LogCut } from './log/index.ts';
export { SnapshotStore } from './snapshot/index.ts';
export { RpcRaftTransport, type RpcRaftTransportOptions } from './rpc-transport.ts';
export { nodeStorage } from './storage.ts';
export type { RaftStorage, StorageFile, OpenMode } from './storage.ts';
