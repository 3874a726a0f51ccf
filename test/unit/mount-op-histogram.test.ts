// The mount's own per-operation histogram exposes exactly what prom-client's labelled Histogram
// exposes for the same observations (same bucket lines, sum and count), so dashboards and
// `curvefs stats` read it unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BUCKETS, Metrics } from '../../src/metrics/index.ts';
import { OpHistogram } from '../../src/metrics/op-histogram.ts';

test('OpHistogram scrapes as the prom-client Histogram of the same observations', async () => {
  const theirs = new Metrics({ runtime: false });
  const ours = new Metrics({ runtime: false });
  const h = theirs.histogram('x_seconds', 'Latency.', ['op']);
  const o = new OpHistogram('x_seconds', 'Latency.', LATENCY_BUCKETS, ours.registry);
  const values = [0, 0.0001, 0.00011, 0.0004, 0.003, 0.01, 9.99, 10, 11, 250];
  for (const [i, v] of values.entries()) {
    const op = i % 3 === 0 ? 'lookup' : 'create';
    h.observe({ op }, v);
    o.series(op).observe(v);
  }
  const sorted = (t: string) => t.trim().split('\n').sort();
  assert.deepEqual(sorted(await ours.text()), sorted(await theirs.text()));
});
