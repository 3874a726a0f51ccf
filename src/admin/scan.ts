// The shared scans of fsck, gc and dump: every inode and dentry of an fs, partition by partition
// and page by page (MetaServerService ListInodes / ListDentries), and every data object of the fs
// in its block store. Pages are consistent states of one partition; findings built from several
// pages are confirmed by recheck.ts before they are reported or repaired.
import type { PartitionInfo } from '../gen/common_pb.ts';
import type { Dentry, Inode } from '../gen/metaserver_pb.ts';
import type { MetaClient } from '../client/index.ts';
import { fsPrefix, parseObjectKey, type BlockStore, type ParsedObjectKey } from '../data/index.ts';

/** Inodes per ListInodes page and dentries per ListDentries page. */
export const SCAN_PAGE = 512;

export async function* partitionInodes(meta: MetaClient, part: PartitionInfo): AsyncGenerator<Inode> {
  let after = 0;
  for (;;) {
    const res = await meta.callPartition('listInodes', () => part, { after, count: SCAN_PAGE });
    for (const i of res.inodes) yield i;
    if (!res.more || res.inodes.length === 0) return;
    after = res.inodes[res.inodes.length - 1]!.attr!.inodeId;
  }
}

export async function* partitionDentries(meta: MetaClient, part: PartitionInfo): AsyncGenerator<Dentry> {
  let afterParent = 0;
  let afterName = '';
  for (;;) {
    const res = await meta.callPartition('listDentries', () => part, { afterParent, afterName, count: SCAN_PAGE });
    for (const d of res.dentrys) yield d;
    if (!res.more || res.dentrys.length === 0) return;
    const last = res.dentrys[res.dentrys.length - 1]!;
    afterParent = last.parentInodeId;
    afterName = last.name;
  }
}

/** The fs's partitions as the MDS lists them now. */
export async function fsPartitions(meta: MetaClient): Promise<readonly PartitionInfo[]> {
  await meta.refresh();
  return meta.table.partitions();
}

export async function* allInodes(meta: MetaClient): AsyncGenerator<Inode> {
  for (const p of await fsPartitions(meta)) yield* partitionInodes(meta, p);
}

export async function* allDentries(meta: MetaClient): AsyncGenerator<Dentry> {
  for (const p of await fsPartitions(meta)) yield* partitionDentries(meta, p);
}

export interface StoredObject {
  key: string;
  size: number;
  /** Last write, when the store tells (ms since the epoch). */
  mtimeMs: number | undefined;
  /** undefined: a key under the fs's prefix that is not a data object key. */
  parsed: ParsedObjectKey | undefined;
}

/** Every object under the fs's prefix. */
export async function* fsObjects(store: BlockStore, fsId: number): AsyncGenerator<StoredObject> {
  for await (const e of store.list(fsPrefix(fsId))) {
    yield { key: e.key, size: e.size, mtimeMs: e.mtimeMs, parsed: parseObjectKey(e.key) };
  }
}
