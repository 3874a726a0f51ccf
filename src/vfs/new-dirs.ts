// Directories this client made itself, for the entry timeout after the make: a name in one of
// them that this client did not put there is known to be absent, without asking the metaserver.
//
// Why: the kernel looks a name up before every create (FUSE's atomic_open always does), and a
// name that is new is new to the kernel too, so its negative dentries never help `tar x`,
// `git clone` or `cp -r` — each new file cost a GetDentry that could only answer "no such name"
// because the directory was made a moment ago by the same program.
//
// Staleness: the same bound as a negative entry read from the metaserver. The directory was empty
// when its mkdir committed, which is after `made` was called with the time the mkdir was sent;
// another client can put a name in it only after that commit. An answer given at time t is
// cached by the kernel only until sent + ttl (the caller gives the kernel the time left), so
// another client's name stays unseen for at most `ttlMs` after it appeared — as with a negative
// entry the kernel keeps for the entry timeout.
//
// Names this client adds (create, mkdir, link, rename into the directory) are noted before the
// change is sent and are always asked for: the kernel may have dropped its dentry of one.
interface NewDir {
  /** Until when (this.now() clock) the directory's unknown names are known absent. */
  until: number;
  /** Names this client put in it (or may have: noted before the change was sent). */
  added: Set<string>;
}

export class NewDirs {
  private readonly dirs = new Map<number, NewDir>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The time to pass to `made` for a mkdir about to be sent. */
  sending(): number {
    return this.now();
  }

  /** Directory `ino` was made by this client; its mkdir was sent at `sentAt` (from `sending`). */
  made(ino: number, sentAt: number): void {
    if (this.ttlMs <= 0) return;
    this.prune();
    this.dirs.set(ino, { until: sentAt + this.ttlMs, added: new Set() });
  }

  /** This client is about to put `name` in `dir` (before the change is sent). */
  adding(dir: number, name: string): void {
    this.dirs.get(dir)?.added.add(name);
  }

  /** Milliseconds for which `name` in `dir` is known absent, or undefined: ask the metaserver. */
  absentFor(dir: number, name: string): number | undefined {
    const d = this.dirs.get(dir);
    if (!d || d.added.has(name)) return undefined;
    const left = d.until - this.now();
    if (left <= 0) {
      this.dirs.delete(dir);
      return undefined;
    }
    return left;
  }

  forget(ino: number): void {
    this.dirs.delete(ino);
  }

  /** Drops expired directories (oldest first: the map is in order of `made`, all with one ttl). */
  private prune(): void {
    const t = this.now();
    for (const [ino, d] of this.dirs) {
      if (d.until > t) break;
      this.dirs.delete(ino);
    }
  }
}
