// Child process for the local block store's crash test: puts small objects of new inodes (each
// a new directory chain, as tar's files are) one after another, printing "acked <n>" after each
// put answers, until killed.
//   node --import tsx test/helpers/data-put-many-child.ts <dir>
import { LocalBlockStore, objectKey } from '../../src/data/index.ts';
import { bigPattern } from './data-patterns.ts';

const [dir] = process.argv.slice(2);
const store = await LocalBlockStore.open(dir!);
for (let n = 0; ; n++) {
  await store.put(objectKey(1, 1000 + n, { chunkIndex: 0, chunkId: n + 1, blockIndex: 0, compaction: 0 }), bigPattern(4096 + n, n));
  process.stdout.write(`acked ${n}\n`);
}
