// CPU per observation of the mount's per-operation latency histogram: prom-client's labelled
// Histogram.observe against OpHistogram's kept series (src/metrics/op-histogram.ts), interleaved
// rounds in one process (process.cpuUsage), and the two scrape outputs' agreement for one op.
//
//   npx tsx bench/op-histogram.ts
import { Metrics, LATENCY_BUCKETS } from '../src/metrics/index.ts';
import { OpHistogram } from '../src/metrics/op-histogram.ts';
const m = new Metrics({ runtime: false });
const h = m.histogram('a_seconds', 'a', ['op']);
const o = new OpHistogram('b_seconds', 'b', LATENCY_BUCKETS, m.registry);
const ops = ['lookup', 'create', 'flush', 'release', 'getattr'];
const series = ops.map((x) => o.series(x));
const N = 2_000_000;
for (let round = 0; round < 3; round++) {
  let c = process.cpuUsage();
  for (let i = 0; i < N; i++) h.observe({ op: ops[i % 5]! }, (i % 1000) / 1e6);
  const a = process.cpuUsage(c); const promNs = ((a.user + a.system) * 1000) / N;
  c = process.cpuUsage();
  for (let i = 0; i < N; i++) series[i % 5]!.observe((i % 1000) / 1e6);
  const b = process.cpuUsage(c); const ownNs = ((b.user + b.system) * 1000) / N;
  console.log(`prom-client observe ${promNs.toFixed(0)} ns, OpHistogram ${ownNs.toFixed(1)} ns, ratio ${(promNs / ownNs).toFixed(1)}`);
}
const t = await m.text();
console.log(t.split('\n').filter((l) => l.includes('op="create"') && (l.includes('_count') || l.includes('le="0.0005"'))).join('\n'));
