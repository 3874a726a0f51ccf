// Cluster-wide file locks (fcntl byte-range locks and flock), kept in the replicated state of the
// partition that holds the inode, so every mount sees the same locks and a leader change keeps
// them. Pure and deterministic: changed only by applied log entries.
//
// Semantics (Linux):
//  - a lock belongs to an owner = (session, lock owner from the kernel); fcntl and flock locks
//    are separate namespaces and never conflict with each other;
//  - two locks conflict when their owners differ, their ranges overlap and one is a write lock;
//  - setting a lock replaces the owner's own locks in that range (upgrade, downgrade, split) and
//    merges adjacent or overlapping ranges of the same type; unlock removes the owner's range;
//  - every lock of a session goes away when the session expires.
import { create } from '@bufbuild/protobuf';
import { FileLockSchema, LockType, type FileLock } from '../../gen/metaserver_pb.ts';

/** Inclusive end meaning "to the end of the file". */
export const LOCK_EOF = Number.MAX_SAFE_INTEGER;

export interface LockOutcome {
  granted: boolean;
  conflict?: FileLock;
}

function sameOwner(a: FileLock, b: FileLock): boolean {
  return a.sessionId === b.sessionId && a.owner === b.owner && a.flock === b.flock;
}

function overlaps(a: FileLock, start: number, end: number): boolean {
  return a.start <= end && start <= a.end;
}

function conflicts(held: FileLock, want: FileLock): boolean {
  return (
    held.flock === want.flock &&
    !(held.sessionId === want.sessionId && held.owner === want.owner) &&
    overlaps(held, want.start, want.end) &&
    (held.type === LockType.LOCK_WRITE || want.type === LockType.LOCK_WRITE)
  );
}

function copyLock(l: FileLock, start: number, end: number, type = l.type): FileLock {
  return create(FileLockSchema, { start, end, type, owner: l.owner, sessionId: l.sessionId, pid: l.pid, flock: l.flock });
}

/** The locks of one inode. Lists are replaced, never mutated in place (cheap snapshot views). */
export class FileLockTable {
  private readonly byInode = new Map<number, readonly FileLock[]>();

  /** Normalises a request: flock locks cover the whole file. */
  static normalise(l: FileLock): FileLock {
    return l.flock ? copyLock(l, 0, LOCK_EOF) : l;
  }

  test(ino: number, want: FileLock): LockOutcome {
    const w = FileLockTable.normalise(want);
    if (w.type === LockType.LOCK_UNLOCK) return { granted: true };
    const c = (this.byInode.get(ino) ?? []).find((h) => conflicts(h, w));
    return c ? { granted: false, conflict: c } : { granted: true };
  }

  /** Sets or clears a lock (F_SETLK / flock without blocking: a conflict is reported, not waited). */
  apply(ino: number, want: FileLock): LockOutcome {
    const w = FileLockTable.normalise(want);
    const held = this.byInode.get(ino) ?? [];
    if (w.type !== LockType.LOCK_UNLOCK) {
      const c = held.find((h) => conflicts(h, w));
      if (c) return { granted: false, conflict: c };
    }
    // Cut the owner's locks out of [start, end].
    const next: FileLock[] = [];
    for (const h of held) {
      if (!sameOwner(h, w) || !overlaps(h, w.start, w.end)) {
        next.push(h);
        continue;
      }
      if (h.start < w.start) next.push(copyLock(h, h.start, w.start - 1));
      if (h.end > w.end) next.push(copyLock(h, w.end + 1, h.end));
    }
    if (w.type !== LockType.LOCK_UNLOCK) {
      // Merge with the owner's adjacent locks of the same type.
      let start = w.start;
      let end = w.end;
      for (let i = next.length - 1; i >= 0; i--) {
        const h = next[i]!;
        if (sameOwner(h, w) && h.type === w.type && h.start <= end + 1 && start <= h.end + 1) {
          start = Math.min(start, h.start);
          end = Math.max(end, h.end);
          next.splice(i, 1);
        }
      }
      next.push(copyLock(w, start, end));
    }
    next.sort((a, b) => a.start - b.start || a.sessionId - b.sessionId || a.owner - b.owner);
    this.set(ino, next);
    return { granted: true };
  }

  /** Drops every lock of the given sessions; returns how many were dropped. */
  expireSessions(sessions: ReadonlySet<number>): number {
    let dropped = 0;
    for (const [ino, list] of [...this.byInode]) {
      const keep = list.filter((l) => !sessions.has(l.sessionId));
      dropped += list.length - keep.length;
      if (keep.length !== list.length) this.set(ino, keep);
    }
    return dropped;
  }

  /** Forgets an inode (deleted). */
  drop(ino: number): void {
    this.byInode.delete(ino);
  }

  locks(ino: number): readonly FileLock[] {
    return this.byInode.get(ino) ?? [];
  }

  get size(): number {
    let n = 0;
    for (const l of this.byInode.values()) n += l.length;
    return n;
  }

  /** (ino, locks) sorted by inode, for snapshots. */
  entries(): [number, readonly FileLock[]][] {
    return [...this.byInode].sort((a, b) => a[0] - b[0]);
  }

  load(ino: number, locks: FileLock[]): void {
    this.set(ino, locks);
  }

  private set(ino: number, list: readonly FileLock[]): void {
    if (list.length === 0) this.byInode.delete(ino);
    else this.byInode.set(ino, list);
  }
}
