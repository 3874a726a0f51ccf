// KvStore on etcd v3 (npm etcd3, low-level KV calls). A fenced transaction adds
// `createRevision(fence.key) == fence.revision` to its compares; when the transaction fails,
// its failure branch reads the fence key so the caller learns whether it lost leadership
// ('fence') or lost a race on its own compares ('compare').
import type { Etcd3, ICompare, IKeyValue, IRequestOp } from 'etcd3';
import { CurveError, StatusCode } from '../../common/index.ts';
import { createEtcdClient, type EtcdClientOptions } from './etcd-client.ts';
import type { KvCompare, KvEntry, KvStore, TxnRequest, TxnResult } from './types.ts';
import { validateTxn } from './validate.ts';

export class EtcdStore implements KvStore {
  readonly kind = 'etcd' as const;
  private client: Etcd3;
  private closed = false;

  constructor(private readonly opts: EtcdClientOptions) {
    this.client = createEtcdClient(opts);
  }

  /** Drops every connection and dials again (after a partition, connections may be dead). */
  reconnect(): void {
    if (this.closed) return;
    this.client.close();
    this.client = createEtcdClient(this.opts);
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.checkOpen();
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from(key) }));
    return res.kvs[0] ? toEntry(res.kvs[0]) : undefined;
  }

  async list(prefix: string): Promise<KvEntry[]> {
    this.checkOpen();
    // etcd has no empty key: the whole keyspace is the range ["\0", "\0").
    const key = prefix.length > 0 ? Buffer.from(prefix) : Buffer.from([0]);
    const rangeEnd = prefix.length > 0 ? prefixEnd(key) : Buffer.from([0]);
    const res = await this.call(() => this.client.kv.range({ key, range_end: rangeEnd, sort_target: 'Key', sort_order: 'Ascend' }));
    return res.kvs.map(toEntry);
  }

  async revision(): Promise<number> {
    this.checkOpen();
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from([0]), limit: 1 }));
    return Number(res.header.revision);
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    this.checkOpen();
    validateTxn(req);
    const compare: ICompare[] = (req.compares ?? []).map(toCompare);
    if (req.fence) compare.unshift(toCompare({ key: req.fence.key, target: 'createRevision', equals: req.fence.revision }));
    const success: IRequestOp[] = req.ops.map((op) =>
      op.type === 'put'
        ? { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength) } }
        : { request_delete_range: { key: Buffer.from(op.key) } },
    );
    const failure: IRequestOp[] = req.fence ? [{ request_range: { key: Buffer.from(req.fence.key) } }] : [];
    const res = await this.call(() => this.client.kv.txn({ compare, success, failure }));
    if (res.succeeded) return { ok: true, revision: Number(res.header.revision) };
    if (req.fence) {
      const kv = res.responses[0]?.response_range?.kvs[0];
      if (!kv || Number(kv.create_revision) !== req.fence.revision) return { ok: false, reason: 'fence' };
    }
    return { ok: false, reason: 'compare' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof CurveError) throw e;
      throw new CurveError(StatusCode.MDS_STORAGE_ERROR, `etcd: ${(e as Error).message}`);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new CurveError(StatusCode.STORAGE_CLOSED, 'etcd store is closed');
  }
}

function toEntry(kv: IKeyValue): KvEntry {
  return {
    key: kv.key.toString('utf8'),
    value: new Uint8Array(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  };
}

function toCompare(c: KvCompare): ICompare {
  const key = Buffer.from(c.key);
  switch (c.target) {
    case 'createRevision':
      return { key, target: 'Create', result: 'Equal', create_revision: c.equals };
    case 'modRevision':
      return { key, target: 'Mod', result: 'Equal', mod_revision: c.equals };
    case 'version':
      return { key, target: 'Version', result: 'Equal', version: c.equals };
    case 'value':
      return { key, target: 'Value', result: 'Equal', value: Buffer.from(c.equals) };
  }
}

/** The range end that selects every key starting with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}
