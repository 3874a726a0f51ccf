// Open handles of one partition's inodes, per mount session: what keeps an unlinked (nlink 0)
// inode's data alive until the last handle closes or its session expires (deferred deletion,
// docs/architecture.md §6). Replicated state, changed only by applied log entries.
export class OpenHandleTable {
  /** ino → session → open count. */
  private readonly byInode = new Map<number, Map<number, number>>();

  open(ino: number, session: number): void {
    let s = this.byInode.get(ino);
    if (!s) this.byInode.set(ino, (s = new Map()));
    s.set(session, (s.get(session) ?? 0) + 1);
  }

  /** Releases one handle; releasing a handle that is not open is a no-op (retries, expiry). */
  release(ino: number, session: number): void {
    const s = this.byInode.get(ino);
    const n = s?.get(session);
    if (!s || n === undefined) return;
    if (n <= 1) s.delete(session);
    else s.set(session, n - 1);
    if (s.size === 0) this.byInode.delete(ino);
  }

  isOpen(ino: number): boolean {
    return this.byInode.has(ino);
  }

  /** Sessions holding `ino` open. */
  sessions(ino: number): number[] {
    return [...(this.byInode.get(ino)?.keys() ?? [])];
  }

  expireSessions(sessions: ReadonlySet<number>): number {
    let dropped = 0;
    for (const [ino, s] of [...this.byInode]) {
      for (const id of [...s.keys()]) {
        if (sessions.has(id)) {
          s.delete(id);
          dropped++;
        }
      }
      if (s.size === 0) this.byInode.delete(ino);
    }
    return dropped;
  }

  /** Every session that holds a handle here. */
  allSessions(): Set<number> {
    const out = new Set<number>();
    for (const s of this.byInode.values()) for (const id of s.keys()) out.add(id);
    return out;
  }

  drop(ino: number): void {
    this.byInode.delete(ino);
  }

  get size(): number {
    return this.byInode.size;
  }

  /** [ino, session, count] sorted, for snapshots. */
  entries(): [number, number, number][] {
    const out: [number, number, number][] = [];
    for (const [ino, s] of this.byInode) for (const [session, n] of s) out.push([ino, session, n]);
    return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  load(ino: number, session: number, count: number): void {
    let s = this.byInode.get(ino);
    if (!s) this.byInode.set(ino, (s = new Map()));
    s.set(session, count);
  }
}
