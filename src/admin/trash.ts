// `curvefs trash list|restore|purge` (docs/operations.md "Trash"): the names unlinks moved to
// the trash of each partition of an fs (docs/architecture.md §6c), put back or emptied for good.
// Each entry lives in one partition (a removed directory's: its parent's), so each restore or purge
// is one log entry there (and, for an inode in another partition, a follow-up the leader delivers).
import { CurveError, StatusCode } from '../common/index.ts';
import { checkName, type Fs, type MetaClient } from '../client/index.ts';
import type { MetaBody } from '../client/index.ts';
import type { PartitionInfo } from '../gen/common_pb.ts';
import { FileType } from '../gen/common_pb.ts';
import type { TrashEntry } from '../gen/metaserver_pb.ts';
import { fsPartitions } from './scan.ts';

export interface TrashItem {
  inodeId: number;
  partitionId: number;
  parentInodeId: number;
  name: string;
  type: number;
  /** Unix seconds of the unlink. */
  trashedAtSec: number;
  length: number;
}

function item(e: TrashEntry): TrashItem {
  return {
    inodeId: e.inodeId,
    partitionId: e.partitionId,
    parentInodeId: e.parentInodeId,
    name: e.name,
    type: e.type,
    trashedAtSec: e.trashedAtSec,
    length: e.length,
  };
}

/** Every trashed name of the fs, oldest first. */
export async function listTrash(meta: MetaClient): Promise<TrashItem[]> {
  const out: TrashItem[] = [];
  for (const part of await fsPartitions(meta)) {
    const r = await meta.callPartition('listTrash', () => part, {});
    for (const e of r.entries) out.push(item(e));
  }
  return out.sort((a, b) => a.trashedAtSec - b.trashedAtSec || a.inodeId - b.inodeId);
}

export interface TrashOutcome {
  inodeId: number;
  ok: boolean;
  /** Why not (the name is taken, the directory is gone, not in the trash). */
  error?: string;
  /** Where it went back (restore). */
  parentInodeId?: number;
  name?: string;
}

async function each(ids: readonly number[], fn: (ino: number) => Promise<Partial<TrashOutcome>>): Promise<TrashOutcome[]> {
  const out: TrashOutcome[] = [];
  for (const inodeId of ids) {
    try {
      out.push({ inodeId, ok: true, ...(await fn(inodeId)) });
    } catch (e) {
      if (!(e instanceof CurveError) || e.status >= 400) throw e; // transport trouble: stop, say so
      out.push({ inodeId, ok: false, error: e.message }); // "STATUS: why" (CurveError names its status)
    }
  }
  return out;
}

/** Where a restore puts names instead of their old place (`trash restore --to DIR --name NAME`). */
export interface RestoreTarget {
  /** A directory in the inode's partition (refused with CROSS_DEVICE otherwise). */
  parentInodeId: number;
  /** Default: each entry's trashed name. */
  name?: string;
}

/** `--to DIR [--name NAME]` as a target: DIR must exist and be a directory (a path in the fs). */
export async function restoreTarget(fs: Fs, dir: string, name?: string): Promise<RestoreTarget> {
  if (name !== undefined) checkName(name);
  const attr = await fs.resolve(dir).catch((e: unknown) => {
    if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) throw new CurveError(StatusCode.NOT_FOUND, `${dir}: no such directory`);
    throw e;
  });
  if (attr.type !== FileType.TYPE_DIRECTORY) throw new CurveError(StatusCode.NOT_DIRECTORY, `${dir} is not a directory`);
  return { parentInodeId: attr.inodeId, name };
}

/** The partition each trashed inode's entry lives in (a directory's entry: its parent's partition). */
async function entryPartitions(meta: MetaClient): Promise<{ items: Map<number, TrashItem>; parts: Map<number, PartitionInfo> }> {
  const items = new Map((await listTrash(meta)).map((t) => [t.inodeId, t]));
  const parts = new Map((await fsPartitions(meta)).map((p) => [p.partitionId, p]));
  return { items, parts };
}

/** Calls `method` at the partition holding `ino`'s trash entry (NOT_FOUND when none does). */
function atEntry<M extends 'restoreTrash' | 'purgeTrash'>(meta: MetaClient, where: Awaited<ReturnType<typeof entryPartitions>>, method: M, ino: number, body: MetaBody<M>) {
  const part = where.parts.get(where.items.get(ino)?.partitionId ?? -1);
  if (!part) throw new CurveError(StatusCode.NOT_FOUND, `inode ${ino} is not in the trash`);
  return meta.callPartition(method, () => part, body);
}

/**
 * The ids with, before each one restored in place, its ancestors that are in the trash too
 * (outermost first): a child goes back under its restored parent (`rm -rf d`, then restoring d/x
 * restores d first). Each id once.
 */
export function restoreOrder(ids: readonly number[], items: ReadonlyMap<number, Pick<TrashItem, 'parentInodeId'>>, inPlace: boolean): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (const id of ids) {
    const chain: number[] = [];
    for (let cur: number | undefined = id; cur !== undefined && !seen.has(cur); ) {
      chain.push(cur);
      seen.add(cur);
      if (!inPlace) break;
      const parent: number | undefined = items.get(cur)?.parentInodeId;
      cur = parent !== undefined && items.has(parent) ? parent : undefined;
    }
    out.push(...chain.reverse());
  }
  return out;
}

/**
 * Puts each inode back under its old parent and name — a directory before its children, and a
 * trashed ancestor of one restored in place before it — or into `to`; one that cannot go back is
 * reported (the name is taken, the directory is gone or in another partition).
 */
export async function restoreTrash(meta: MetaClient, ids: readonly number[], to?: RestoreTarget): Promise<TrashOutcome[]> {
  const where = await entryPartitions(meta);
  return each(restoreOrder(ids, where.items, to === undefined), async (ino) => {
    const r = await atEntry(meta, where, 'restoreTrash', ino, { inodeId: ino, toParentInodeId: to?.parentInodeId, toName: to?.name });
    return { parentInodeId: r.dentry?.parentInodeId, name: r.dentry?.name };
  });
}

/** Empties each for good (the reclaimer then deletes its data after the usual grace). */
export async function purgeTrash(meta: MetaClient, ids: readonly number[]): Promise<TrashOutcome[]> {
  const where = await entryPartitions(meta);
  return each(ids, async (ino) => {
    await atEntry(meta, where, 'purgeTrash', ino, { inodeId: ino });
    return {};
  });
}
