// Inodes a read said have no extended attributes (the metaserver's `has_xattrs` in GetDentry,
// ListDentry and BatchGetInodeAttr answers), so a getxattr of one is answered ENODATA without a
// round trip. Why: `ls -l` asks security.selinux of every entry it lists, one GETXATTR per
// entry, each a metaserver read; the listing that came just before already said "none".
//
// Trusted as long as the attributes of that read would be (`ttlMs`, the kernel's attribute
// timeout): a name set by another client is seen within that time, as its ctime would be. A
// change of this client's own (setxattr, removexattr) is seen at once: it drops what is known,
// and answers of reads that may have started before it finished are not believed for `ttlMs`.
// ttlMs 0 keeps nothing (the SDK, which has no attribute timeout).
export class XattrAbsence {
  /** Inode -> when a read last said it has none. */
  private readonly none = new Map<number, number>();
  /** Inode -> when this client's last change of its xattrs ended (Infinity while in flight). */
  private readonly changed = new Map<number, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A read answered whether `ino` has extended attributes. */
  saw(ino: number, hasXattrs: boolean): void {
    if (this.ttlMs <= 0) return;
    if (hasXattrs) {
      this.none.delete(ino);
      return;
    }
    const t = this.now();
    const c = this.changed.get(ino);
    if (c !== undefined) {
      if (t - c <= this.ttlMs) return; // the read may have started before our change ended
      this.changed.delete(ino);
    }
    this.none.set(ino, t);
  }

  /** True when a read said, within the timeout, that `ino` has none. */
  has(ino: number): boolean {
    const at = this.none.get(ino);
    if (at === undefined) return false;
    if (this.now() - at > this.ttlMs) {
      this.none.delete(ino);
      return false;
    }
    return true;
  }

  /** Runs `fn`, a change of `ino`'s extended attributes by this client. */
  async change<T>(ino: number, fn: () => Promise<T>): Promise<T> {
    if (this.ttlMs <= 0) return fn();
    this.none.delete(ino);
    this.changed.set(ino, Infinity);
    try {
      return await fn();
    } finally {
      this.changed.set(ino, this.now());
    }
  }

  /** The kernel forgot `ino`. */
  forget(ino: number): void {
    this.none.delete(ino);
    this.changed.delete(ino);
  }

  get size(): number {
    return this.none.size;
  }
}
