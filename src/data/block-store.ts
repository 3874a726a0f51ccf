// The contract every block store (local directory, S3) fulfils. File data lives in immutable
// objects; the one shared conformance suite (test/helpers/block-store-conformance.ts) checks each
// implementation against exactly what is written here.
import { CurveError, StatusCode } from '../common/index.ts';

export interface BlockInfo {
  /** Bytes of data held by the object. */
  size: number;
}

export interface BlockEntry extends BlockInfo {
  key: string;
  /**
   * When the object was last written (ms since the epoch), when the store can tell; gc
   * (src/admin) treats an object without it as too young to delete.
   */
  mtimeMs?: number;
}

export interface BlockStore {
  /**
   * Stores `bytes` under `key`, replacing any previous object. Atomic: a concurrent or later
   * reader sees the whole old object, the whole new one, or (if there was none) no object —
   * never a mix or a prefix, even if the writer dies midway. Resolves once the object is durable.
   */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /**
   * Bytes [offset, offset + length) of the object, cut at its end. `offset` defaults to 0 and
   * `length` to the rest of the object. NOT_FOUND if absent; PARAM_ERROR if offset > size.
   */
  get(key: string, offset?: number, length?: number): Promise<Uint8Array>;
  /** Removes the objects; keys that do not exist are ignored. */
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Every object whose key starts with `prefix`, each once, in no promised order (the local
   * store and S3 happen to list in ascending key order; some S3 look-alikes do not).
   */
  list(prefix: string): AsyncIterable<BlockEntry>;
  /** Size of the object, or undefined if it does not exist. */
  head(key: string): Promise<BlockInfo | undefined>;
  /** Releases resources; later calls fail with STORAGE_CLOSED. */
  close(): Promise<void>;
}

/** Longest key accepted (S3 allows 1024 bytes; keys are ASCII so chars = bytes). */
export const MAX_KEY_LENGTH = 1024;
const KEY_CHARS = /^[A-Za-z0-9._-]+$/;

/**
 * Keys are '/'-separated segments of [A-Za-z0-9._-], no empty segment, no '.' or '..', so a
 * key maps one-to-one onto a relative path (local store) and needs no escaping in S3.
 */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new CurveError(StatusCode.PARAM_ERROR, `bad block key length: ${JSON.stringify(key)}`);
  }
  for (const seg of key.split('/')) {
    if (!KEY_CHARS.test(seg) || seg === '.' || seg === '..') {
      throw new CurveError(StatusCode.PARAM_ERROR, `bad block key: ${JSON.stringify(key)}`);
    }
  }
}

/** A prefix is a key start: the same characters, may be empty and may end with '/'. */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  if (prefix.length > MAX_KEY_LENGTH) throw new CurveError(StatusCode.PARAM_ERROR, 'block key prefix too long');
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

export function checkRange(offset: number | undefined, length: number | undefined): void {
  if (offset !== undefined && !(Number.isSafeInteger(offset) && offset >= 0)) {
    throw new CurveError(StatusCode.PARAM_ERROR, `bad offset ${offset}`);
  }
  if (length !== undefined && !(Number.isSafeInteger(length) && length >= 0)) {
    throw new CurveError(StatusCode.PARAM_ERROR, `bad length ${length}`);
  }
}

export function closedError(): CurveError {
  return new CurveError(StatusCode.STORAGE_CLOSED, 'block store is closed');
}
