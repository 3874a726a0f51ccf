// Prometheus metrics for every curvefs process, on prom-client: one `Metrics` per component
// (MDS, metaserver, mount) holds its own metrics; the text it serves adds the process and
// Node.js runtime metrics (CPU, memory, heap, event-loop lag, GC, handles), which are collected
// once per process however many components live in it (tests run several metaservers in one).
//
// Components never register in prom-client's global registry: two metaservers in one process
// must not clash over a name.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/** Latency buckets in seconds, 100 µs to 10 s: metadata calls take well under a millisecond. */
export const LATENCY_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The Prometheus text format (0.0.4) content type. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

let processRuntime: Registry | undefined;

/** Process and runtime metrics, started on first use (they install a GC observer and an event-loop monitor). */
function runtimeRegistry(): Registry {
  if (!processRuntime) {
    processRuntime = new Registry();
    collectDefaultMetrics({ register: processRuntime });
    // prom-client also exports these sums as gauges named `_total`, which `promtool check
    // metrics` rejects (a `_total` name is a counter's; prometheus/client_js issue #283). The
    // per-type gauges stay (nodejs_active_handles{type} ...): sum() of them is the total.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      processRuntime.removeSingleMetric(name);
    }
  }
  return processRuntime;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly hooks: Array<() => void | Promise<void>> = [];
  private readonly runtime: Registry | undefined;

  /** runtime: false for a part of a component whose other part already adds the runtime metrics. */
  constructor(opts: { runtime?: boolean } = {}) {
    // Started with the component so that GC and event-loop figures cover its whole life.
    this.runtime = opts.runtime === false ? undefined : runtimeRegistry();
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], buckets: readonly number[] = LATENCY_BUCKETS): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /**
   * Runs before every scrape: for gauges sampled from live state (copysets, cluster status), so
   * the figures are read once per scrape instead of being kept up to date on every change.
   */
  beforeScrape(fn: () => void | Promise<void>): void {
    this.hooks.push(fn);
  }

  /** The exposition text: this component's metrics, then the process's runtime metrics. */
  async text(): Promise<string> {
    for (const h of this.hooks) await h();
    const own = await this.registry.metrics();
    return this.runtime ? own + (await this.runtime.metrics()) : own;
  }
}
