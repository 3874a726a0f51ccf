// The reference rule of cloned files (docs/architecture.md §6d): which object prefixes the
// reclaimer may delete when it reclaims one inode.
//
// A clone (CloneInode) is placed in its source's partition and its slices name the inode whose
// prefix holds their objects (`owner`), so every inode that shares an owner's objects lives in the
// owner's partition, and the partition's `sharers` index (owner → the other inodes naming it) is
// all the reclaimer consults: no scan, no call to another partition. Reclaiming inode X deletes
//   - X's own prefix, unless another inode still shares X's objects (then the last of those
//     deletes it);
//   - the prefix of each owner X's slices name, when that owner is gone and X was its last sharer.
// Prefixes, not single objects: an owner's objects that no sharer names (written after the clone)
// wait until the whole prefix goes; that is the space a clone costs beyond its metadata.
// Safe because references only grow by cloning a live inode that already holds them, and the
// reclaimer (one pass at a time per copyset) decides between MarkReclaim and DeleteInode, after
// which X can no longer be cloned.
import { StatusCode } from '../../common/index.ts';
import type { Partition } from '../partition/index.ts';

export interface ReclaimPrefixes {
  /** Whether X's own prefix may go. */
  own: boolean;
  /** Owners (other inodes) whose whole prefix may go with X. */
  owners: number[];
}

function othersShare(part: Partition, owner: number, except: number): boolean {
  const set = part.sharers.get(owner);
  if (!set) return false;
  for (const ino of set) if (ino !== except) return true;
  return false;
}

/** Owners (other inodes) whose objects inode `ino`'s slices name or named. */
export function ownersOf(part: Partition, ino: number): number[] {
  return [...(part.shares.get(ino) ?? [])];
}

/** The prefixes reclaiming inode `ino` may delete. */
export function reclaimPrefixes(part: Partition, ino: number): ReclaimPrefixes {
  const out: ReclaimPrefixes = { own: !othersShare(part, ino, ino), owners: [] };
  for (const o of ownersOf(part, ino)) {
    if (o === ino || part.getInodeAttr(o).status === StatusCode.OK) continue; // the owner still exists
    if (!othersShare(part, o, ino)) out.owners.push(o);
  }
  return out;
}
