// Child process for the local block store's crash test: puts one large object and exits.
//   node --import tsx test/helpers/data-put-child.ts <dir> <key> <size> <seed>
// Prints "writing" right before the put starts, so the parent knows when to aim its SIGKILL.
import { LocalBlockStore } from '../../src/data/index.ts';
import { bigPattern } from './data-patterns.ts';

const [dir, key, size, seed] = process.argv.slice(2);
const data = bigPattern(Number(size), Number(seed));
const store = await LocalBlockStore.open(dir!);
process.stdout.write('writing\n');
await store.put(key!, data);
process.stdout.write('done\n');
