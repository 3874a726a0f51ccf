// The partition state machine of the metaserver and its CURVEFS snapshot codec. Pure: no clock,
// no I/O, no randomness (snapshot streams go through a sink / an iterable the caller provides).
export * from './types.ts';
export { Partition, sessionExpired, typeMode, type PartitionConfig, type PartitionInfoView } from './partition.ts';
export { PartitionView } from './view.ts';
export { DEFAULT_REQUEST_LIMITS, SessionView, type RequestTableLimits } from './request-table.ts';
export { checkName, compareNames, utf8Length } from './names.ts';
export { RecordType, RECORD_NAMES, RECORD_TYPES, describeRecord, type RecordDescription } from './records.ts';
export {
  SNAPSHOT_MAGIC,
  SNAPSHOT_VERSION,
  SNAPSHOT_EOF,
  HEADER_BYTES,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  SnapshotFormatError,
  SnapshotParser,
  encodeSnapshot,
  writeSnapshot,
  writeSnapshotViews,
  parseSnapshot,
  loadSnapshot,
  loadSnapshotBytes,
  partitionDigest,
  type SnapshotErrorReason,
  type SnapshotSink,
  type SnapshotSummary,
  type SnapshotHeader,
  type PairVisitor,
} from './snapshot-codec.ts';
