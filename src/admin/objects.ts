// Which objects of the block store an inode's block map names, and the comparison of the store's
// listing with the metadata (shared by fsck and gc).
import type { Inode } from '../gen/metaserver_pb.ts';
import { objectKey, objectsOf, type ChunkSlice, type DataLayout } from '../data/index.ts';
import type { StoredObject } from './scan.ts';

/** Keys of every object the inode's block map names. */
export function referencedKeys(fsId: number, inode: Inode, layout: DataLayout): string[] {
  const slices: ChunkSlice[] = [];
  for (const list of Object.values(inode.chunks)) for (const s of list.slices) slices.push(s);
  return objectsOf(slices, layout).map((ref) => objectKey(fsId, inode.attr!.inodeId, ref));
}

/**
 * The store's listing, indexed by key, to be ticked off against the metadata: what is left
 * unticked after every inode was seen is referenced by none. Memory: one entry per object.
 */
export class ObjectIndex {
  private readonly objects = new Map<string, StoredObject>();
  private readonly seen = new Set<string>();

  add(o: StoredObject): void {
    this.objects.set(o.key, o);
  }

  get size(): number {
    return this.objects.size;
  }

  /** Marks the inode's objects referenced; answers the keys it names that were not listed. */
  tick(keys: readonly string[]): string[] {
    const missing: string[] = [];
    for (const k of keys) {
      if (this.objects.has(k)) this.seen.add(k);
      else missing.push(k);
    }
    return missing;
  }

  /** Objects no inode named, in key order. */
  unreferenced(): StoredObject[] {
    return [...this.objects.values()].filter((o) => !this.seen.has(o.key)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
