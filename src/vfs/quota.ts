// Directory, user and group quotas on the client (JuiceFS-style): the quotas of the fs and their
// usage as the MDS last answered a sync, plus this client's own changes since, charged to every
// quota directory above the change and to the quotas of the inode's owner (uid, gid), and sent
// to the MDS as deltas with each session refresh (SyncQuota). A change that would take a quota
// past a limit is refused here with EDQUOT before anything is written; the MDS only adds up. A
// client finds the quotas above an inode by walking up its directories' parents (remembered for
// `parentTtlMs`) — only while the fs has a directory quota; an owner's quotas are found by id.
// With no quota on the fs nothing is walked and nothing is charged. Bounds of what can
// overshoot: docs/architecture.md "Directory quotas", "User and group quotas".
//
// Quotas are named by quota id (src/common/quota-id.ts): "d<ino>", "u<uid>", "g<gid>".

import { CurveError, dirQuotaId, groupQuotaId, quotaId, quotaLabel, quotaTargetOf, StatusCode, systemClock, userQuotaId, type Clock, type QuotaId } from '../common/index.ts';
import { FileType } from '../gen/common_pb.ts';
import { QuotaKind, type Quota, type QuotaDelta } from '../gen/mds_pb.ts';
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

/** The owner of an inode: its user and group quotas are charged with what it uses. */
export interface Owner {
  uid: number;
  gid: number;
}

function add(m: Map<QuotaId, Usage>, dir: QuotaId, u: Usage): void {
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
  private quotas = new Map<QuotaId, Quota>();
  /** How many of them are directory quotas (none: no parent walks). */
  private dirQuotas = 0;
  /** This client's deltas not yet sent. */
  private unsent = new Map<QuotaId, Usage>();
  /** Deltas sent under `inflightSeq` and not yet acknowledged (resent under the same seq). */
  private inflight: Map<QuotaId, Usage> | undefined;
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
  usage(dir: QuotaId): (Usage & { maxBytes: number; maxInodes: number }) | undefined {
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

  /**
   * The quotas a change in directory `dir` counts in: the quota directories at or above it,
   * nearest first, then — given the changed inode's `owner` — its user's and group's quotas
   * ([] when the fs has none).
   */
  async quotasAt(dir: number, owner?: Owner): Promise<QuotaId[]> {
    const out: QuotaId[] = [];
    if (this.quotas.size === 0) return out;
    let d = this.dirQuotas > 0 ? dir : 0;
    for (let depth = 0; d > 0 && depth < MAX_DEPTH; depth++) {
      if (this.quotas.has(dirQuotaId(d))) out.push(dirQuotaId(d));
      if (d === ROOT) break;
      d = await this.parentDir(d);
    }
    if (owner) out.push(...this.ownerQuotas(owner));
    return out;
  }

  /** The user and group quotas of `owner` (by id: nothing is walked). */
  ownerQuotas(owner: Owner): QuotaId[] {
    const out: QuotaId[] = [];
    if (this.quotas.size === this.dirQuotas) return out;
    if (this.quotas.has(userQuotaId(owner.uid))) out.push(userQuotaId(owner.uid));
    if (this.quotas.has(groupQuotaId(owner.gid))) out.push(groupQuotaId(owner.gid));
    return out;
  }

  /**
   * The owner quotas that removing a name of inode `a` frees: its user's and group's when it is
   * the last name (a hard-linked inode is counted once, for its owner).
   */
  freedBy(a: Owner & { type: number; nlink: number }): QuotaId[] {
    return a.type === FileType.TYPE_DIRECTORY || a.nlink <= 1 ? this.ownerQuotas(a) : [];
  }

  /** True when the fs has a user or group quota. */
  get ownersActive(): boolean {
    return this.quotas.size > this.dirQuotas;
  }

  /** Refuses (QUOTA_EXCEEDED) growth `u` in any of `dirs` past its limit. Shrinking is never refused. */
  check(dirs: readonly QuotaId[], u: Usage): void {
    for (const dir of dirs) {
      const cur = this.usage(dir);
      if (!cur) continue;
      if (u.bytes > 0 && cur.maxBytes > 0 && cur.bytes + u.bytes > cur.maxBytes) {
        throw new CurveError(StatusCode.QUOTA_EXCEEDED, `quota of ${quotaLabel(this.quotas.get(dir)!)}: ${cur.bytes} of ${cur.maxBytes} bytes used, ${u.bytes} more asked`);
      }
      if (u.inodes > 0 && cur.maxInodes > 0 && cur.inodes + u.inodes > cur.maxInodes) {
        throw new CurveError(StatusCode.QUOTA_EXCEEDED, `quota of ${quotaLabel(this.quotas.get(dir)!)}: ${cur.inodes} of ${cur.maxInodes} inodes used, ${u.inodes} more asked`);
      }
    }
  }

  /** Counts `u` in each of `dirs` (to be sent with the next sync). */
  charge(dirs: readonly QuotaId[], u: Usage): Charge {
    if (dirs.length === 0 || (u.bytes === 0 && u.inodes === 0)) return NO_CHARGE;
    for (const d of dirs) add(this.unsent, d, u);
    return { undo: () => this.charge(dirs, { bytes: -u.bytes, inodes: -u.inodes }) };
  }

  /** check + charge, for a caller that found the quota directories already. */
  admitIn(dirs: readonly QuotaId[], u: Usage): Charge {
    this.check(dirs, u);
    return this.charge(dirs, u);
  }

  /**
   * Admits a change of `u` under directory `dir` (of an inode of `owner`) — refused with
   * QUOTA_EXCEEDED past a limit of a quota above it or of the owner's — and charges it. `undo`
   * the answer when the change did not happen.
   */
  async admit(dir: number, u: Usage, owner?: Owner): Promise<Charge> {
    if (this.quotas.size === 0 || (u.bytes === 0 && u.inodes === 0)) return NO_CHARGE;
    return this.admitIn(await this.quotasAt(dir, owner), u);
  }

  /**
   * An inode of usage `u` changes owner (chown, chgrp): the new owner's quotas gain it (refused
   * past a limit), the old owner's lose it.
   */
  transfer(from: Owner, to: Owner, u: Usage, refuse = true): Charge {
    const src = this.ownerQuotas(from);
    const dst = this.ownerQuotas(to);
    const gain = dst.filter((d) => !src.includes(d));
    const lose = src.filter((d) => !dst.includes(d));
    const a = refuse ? this.admitIn(gain, u) : this.charge(gain, u);
    const b = this.charge(lose, { bytes: -u.bytes, inodes: -u.inodes });
    return { undo: () => (a.undo(), b.undo()) };
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
    const deltas = [...this.inflight].map(([id, u]) => ({ ...quotaTargetOf(id), bytes: u.bytes, inodes: u.inodes }) as QuotaDelta);
    const quotas = await sync(deltas, this.inflightSeq);
    this.inflight = undefined;
    this.quotas = new Map(quotas.map((q) => [quotaId(q), q]));
    this.dirQuotas = quotas.filter((q) => (q.kind ?? QuotaKind.QUOTA_DIRECTORY) === QuotaKind.QUOTA_DIRECTORY).length;
  }
}

/** What the VFS's rename and `quota check` need to add up a tree: its listing and attributes. */
export interface TreeReader {
  listPage(dir: number, cursor: string, limit?: number, withAttr?: boolean): Promise<{ entries: { inodeId: number; name: string; type: number }[]; attrs: NodeAttr[]; more: boolean }>;
  batchGetattr(inos: number[]): Promise<Map<number, NodeAttr>>;
}

/** The attributes quotas look at (the owner only for user and group quotas). */
export interface NodeAttr {
  inodeId: number;
  length: number;
  type: number;
  uid?: number;
  gid?: number;
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
  await walkTree(reader, dir, false, (type, a) => {
    total.inodes++;
    if (type !== FileType.TYPE_DIRECTORY) total.bytes += bytesOf(a ?? { type, length: 0 });
  });
  return total;
}

/**
 * What each uid and gid owns in the tree under `root` (the root included), by quota id
 * ("u<uid>", "g<gid>"): every inode once however many names it has, each regular file's length
 * its bytes. What `quota check` compares user and group quotas with.
 */
export async function ownerUsage(reader: TreeReader, root = ROOT): Promise<Map<QuotaId, Usage>> {
  const out = new Map<QuotaId, Usage>();
  const seen = new Set<number>();
  const count = (a: NodeAttr): void => {
    if (seen.has(a.inodeId)) return; // another name of a hard-linked inode
    seen.add(a.inodeId);
    const u = { bytes: bytesOf(a), inodes: 1 };
    add(out, userQuotaId(a.uid ?? 0), u);
    add(out, groupQuotaId(a.gid ?? 0), u);
  };
  const top = (await reader.batchGetattr([root])).get(root);
  if (top) count(top);
  await walkTree(reader, root, true, (_type, a) => a && count(a));
  return out;
}

/**
 * Visits every name under directory `dir` with its attributes, breadth first, a page of names
 * at a time; a directory's attributes only when `dirAttrs` (a listing may leave them out).
 */
async function walkTree(reader: TreeReader, dir: number, dirAttrs: boolean, visit: (type: number, a: NodeAttr | undefined) => void): Promise<void> {
  const queue = [dir];
  while (queue.length > 0) {
    const d = queue.shift()!;
    let cursor = '';
    for (;;) {
      const page = await reader.listPage(d, cursor, 512, true);
      const attrs = new Map(page.attrs.map((a) => [a.inodeId, a]));
      const missing = page.entries.filter((e) => (dirAttrs || e.type !== FileType.TYPE_DIRECTORY) && !attrs.has(e.inodeId)).map((e) => e.inodeId);
      if (missing.length > 0) for (const [ino, a] of await reader.batchGetattr(missing)) attrs.set(ino, a);
      for (const e of page.entries) {
        if (e.type === FileType.TYPE_DIRECTORY) queue.push(e.inodeId);
        visit(e.type, attrs.get(e.inodeId));
      }
      if (!page.more || page.entries.length === 0) break;
      cursor = page.entries[page.entries.length - 1]!.name;
    }
  }
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
