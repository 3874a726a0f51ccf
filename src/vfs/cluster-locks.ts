// File locks for a curvefs mount, held cluster-wide: every fcntl byte-range lock and flock lock
// lives in the replicated state of the partition that holds the inode (metaserver `Lock` RPC),
// so locks taken through different mounts conflict, survive a metaserver leader change, and go
// away with the mount's session if the mount dies.
//
// The metaserver answers at once (granted, or the conflicting lock); F_SETLKW and blocking flock
// wait here: retry with capped backoff, at once when this mount itself releases a lock on the
// inode, and give up with EINTR when the caller is interrupted. No deadlock detection (EDEADLK).
//
// A lock owner is (mount session, kernel lock owner): the kernel's 64-bit owner id is cut to 53
// bits to fit the wire's double (the ids are scrambled pointers, so collisions are negligible).
// This mount remembers which owners got locks on which inodes, so close(2) of a file that never
// locked costs no RPC.
//
// Locks lost with the session: when the mount's session ends (it was cut off from the MDS for
// longer than the session timeout) the metaservers drop every lock it held, and another client
// may have taken them since. A program must not go on believing it holds them, and they cannot be
// taken back silently (someone else may have changed the data meanwhile). So `sessionLost` marks
// every (inode, owner) that held a lock: that owner's next lock call on the inode (lock, change or
// unlock, POSIX or flock) and the release of its POSIX locks at close(2) fail with EIO, once;
// after that the owner starts clean and may lock again. F_GETLK and data I/O are unaffected
// (the locks are advisory: I/O never consulted them). docs/architecture.md §2.
import { create } from '@bufbuild/protobuf';
import { systemRandom, type Random } from '../common/index.ts';
import type { MetaClient } from '../client/index.ts';
import { FileLockSchema, LockType, type FileLock as WireLock } from '../gen/metaserver_pb.ts';
import { F_RDLCK, F_UNLCK, F_WRLCK, PosixError, type FileLock } from './types.ts';

/** Inclusive end meaning "to the end of the file" (the FUSE layer's OFFSET_MAX). */
export const LOCK_EOF = Number.MAX_SAFE_INTEGER;

export function ownerNumber(owner: bigint): number {
  return Number(BigInt.asUintN(53, owner));
}

function wireType(t: number): LockType {
  switch (t) {
    case F_RDLCK:
      return LockType.LOCK_READ;
    case F_WRLCK:
      return LockType.LOCK_WRITE;
    case F_UNLCK:
      return LockType.LOCK_UNLOCK;
    default:
      throw new PosixError('EINVAL', `lock type ${t}`);
  }
}

function fuseType(t: LockType): number {
  return t === LockType.LOCK_READ ? F_RDLCK : t === LockType.LOCK_WRITE ? F_WRLCK : F_UNLCK;
}

export interface SetLockOptions {
  flock: boolean;
  sleep: boolean;
  signal?: AbortSignal;
}

export class ClusterLocks {
  private readonly posixHeld = new Map<number, Set<bigint>>();
  private readonly flockHeld = new Map<number, Set<bigint>>();
  private readonly waiters = new Map<number, Set<() => void>>();
  /** Owners whose locks went with an ended session (see the header), by inode. */
  private readonly posixLost = new Map<number, Set<bigint>>();
  private readonly flockLost = new Map<number, Set<bigint>>();

  constructor(
    private readonly meta: MetaClient,
    /** The mount session in use (a function: a new session replaces an ended one). */
    private readonly session: number | (() => number),
    private readonly random: Random = systemRandom,
    private readonly maxWaitStepMs = 500,
  ) {}

  private get sessionId(): number {
    return typeof this.session === 'number' ? this.session : this.session();
  }

  /** The session that held this mount's locks ended: every lock held is lost (see the header). */
  sessionLost(): void {
    for (const [held, lost] of [[this.posixHeld, this.posixLost], [this.flockHeld, this.flockLost]] as const) {
      for (const [ino, owners] of held) for (const owner of owners) remember(lost, ino, owner);
      held.clear();
    }
    for (const ino of [...this.waiters.keys()]) this.wake(ino);
  }

  /** Throws EIO (once) when `owner`'s lock on `ino` was lost with the session. */
  private checkLost(lost: Map<number, Set<bigint>>, ino: number, owner: bigint): void {
    if (!lost.get(ino)?.has(owner)) return;
    forget(lost, ino, owner);
    throw new PosixError('EIO', `the lock on inode ${ino} was lost: the mount session ended while it was held`);
  }

  private wire(owner: bigint, lock: FileLock, flock: boolean, type = wireType(lock.type)): WireLock {
    return create(FileLockSchema, {
      start: flock ? 0 : lock.start,
      end: flock ? LOCK_EOF : lock.end,
      type,
      owner: ownerNumber(owner),
      sessionId: this.sessionId,
      pid: lock.pid >>> 0,
      flock,
    });
  }

  private call(ino: number, lock: WireLock, testOnly: boolean) {
    return this.meta.callForInode('lock', ino, { inodeId: ino, lock, testOnly });
  }

  /** F_GETLK: the first lock that would block `lock`, or `lock` with type F_UNLCK. */
  async test(ino: number, owner: bigint, lock: FileLock): Promise<FileLock> {
    const res = await this.call(ino, this.wire(owner, lock, false), true);
    if (res.granted || !res.conflict) return { start: lock.start, end: lock.end, type: F_UNLCK, pid: 0 };
    const c = res.conflict;
    return { start: c.start, end: c.end, type: fuseType(c.type), pid: c.sessionId === this.sessionId ? c.pid : 0 };
  }

  /** F_SETLK / F_SETLKW / flock: takes, changes or releases a lock. */
  async set(ino: number, owner: bigint, lock: FileLock, opts: SetLockOptions): Promise<void> {
    const lost = opts.flock ? this.flockLost : this.posixLost;
    this.checkLost(lost, ino, owner);
    const held = opts.flock ? this.flockHeld : this.posixHeld;
    if (wireType(lock.type) === LockType.LOCK_UNLOCK) {
      await this.call(ino, this.wire(owner, lock, opts.flock), false);
      if (opts.flock) forget(held, ino, owner);
      this.wake(ino);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      if (opts.signal?.aborted) throw new PosixError('EINTR', 'lock wait interrupted');
      // Each try under the session in use (a waiter's session may be replaced while it waits).
      if (attempt > 0) this.checkLost(lost, ino, owner);
      const want = this.wire(owner, lock, opts.flock);
      const res = await this.call(ino, want, false);
      if (res.granted) {
        // Granted to a session that ended meanwhile: lost already.
        if (want.sessionId !== this.sessionId) {
          throw new PosixError('EIO', `the lock on inode ${ino} was granted to a mount session that has ended`);
        }
        remember(held, ino, owner);
        return;
      }
      if (!opts.sleep) throw new PosixError('EAGAIN', 'lock held by another owner');
      // Converting a flock lock drops the old one before waiting (as Linux does).
      if (attempt === 0 && opts.flock && held.get(ino)?.has(owner)) {
        await this.call(ino, this.wire(owner, lock, true, LockType.LOCK_UNLOCK), false);
        forget(held, ino, owner);
        this.wake(ino);
      }
      await this.waitForChange(ino, attempt, opts.signal);
    }
  }

  /** close(2): every POSIX lock `owner` holds on the file goes. */
  async releasePosix(ino: number, owner: bigint): Promise<void> {
    this.checkLost(this.posixLost, ino, owner);
    if (!this.posixHeld.get(ino)?.has(owner)) return;
    const all: FileLock = { start: 0, end: LOCK_EOF, type: F_UNLCK, pid: 0 };
    await this.call(ino, this.wire(owner, all, false), false);
    forget(this.posixHeld, ino, owner);
    this.wake(ino);
  }

  /** Last close of an open file description: its flock lock goes. */
  async releaseFlock(ino: number, owner: bigint): Promise<void> {
    // A lost flock lock has nothing left to release (and release(2) reports nothing).
    forget(this.flockLost, ino, owner);
    if (!this.flockHeld.get(ino)?.has(owner)) return;
    const all: FileLock = { start: 0, end: LOCK_EOF, type: F_UNLCK, pid: 0 };
    await this.call(ino, this.wire(owner, all, true), false);
    forget(this.flockHeld, ino, owner);
    this.wake(ino);
  }

  /** Whether this mount holds any lock (for tests and diagnostics). */
  get held(): number {
    let n = 0;
    for (const s of this.posixHeld.values()) n += s.size;
    for (const s of this.flockHeld.values()) n += s.size;
    return n;
  }

  private wake(ino: number): void {
    const w = this.waiters.get(ino);
    if (!w) return;
    this.waiters.delete(ino);
    for (const f of w) f();
  }

  /** Waits for a retry: a backoff step, a local release on `ino`, or an interrupt (EINTR). */
  private waitForChange(ino: number, attempt: number, signal?: AbortSignal): Promise<void> {
    const base = Math.min(this.maxWaitStepMs, 5 * 2 ** Math.min(attempt, 10));
    const delay = base * (0.8 + 0.4 * this.random.next());
    return new Promise<void>((resolve, reject) => {
      let set = this.waiters.get(ino);
      if (!set) this.waiters.set(ino, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        clearTimeout(timer);
        set.delete(done);
        reject(new PosixError('EINTR', 'lock wait interrupted'));
      };
      const timer = setTimeout(done, delay);
      set.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function remember(m: Map<number, Set<bigint>>, ino: number, owner: bigint): void {
  let s = m.get(ino);
  if (!s) m.set(ino, (s = new Set()));
  s.add(owner);
}

function forget(m: Map<number, Set<bigint>>, ino: number, owner: bigint): void {
  const s = m.get(ino);
  if (!s) return;
  s.delete(owner);
  if (s.size === 0) m.delete(ino);
}
