// Random 4 KiB writes into one WriteBuffer (no FUSE, a memory block store): CPU per write and
// per flush as the number of writes between flushes grows, and the slices and objects a flush
// produces — the write buffer's own cost, apart from the cluster and the disk.
//
//   npx tsx bench/data-random-writes.ts [--writes 1000,4000,16000] [--file-mib 1024]
import { FileDataIO, MemoryBlockStore, WriteBuffer } from '../src/data/index.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const COUNTS = arg('writes', '1000,4000,16000').split(',').map(Number);
const FILE = Number(arg('file-mib', '1024')) * 1024 * 1024;
const BS = 4096;

let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const page = new Uint8Array(BS).fill(7);

console.log('| writes | CPU µs/write | flush CPU ms | slices | objects stored | load |');
console.log('|---:|---:|---:|---:|---:|---|');
for (const n of COUNTS) {
  const store = new MemoryBlockStore();
  let puts = 0;
  const put = store.put.bind(store);
  store.put = (k, b) => {
    puts++;
    return put(k, b);
  };
  let next = 1;
  const io = new FileDataIO(store, { fsId: 1, allocChunkIds: async (k) => ((next += k), next - k) });
  const buf = new WriteBuffer(io, 7, { maxBytes: 1 << 30 });
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await buf.write(Math.floor(rand() * (FILE / BS)) * BS, page);
  const c1 = process.cpuUsage(c0);
  const slices = await buf.flush();
  const c2 = process.cpuUsage(c0);
  const us = (c: NodeJS.CpuUsage) => c.user + c.system;
  const load = (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`| ${n} | ${(us(c1) / n).toFixed(1)} | ${((us(c2) - us(c1)) / 1000).toFixed(0)} | ${slices.length} | ${puts} | ${load} |`);
}
