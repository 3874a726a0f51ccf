// The entries of one directory, sorted by UTF-8 byte order of their names: a list of leaves of
// up to LEAF_MAX sorted entries (a two-level B-tree with a wide root). Lookup is two binary
// searches; insert touches one leaf (plus a splice of the leaf list when a leaf splits, every
// ~64 inserts). Appends at the end fill leaves completely, so sequential creates and snapshot
// loads use memory tightly. Leaves and the directory are copy-on-write by epoch (inode-store.ts).
import { compareNames } from './names.ts';
import { FileType } from './types.ts';
import type { Cow } from './inode-store.ts';

export const LEAF_MAX = 128;
const LEAF_MIN_CAP = 4;

export class Leaf {
  constructor(
    public epoch: number,
    public n: number,
    public names: string[],
    public inos: Float64Array,
    public types: Uint8Array,
  ) {}

  static create(epoch: number, cap: number): Leaf {
    return new Leaf(epoch, 0, [], new Float64Array(cap), new Uint8Array(cap));
  }

  copy(epoch: number, cap: number): Leaf {
    const l = Leaf.create(epoch, cap);
    l.n = this.n;
    l.names = this.names.slice();
    l.inos.set(this.inos.subarray(0, this.n));
    l.types.set(this.types.subarray(0, this.n));
    return l;
  }

  /** Position of `name`, or −(insertion point) − 1. */
  search(name: string): number {
    let lo = 0;
    let hi = this.n - 1;
    const names = this.names;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareNames(names[mid]!, name);
      if (c < 0) lo = mid + 1;
      else if (c > 0) hi = mid - 1;
      else return mid;
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
  private leafFor(name: string): number {
    const leaves = this.leaves;
    let lo = 0;
    let hi = leaves.length - 1;
    // Last leaf whose first name ≤ name (or 0).
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareNames(leaves[mid]!.names[0]!, name) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Child inode of `name`, or −1. The type is left in `lastType`. */
  lookup(name: string): number {
    if (this.leaves.length === 0) return -1;
    const leaf = this.leaves[this.leafFor(name)]!;
    const pos = leaf.search(name);
    if (pos < 0) return -1;
    this.lastType = leaf.types[pos]!;
    return leaf.inos[pos]!;
  }
  lastType: number = 0;

  private writableLeaf(li: number, cow: Cow): Leaf {
    let leaf = this.leaves[li]!;
    if (leaf.epoch !== cow.epoch) {
      if (cow.liveViews > 0) {
        leaf = leaf.copy(cow.epoch, leaf.inos.length);
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
    if (this.leaves.length === 0) {
      const leaf = Leaf.create(cow.epoch, LEAF_MIN_CAP);
      this.leaves.push(leaf);
      put(leaf, 0, name, ino, type);
      return;
    }
    const li = this.leafFor(name);
    let leaf = this.writableLeaf(li, cow);
    const pos = -leaf.search(name) - 1;
    if (leaf.n === LEAF_MAX) {
      if (pos === LEAF_MAX && li === this.leaves.length - 1) {
        // Appending past the last full leaf: start a new one (keeps sequential fills dense).
        const fresh = Leaf.create(cow.epoch, LEAF_MIN_CAP);
        put(fresh, 0, name, ino, type);
        this.leaves.push(fresh);
        return;
      }
      const half = LEAF_MAX >>> 1;
      const right = Leaf.create(cow.epoch, LEAF_MAX);
      right.names = leaf.names.splice(half);
      right.inos.set(leaf.inos.subarray(half, LEAF_MAX));
      right.types.set(leaf.types.subarray(half, LEAF_MAX));
      right.n = LEAF_MAX - half;
      leaf.n = half;
      this.leaves.splice(li + 1, 0, right);
      if (pos > half) {
        put(right, pos - half, name, ino, type);
        return;
      }
    } else if (leaf.n === leaf.inos.length) {
      leaf = growLeaf(leaf, Math.min(LEAF_MAX, leaf.n * 2));
      this.leaves[li] = leaf;
    }
    put(leaf, pos, name, ino, type);
  }

  /** Removes `name` if present; returns its inode (type in `lastType`) or −1. */
  remove(name: string, cow: Cow): number {
    if (this.leaves.length === 0) return -1;
    const li = this.leafFor(name);
    if (this.leaves[li]!.search(name) < 0) return -1;
    const leaf = this.writableLeaf(li, cow);
    const pos = leaf.search(name);
    const ino = leaf.inos[pos]!;
    const type = leaf.types[pos]!;
    leaf.names.splice(pos, 1);
    leaf.inos.copyWithin(pos, pos + 1, leaf.n);
    leaf.types.copyWithin(pos, pos + 1, leaf.n);
    leaf.n--;
    if (leaf.n === 0) {
      this.leaves.splice(li, 1);
    } else if (li + 1 < this.leaves.length && leaf.n + this.leaves[li + 1]!.n <= LEAF_MAX >>> 1) {
      // Merge small neighbours so churn cannot leave many near-empty leaves.
      const next = this.leaves[li + 1]!;
      let target = leaf;
      if (target.inos.length < target.n + next.n) target = growLeaf(target, LEAF_MAX);
      for (let k = 0; k < next.n; k++) put(target, target.n, next.names[k]!, next.inos[k]!, next.types[k]!);
      this.leaves[li] = target;
      this.leaves.splice(li + 1, 1);
    }
    this.lastType = type;
    this.count(type, -1);
    return ino;
  }

  /** Replaces the inode/type of an existing name (rename over an existing entry). */
  replace(name: string, ino: number, type: number, cow: Cow): void {
    const li = this.leafFor(name);
    const leaf = this.writableLeaf(li, cow);
    const pos = leaf.search(name);
    this.count(leaf.types[pos]!, -1);
    leaf.inos[pos] = ino;
    leaf.types[pos] = type;
    this.count(type, 1);
  }

  /** Appends a name greater than every present name (snapshot load). */
  appendSorted(name: string, ino: number, type: number, epoch: number): void {
    this.count(type, 1);
    let leaf = this.leaves[this.leaves.length - 1];
    if (leaf === undefined || leaf.n === LEAF_MAX) {
      leaf = Leaf.create(epoch, LEAF_MIN_CAP);
      this.leaves.push(leaf);
    } else if (leaf.n === leaf.inos.length) {
      leaf = growLeaf(leaf, Math.min(LEAF_MAX, leaf.n * 2));
      this.leaves[this.leaves.length - 1] = leaf;
    }
    put(leaf, leaf.n, name, ino, type);
  }

  /** Last name, or undefined when empty. */
  lastName(): string | undefined {
    const leaf = this.leaves[this.leaves.length - 1];
    return leaf === undefined ? undefined : leaf.names[leaf.n - 1];
  }

  /**
   * Visits entries with name > startAfter in order until `visit` returns false.
   */
  scan(startAfter: string | undefined, visit: (name: string, ino: number, type: number) => boolean): void {
    const leaves = this.leaves;
    if (leaves.length === 0) return;
    let li = 0;
    let pos = 0;
    if (startAfter !== undefined) {
      li = this.leafFor(startAfter);
      const p = leaves[li]!.search(startAfter);
      pos = p >= 0 ? p + 1 : -p - 1;
    }
    for (; li < leaves.length; li++, pos = 0) {
      const leaf = leaves[li]!;
      for (; pos < leaf.n; pos++) {
        if (!visit(leaf.names[pos]!, leaf.inos[pos]!, leaf.types[pos]!)) return;
      }
    }
  }

  private count(type: number, d: number): void {
    this.entries += d;
    if (type === FileType.TYPE_DIRECTORY) this.subdirs += d;
    else this.files += d;
  }
}

function put(leaf: Leaf, pos: number, name: string, ino: number, type: number): void {
  if (pos < leaf.n) {
    leaf.names.splice(pos, 0, name);
    leaf.inos.copyWithin(pos + 1, pos, leaf.n);
    leaf.types.copyWithin(pos + 1, pos, leaf.n);
  } else {
    leaf.names.push(name);
  }
  leaf.inos[pos] = ino;
  leaf.types[pos] = type;
  leaf.n++;
}

function growLeaf(leaf: Leaf, cap: number): Leaf {
  const l = new Leaf(leaf.epoch, leaf.n, leaf.names, new Float64Array(cap), new Uint8Array(cap));
  l.inos.set(leaf.inos.subarray(0, leaf.n));
  l.types.set(leaf.types.subarray(0, leaf.n));
  return l;
}
