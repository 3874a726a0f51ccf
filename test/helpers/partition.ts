// Helpers for partition state-machine tests: a fresh partition with a root, op builders with a
// fixed clock, and an "errors change nothing" assertion based on the state digest.
import assert from 'node:assert/strict';
import {
  FileType,
  Partition,
  partitionDigest,
  StatusCode,
  type OpResult,
  type PartitionOp,
  type Timestamp,
} from '../../src/metaserver/partition/index.ts';

export const FS = 1;
export const T0: Timestamp = { sec: 1_700_000_000, nsec: 1 };
export function at(sec: number, nsec = 0): Timestamp {
  return { sec: T0.sec + sec, nsec };
}

export function newPartition(range: [number, number] = [0, 1 << 20], withRoot = true, partitionId = 1): Partition {
  const p = new Partition({ partitionId, fsId: FS, start: range[0], end: range[1] });
  if (withRoot) ok(p.apply({ kind: 'createRootInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: T0 }));
  return p;
}

export function ok<R extends OpResult>(r: R): Extract<R, { status: StatusCode.OK }> {
  if (r.status !== StatusCode.OK) assert.fail(`expected OK, got ${StatusCode[r.status]}: ${(r as { message: string }).message}`);
  return r as Extract<R, { status: StatusCode.OK }>;
}

/** Applies `op`, expects `status`, and checks the partition state did not change at all. */
export function rejects(p: Partition, op: PartitionOp, status: StatusCode): void {
  const before = partitionDigest(p);
  const statsBefore = JSON.stringify(p.stats());
  const r = p.apply(op);
  assert.equal(StatusCode[r.status], StatusCode[status], `op ${op.kind}: ${'message' in r ? r.message : ''}`);
  assert.equal(partitionDigest(p), before, `op ${op.kind} failed with ${StatusCode[status]} but changed the state`);
  assert.equal(JSON.stringify(p.stats()), statsBefore);
}

export function mkfile(p: Partition, parent: number, name: string, type: FileType = FileType.TYPE_S3, extra: Partial<PartitionOp> = {}): number {
  const r = ok(
    p.apply({
      kind: 'createFile',
      fsId: FS,
      parent,
      name,
      type,
      mode: type === FileType.TYPE_DIRECTORY ? 0o755 : 0o644,
      uid: 1000,
      gid: 1000,
      time: T0,
      ...(type === FileType.TYPE_SYM_LINK ? { symlink: 'target' } : {}),
      ...extra,
    } as PartitionOp),
  ) as { inode: { inodeId: number } };
  return r.inode.inodeId;
}

export function mkdir(p: Partition, parent: number, name: string): number {
  return mkfile(p, parent, name, FileType.TYPE_DIRECTORY);
}

/** Concatenates chunks. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
