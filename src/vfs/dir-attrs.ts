// An inode's attributes as answered by this mount's own change to it: a directory's from
// CreateFile, Unlink and CreateDentry (they answer the parent's new attributes) and from Rename
// and Rmdir when the leader can vouch that they include the change; any inode's from its own
// setattr (UpdateInode answers the inode).
//
// Why: the kernel drops its cached attributes of a directory after every change made through it
// and, with default_permissions, asks for them again (GETATTR) before the next path walk through
// that directory — one more round trip per create or unlink. Before a chown of a file it asks
// again too (to recompute set-user-id from a fresh mode: tar's fchown after its utimensat). The
// change's own answer is the inode as of that change, so the mount answers that GETATTR from it,
// for no longer than the kernel would have cached it (`ttlMs`, the attribute timeout).
//
// Only when no other change of this mount to the inode overlapped: answers of concurrent
// changes may arrive in any order, and the last to arrive need not be the last applied.
// Changes whose answers carry no attributes of it (xattrs, link, unlink; a rename or rmdir
// whose answer came without them) drop what is kept.
interface DirState<A> {
  /** Changes of this directory in flight. */
  inFlight: number;
  /** Changes started so far: tells a change whether another one began while it ran. */
  started: number;
  attr?: A;
  at: number;
}

export class DirChangeAttrs<A> {
  private readonly dirs = new Map<number, DirState<A>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs `fn`, a change of directory `dir`; `parentOf` reads the directory's new attributes from its result. */
  async change<T>(dir: number, fn: () => Promise<T>, parentOf: (r: T) => A | undefined): Promise<T> {
    let s = this.dirs.get(dir);
    if (!s) this.dirs.set(dir, (s = { inFlight: 0, started: 0, at: 0 }));
    s.inFlight++;
    const mine = ++s.started;
    s.attr = undefined;
    try {
      const r = await fn();
      const a = parentOf(r);
      if (a !== undefined && s.inFlight === 1 && s.started === mine) {
        s.attr = a;
        s.at = this.now();
      }
      return r;
    } finally {
      s.inFlight--;
      if (s.inFlight === 0 && s.attr === undefined && this.dirs.get(dir) === s) this.dirs.delete(dir);
    }
  }

  /** The attributes the last change of `dir` answered, while still within the timeout. */
  get(dir: number): A | undefined {
    const s = this.dirs.get(dir);
    if (!s?.attr) return undefined;
    if (this.now() - s.at > this.ttlMs) {
      s.attr = undefined;
      if (s.inFlight === 0) this.dirs.delete(dir);
      return undefined;
    }
    return s.attr;
  }

  /** Forgets `dir`'s attributes (it changed in a way whose answer did not carry them). */
  drop(dir: number): void {
    const s = this.dirs.get(dir);
    if (!s) return;
    s.attr = undefined;
    // A change in flight now must not keep its answer either: count the drop as a change.
    s.started++;
    if (s.inFlight === 0) this.dirs.delete(dir);
  }

  get size(): number {
    return this.dirs.size;
  }
}
