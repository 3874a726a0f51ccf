// `curvefs dump`: the metadata of an fs as a stream of records (dump-format.ts), walking the tree
// breadth first from the root. Each name is one record; the first name of an inode carries the
// whole inode (attributes, xattrs, block map), further names (hard links) only its id.
//
// Memory: the ids of the directories (the queue still to list, and those seen, so a looping
// directory is walked once) and of inodes with more than one link — not the files. Point in time: each directory page is one consistent read of
// its partition, and a second look is not needed because a dump is a copy, not a verdict; an fs
// changed during its dump gives a dump of a state it went through directory by directory. For an
// exact point in time, stop writers (unmount, or mount read-only) while it runs.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../common/index.ts';
import { FileType } from '../gen/common_pb.ts';
import { DumpEntrySchema, type Inode } from '../gen/metaserver_pb.ts';
import type { AdminContext } from './context.ts';
import { inodeNow } from './recheck.ts';
import type { DumpWriter } from './dump-format.ts';
import { ROOT_INODE } from './fsck.ts';

/** Inodes fetched at once while dumping a directory page. */
const DUMP_CONCURRENCY = 32;
const LIST_PAGE = 1024;

export interface DumpStats {
  entries: number;
  inodes: number;
}

export async function dumpTree(ctx: AdminContext, fsName: string, w: DumpWriter, createdAt: Date): Promise<DumpStats> {
  await w.header({ fsName, fsId: ctx.fsId, chunkSize: ctx.layout.chunkSize, blockSize: ctx.layout.blockSize, createdAt: createdAt.toISOString() });
  const root = await inodeNow(ctx, ROOT_INODE);
  if (!root) throw new Error('the fs has no root inode');
  await w.root(root);
  const multiLinked = new Set<number>();
  const queue: number[] = [ROOT_INODE];
  // A directory named twice (a loop fsck reports) is walked once.
  const queued = new Set<number>([ROOT_INODE]);
  let entries = 0;
  let inodes = 1;
  for (let qi = 0; qi < queue.length; qi++) {
    const dir = queue[qi]!;
    let last = '';
    for (;;) {
      let page;
      try {
        page = await ctx.meta.callForInode('listDentry', dir, { dirInodeId: dir, last, count: LIST_PAGE });
      } catch (e) {
        // Removed since its name was dumped: its entries went with it.
        if (e instanceof CurveError && (e.status === StatusCode.NOT_FOUND || e.status === StatusCode.NOT_DIRECTORY)) break;
        throw e;
      }
      const needed = page.dentrys.filter((d) => !multiLinked.has(d.inodeId));
      const fetched = new Map<number, Inode | undefined>();
      for (let k = 0; k < needed.length; k += DUMP_CONCURRENCY) {
        const batch = needed.slice(k, k + DUMP_CONCURRENCY);
        const got = await Promise.all(batch.map((d) => inodeNow(ctx, d.inodeId)));
        batch.forEach((d, j) => fetched.set(d.inodeId, got[j]));
      }
      for (const d of page.dentrys) {
        let inode: Inode | undefined;
        if (!multiLinked.has(d.inodeId)) {
          inode = fetched.get(d.inodeId);
          if (!inode || inode.attr!.nlink === 0) continue; // removed since the listing
          if (inode.attr!.type !== FileType.TYPE_DIRECTORY && inode.attr!.nlink > 1) multiLinked.add(d.inodeId);
          inodes++;
        }
        if (d.type === FileType.TYPE_DIRECTORY) {
          if (queued.has(d.inodeId)) continue;
          queued.add(d.inodeId);
          queue.push(d.inodeId);
        }
        entries++;
        await w.entry(create(DumpEntrySchema, { parent: dir, name: d.name, inodeId: d.inodeId, type: d.type, inode }));
      }
      if (!page.more || page.dentrys.length === 0) break;
      last = page.dentrys[page.dentrys.length - 1]!.name;
    }
    queue[qi] = 0; // let the finished part of the queue go (ids only; compacted below)
    if (qi > 4096 && qi * 2 > queue.length) {
      queue.splice(0, qi + 1);
      qi = -1;
    }
  }
  await w.end();
  return { entries, inodes };
}
