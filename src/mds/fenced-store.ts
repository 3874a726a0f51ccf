// The only write path of a leader: every transaction carries the fence of the term it was
// created for. A fence failure means this process is no longer the leader of that term; it
// surfaces as NOT_LEADER (and tells the owner, which stops serving at once).
import { CurveError, StatusCode } from '../common/index.ts';
import type { Fence, KvCompare, KvEntry, KvOp, KvStore } from './store/index.ts';

export class FencedStore {
  constructor(
    private readonly store: KvStore,
    readonly fence: Fence,
    private readonly onFenceLost: () => void = () => undefined,
  ) {}

  get(key: string): Promise<KvEntry | undefined> {
    return this.store.get(key);
  }

  list(prefix: string): Promise<KvEntry[]> {
    return this.store.list(prefix);
  }

  /**
   * Applies `ops` atomically if this term still holds and every compare holds. Returns the new
   * revision. Throws NOT_LEADER when the fence failed, TX_WRITE_CONFLICT when a compare failed.
   */
  async commit(ops: KvOp[], compares: KvCompare[] = []): Promise<number> {
    const r = await this.store.txn({ fence: this.fence, compares, ops });
    if (r.ok) return r.revision;
    if (r.reason === 'fence') {
      this.onFenceLost();
      throw new CurveError(StatusCode.NOT_LEADER, `write refused: term ${this.fence.revision} is over`);
    }
    throw new CurveError(StatusCode.TX_WRITE_CONFLICT, 'store record changed concurrently');
  }
}
