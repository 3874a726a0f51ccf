// A block store in memory: for unit tests of code above the data layer, and the reference the
// conformance suite is easiest to read against.
import { CurveError, StatusCode } from '../common/index.ts';
import {
  checkKey, checkPrefix, checkRange, closedError,
  type BlockEntry, type BlockInfo, type BlockStore,
} from './block-store.ts';

export class MemoryBlockStore implements BlockStore {
  private readonly objects = new Map<string, Uint8Array>();
  private closed = false;

  private ensureOpen(): void {
    if (this.closed) throw closedError();
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.ensureOpen();
    checkKey(key);
    this.objects.set(key, Uint8Array.from(bytes));
  }

  async get(key: string, offset?: number, length?: number): Promise<Uint8Array> {
    this.ensureOpen();
    checkKey(key);
    checkRange(offset, length);
    const obj = this.objects.get(key);
    if (!obj) throw new CurveError(StatusCode.NOT_FOUND, `no block ${key}`);
    const off = offset ?? 0;
    if (off > obj.length) throw new CurveError(StatusCode.PARAM_ERROR, `offset ${off} beyond object ${key} of ${obj.length} bytes`);
    const end = length === undefined ? obj.length : Math.min(obj.length, off + length);
    return obj.slice(off, end);
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.ensureOpen();
    for (const k of keys) checkKey(k);
    for (const k of keys) this.objects.delete(k);
  }

  async *list(prefix: string): AsyncIterable<BlockEntry> {
    this.ensureOpen();
    checkPrefix(prefix);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const obj = this.objects.get(key);
      if (obj) yield { key, size: obj.length };
    }
  }

  async head(key: string): Promise<BlockInfo | undefined> {
    this.ensureOpen();
    checkKey(key);
    const obj = this.objects.get(key);
    return obj ? { size: obj.length } : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Number of objects held (tests). */
  get size(): number {
    return this.objects.size;
  }
}
