// A block store in any S3-compatible service (AWS, MinIO, Ceph RGW, s3rver...). A single PUT is
// atomic in S3, so an object is complete or absent without any extra protocol. Retries are the
// SDK's standard strategy (exponential backoff with jitter and a retry budget), bounded by
// `maxAttempts`; each attempt is bounded by `requestTimeoutMs`.
//
// Every object carries its CRC-32C in user metadata (x-amz-meta-crc32c); whole-object reads
// check it and re-read a few times on a mismatch or a cut-off body, which is what a reader sees
// from services whose overwrites are not atomic (s3rver) or from a damaged transfer.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
// Type-only: the SDK itself (~0.7 s to import) loads in open(), so code that only ever uses the
// local store does not pay for it.
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

type Sdk = typeof import('@aws-sdk/client-s3');
import { CurveError, StatusCode, crc32c } from '../common/index.ts';
import {
  checkKey, checkPrefix, checkRange, closedError,
  type BlockEntry, type BlockInfo, type BlockStore,
} from './block-store.ts';

export interface S3BlockStoreOptions {
  bucket: string;
  /** e.g. "http://127.0.0.1:9000"; omitted: AWS's endpoint for the region. */
  endpoint?: string;
  /** Default "us-east-1". */
  region?: string;
  /** Path-style URLs (endpoint/bucket/key), needed by most self-hosted services. */
  forcePathStyle?: boolean;
  /** Omitted: the SDK's default chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Prepended to every key, e.g. "curvefs/"; lets several users share a bucket. */
  keyPrefix?: string;
  /** Attempts per request including the first (default 5). */
  maxAttempts?: number;
  /** Per-attempt timeout in ms (default 30000). */
  requestTimeoutMs?: number;
  /** Connections kept open to the service (default 64). */
  maxSockets?: number;
}

const DELETE_BATCH = 1000; // S3's DeleteObjects limit
const CRC_META = 'crc32c';
/** Reads of a whole object whose checksum does not match before giving up. */
const TORN_READ_ATTEMPTS = 5;

interface S3ErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  message?: string;
}

/** The body stopped early (connection cut, server-side file shrank under the reader). */
function isCutOff(e: unknown): boolean {
  const err = e as S3ErrorShape;
  return err?.message === 'aborted' || err?.code === 'ECONNRESET' || err?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}

function statusOf(e: unknown): number | undefined {
  return (e as S3ErrorShape)?.$metadata?.httpStatusCode;
}

/** A CurveError for an SDK failure, after its retries ran out. */
function mapError(e: unknown, what: string): CurveError {
  if (e instanceof CurveError) return e;
  const err = e as S3ErrorShape;
  const http = statusOf(e);
  const detail = `${what}: ${err?.name ?? 'Error'}${http ? ` (HTTP ${http})` : ''}: ${err?.message ?? String(e)}`;
  if (err?.name === 'NoSuchKey' || err?.name === 'NotFound' || http === 404) return new CurveError(StatusCode.NOT_FOUND, detail);
  if (err?.name === 'TimeoutError' || err?.name === 'RequestTimeout' || err?.code === 'ETIMEDOUT') {
    return new CurveError(StatusCode.TIMEOUT, detail);
  }
  if ((http !== undefined && http >= 500) || err?.code === 'ECONNREFUSED' || err?.code === 'ECONNRESET') {
    return new CurveError(StatusCode.UNAVAILABLE, detail);
  }
  return new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, detail);
}

export class S3BlockStore implements BlockStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private closed = false;

  /** Loads the AWS SDK and creates the client (no request is sent until the first call). */
  static async open(opts: S3BlockStoreOptions): Promise<S3BlockStore> {
    if (!opts.bucket) throw new CurveError(StatusCode.PARAM_ERROR, 'S3 block store needs a bucket');
    checkPrefix(opts.keyPrefix ?? '');
    return new S3BlockStore(await import('@aws-sdk/client-s3'), opts);
  }

  private constructor(private readonly sdk: Sdk, opts: S3BlockStoreOptions) {
    this.bucket = opts.bucket;
    this.keyPrefix = opts.keyPrefix ?? '';
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 64 };
    const config: S3ClientConfig = {
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? false,
      maxAttempts: opts.maxAttempts ?? 5,
      retryMode: 'standard',
      requestHandler: {
        requestTimeout: opts.requestTimeoutMs ?? 30_000,
        connectionTimeout: Math.min(opts.requestTimeoutMs ?? 30_000, 10_000),
        httpAgent: new HttpAgent(agentOpts),
        httpsAgent: new HttpsAgent(agentOpts),
      },
    };
    if (opts.endpoint) config.endpoint = opts.endpoint;
    if (opts.credentials) config.credentials = opts.credentials;
    this.client = new sdk.S3Client(config);
  }

  private ensureOpen(): void {
    if (this.closed) throw closedError();
  }

  private fullKey(key: string): string {
    return this.keyPrefix + key;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.ensureOpen();
    checkKey(key);
    try {
      await this.client.send(new this.sdk.PutObjectCommand({
        Bucket: this.bucket, Key: this.fullKey(key), Body: bytes, ContentLength: bytes.length,
        Metadata: { [CRC_META]: crc32c(bytes).toString(16) },
      }));
    } catch (e) {
      throw mapError(e, `put ${key}`);
    }
  }

  async get(key: string, offset?: number, length?: number): Promise<Uint8Array> {
    this.ensureOpen();
    checkKey(key);
    checkRange(offset, length);
    const off = offset ?? 0;
    if (length === 0) return this.emptyRead(key, off);
    const whole = off === 0 && length === undefined;
    const range = whole ? undefined : `bytes=${off}-${length === undefined ? '' : off + length - 1}`;
    for (let attempt = 1; ; attempt++) {
      let bytes: Uint8Array;
      let res;
      try {
        res = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Range: range }));
        bytes = await res.Body!.transformToByteArray();
      } catch (e) {
        // 416: the range starts at or past the end (S3 also says so for any range of an empty object).
        if (statusOf(e) === 416 || (e as S3ErrorShape)?.name === 'InvalidRange') return this.emptyRead(key, off);
        const mapped = mapError(e, `get ${key}`);
        if (isCutOff(e) && attempt < TORN_READ_ATTEMPTS) continue;
        throw mapped;
      }
      if (!whole) {
        // Services that ignore a Range (or part of it, like s3rver with "bytes=0-0") send more
        // than asked: cut the range out, using Content-Range to know where the bytes start.
        const start = Number(/^bytes (\d+)-/.exec(res.ContentRange ?? '')?.[1] ?? 0);
        const from = off - start;
        return bytes.subarray(from, length === undefined ? undefined : from + length);
      }
      const want = res.Metadata?.[CRC_META];
      if (want === undefined || parseInt(want, 16) === crc32c(bytes)) return bytes;
      if (attempt >= TORN_READ_ATTEMPTS) {
        throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `object ${key} does not match its checksum`);
      }
    }
  }

  /** A read that returns no bytes: still NOT_FOUND for an absent object, PARAM_ERROR past its end. */
  private async emptyRead(key: string, off: number): Promise<Uint8Array> {
    const info = await this.head(key);
    if (!info) throw new CurveError(StatusCode.NOT_FOUND, `no block ${key}`);
    if (off > info.size) throw new CurveError(StatusCode.PARAM_ERROR, `offset ${off} beyond object ${key} of ${info.size} bytes`);
    return new Uint8Array(0);
  }

  async head(key: string): Promise<BlockInfo | undefined> {
    this.ensureOpen();
    checkKey(key);
    try {
      const res = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return { size: res.ContentLength ?? 0 };
    } catch (e) {
      const mapped = mapError(e, `head ${key}`);
      if (mapped.status === StatusCode.NOT_FOUND) return undefined;
      throw mapped;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.ensureOpen();
    for (const k of keys) checkKey(k);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let res;
      try {
        res = await this.client.send(new this.sdk.DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((k) => ({ Key: this.fullKey(k) })), Quiet: true },
        }));
      } catch (e) {
        const mapped = mapError(e, `delete ${batch.length} objects`);
        throw new CurveError(StatusCode.S3_DELETE_ERR, mapped.message);
      }
      const errors = (res.Errors ?? []).filter((er) => er.Code !== 'NoSuchKey');
      if (errors.length > 0) {
        const first = errors[0]!;
        throw new CurveError(StatusCode.S3_DELETE_ERR,
          `${errors.length} of ${batch.length} deletes failed, e.g. ${first.Key}: ${first.Code} ${first.Message ?? ''}`);
      }
    }
  }

  // ListObjects (v1) with the last key as marker: every S3-compatible service supports it
  // (s3rver's v2 continuation tokens need DES, which Node 20's OpenSSL lacks).
  async *list(prefix: string): AsyncIterable<BlockEntry> {
    this.ensureOpen();
    checkPrefix(prefix);
    let marker: string | undefined;
    for (;;) {
      let res;
      try {
        res = await this.client.send(new this.sdk.ListObjectsCommand({ Bucket: this.bucket, Prefix: this.fullKey(prefix), Marker: marker }));
      } catch (e) {
        throw mapError(e, `list ${prefix}`);
      }
      const contents = res.Contents ?? [];
      for (const obj of contents) {
        if (obj.Key === undefined || !obj.Key.startsWith(this.keyPrefix)) continue;
        yield { key: obj.Key.slice(this.keyPrefix.length), size: obj.Size ?? 0, mtimeMs: obj.LastModified?.getTime() };
      }
      const last = contents[contents.length - 1]?.Key;
      if (!res.IsTruncated || last === undefined) return;
      marker = res.NextMarker ?? last;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }
}
