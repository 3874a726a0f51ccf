// How many objects of one inode a block store holds (tests of deletion and reclaim).
import { inodePrefix, type BlockStore } from '../../src/data/index.ts';

export async function countInodeObjects(store: BlockStore, fsId: number, ino: number): Promise<number> {
  let n = 0;
  for await (const e of store.list(inodePrefix(fsId, ino))) {
    void e;
    n++;
  }
  return n;
}
