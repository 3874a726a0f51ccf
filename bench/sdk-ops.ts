// Where a single-worker SDK metadata op spends its time: runs create / stat / unlink / link loops against
// a local 3-replica cluster (caches off) and prints, per op, the metaserver calls it made (count
// per op by method) and their mean latency, next to the op's own mean latency. The link loop
// gives one file N names (its link count grows from 1 to N+1), timed in a first and a last tenth.
//   npx tsx bench/sdk-ops.ts [--files N]
// To profile the processes as well, run with NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (the
// metaserver children inherit it; each writes its profile when the cluster stops).
import { startCluster } from '../test/helpers/cluster.ts';
import type { MetaCaller } from '../src/client/index.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg('files', 500);

interface MethodStats { count: number; ms: number }
let calls = new Map<string, MethodStats>();

const cluster = await startCluster({ fsName: 'ops' });
try {
  const { fs, meta } = await cluster.connect();
  // Wrap the metaserver caller to count and time every call by method.
  const inner = (meta as unknown as { caller: MetaCaller }).caller;
  (meta as unknown as { caller: MetaCaller }).caller = {
    async call(address, method, req, opts) {
      const t0 = performance.now();
      try {
        return await inner.call(address, method, req, opts);
      } finally {
        const s = calls.get(method) ?? { count: 0, ms: 0 };
        s.count++;
        s.ms += performance.now() - t0;
        calls.set(method, s);
      }
    },
  };
  await fs.mkdir('/d');
  const ops: Array<[string, (i: number) => Promise<unknown>]> = [
    ['create (open w + close)', async (i) => (await fs.open(`/d/f${i}`, 'w')).close()],
    ['stat', (i) => fs.stat(`/d/f${i}`)],
    ['unlink', (i) => fs.unlink(`/d/f${i}`)],
    ['link (nlink 1 → N+1)', (i) => fs.link('/d/target', `/d/l${i}`)],
  ];
  await fs.writeFile('/d/target', '');
  for (const [name, fn] of ops) {
    calls = new Map();
    const t0 = performance.now();
    const tenth = Math.max(1, Math.floor(FILES / 10));
    let firstTenthMs = 0;
    let lastTenthStart = 0;
    for (let i = 0; i < FILES; i++) {
      if (i === tenth) firstTenthMs = performance.now() - t0;
      if (i === FILES - tenth) lastTenthStart = performance.now();
      await fn(i);
    }
    const ms = (performance.now() - t0) / FILES;
    const tenths = `first tenth ${((1000 * tenth) / firstTenthMs).toFixed(0)} ops/s, last tenth ${((1000 * tenth) / (performance.now() - lastTenthStart)).toFixed(0)} ops/s`;
    console.log(`${name}: ${(1000 / ms).toFixed(0)} ops/s, ${ms.toFixed(2)} ms/op (${tenths})`);
    for (const [m, s] of [...calls].sort((a, b) => b[1].ms - a[1].ms)) {
      console.log(`  ${m.padEnd(18)} ${(s.count / FILES).toFixed(2)} calls/op  ${(s.ms / s.count).toFixed(2)} ms/call`);
    }
  }
} finally {
  await cluster.stop();
}
