// The mount's Prometheus metrics (`curvefs mount --metrics-port`): every FUSE operation counted
// and timed by op name, its failures by errno, bytes read and written through the mount, the
// object store's latency and failures, and the read cache's hits and misses.
//
// It wraps things rather than editing them: the FUSE ops object the dispatcher calls (every
// kernel request that reaches the file system is one call on it) and the block store the file
// data goes through. mount.ts loads this file only when metrics are asked for, so a mount
// without them neither loads prom-client nor pays for the wrappers.
import { isCurveError, statusName } from '../common/index.ts';
import type { BlockCache, BlockEntry, BlockInfo, BlockStore } from '../data/index.ts';
import { E, errnoOf, type FuseOps } from '../fuse/index.ts';
import { LATENCY_BUCKETS, Metrics, serveMetrics, type Counter, type Histogram, type MetricsServer } from '../metrics/index.ts';
import { OpHistogram } from '../metrics/index.ts';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(E)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** Ops that are not kernel requests answered by the file system: nothing to time. */
const UNTIMED = new Set<PropertyKey>(['init', 'attachNotifier']);

type AnyFn = (...args: unknown[]) => unknown;

export class MountMetrics {
  readonly registry = new Metrics();
  /** Observed on every kernel request: our own histogram, each op's series kept by its wrapper. */
  private readonly opSeconds: OpHistogram;
  private readonly opErrors: Counter<'op' | 'errno'>;
  private readonly readBytes: Counter;
  private readonly writtenBytes: Counter;
  private readonly objectSeconds: Histogram<'op'>;
  private readonly objectErrors: Counter<'op' | 'status'>;
  private readonly objectBytes: Counter<'op'>;

  constructor() {
    const m = this.registry;
    this.opSeconds = new OpHistogram('curvefs_mount_fuse_op_seconds', 'FUSE requests served, and their latency, by operation.', LATENCY_BUCKETS, m.registry);
    this.opErrors = m.counter('curvefs_mount_fuse_op_errors_total', 'FUSE requests answered with an error, by operation and errno.', ['op', 'errno']);
    this.readBytes = m.counter('curvefs_mount_read_bytes_total', 'Bytes returned by FUSE reads.');
    this.writtenBytes = m.counter('curvefs_mount_written_bytes_total', 'Bytes accepted by FUSE writes.');
    this.objectSeconds = m.histogram('curvefs_mount_object_seconds', 'Object store calls and their latency, by operation.', ['op']);
    this.objectErrors = m.counter('curvefs_mount_object_errors_total', 'Object store calls that failed, by operation and status.', ['op', 'status']);
    this.objectBytes = m.counter('curvefs_mount_object_bytes_total', 'Bytes moved to (put) and from (get) the object store.', ['op']);
  }

  /**
   * The ops as the dispatcher should see them: the same object (a Proxy, so methods the ops do
   * not implement stay absent and still answer ENOSYS), each method call timed.
   */
  instrumentOps<T extends FuseOps>(ops: T): T {
    const wrapped = new Map<PropertyKey, AnyFn>();
    return new Proxy(ops, {
      get: (target, prop) => {
        const v: unknown = Reflect.get(target, prop, target);
        if (typeof v !== 'function' || UNTIMED.has(prop) || typeof prop !== 'string') return v;
        let w = wrapped.get(prop);
        if (!w) wrapped.set(prop, (w = this.timed(prop, v as AnyFn, target)));
        return w;
      },
    });
  }

  private timed(op: string, fn: AnyFn, target: object): AnyFn {
    const hist = this.opSeconds.series(op);
    const done = (start: number, result: unknown): void => {
      hist.observe((performance.now() - start) / 1000);
      if (op === 'read' && result instanceof Uint8Array) this.readBytes.inc(result.byteLength);
      else if (op === 'write' && typeof result === 'number') this.writtenBytes.inc(result);
      // A negative entry (node id 0) is the file system's "no such name", answered as a cached
      // entry rather than an error reply (src/fuse/ops.ts LookupOps): count it as the ENOENT it is.
      else if (op === 'lookup' && isNegativeEntry(result)) this.opErrors.inc({ op, errno: 'ENOENT' });
    };
    const failed = (start: number, e: unknown): void => {
      hist.observe((performance.now() - start) / 1000);
      const n = errnoOf(e);
      this.opErrors.inc({ op, errno: ERRNO_NAMES.get(n) ?? String(n) });
    };
    return (...args: unknown[]): unknown => {
      const start = performance.now();
      let r: unknown;
      try {
        r = fn.apply(target, args);
      } catch (e) {
        failed(start, e);
        throw e;
      }
      if (r instanceof Promise) {
        // Observe on a side branch and hand back the original promise: the caller's handling
        // (and its timing) is unchanged.
        r.then(
          (v: unknown) => done(start, v),
          (e: unknown) => failed(start, e),
        );
      } else {
        done(start, r);
      }
      return r;
    };
  }

  /** The block store as the file data should see it: every get, put, delete and head timed. */
  instrumentStore(store: BlockStore): BlockStore {
    return new TimedBlockStore(store, this);
  }

  /** @internal Used by TimedBlockStore. */
  async timeObject<T>(op: string, call: () => Promise<T>, bytesOf?: (r: T) => number): Promise<T> {
    const start = performance.now();
    try {
      const r = await call();
      if (bytesOf) this.objectBytes.inc({ op }, bytesOf(r));
      return r;
    } catch (e) {
      this.objectErrors.inc({ op, status: isCurveError(e) ? statusName(e.status) : 'UNKNOWN' });
      throw e;
    } finally {
      this.objectSeconds.observe({ op }, (performance.now() - start) / 1000);
    }
  }

  /** Read-cache figures, taken from the cache's own counters at each scrape. */
  watchCache(cache: BlockCache): void {
    const hits = this.registry.counter('curvefs_mount_cache_hits_total', 'Object reads answered by the read cache.');
    const misses = this.registry.counter('curvefs_mount_cache_misses_total', 'Object reads the read cache had to load from the store.');
    const bytes = this.registry.gauge('curvefs_mount_cache_bytes', 'Bytes held by the read cache.');
    this.registry.beforeScrape(() => {
      const s = cache.stats();
      hits.reset();
      hits.inc(s.hits);
      misses.reset();
      misses.inc(s.misses);
      bytes.set(s.bytes);
    });
  }

  /** Open handles, open files and locks held, from the ops' own counts at each scrape. */
  watchOpen(stats: () => { handles: number; files: number; locks: number }): void {
    const handles = this.registry.gauge('curvefs_mount_open_handles', 'File handles open through the mount.');
    const files = this.registry.gauge('curvefs_mount_open_files', 'Distinct files open through the mount.');
    const locks = this.registry.gauge('curvefs_mount_locks', 'File locks held by this mount.');
    this.registry.beforeScrape(() => {
      const s = stats();
      handles.set(s.handles);
      files.set(s.files);
      locks.set(s.locks);
    });
  }

  serve(opts: { host: string; port: number }): Promise<MetricsServer> {
    return serveMetrics(this.registry, opts);
  }
}

class TimedBlockStore implements BlockStore {
  constructor(
    private readonly store: BlockStore,
    private readonly m: MountMetrics,
  ) {}

  get(key: string, offset?: number, length?: number): Promise<Uint8Array> {
    return this.m.timeObject('get', () => this.store.get(key, offset, length), (r) => r.byteLength);
  }
  put(key: string, bytes: Uint8Array): Promise<void> {
    return this.m.timeObject('put', () => this.store.put(key, bytes), () => bytes.byteLength);
  }
  delete(keys: readonly string[]): Promise<void> {
    return this.m.timeObject('delete', () => this.store.delete(keys));
  }
  head(key: string): Promise<BlockInfo | undefined> {
    return this.m.timeObject('head', () => this.store.head(key));
  }
  list(prefix: string): AsyncIterable<BlockEntry> {
    return this.store.list(prefix);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

function isNegativeEntry(r: unknown): boolean {
  return typeof r === 'object' && r !== null && (r as { attr?: { ino?: number } }).attr?.ino === 0;
}
