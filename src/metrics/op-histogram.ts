// A latency histogram by operation name, for per-request timing: every FUSE request of a mount
// and every request a metaserver serves observes it once, so its cost is paid per create, stat,
// write... prom-client's labelled
// Histogram hashes the label object on every observe (and keeps a map by that hash); here each
// operation's series is looked up once by the caller and kept, and an observation is a search
// over the fixed bounds and two additions. Exposed to the registry as a prom-client metric
// object (name, help, type, get()), so the scrape output is the same Prometheus histogram.
import type { Registry } from 'prom-client';

/** One operation's counts: per bucket (not cumulative), sum and count. */
export class OpSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]! += 1;
    this.sum += v;
    this.count++;
  }
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export class OpHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly byOp = new Map<string, OpSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    // prom-client takes any object with name, help, type and get() as a metric.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of `op` (created on first use): keep it, and observe on it directly. */
  series(op: string): OpSeries {
    let s = this.byOp.get(op);
    if (!s) this.byOp.set(op, (s = new OpSeries(this.bounds)));
    return s;
  }

  /** The samples as prom-client exposes a histogram: cumulative buckets, +Inf, sum and count. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    for (const [op, s] of this.byOp) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: this.bounds[i]!, op }, value: acc });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', op }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { op }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { op }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.byOp.clear();
  }
}
