// Durable Raft snapshot storage: write (streamed), verify, install, send and receive.
export { SnapshotStore, SnapshotWriter, SnapshotReceiver, verifySnapshotFile } from './store.ts';
export type { SnapshotSink, SnapshotOpenReport } from './store.ts';
