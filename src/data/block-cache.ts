// A read cache of whole objects, bounded by bytes, least recently used out first. Objects are
// immutable (a rewrite gets a new key), so entries never need invalidating.

export interface BlockCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  entries: number;
}

export class BlockCache {
  private readonly entries = new Map<string, Uint8Array>(); // insertion order = LRU order
  private readonly loading = new Map<string, Promise<Uint8Array>>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): Uint8Array | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  set(key: string, value: Uint8Array): void {
    this.delete(key);
    if (value.length > this.maxBytes) return;
    this.entries.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }

  delete(key: string): void {
    const v = this.entries.get(key);
    if (v === undefined) return;
    this.entries.delete(key);
    this.bytes -= v.length;
  }

  /** The cached object, else `load()`'s result (cached); concurrent misses share one load. */
  async getOrLoad(key: string, load: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const hit = this.get(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    const pending = this.loading.get(key);
    if (pending) {
      this.hits++;
      return pending;
    }
    this.misses++;
    const p = load().then(
      (v) => {
        this.loading.delete(key);
        this.set(key, v);
        return v;
      },
      (e: unknown) => {
        this.loading.delete(key);
        throw e;
      },
    );
    this.loading.set(key, p);
    return p;
  }

  stats(): BlockCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.bytes, entries: this.entries.size };
  }
}
