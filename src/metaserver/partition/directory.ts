// The entries of one directory, sorted by UTF-8 byte order of their names: a list of leaves of
// up to LEAF_MAX sorted entries (a two-level B-tree with a wide root). Lookup is two binary
// searches; insert touches one leaf (plus a splice of the leaf list when a leaf splits, every
// ~64 inserts, O(leaves): fine up to tens of millions of entries per directory). Appends at
// the end fill leaves completely, so sequential creates and snapshot loads use memory tightly. Leaves and the directory are copy-on-write by epoch (inode-store.ts).
import { compareNames, isPlainName } from './names.ts';
import { FileType } from './types.ts';
import type { Cow } from './inode-store.ts';

export const LEAF_MAX = 128;

/** Binary-search steps taken so far (leafFor and Leaf.search), so scan can report its work. */
let searchSteps = 0;

/**
 * Entry value: inode id × 16 + FileType, one double per entry (ids stay below MAX_INODE_ID =
 * 2^48, so the product is an exact integer). Plain JS arrays: V8 stores them unboxed
 * (8 bytes per element) and splice is a native memmove.
 */
export function packEntry(ino: number, type: number): number {
  return ino * 16 + type;
}
export function entryIno(v: number): number {
  return Math.floor(v / 16);
}
export function entryType(v: number): number {
  return v % 16;
}

export class Leaf {
  constructor(
    public epoch: number,
    public names: string[],
    public vals: number[],
  ) {}

  get n(): number {
    return this.names.length;
  }

  copy(epoch: number): Leaf {
    return new Leaf(epoch, this.names.slice(), this.vals.slice());
  }

  /** Position of `name`, or −(insertion point) − 1. `plain`: isPlainName(name). */
  search(name: string, plain: boolean): number {
    let lo = 0;
    let hi = this.names.length - 1;
    const names = this.names;
    if (plain) {
      while (lo <= hi) {
        searchSteps++;
        const mid = (lo + hi) >>> 1;
        const x = names[mid]!;
        if (x < name) lo = mid + 1;
        else if (x > name) hi = mid - 1;
        else return mid;
      }
    } else {
      while (lo <= hi) {
        searchSteps++;
        const mid = (lo + hi) >>> 1;
        const c = compareNames(names[mid]!, name);
        if (c < 0) lo = mid + 1;
        else if (c > 0) hi = mid - 1;
        else return mid;
      }
    }
    return -lo - 1;
  }
}

export class Directory {
  leaves: Leaf[] = [];
  entries = 0;
  files = 0;
  subdirs = 0;
  bytes = 0;
  sealed = false;
  /** Type of the entry found by the last lookup/remove (avoids allocating a pair). */
  lastType: number = 0;

  constructor(public epoch: number) {}

  copy(epoch: number): Directory {
    const d = new Directory(epoch);
    d.leaves = this.leaves.slice();
    d.entries = this.entries;
    d.files = this.files;
    d.subdirs = this.subdirs;
    d.bytes = this.bytes;
    d.sealed = this.sealed;
    return d;
  }

  /** Index of the leaf that holds or would hold `name`. */
  private leafFor(name: string, plain: boolean): number {
    const leaves = this.leaves;
    let lo = 0;
    let hi = leaves.length - 1;
    // Last leaf whose first name ≤ name (or 0).
    while (lo < hi) {
      searchSteps++;
      const mid = (lo + hi + 1) >>> 1;
      const first = leaves[mid]!.names[0]!;
      if (plain ? first <= name : compareNames(first, name) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  // Where the last lookup of a missing name ended, so the insert that usually follows it (the
  // create path checks, then inserts) skips both searches. Cleared by every other change.
  private hintName: string | undefined = undefined;
  private hintLeaf = 0;
  private hintPos = 0;

  /** Child inode of `name`, or −1. The type is left in `lastType`. */
  lookup(name: string): number {
    if (this.leaves.length === 0) return -1;
    const plain = isPlainName(name);
    const li = this.leafFor(name, plain);
    const leaf = this.leaves[li]!;
    const pos = leaf.search(name, plain);
    if (pos < 0) {
      this.hintName = name;
      this.hintLeaf = li;
      this.hintPos = -pos - 1;
      return -1;
    }
    const v = leaf.vals[pos]!;
    this.lastType = v % 16;
    return Math.floor(v / 16);
  }

  private writableLeaf(li: number, cow: Cow): Leaf {
    let leaf = this.leaves[li]!;
    if (leaf.epoch !== cow.epoch) {
      if (cow.liveViews > 0) {
        leaf = leaf.copy(cow.epoch);
        this.leaves[li] = leaf;
      } else {
        leaf.epoch = cow.epoch;
      }
    }
    return leaf;
  }

  /** Inserts a name known to be absent. The directory itself must be writable. */
  insert(name: string, ino: number, type: number, cow: Cow): void {
    this.count(type, 1);
    const v = ino * 16 + type;
    if (this.leaves.length === 0) {
      this.hintName = undefined;
      this.leaves.push(new Leaf(cow.epoch, [name], [v]));
      return;
    }
    let li: number;
    let pos: number;
    if (this.hintName === name) {
      li = this.hintLeaf;
      pos = this.hintPos;
    } else {
      const plain = isPlainName(name);
      li = this.leafFor(name, plain);
      pos = -this.leaves[li]!.search(name, plain) - 1;
    }
    this.hintName = undefined;
    const leaf = this.writableLeaf(li, cow);
    const n = leaf.names.length;
    if (n < LEAF_MAX) {
      if (pos === n) {
        leaf.names.push(name);
        leaf.vals.push(v);
      } else {
        leaf.names.splice(pos, 0, name);
        leaf.vals.splice(pos, 0, v);
      }
      return;
    }
    if (pos === n && li === this.leaves.length - 1) {
      // Appending past the last full leaf: start a new one (keeps sequential fills dense).
      this.leaves.push(new Leaf(cow.epoch, [name], [v]));
      return;
    }
    const half = LEAF_MAX >>> 1;
    const right = new Leaf(cow.epoch, leaf.names.splice(half), leaf.vals.splice(half));
    this.leaves.splice(li + 1, 0, right);
    const target = pos > half ? right : leaf;
    const at = pos > half ? pos - half : pos;
    target.names.splice(at, 0, name);
    target.vals.splice(at, 0, v);
  }

  /** Removes `name` if present; returns its inode (type in `lastType`) or −1. */
  remove(name: string, cow: Cow): number {
    if (this.leaves.length === 0) return -1;
    this.hintName = undefined;
    const plain = isPlainName(name);
    const li = this.leafFor(name, plain);
    const pos = this.leaves[li]!.search(name, plain);
    if (pos < 0) return -1;
    const leaf = this.writableLeaf(li, cow);
    const v = leaf.vals[pos]!;
    leaf.names.splice(pos, 1);
    leaf.vals.splice(pos, 1);
    if (leaf.names.length === 0) {
      this.leaves.splice(li, 1);
    } else if (li + 1 < this.leaves.length && leaf.names.length + this.leaves[li + 1]!.names.length <= LEAF_MAX >>> 1) {
      // Merge small neighbours so churn cannot leave many near-empty leaves.
      const next = this.leaves[li + 1]!;
      leaf.names.push(...next.names);
      leaf.vals.push(...next.vals);
      this.leaves.splice(li + 1, 1);
    }
    const type = v % 16;
    this.lastType = type;
    this.count(type, -1);
    return Math.floor(v / 16);
  }

  /** Replaces the inode/type of an existing name (rename over an existing entry). */
  replace(name: string, ino: number, type: number, cow: Cow): void {
    this.hintName = undefined;
    const plain = isPlainName(name);
    const li = this.leafFor(name, plain);
    const leaf = this.writableLeaf(li, cow);
    const pos = leaf.search(name, plain);
    this.count(leaf.vals[pos]! % 16, -1);
    leaf.vals[pos] = ino * 16 + type;
    this.count(type, 1);
  }

  /** Appends a name greater than every present name (snapshot load). */
  appendSorted(name: string, ino: number, type: number, epoch: number): void {
    this.count(type, 1);
    this.hintName = undefined;
    const leaf = this.leaves[this.leaves.length - 1];
    if (leaf === undefined || leaf.names.length === LEAF_MAX) {
      this.leaves.push(new Leaf(epoch, [name], [ino * 16 + type]));
    } else {
      leaf.names.push(name);
      leaf.vals.push(ino * 16 + type);
    }
  }

  /** Appends a whole leaf of names greater than every present name (snapshot load). */
  appendLeaf(names: string[], vals: number[], epoch: number): void {
    this.hintName = undefined;
    for (const v of vals) this.count(v % 16, 1);
    this.leaves.push(new Leaf(epoch, names, vals));
  }

  /** Last name, or undefined when empty. */
  lastName(): string | undefined {
    const leaf = this.leaves[this.leaves.length - 1];
    return leaf === undefined ? undefined : leaf.names[leaf.names.length - 1];
  }

  /**
   * Visits entries with name > startAfter in order until `visit` returns false. A page of a
   * listing costs two binary searches (O(log entries)) to find its start and then one visit per
   * entry: no copy or sort of the directory, so a page of a 10M-entry directory costs what a
   * page of a small one does. Returns the work done — leaves and names examined — which tests
   * count instead of timing.
   */
  scan(startAfter: string | undefined, visit: (name: string, ino: number, type: number) => boolean): number {
    const leaves = this.leaves;
    if (leaves.length === 0) return 0;
    let li = 0;
    let pos = 0;
    let work = 0;
    if (startAfter !== undefined) {
      const before = searchSteps;
      const plain = isPlainName(startAfter);
      li = this.leafFor(startAfter, plain);
      const p = leaves[li]!.search(startAfter, plain);
      pos = p >= 0 ? p + 1 : -p - 1;
      work += searchSteps - before;
    }
    for (; li < leaves.length; li++, pos = 0) {
      const leaf = leaves[li]!;
      for (; pos < leaf.names.length; pos++) {
        const v = leaf.vals[pos]!;
        work++;
        if (!visit(leaf.names[pos]!, Math.floor(v / 16), v % 16)) return work;
      }
    }
    return work;
  }

  private count(type: number, d: number): void {
    this.entries += d;
    if (type === FileType.TYPE_DIRECTORY) this.subdirs += d;
    else this.files += d;
  }
}
