// Second looks: a finding assembled from scan pages read at different moments (a dentry from one
// page, its inode from another) may be an operation in flight, not damage — a file created
// between the inode page and the dentry page looks orphaned. Each finding is read again, from
// the one partition that decides it, before it is reported or repaired.
import { CurveError, StatusCode } from '../common/index.ts';
import type { Inode } from '../gen/metaserver_pb.ts';
import type { AdminContext } from './context.ts';

/** The inode now, or undefined when it does not exist (or no partition holds its id). */
export async function inodeNow(ctx: AdminContext, ino: number): Promise<Inode | undefined> {
  try {
    return (await ctx.meta.callForInode('getInode', ino, { inodeId: ino })).inode;
  } catch (e) {
    if (e instanceof CurveError && (e.status === StatusCode.NOT_FOUND || e.status === StatusCode.PARTITION_NOT_FOUND)) return undefined;
    throw e;
  }
}

/** The inode the name points at now, or undefined when the name (or its directory) is gone. */
export async function dentryNow(ctx: AdminContext, parent: number, name: string): Promise<number | undefined> {
  try {
    return (await ctx.meta.callForInode('getDentry', parent, { parentInodeId: parent, name })).dentry?.inodeId;
  } catch (e) {
    if (e instanceof CurveError && (e.status === StatusCode.NOT_FOUND || e.status === StatusCode.NOT_DIRECTORY)) return undefined;
    throw e;
  }
}

export interface NameRef {
  parent: number;
  name: string;
  type: number;
}

/** Every name of `ino` in the directories `dirs` now (each listed whole, page by page). */
export async function namesNow(ctx: AdminContext, ino: number, dirs: Iterable<number>): Promise<NameRef[]> {
  const out: NameRef[] = [];
  for (const dir of new Set(dirs)) {
    let last = '';
    for (;;) {
      let res;
      try {
        res = await ctx.meta.callForInode('listDentry', dir, { dirInodeId: dir, last, count: 4096 });
      } catch (e) {
        if (e instanceof CurveError && (e.status === StatusCode.NOT_FOUND || e.status === StatusCode.NOT_DIRECTORY)) break;
        throw e;
      }
      for (const d of res.dentrys) if (d.inodeId === ino) out.push({ parent: dir, name: d.name, type: d.type });
      if (!res.more || res.dentrys.length === 0) break;
      last = res.dentrys[res.dentrys.length - 1]!.name;
    }
  }
  return out;
}
