// The data state of one regular file open in this client (the mount or the SDK), shared by
// every open handle of it: the block map and length as of open (close-to-open: re-read at every
// open), a write buffer, and the commits that turn buffered writes into slices in the inode.
//
//   write ──▶ WriteBuffer (full blocks upload at once) ──commit──▶ AppendChunks (one log entry)
//
// A setattr of a file with buffered writes (tar: write, then utimensat) commits them and the
// attribute change in one log entry (AppendAndUpdateInode) instead of two. For a file this
// client created (`deferSetattrs`), a setattr waits for the next commit instead
// (deferred-attrs.ts): tar's write, utimensat, fchown and fchmod are then one commit at close.
//
// A commit runs on fsync, on close (FLUSH), when `commitBytes` were written since the last one,
// and `commitAgeMs` after the first write since the last one. Reads see buffered data
// (read-your-writes) and slices of a commit in flight (they enter the local block map the moment
// the buffer hands them over). Truncate, fallocate and commits run one at a time, in order.
//
// A failed upload or commit poisons the file: the data is lost (as with a failed writeback in the
// kernel), and the next fsync or close reports the error.
import { createLogger, systemClock, type Clock } from '../common/index.ts';
import { blockMapOf, type FsCore, type SetAttrArgs } from '../client/index.ts';
import { appendSlices, WriteBuffer, type BlockMap, type ChunkSlice, type FileDataIO } from '../data/index.ts';
import type { Inode, InodeAttr } from '../gen/metaserver_pb.ts';
import { allocationOf, type Allocation } from './allocation.ts';
import { DeferredAttrs } from './deferred-attrs.ts';

const log = createLogger('vfs');
const SEQUENTIAL_SLACK = 2 * 1024 * 1024;

export interface OpenFileOptions {
  /** Bytes written since the last commit that trigger one. */
  commitBytes: number;
  /** Age of the oldest uncommitted write that triggers a commit (ms). */
  commitAgeMs: number;
  /** WriteBuffer bound: buffered bytes above which writes wait for uploads. */
  bufferBytes: number;
  /**
   * Data I/O for reads that do not follow the previous one (random access): ranged reads of just
   * the bytes asked for, where the main I/O caches whole objects and reads ahead.
   */
  randomIo?: FileDataIO;
  clock?: Clock;
}

export type { Timespec } from './deferred-attrs.ts';
type Timespec = { sec: number; nsec: number };

export class OpenFile {
  readonly ino: number;
  /** Attributes as last seen from the metaserver (open, commit, truncate). */
  private committedAttr: InodeAttr;
  /** Setattrs waiting for the next commit (only with `deferSetattrs`). */
  private readonly deferred = new DeferredAttrs();
  /**
   * The file was created by this client (its create opened it): a setattr without a size waits
   * for the next commit (close, fsync, another open), like the data.
   */
  deferSetattrs = false;
  /** Committed slices plus those of a commit in flight. */
  map: BlockMap;
  private length: number;
  private buf: WriteBuffer | undefined;
  /** Byte ranges written since the last commit began, and those of the commit in flight. */
  private dirty: [number, number][] = [];
  private committing: [number, number][] = [];
  private dirtySince: number | undefined;
  /** Time of the latest write not yet committed: the file's mtime until the commit. */
  dirtyMtime: Timespec | undefined;
  private sinceCommit = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private appendChain: Promise<unknown> = Promise.resolve();
  private ageTimer: NodeJS.Timeout | undefined;
  private failure: unknown;
  private readonly clock: Clock;
  /** End of the last read: a read starting near it continues a sequential scan. */
  private lastReadEnd = 0;
  /** Extended attributes as of open (kept current by this client's own changes). */
  xattrs: Map<string, Uint8Array>;
  /** Open handles of this client on the file. */
  handles = 0;
  /** Highest end of a write admitted against the fs's capacity (a file grows once per byte). */
  private admittedEnd = 0;
  /** Growth admitted and buffered, not yet handed to a commit (space.ts). */
  private unsaved = 0;

  constructor(
    private readonly core: FsCore,
    private readonly io: FileDataIO,
    inode: Inode,
    private readonly opts: OpenFileOptions,
  ) {
    this.committedAttr = inode.attr!;
    this.ino = this.committedAttr.inodeId;
    this.length = this.committedAttr.length;
    this.map = blockMapOf(inode);
    this.xattrs = new Map(Object.entries(inode.xattr));
    this.clock = opts.clock ?? systemClock;
  }

  /** Attributes as this client shows them: as last seen from the metaserver, with deferred setattrs on top. */
  get attr(): InodeAttr {
    return this.deferred.over(this.committedAttr);
  }

  set attr(a: InodeAttr) {
    this.committedAttr = a;
  }

  /** `fresh` (just read from the metaserver) with this client's deferred setattrs on top. */
  withDeferred(fresh: InodeAttr): InodeAttr {
    return this.deferred.over(fresh);
  }

  /** A deferred setattr set mtime after the last write: it, not the write's time, is the mtime. */
  get deferredMtime(): boolean {
    return this.deferred.setsMtime;
  }

  /** Time of the last deferred setattr. */
  get deferredAt(): Timespec | undefined {
    return this.deferred.changedAt;
  }

  /** Setattrs made here and not yet committed. */
  get dirtyAttrs(): boolean {
    return !this.deferred.empty;
  }

  /** Keeps a setattr (no size) for the next commit; answers the attributes as shown after it. */
  deferSetattr(args: SetAttrArgs): InodeAttr {
    if (args.size !== undefined) throw new Error('a truncate is never deferred');
    this.deferred.add(args, this.now());
    return this.attr;
  }

  /** The file's size as this client sees it: committed length or the end of buffered data. */
  get size(): number {
    return Math.max(this.length, this.buf?.end ?? 0);
  }

  /** Writes not yet in the inode (buffered or being committed). */
  get dirtyData(): boolean {
    return this.dirty.length > 0 || this.committing.length > 0 || (this.buf !== undefined && !this.buf.empty);
  }

  /** Data and allocated byte ranges (committed, in flight and buffered). */
  allocation(): Allocation {
    return allocationOf(this.map, [...this.committing, ...this.dirty]);
  }

  private now(): Timespec {
    const [sec, nsec] = this.clock.wallTime();
    return { sec, nsec };
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Replaces the state with a fresh inode (open, after truncate); only when nothing is dirty. */
  reset(inode: Inode): void {
    this.attr = inode.attr!;
    this.length = this.attr.length;
    this.admittedEnd = 0;
    this.map = blockMapOf(inode);
    this.xattrs = new Map(Object.entries(inode.xattr));
  }

  async write(offset: number, data: Uint8Array, append: boolean): Promise<number> {
    this.throwIfFailed();
    const buf = (this.buf ??= new WriteBuffer(this.io, this.ino, { maxBytes: this.opts.bufferBytes }));
    if (append) {
      // O_APPEND: the offset is the size once every earlier append is in the buffer.
      const run = this.appendChain.then(async () => {
        const at = this.size;
        await this.buffer(buf, at, data);
        return at;
      });
      this.appendChain = run.catch(() => undefined);
      offset = await run;
    } else {
      await this.buffer(buf, offset, data);
    }
    this.noteWrite(offset, data.byteLength);
    if (this.sinceCommit >= this.opts.commitBytes) await this.commit();
    return data.byteLength;
  }

  /**
   * Buffers a write once the fs has room for the growth of the file it makes (ENOSPC otherwise:
   * nothing is written), counted against the capacity until its commit settles it.
   */
  private async buffer(buf: WriteBuffer, offset: number, data: Uint8Array): Promise<void> {
    // Quotas above the file (its first parent's tree) and its owner's: found before the growth is computed, so
    // the check and the charge below happen in the same turn as it (src/vfs/quota.ts).
    const quota = this.core.quota?.active ? this.core.quota : undefined;
    const quotaDirs = quota ? await quota.quotasAt(this.attr.parent[0] ?? 0, this.attr) : [];
    const end = offset + data.byteLength;
    const from = Math.max(this.size, this.admittedEnd);
    const grown = end > from ? end - from : 0;
    const charge = quota?.admitIn(quotaDirs, { bytes: grown, inodes: 0 });
    try {
      this.core.space.admit(grown);
    } catch (e) {
      charge?.undo();
      throw e;
    }
    if (grown > 0) this.admittedEnd = end;
    try {
      await buf.write(offset, data);
    } catch (e) {
      this.core.space.release(grown);
      charge?.undo();
      throw e;
    }
    this.unsaved += grown;
  }

  private noteWrite(offset: number, len: number): void {
    const end = offset + len;
    const last = this.dirty[this.dirty.length - 1];
    if (last && offset <= last[1] && end >= last[0]) {
      last[0] = Math.min(last[0], offset);
      last[1] = Math.max(last[1], end);
    } else {
      this.dirty.push([offset, end]);
    }
    this.dirtyMtime = this.now();
    this.deferred.wrote();
    this.sinceCommit += len;
    if (this.dirtySince === undefined) {
      this.dirtySince = this.clock.now();
      this.ageTimer = setTimeout(() => {
        this.ageTimer = undefined;
        this.commit().catch((e: unknown) => log.warn('background commit failed', { ino: this.ino, error: String(e) }));
      }, this.opts.commitAgeMs);
      this.ageTimer.unref();
    }
  }

  async read(offset: number, size: number): Promise<Uint8Array> {
    const length = this.size;
    if (offset >= length || size <= 0) return new Uint8Array(0);
    if (this.buf && !this.buf.empty) return this.buf.read(this.map, length, offset, size);
    // The kernel's readahead keeps a few reads in flight, so "sequential" allows some slack.
    const sequential = offset === 0 || Math.abs(offset - this.lastReadEnd) <= SEQUENTIAL_SLACK;
    this.lastReadEnd = offset + size;
    const io = sequential || !this.opts.randomIo ? this.io : this.opts.randomIo;
    return io.read(this.ino, this.map, length, offset, size);
  }

  /** Runs `fn` after every earlier commit, truncate and fallocate, and before later ones. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Makes every write so far part of the inode (fsync, close). */
  async commit(): Promise<void> {
    await this.exclusive(() => this.commitNow());
  }

  /**
   * The commit itself; call only inside `exclusive`. With `setattr`, the attribute change rides
   * on the same commit (one log entry: AppendAndUpdateInode), or is made alone when nothing is
   * buffered; answers the attributes after it then.
   */
  async commitNow(later?: SetAttrArgs): Promise<InodeAttr | undefined> {
    this.throwIfFailed();
    if (this.ageTimer) clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
    this.dirtySince = undefined;
    const deferred = this.deferred.take();
    const setattr = deferred && later ? { ...deferred, ...later } : (deferred ?? later);
    const buf = this.buf;
    if (!buf || buf.empty) {
      this.dirty = [];
      if (!setattr) return undefined;
      try {
        return (this.attr = await this.core.setattr(this.ino, setattr));
      } catch (e) {
        // Not saved: kept for the next commit (close reports the error if that fails too).
        if (deferred) this.deferred.restore(deferred, this.now());
        throw e;
      }
    }
    const time = this.dirtyMtime ?? this.now();
    this.committing = this.dirty;
    this.dirty = [];
    const grown = this.unsaved;
    this.unsaved = 0;
    this.sinceCommit = 0;
    this.dirtyMtime = undefined;
    let slices: ChunkSlice[];
    try {
      slices = await buf.flush();
    } catch (e) {
      this.failure = e;
      this.core.space.release(grown);
      throw e;
    }
    let end = 0;
    for (const s of slices) end = Math.max(end, s.offset + s.len);
    try {
      await this.appendNow(slices, end, time, setattr);
    } catch (e) {
      this.core.space.release(grown);
      throw e;
    }
    this.core.space.settle(grown);
    return this.attr;
  }

  /**
   * Adds stored slices (or zero slices) to the inode and the local map, raising the length to
   * `minLength`, then makes the attribute change `setattr` in the same commit; call only inside
   * `exclusive`.
   */
  async appendNow(slices: ChunkSlice[], minLength: number, time: Timespec = this.now(), setattr?: SetAttrArgs): Promise<void> {
    // Visible to reads at once: the objects are stored.
    appendSlices(this.map, slices, this.io.layout);
    this.length = Math.max(this.length, minLength);
    this.committing = [];
    try {
      const attr = setattr
        ? await this.core.appendAndSetattr(this.ino, slices, minLength, time, setattr)
        : await this.core.appendChunks(this.ino, slices, minLength, time);
      if (attr) this.attr = attr;
    } catch (e) {
      this.failure = e;
      throw e;
    }
  }

  /** Re-reads the inode (after a truncate); call only inside `exclusive`, with nothing dirty. */
  async reloadNow(): Promise<void> {
    this.reset(await this.core.getInode(this.ino));
  }

  /** The error that poisoned the file, if any (reported once by fsync/close, then kept). */
  get error(): unknown {
    return this.failure;
  }

  /** Last handle closed: commits what is left and stops timers. */
  async close(): Promise<void> {
    try {
      await this.commit();
    } finally {
      if (this.ageTimer) clearTimeout(this.ageTimer);
      this.ageTimer = undefined;
    }
  }
}
