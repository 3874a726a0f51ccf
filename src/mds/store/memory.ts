// A KvStore in memory only (unit tests of the MDS services): the embedded store's semantics
// without its files.
import { CurveError, StatusCode } from '../../common/index.ts';
import { MvccMap, Overlay } from './mvcc-map.ts';
import type { KvEntry, KvStore, TxnRequest, TxnResult } from './types.ts';
import { validateTxn } from './validate.ts';

export class MemoryStore implements KvStore {
  readonly kind = 'embedded' as const;
  private readonly state = new MvccMap();
  private closed = false;

  async get(key: string): Promise<KvEntry | undefined> {
    this.checkOpen();
    return this.state.get(key);
  }

  async list(prefix: string): Promise<KvEntry[]> {
    this.checkOpen();
    return this.state.list(prefix);
  }

  async revision(): Promise<number> {
    return this.state.revision;
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    this.checkOpen();
    validateTxn(req);
    const fail = this.state.check(req);
    if (fail) return { ok: false, reason: fail };
    const overlay = new Overlay(this.state);
    const changing = req.ops.filter((op) => op.type === 'put' || overlay.get(op.key) !== undefined);
    if (changing.length === 0) return { ok: true, revision: this.state.revision };
    const rev = this.state.revision + 1;
    this.state.apply(changing, rev);
    return { ok: true, revision: rev };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new CurveError(StatusCode.STORAGE_CLOSED, 'memory store is closed');
  }
}
