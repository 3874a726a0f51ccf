// Where the kernel has each directory of this mount in its dentry cache: the (parent, name) of
// the last entry this mount gave it. The kernel keeps ONE dentry per directory inode, so when a
// lookup finds a directory at another place (another mount moved it), the kernel must move its
// old dentry there — and only tries (a trylock of the rename mutex and of the old parent), failing
// the lookup with ESTALE when a rename is in progress on this mount. Dropping the old dentry
// first (FUSE_NOTIFY_INVAL_ENTRY) leaves nothing to move.
import type { FuseNotifier } from '../fuse/index.ts';

interface Place {
  parent: number;
  name: string;
}

/**
 * How long a lookup waits for the kernel to take the invalidation before answering anyway: the
 * kernel takes the old parent's lock for it, which a request waiting on this very lookup may hold
 * (a rename out of the old parent into the lookup's); answering releases that request, and the
 * invalidation lands after it.
 */
const INVAL_WAIT_MS = 100;

export class KernelDirNames {
  private readonly at = new Map<number, Place>();
  private notifier: FuseNotifier | undefined;

  attach(notifier: FuseNotifier): void {
    this.notifier = notifier;
  }

  /** The kernel gets new directory `ino` as `name` in `parent` (mkdir). */
  made(ino: number, parent: number, name: string): void {
    this.at.set(ino, { parent, name });
  }

  /**
   * A listing (READDIRPLUS) showed directory `ino` as `name` in `parent`. Only a directory not
   * known yet is recorded: one the kernel has elsewhere it may not move there (it then skips
   * the entry), and the old place is what a later lookup must drop.
   */
  listed(ino: number, parent: number, name: string): void {
    if (!this.at.has(ino)) this.at.set(ino, { parent, name });
  }

  /**
   * Before a lookup answers directory `ino` at (parent, name): if the kernel has it elsewhere in
   * another directory, drop that dentry (waiting at most INVAL_WAIT_MS), then remember the new place.
   */
  async moving(ino: number, parent: number, name: string): Promise<void> {
    const old = this.at.get(ino);
    this.at.set(ino, { parent, name });
    // Within one directory the kernel moves the dentry without a trylock: nothing to do.
    if (!old || !this.notifier || old.parent === parent) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      // ENOENT (the kernel no longer has it) or a session that ended: nothing left to drop.
      this.notifier.invalEntry(old.parent, old.name).catch(() => undefined),
      new Promise<void>((r) => (timer = setTimeout(r, INVAL_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  forget(ino: number): void {
    this.at.delete(ino);
  }
}
