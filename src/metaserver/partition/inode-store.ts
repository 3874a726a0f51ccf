// Compact inode storage: struct-of-arrays in pages of 1024 inode slots, indexed by
// (inodeId − range start). Ids are handed out sequentially, so pages are dense. Numeric fields
// live in three typed arrays per page (≈69 bytes per inode); rare fields (symlink, rdev, dtime,
// extra parents, xattrs, block map) live in an immutable InodeExtra allocated only when needed.
//
// Copy-on-write: freeze() bumps `epoch`; every page, directory, leaf and client window carries
// the epoch it was written in. While a frozen view is alive, mutating an object from an older
// epoch first clones it, so the view keeps seeing the state of the moment it was taken (the
// snapshot writer streams from it while ops keep being applied). With no live view, objects are
// adopted in place. InodeExtra objects are never mutated (every change builds a new one), so
// sharing them needs no copy at all.
import type { ChunkSlice } from './types.ts';
import type { Directory } from './directory.ts';

export const PAGE_BITS = 10;
export const PAGE_SIZE = 1 << PAGE_BITS;

// Float64 fields of a slot (stride F64_STRIDE).
export const F_LENGTH = 0;
export const F_CTIME = 1;
export const F_MTIME = 2;
export const F_ATIME = 3;
/** The first parent (0 = none); further parents are in InodeExtra.parents. */
export const F_PARENT = 4;
export const F64_STRIDE = 5;

// Uint32 fields of a slot (stride U32_STRIDE).
export const U_CTIME_NS = 0;
export const U_MTIME_NS = 1;
export const U_ATIME_NS = 2;
export const U_UID = 3;
export const U_GID = 4;
export const U_MODE = 5;
export const U_NLINK = 6;
export const U32_STRIDE = 7;

/** Rare inode fields. Immutable: changes build a new object (see the file comment). */
export class InodeExtra {
  constructor(
    readonly symlink: string,
    readonly rdev: number,
    readonly dtime: number,
    /** Parents after the first (hard links). */
    readonly parents: readonly number[] | null,
    readonly xattrs: ReadonlyMap<string, Uint8Array> | null,
    /** Sum of UTF-8 name bytes + value bytes of all xattrs. */
    readonly xattrBytes: number,
    readonly chunks: ReadonlyMap<number, readonly ChunkSlice[]> | null,
  ) {}

  static readonly EMPTY = new InodeExtra('', 0, 0, null, null, 0, null);

  with(ch: Partial<Pick<InodeExtra, 'symlink' | 'rdev' | 'dtime' | 'parents' | 'xattrs' | 'xattrBytes' | 'chunks'>>): InodeExtra {
    return new InodeExtra(
      ch.symlink ?? this.symlink,
      ch.rdev ?? this.rdev,
      ch.dtime ?? this.dtime,
      ch.parents !== undefined ? ch.parents : this.parents,
      ch.xattrs !== undefined ? ch.xattrs : this.xattrs,
      ch.xattrBytes ?? this.xattrBytes,
      ch.chunks !== undefined ? ch.chunks : this.chunks,
    );
  }

  get isEmpty(): boolean {
    return (
      this.symlink === '' &&
      this.rdev === 0 &&
      this.dtime === 0 &&
      this.parents === null &&
      this.xattrs === null &&
      this.chunks === null
    );
  }
}

export class Page {
  constructor(
    public epoch: number,
    public cap: number,
    public f64: Float64Array,
    public u32: Uint32Array,
    /** FileType per slot; 0 = no inode. */
    public type: Uint8Array,
    public extras: (InodeExtra | undefined)[] | null,
    public dirs: (Directory | undefined)[] | null,
  ) {}

  static create(epoch: number, cap: number): Page {
    // One allocation for the three arrays (allocating fresh memory dominates page creation).
    const f64Bytes = cap * F64_STRIDE * 8;
    const u32Bytes = cap * U32_STRIDE * 4;
    const buf = new ArrayBuffer(f64Bytes + u32Bytes + cap);
    return new Page(
      epoch,
      cap,
      new Float64Array(buf, 0, cap * F64_STRIDE),
      new Uint32Array(buf, f64Bytes, cap * U32_STRIDE),
      new Uint8Array(buf, f64Bytes + u32Bytes, cap),
      null,
      null,
    );
  }

  /** A copy with capacity `cap` (≥ this.cap) owned by `epoch`. */
  copy(epoch: number, cap: number): Page {
    const p = Page.create(epoch, cap);
    p.f64.set(this.f64);
    p.u32.set(this.u32);
    p.type.set(this.type);
    p.extras = this.extras ? this.extras.slice() : null;
    p.dirs = this.dirs ? this.dirs.slice() : null;
    return p;
  }
}

/** Shared copy-on-write bookkeeping of one partition. */
export class Cow {
  epoch = 1;
  liveViews = 0;
}

export class InodeStore {
  pages: (Page | undefined)[] = [];

  constructor(
    readonly start: number,
    readonly cow: Cow,
  ) {}

  /** Page holding `id` if allocated (the slot may still be empty: check type[index]). */
  page(id: number): Page | undefined {
    const slot = id - this.start;
    const p = this.pages[(slot / PAGE_SIZE) | 0];
    return p !== undefined && slot % PAGE_SIZE < p.cap ? p : undefined;
  }

  /** Index of `id` inside its page. */
  index(id: number): number {
    return (id - this.start) % PAGE_SIZE;
  }

  exists(id: number): boolean {
    const p = this.page(id);
    return p !== undefined && p.type[(id - this.start) % PAGE_SIZE] !== 0;
  }

  /** Page holding `id`, writable in the current epoch, with room for the slot. */
  writable(id: number): Page {
    const slot = id - this.start;
    const pn = (slot / PAGE_SIZE) | 0;
    const i = slot % PAGE_SIZE;
    let p = this.pages[pn];
    const cow = this.cow;
    if (p === undefined) {
      // Ids are handed out in order, so only a partition's first page grows gradually (small
      // partitions stay small); later pages are allocated whole.
      p = Page.create(cow.epoch, pn === 0 ? Math.max(16, nextPow2(i + 1)) : PAGE_SIZE);
      this.pages[pn] = p;
      return p;
    }
    if (i >= p.cap) {
      p = p.copy(cow.epoch, Math.min(PAGE_SIZE, nextPow2(i + 1) * 2));
      this.pages[pn] = p;
    } else if (p.epoch !== cow.epoch) {
      if (cow.liveViews > 0) {
        p = p.copy(cow.epoch, p.cap);
        this.pages[pn] = p;
      } else {
        p.epoch = cow.epoch;
      }
    }
    return p;
  }
}

function nextPow2(n: number): number {
  let c = 1;
  while (c < n) c *= 2;
  return c;
}
