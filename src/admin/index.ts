// Operator tools over a running cluster: fsck, gc, metadata dump and load (docs/operations.md).
export type { AdminContext } from './context.ts';
export { fsck, LOST_FOUND, type Finding, type FindingKind, type FsckOptions, type FsckReport } from './fsck.ts';
export { gc, DEFAULT_GC_MIN_AGE_MS, type GcOptions, type GcReport } from './gc.ts';
export { dumpTree, type DumpStats } from './dump.ts';
export { loadDump, verifyDump, type LoadSource, type LoadStats } from './load.ts';
export { DumpWriter, DumpFormatError, readDump, DUMP_MAGIC, DUMP_VERSION, type DumpFormat, type DumpHeader, type DumpRecord, type DumpTrailer } from './dump-format.ts';
export { parseDuration } from './duration.ts';
export { listTrash, restoreTarget, restoreTrash, purgeTrash, type RestoreTarget, type TrashItem, type TrashOutcome } from './trash.ts';
