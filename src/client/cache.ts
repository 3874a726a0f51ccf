// Client-side caches with a TTL (0 disables caching): directory entries and inode attributes.
// The client invalidates entries it changes itself; other clients' changes show up when the TTL
// expires (close-to-open: `open` always revalidates).
import type { Clock } from '../common/index.ts';

export class TtlCache<K, V> {
  private readonly map = new Map<K, { value: V; expires: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly maxEntries = 100_000,
  ) {}

  get(key: K): V | undefined {
    if (this.ttlMs <= 0) return undefined;
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= this.clock.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: K, value: V): void {
    if (this.ttlMs <= 0) return;
    if (this.map.size >= this.maxEntries) {
      // Drop the oldest insertion (Map keeps insertion order).
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.delete(key);
    this.map.set(key, { value, expires: this.clock.now() + this.ttlMs });
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
