// The kernel's references to inodes. Node ids are inode ids (identity mapping: inode ids are
// unique and never 0, root inode 1 is FUSE_ROOT_ID), and each node carries the kernel's lookup
// count: +1 for every entry reply the kernel accepted, −n for FORGET(n). The ops learn when a
// count reaches zero, so they may drop whatever they keep for inodes the kernel can name.

import { FUSE_ROOT_ID } from './abi.ts';

export class NodeTable {
  private readonly counts = new Map<number, number>();

  /** The kernel accepted one more entry naming `ino`. */
  ref(ino: number): void {
    if (ino === FUSE_ROOT_ID) return; // the root is never forgotten
    this.counts.set(ino, (this.counts.get(ino) ?? 0) + 1);
  }

  /** The kernel released `nlookup` references; returns true when none are left. */
  forget(ino: number, nlookup: number): boolean {
    if (ino === FUSE_ROOT_ID) return false;
    const left = (this.counts.get(ino) ?? 0) - nlookup;
    if (left > 0) {
      this.counts.set(ino, left);
      return false;
    }
    this.counts.delete(ino);
    return true;
  }

  lookupCount(ino: number): number {
    return this.counts.get(ino) ?? 0;
  }

  /** Number of inodes (besides the root) the kernel holds. */
  get size(): number {
    return this.counts.size;
  }
}
