// Directory quotas on the client (JuiceFS-style): the quotas of the fs and their usage as the
// MDS last answered a sync, plus this client's own changes since, charged to every quota
// directory above the change and sent to the MDS as deltas with each session refresh
// (SyncQuota). A change that would take a quota past a limit is refused here with EDQUOT
// before anything is written; the MDS only adds up. A client finds the quotas above an inode
// by walking up its directories' parents (remembered for `parentTtlMs`). With no quota on the
// fs nothing is walked and nothing is charged. Bounds of what can overshoot:
// docs/architecture.md "Directory quotas".
import { CurveError, StatusCode, systemClock, type Clock } from '../common/index.ts';
import { FileType } from '../gen/common_pb.ts';
import type { Quota, QuotaDelta } from '../gen/mds_pb.ts';
import type { StatFs } from './types.ts';

const ROOT = 1;
/** Deeper than this, a parent chain is taken to be a loop (a stale chain after renames). */
const MAX_DEPTH = 4096;

/** Usage change: bytes (file lengths) and inodes. */
export interface Usage {
  bytes: number;
  inodes: number;
}

export interface QuotaTrackerOptions {
  /** The parent directory of directory `dir` (its first parent; 0 for the root). */
  parentOf: (dir: number) => Promise<number>;
  /** Sends this client's deltas under `seq` and answers every quota of the fs (SyncQuota). */
  sync?: (deltas: QuotaDelta[], seq: number) => Promise<Quota[]>;
  /** How long a directory's parent is trusted (another client's rename is seen after it). */
  parentTtlMs?: number;
  clock?: Clock;
}

function add(m: Map<number, Usage>, dir: number, u: Usage): void {
  const cur = m.get(dir);
  if (cur) {
    cur.bytes += u.bytes;
    cur.inodes += u.inodes;
  } else m.set(dir, { bytes: u.bytes, inodes: u.inodes });
}

/** A change charged to quotas; `undo` gives it back (the operation failed). */
export interface Charge {
  undo(): void;
}

const NO_CHARGE: Charge = { undo: () => undefined };

export class QuotaTracker {
  /** The quotas of the fs as the MDS last answered (its figures include every synced delta). */
  private quotas = new Map<number, Quota>();
  /** This client's deltas not yet sent. */
  private unsent = new Map<number, Usage>();
  /** Deltas sent under `inflightSeq` and not yet acknowledged (resent under the same seq). */
  private inflight: Map<number, Usage> | undefined;
  private inflightSeq = 0;
  private seq = 0;
  private syncing: Promise<void> | undefined;
  private readonly parents = new Map<number, { parent: number; at: number }>();
  private readonly ttl: number;
  private readonly clock: Clock;

  constructor(private readonly opts: QuotaTrackerOptions) {
    this.ttl = opts.parentTtlMs ?? 10_000;
    this.clock = opts.clock ?? systemClock;
  }

  /** True when the fs has at least one quota (as of the last sync). */
  get active(): boolean {
    return this.quotas.size > 0;
  }

  /** A quota's usage as this client counts it: the MDS's figure plus its own unsynced deltas. */
  usage(dir: number): (Usage & { maxBytes: number; maxInodes: number }) | undefined {
    const q = this.quotas.get(dir);
    if (!q) return undefined;
    const a = this.unsent.get(dir);
    const b = this.inflight?.get(dir);
    return {
      bytes: q.usedBytes + (a?.bytes ?? 0) + (b?.bytes ?? 0),
      inodes: q.usedInodes + (a?.inodes ?? 0) + (b?.inodes ?? 0),
      maxBytes: q.maxBytes,
      maxInodes: q.maxInodes,
    };
  }

  /** What this client knows a directory's parent to be (its own rename moved it). */
  setParent(dir: number, parent: number): void {
    this.parents.set(dir, { parent, at: this.clock.now() });
  }

  private async parentDir(dir: number): Promise<number> {
    const known = this.parents.get(dir);
    const now = this.clock.now();
    if (known && now - known.at < this.ttl) return known.parent;
    const parent = await this.opts.parentOf(dir);
    this.parents.set(dir, { parent, at: now });
    return parent;
  }

  /** Quota directories at or above directory `dir`, nearest first ([] when the fs has none). */
  async quotasAt(dir: number): Promise<number[]> {
    if (this.quotas.size === 0 || dir <= 0) return [];
    const out: number[] = [];
    let d = dir;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (this.quotas.has(d)) out.push(d);
      if (d === ROOT) return out;
      d = await this.parentDir(d);
      if (d <= 0) return out;
    }
    return out;
  }

  /** Refuses (QUOTA_EXCEEDED) growth `u` in any of `dirs` past its limit. Shrinking is never refused. */
  check(dirs: readonly number[], u: Usage): void {
    for (const dir of dirs) {
      const cur = this.usage(dir);
      if (!cur) continue;
      if (u.bytes > 0 && cur.maxBytes > 0 && cur.bytes + u.bytes > cur.maxBytes) {
        throw new CurveError(StatusCode.QUOTA_EXCEEDED, `quota of ${this.quotas.get(dir)!.path || `inode ${dir}`}: ${cur.bytes} of ${cur.maxBytes} bytes used, ${u.bytes} more asked`);
      }
      if (u.inodes > 0 && cur.maxInodes > 0 && cur.inodes + u.inodes > cur.maxInodes) {
        throw new CurveError(StatusCode.QUOTA_EXCEEDED, `quota of ${this.quotas.get(dir)!.path || `inode ${dir}`}: ${cur.inodes} of ${cur.maxInodes} inodes used, ${u.inodes} more asked`);
      }
    }
  }

  /** Counts `u` in each of `dirs` (to be sent with the next sync). */
  charge(dirs: readonly number[], u: Usage): Charge {
    if (dirs.length === 0 || (u.bytes === 0 && u.inodes === 0)) return NO_CHARGE;
    for (const d of dirs) add(this.unsent, d, u);
    return { undo: () => this.charge(dirs, { bytes: -u.bytes, inodes: -u.inodes }) };
  }

  /** check + charge, for a caller that found the quota directories already. */
  admitIn(dirs: readonly number[], u: Usage): Charge {
    this.check(dirs, u);
    return this.charge(dirs, u);
  }

  /**
   * Admits a change of `u` under directory `dir` — refused with QUOTA_EXCEEDED past a limit of a
   * quota above it — and charges it. `undo` the answer when the change did not happen.
   */
  async admit(dir: number, u: Usage): Promise<Charge> {
    if (this.quotas.size === 0 || (u.bytes === 0 && u.inodes === 0)) return NO_CHARGE;
    return this.admitIn(await this.quotasAt(dir), u);
  }

  /**
   * Moves usage `u` from the tree of `from` to the tree of `to` (a rename): the quotas above
   * `to` and not above `from` gain it (refused past a limit), those above `from` only lose it.
   */
  async move(from: number, to: number, u: () => Promise<Usage>): Promise<Charge> {
    if (this.quotas.size === 0) return NO_CHARGE;
    const src = await this.quotasAt(from);
    const dst = await this.quotasAt(to);
    const gain = dst.filter((d) => !src.includes(d));
    const lose = src.filter((d) => !dst.includes(d));
    if (gain.length === 0 && lose.length === 0) return NO_CHARGE;
    const usage = await u();
    this.check(gain, usage);
    const a = this.charge(gain, usage);
    const b = this.charge(lose, { bytes: -usage.bytes, inodes: -usage.inodes });
    return { undo: () => (a.undo(), b.undo()) };
  }

  /**
   * Sends the deltas charged since the last sync and takes the MDS's answer (every quota of the
   * fs). A batch whose answer was lost is sent again with its seq, so the MDS applies it once.
   */
  flush(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const sync = this.opts.sync;
    if (!sync) return;
    if (!this.inflight) {
      this.inflight = this.unsent;
      this.unsent = new Map();
      this.inflightSeq = ++this.seq;
    }
    const deltas = [...this.inflight].map(([dirInodeId, u]) => ({ dirInodeId, bytes: u.bytes, inodes: u.inodes }) as QuotaDelta);
    const quotas = await sync(deltas, this.inflightSeq);
    this.inflight = undefined;
    this.quotas = new Map(quotas.map((q) => [q.dirInodeId, q]));
  }
}

/** What the VFS's rename and `quota check` need to add up a tree: its listing and attributes. */
export interface TreeReader {
  listPage(dir: number, cursor: string, limit?: number, withAttr?: boolean): Promise<{ entries: { inodeId: number; name: string; type: number }[]; attrs: { inodeId: number; length: number; type: number }[]; more: boolean }>;
  batchGetattr(inos: number[]): Promise<Map<number, { inodeId: number; length: number; type: number }>>;
}


/** Bytes a node counts: a regular file's length; nothing for anything else. */
export function bytesOf(a: { type: number; length: number }): number {
  return a.type === FileType.TYPE_S3 || a.type === FileType.TYPE_FILE ? a.length : 0;
}

/** The usage a name stands for: one inode and a file's length, or a directory and its tree. */
export async function usageOfNode(reader: TreeReader, a: { inodeId: number; type: number; length: number }): Promise<Usage> {
  if (a.type !== FileType.TYPE_DIRECTORY) return { bytes: bytesOf(a), inodes: 1 };
  const t = await treeUsage(reader, a.inodeId);
  return { bytes: t.bytes, inodes: t.inodes + 1 };
}

/**
 * The usage of the tree under directory `dir` (the directory itself not counted): every name
 * under it is an inode, each regular file's length its bytes (a hard link counts at each name).
 * Walked breadth first, a page of names at a time.
 */
export async function treeUsage(reader: TreeReader, dir: number): Promise<Usage> {
  const total: Usage = { bytes: 0, inodes: 0 };
  const queue = [dir];
  while (queue.length > 0) {
    const d = queue.shift()!;
    let cursor = '';
    for (;;) {
      const page = await reader.listPage(d, cursor, 512, true);
      const attrs = new Map(page.attrs.map((a) => [a.inodeId, a]));
      const missing = page.entries.filter((e) => e.type !== FileType.TYPE_DIRECTORY && !attrs.has(e.inodeId)).map((e) => e.inodeId);
      if (missing.length > 0) for (const [ino, a] of await reader.batchGetattr(missing)) attrs.set(ino, a);
      for (const e of page.entries) {
        total.inodes++;
        if (e.type === FileType.TYPE_DIRECTORY) queue.push(e.inodeId);
        else total.bytes += bytesOf(attrs.get(e.inodeId) ?? { type: e.type, length: 0 });
      }
      if (!page.more || page.entries.length === 0) break;
      cursor = page.entries[page.entries.length - 1]!.name;
    }
  }
  return total;
}

/** Runs `fn`, giving `charge` back when it fails (the change it paid for did not happen). */
export async function withCharge<T>(charge: Charge | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    charge?.undo();
    throw e;
  }
}

/**
 * statfs inside a quota directory (df there, like JuiceFS and CephFS): a byte limit is the size
 * and the quota's usage the used blocks; an inode limit the inode count. A limit that is not set
 * leaves the fs's figure.
 */
export function statfsOfQuota(fs: StatFs, q: Usage & { maxBytes: number; maxInodes: number }): StatFs {
  const out = { ...fs };
  if (q.maxBytes > 0) {
    out.blocks = Math.floor(q.maxBytes / fs.bsize);
    out.bfree = Math.max(0, out.blocks - Math.ceil(Math.max(0, q.bytes) / fs.bsize));
    out.bavail = Math.min(fs.bavail, out.bfree);
  }
  if (q.maxInodes > 0) {
    out.files = q.maxInodes;
    out.ffree = Math.max(0, q.maxInodes - Math.max(0, q.inodes));
  }
  return out;
}
