// File locks of one lock domain (one mount for memfs): POSIX byte-range locks owned by lock
// owners, and flock locks owned by open file descriptions. Pure bookkeeping, no I/O; blocked
// requests wait on promises that settle when the conflict goes away or the caller is interrupted.
//
// POSIX semantics: a lock owner never conflicts with itself; a new lock replaces the owner's
// overlapping ranges (splitting them) and merges with touching ranges of the same type; read
// locks share, write locks exclude. flock: one lock per owner per file, shared or exclusive.

import { E, Errno, F_RDLCK, F_UNLCK, F_WRLCK, type FileLock } from './ops.ts';

interface PosixLock {
  owner: bigint;
  start: number;
  end: number; // inclusive
  type: number;
  pid: number;
}
interface Waiter {
  ino: number;
  owner: bigint;
  lock: FileLock;
  flock: boolean;
  grant: () => void;
}

function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start <= b.end && b.start <= a.end;
}
function conflicts(held: number, wanted: number): boolean {
  return held === F_WRLCK || wanted === F_WRLCK;
}

export class LockTable {
  private readonly posix = new Map<number, PosixLock[]>();
  private readonly flocks = new Map<number, Map<bigint, { type: number; pid: number }>>();
  private waiters: Waiter[] = [];

  /** The first lock that would block `lock` for `owner`, or an F_UNLCK lock when none. */
  test(ino: number, owner: bigint, lock: FileLock): FileLock {
    for (const l of this.posix.get(ino) ?? []) {
      if (l.owner !== owner && overlaps(l, lock) && conflicts(l.type, lock.type)) {
        return { start: l.start, end: l.end, type: l.type, pid: l.pid };
      }
    }
    return { start: lock.start, end: lock.end, type: F_UNLCK, pid: 0 };
  }

  /**
   * Takes or releases a lock. Without `sleep` a conflict is EAGAIN; with it the promise waits
   * until granted, or rejects with EINTR when `signal` aborts.
   */
  set(ino: number, owner: bigint, lock: FileLock, opts: { flock: boolean; sleep: boolean; signal?: AbortSignal }): Promise<void> | void {
    if (lock.type !== F_RDLCK && lock.type !== F_WRLCK && lock.type !== F_UNLCK) throw new Errno(E.EINVAL, 'lock type');
    if (lock.type === F_UNLCK) {
      if (opts.flock) this.flocks.get(ino)?.delete(owner);
      else this.unlockRange(ino, owner, lock.start, lock.end);
      this.wake();
      return;
    }
    if (!this.blocked(ino, owner, lock, opts.flock)) {
      this.grant(ino, owner, lock, opts.flock);
      return;
    }
    if (!opts.sleep) throw new Errno(E.EAGAIN, 'lock held by another owner');
    if (opts.signal?.aborted) throw new Errno(E.EINTR, 'interrupted');
    // flock conversion drops the old lock before waiting (as Linux does).
    if (opts.flock && this.flocks.get(ino)?.delete(owner)) this.wake();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        ino,
        owner,
        lock,
        flock: opts.flock,
        grant: () => {
          opts.signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Errno(E.EINTR, 'lock wait interrupted'));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  /** Drops every POSIX lock `owner` holds on `ino` (close(2) of any descriptor of the file). */
  releasePosixOwner(ino: number, owner: bigint): void {
    const list = this.posix.get(ino);
    if (!list) return;
    const kept = list.filter((l) => l.owner !== owner);
    if (kept.length === list.length) return;
    if (kept.length) this.posix.set(ino, kept);
    else this.posix.delete(ino);
    this.wake();
  }

  /** Drops the flock lock of an open file description (its last close). */
  releaseFlockOwner(ino: number, owner: bigint): void {
    if (this.flocks.get(ino)?.delete(owner)) this.wake();
  }

  /** Every lock on `ino`, for tests and diagnostics. */
  locksOf(ino: number): { posix: FileLock[]; flock: number[] } {
    return {
      posix: (this.posix.get(ino) ?? []).map((l) => ({ start: l.start, end: l.end, type: l.type, pid: l.pid })),
      flock: [...(this.flocks.get(ino)?.values() ?? [])].map((f) => f.type),
    };
  }

  private blocked(ino: number, owner: bigint, lock: FileLock, flock: boolean): boolean {
    if (flock) {
      for (const [o, f] of this.flocks.get(ino) ?? []) if (o !== owner && conflicts(f.type, lock.type)) return true;
      return false;
    }
    return this.test(ino, owner, lock).type !== F_UNLCK;
  }

  private grant(ino: number, owner: bigint, lock: FileLock, flock: boolean): void {
    if (flock) {
      let m = this.flocks.get(ino);
      if (!m) this.flocks.set(ino, (m = new Map()));
      m.set(owner, { type: lock.type, pid: lock.pid });
      return;
    }
    this.unlockRange(ino, owner, lock.start, lock.end);
    const list = this.posix.get(ino) ?? [];
    let add: PosixLock = { owner, start: lock.start, end: lock.end, type: lock.type, pid: lock.pid };
    // Merge with the owner's touching ranges of the same type.
    const rest: PosixLock[] = [];
    for (const l of list) {
      const touches = l.start <= add.end + 1 && add.start <= l.end + 1;
      if (l.owner === owner && l.type === add.type && touches) {
        add = { ...add, start: Math.min(l.start, add.start), end: Math.max(l.end, add.end) };
      } else rest.push(l);
    }
    rest.push(add);
    rest.sort((a, b) => a.start - b.start);
    this.posix.set(ino, rest);
  }

  /** Removes [start, end] from the owner's locks on ino, splitting ranges that straddle it. */
  private unlockRange(ino: number, owner: bigint, start: number, end: number): void {
    const list = this.posix.get(ino);
    if (!list) return;
    const out: PosixLock[] = [];
    for (const l of list) {
      if (l.owner !== owner || !overlaps(l, { start, end })) {
        out.push(l);
        continue;
      }
      if (l.start < start) out.push({ ...l, end: start - 1 });
      if (l.end > end) out.push({ ...l, start: end + 1 });
    }
    if (out.length) this.posix.set(ino, out);
    else this.posix.delete(ino);
  }

  /** Grants waiting requests whose conflicts are gone, oldest first. */
  private wake(): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const w of this.waiters) {
        if (this.blocked(w.ino, w.owner, w.lock, w.flock)) continue;
        this.waiters = this.waiters.filter((x) => x !== w);
        this.grant(w.ino, w.owner, w.lock, w.flock);
        w.grant();
        progress = true;
        break;
      }
    }
  }
}
