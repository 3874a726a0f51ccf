// Attribute changes of an open file waiting for its next commit.
//
// tar creates a file owner-only, writes it, then sets its times, owner and mode (utimensat,
// fchown, fchmod) and closes it: three setattrs that were three Raft commits. For a file this
// client created and holds open, a setattr (without a size) is instead kept here and saved with
// the file's data at its next commit — fsync, close (FLUSH: every close(2), so close-to-open
// holds for attributes as for data), the write buffer's own triggers, or another open of the
// file. Until then this client answers every request from the committed attributes with these
// changes on top; other clients see them at that commit, as they see the data.
//
// Times are made concrete ('now' = the time of the setattr), so what this client showed before
// the commit is what the commit saves; ctime is the time of the last change.
import { clone } from '@bufbuild/protobuf';
import type { SetAttrArgs } from '../client/index.ts';
import { InodeAttrSchema, type InodeAttr } from '../gen/metaserver_pb.ts';

const S_IFMT = 0o170000;

export type Timespec = { sec: number; nsec: number };

export class DeferredAttrs {
  private change: SetAttrArgs | undefined;
  private ctime: Timespec | undefined;

  get empty(): boolean {
    return this.change === undefined;
  }

  /** Adds a change made at `now` (later fields win). */
  add(args: SetAttrArgs, now: Timespec): void {
    const c: SetAttrArgs = { ...this.change };
    if (args.mode !== undefined) c.mode = args.mode;
    if (args.uid !== undefined) c.uid = args.uid;
    if (args.gid !== undefined) c.gid = args.gid;
    if (args.atime !== undefined) c.atime = args.atime === 'now' ? [now.sec, now.nsec] : args.atime;
    if (args.mtime !== undefined) c.mtime = args.mtime === 'now' ? [now.sec, now.nsec] : args.mtime;
    this.change = c;
    this.ctime = now;
  }

  /** A write after a change of mtime sets mtime again (the write's time wins at the commit). */
  wrote(): void {
    if (this.change?.mtime === undefined) return;
    const { mtime: _dropped, ...rest } = this.change;
    this.change = rest;
  }

  /** A deferred mtime: set after the file's last write (a later write drops it). */
  get setsMtime(): boolean {
    return this.change?.mtime !== undefined;
  }

  /** Time of the last deferred change (the file's ctime until the commit, unless a write came later). */
  get changedAt(): Timespec | undefined {
    return this.ctime;
  }

  /** Takes the change for a commit. */
  take(): SetAttrArgs | undefined {
    const c = this.change;
    this.change = undefined;
    this.ctime = undefined;
    return c;
  }

  /** Gives back a change whose commit failed, under whatever was added since. */
  restore(c: SetAttrArgs, now: Timespec): void {
    this.change = { ...c, ...this.change };
    this.ctime ??= now;
  }

  /** `a` with the change on top: the attributes as this client shows them. */
  over(a: InodeAttr): InodeAttr {
    const c = this.change;
    if (!c) return a;
    const out = clone(InodeAttrSchema, a);
    if (c.mode !== undefined) out.mode = (a.mode & S_IFMT) | (c.mode & 0o7777);
    if (c.uid !== undefined) out.uid = c.uid;
    if (c.gid !== undefined) out.gid = c.gid;
    if (Array.isArray(c.atime)) [out.atime, out.atimeNs] = c.atime;
    if (Array.isArray(c.mtime)) [out.mtime, out.mtimeNs] = c.mtime;
    if (this.ctime) {
      out.ctime = this.ctime.sec;
      out.ctimeNs = this.ctime.nsec;
    }
    return out;
  }
}
