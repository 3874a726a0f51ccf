// Cluster-wide ids from the store, reserved in bundles (CurveFS's etcd id generator): the
// counter key holds the highest id reserved; a reservation is a fenced compare-and-put from
// `old` to `old + bundle`, after which ids old+1 .. old+bundle are handed out from memory.
// Ids only grow across failovers (a new leader reserves a fresh bundle), with gaps.
import { CurveError, StatusCode } from '../common/index.ts';
import type { FencedStore } from './fenced-store.ts';
import { keys } from './keys.ts';
import { Mutex } from './mutex.ts';

const te = new TextEncoder();
const td = new TextDecoder();

export class IdAllocator {
  // next..end are the free reserved ids; empty until the first reservation (ids start at 1).
  private next = 1;
  private end = 0;
  private readonly mutex = new Mutex();

  constructor(
    private readonly store: FencedStore,
    readonly kind: string,
    private readonly bundle: number,
    /** Largest id this kind may reach (uint32 ids stop at 2^32 − 1). */
    private readonly max = 0xffffffff,
  ) {}

  /** The first of `n` consecutive fresh ids. */
  allocate(n = 1): Promise<number> {
    if (!(Number.isSafeInteger(n) && n >= 1)) return Promise.reject(new CurveError(StatusCode.PARAM_ERROR, `cannot allocate ${n} ids`));
    return this.mutex.run(async () => {
      if (this.end - this.next + 1 < n) await this.reserve(Math.max(n, this.bundle));
      const first = this.next;
      this.next += n;
      return first;
    });
  }

  private async reserve(count: number): Promise<void> {
    const key = keys.id(this.kind);
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.store.get(key);
      const old = cur ? Number(td.decode(cur.value)) : 0;
      if (!Number.isSafeInteger(old) || old < 0) throw new CurveError(StatusCode.MDS_STORAGE_ERROR, `id counter ${key} holds ${JSON.stringify(cur && td.decode(cur.value))}`);
      const end = old + count;
      if (end > this.max) throw new CurveError(StatusCode.MDS_STORAGE_ERROR, `${this.kind} ids exhausted`);
      try {
        await this.store.commit([{ type: 'put', key, value: te.encode(String(end)) }], [{ key, target: 'modRevision', equals: cur?.modRevision ?? 0 }]);
      } catch (e) {
        if (e instanceof CurveError && e.status === StatusCode.TX_WRITE_CONFLICT) continue;
        throw e;
      }
      this.next = old + 1;
      this.end = end;
      return;
    }
    throw new CurveError(StatusCode.MDS_STORAGE_ERROR, `could not reserve ${this.kind} ids`);
  }
}
