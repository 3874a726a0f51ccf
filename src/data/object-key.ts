// Object keys of file data (docs/formats.md, "Block store objects"):
//
//   {fsId}/{ino % 256 as 2 hex}/{(ino / 256) % 256 as 2 hex}/{ino}/{chunkIndex}/{chunkId}_{blockIndex}_{compaction}
//
// The leaf name is CurveFS's {chunkid}_{blockindex}_{compaction}; the levels in front make every
// inode one prefix (delete and fsck list exactly its objects), spread inodes over 65536 buckets
// and give each 64 MiB chunk its own directory in the local store.
import type { ObjectRef } from './layout.ts';

function hex2(n: number): string {
  return (n % 256).toString(16).padStart(2, '0');
}

/** Prefix of every object of one file system. */
export function fsPrefix(fsId: number): string {
  return `${fsId}/`;
}

/** Prefix of every object of one inode. */
export function inodePrefix(fsId: number, inodeId: number): string {
  return `${fsId}/${hex2(inodeId)}/${hex2(Math.floor(inodeId / 256))}/${inodeId}/`;
}

/**
 * Key of one object of inode `inodeId`: under the prefix of the ref's owner when it has one (a
 * clone reads the objects it shares with its source, docs/architecture.md §6d).
 */
export function objectKey(fsId: number, inodeId: number, ref: Omit<ObjectRef, 'size'>): string {
  return `${inodePrefix(fsId, ref.owner || inodeId)}${ref.chunkIndex}/${ref.chunkId}_${ref.blockIndex}_${ref.compaction}`;
}

export interface ParsedObjectKey {
  fsId: number;
  inodeId: number;
  chunkIndex: number;
  chunkId: number;
  blockIndex: number;
  compaction: number;
}

const KEY_RE = /^(\d+)\/([0-9a-f]{2})\/([0-9a-f]{2})\/(\d+)\/(\d+)\/(\d+)_(\d+)_(\d+)$/;

/** The parts of a data object key, or undefined if `key` is not one (or is inconsistent). */
export function parseObjectKey(key: string): ParsedObjectKey | undefined {
  const m = KEY_RE.exec(key);
  if (!m) return undefined;
  const [fsId, inodeId, chunkIndex, chunkId, blockIndex, compaction] = [1, 4, 5, 6, 7, 8].map((i) => Number(m[i]));
  const all = [fsId, inodeId, chunkIndex, chunkId, blockIndex, compaction] as number[];
  if (!all.every((n) => Number.isSafeInteger(n))) return undefined;
  if (objectKey(fsId!, inodeId!, { chunkIndex: chunkIndex!, chunkId: chunkId!, blockIndex: blockIndex!, compaction: compaction! }) !== key) {
    return undefined;
  }
  return { fsId: fsId!, inodeId: inodeId!, chunkIndex: chunkIndex!, chunkId: chunkId!, blockIndex: blockIndex!, compaction: compaction! };
}
