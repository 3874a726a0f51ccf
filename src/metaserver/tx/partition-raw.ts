// Dentry removal without the partition's "a directory child must be empty" check, for the
// commit of a cross-partition rename: the directory is moving, not being removed, so its entries
// stay valid. The partition's DeleteDentryOp has no such mode yet; until it does (asked of the
// partition's owner: a `move: true` flag on DeleteDentryOp that skips the emptiness check and
// never unlinks), this reaches into the partition's own helpers, doing exactly what
// deleteDentry does after its checks. Deterministic like every apply.
import { FileType, StatusCode, type Partition, type Timestamp } from '../partition/index.ts';

interface PartitionInternals {
  writableDir(id: number): { remove(name: string, cow: unknown): number; bytes: number };
  setNlink(id: number, nlink: number): void;
  nlinkOf(id: number): number;
  touch(id: number, t: Timestamp, mtime: boolean, ctime: boolean): void;
  childBytes(ino: number, type: number, hint: number | undefined): number;
}

export type RawResult = { status: StatusCode.OK; ino: number; type: FileType } | { status: StatusCode; message: string };

/**
 * Removes (parent, name), which must name `expectIno`; parent nlink −1 for a directory child,
 * mtime/ctime = t. The child inode is not touched.
 */
export function removeEntryForMove(p: Partition, parent: number, name: string, expectIno: number, lengthHint: number, t: Timestamp): RawResult {
  const d = p.dir(parent);
  const ino = d ? d.lookup(name) : -1;
  if (ino < 0 || ino !== expectIno) {
    return { status: StatusCode.NOT_FOUND, message: `${JSON.stringify(name)} in ${parent} is not inode ${expectIno}` };
  }
  const type = d!.lastType as FileType;
  const raw = p as unknown as PartitionInternals;
  const bytes = raw.childBytes(ino, type, lengthHint > 0 ? lengthHint : undefined);
  const w = raw.writableDir(parent);
  w.remove(name, p.cow);
  w.bytes = Math.max(0, w.bytes - bytes);
  p.dentryCount--;
  if (type === FileType.TYPE_DIRECTORY) raw.setNlink(parent, Math.max(2, raw.nlinkOf(parent) - 1));
  raw.touch(parent, t, true, true);
  return { status: StatusCode.OK, ino, type };
}
