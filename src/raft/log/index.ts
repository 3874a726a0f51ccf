// Durable Raft log storage: per-group segment files with group commit.
export { RaftLog, LogDamagedError, logSyncCounters } from './raft-log.ts';
export type { RaftLogOptions, LogOpenReport, LogOpenResult, LogCut } from './raft-log.ts';
export { SEGMENT_HEADER_BYTES, RECORD_OVERHEAD } from './format.ts';
