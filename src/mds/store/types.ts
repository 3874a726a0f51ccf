// The MDS key-value store contract. Two engines implement it — etcd (a real cluster) and an
// embedded single-node log file (one-machine use) — and one conformance suite
// (test/helpers/kv-store-conformance.ts) runs against both.
//
// Semantics follow etcd's MVCC model, because the election fence depends on it:
//  - a store-wide `revision` rises by one with every transaction that changes something;
//  - each key carries `createRevision` (the revision that created it since it last did not
//    exist), `modRevision` (last change) and `version` (number of puts since creation);
//  - a transaction is all-or-nothing: every compare must hold, then every op applies.

export interface KvEntry {
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

export type KvOp =
  | { type: 'put'; key: string; value: Uint8Array }
  | { type: 'delete'; key: string };

/** A guard on one key. A missing key has createRevision = modRevision = version = 0. */
export type KvCompare =
  | { key: string; target: 'createRevision' | 'modRevision' | 'version'; equals: number }
  | { key: string; target: 'value'; equals: Uint8Array };

/**
 * The fencing token of a leader: its election key and that key's create revision. Every write
 * the leader makes carries it; the store applies the write only while the key still exists with
 * that create revision, so a deposed leader's write fails.
 */
export interface Fence {
  key: string;
  revision: number;
}

export interface TxnRequest {
  fence?: Fence;
  compares?: KvCompare[];
  ops: KvOp[];
}

export type TxnResult =
  | { ok: true; revision: number }
  /** `fence`: the fence did not hold (not the leader any more); `compare`: a compare failed. */
  | { ok: false; reason: 'fence' | 'compare' };

export interface KvStore {
  readonly kind: 'etcd' | 'embedded';
  get(key: string): Promise<KvEntry | undefined>;
  /** Every key that starts with `prefix`, in byte order of the key. */
  list(prefix: string): Promise<KvEntry[]>;
  txn(req: TxnRequest): Promise<TxnResult>;
  /** Current store revision (for tests and diagnostics). */
  revision(): Promise<number>;
  close(): Promise<void>;
}

export const EMPTY = new Uint8Array(0);

export function putOp(key: string, value: Uint8Array): KvOp {
  return { type: 'put', key, value };
}

export function deleteOp(key: string): KvOp {
  return { type: 'delete', key };
}
