// A block store view for random reads: a ranged get is served from the whole-object read cache
// when the object is there (put there by sequential reads), else read from the store for just
// the bytes asked for — without loading the whole object, which for a random reader of a file
// larger than the cache would mostly be wasted.
import { CurveError, StatusCode } from '../common/index.ts';
import type { BlockCache, BlockEntry, BlockInfo, BlockStore } from '../data/index.ts';

export class CacheFirstStore implements BlockStore {
  constructor(
    private readonly store: BlockStore,
    private readonly cache: BlockCache,
  ) {}

  async get(key: string, offset?: number, length?: number): Promise<Uint8Array> {
    const whole = this.cache.get(key);
    if (whole) {
      // The same contract as the store's ranged get (block-store.ts).
      const start = offset ?? 0;
      if (start > whole.byteLength) throw new CurveError(StatusCode.PARAM_ERROR, `offset ${start} past the end of ${key}`);
      const end = length === undefined ? whole.byteLength : Math.min(whole.byteLength, start + length);
      return whole.subarray(start, end);
    }
    return this.store.get(key, offset, length);
  }

  put(key: string, bytes: Uint8Array): Promise<void> {
    return this.store.put(key, bytes);
  }
  delete(keys: readonly string[]): Promise<void> {
    return this.store.delete(keys);
  }
  list(prefix: string): AsyncIterable<BlockEntry> {
    return this.store.list(prefix);
  }
  head(key: string): Promise<BlockInfo | undefined> {
    return this.store.head(key);
  }
  close(): Promise<void> {
    // The underlying store belongs to the connection, which closes it.
    return Promise.resolve();
  }
}
