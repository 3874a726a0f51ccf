// The CURVEFS snapshot container (architecture.md §5; byte layout in docs/formats.md):
//   "CURVEFS" (7) | version u32 | pair count u64 | pairs (u32 keyLen, key, u32 valLen, value)
//   | 0xFF | CRC-64/XZ u64 over every preceding byte — all little-endian.
// The writer streams chunks from frozen partition views (sorted key order: record type, then
// partition id, then ids/names); the parser is push-based and incremental, so neither side ever
// holds the whole file. A loaded state is returned only after the checksum matched.
import { Crc64 } from '../../common/index.ts';
import { Out, readU32le, readU64le } from './bytes.ts';
import { encodeRecords, RECORD_TYPES, RecordError, SnapshotLoader, TRASH_DIR_VERSION } from './records.ts';
import type { Partition } from './partition.ts';
import type { PartitionView } from './view.ts';

export const SNAPSHOT_MAGIC = 'CURVEFS';
// Version 2: the request table's LRU fields are reserved (windows live as long as their session);
// the layout is that of version 1, which this reader still loads (its LRU fields are ignored).
// Version 3: each slice of a chunk record carries its append sequence (records.ts,
// SLICE_SEQ_VERSION); versions 1 and 2 still load, their slices ordered by chunk id.
// Version 4: TRASH records (records.ts, TRASH_VERSION); older versions have none and still load.
// Version 5: each slice of a chunk record carries its owner (records.ts, SLICE_OWNER_VERSION:
// clones share objects); older versions have none (every slice its inode's own) and still load.
// Version 6: TRASH records may hold directories and inodes of other partitions (records.ts,
// TRASH_DIR_VERSION); older versions have file entries of their own partition only and still load.
export const SNAPSHOT_VERSION = TRASH_DIR_VERSION;
const OLDEST_READABLE_VERSION = 1;
export const SNAPSHOT_EOF = 0xff;
export const HEADER_BYTES = 19;
/** Longest key a reader accepts (real keys are ≤ 268 bytes). */
export const MAX_KEY_BYTES = 4096;
/** Longest value a reader accepts. */
export const MAX_VALUE_BYTES = 256 * 1024 * 1024;
const DEFAULT_CHUNK = 256 * 1024;

const MAGIC_BYTES = new TextEncoder().encode(SNAPSHOT_MAGIC);

export type SnapshotErrorReason = 'bad-magic' | 'unsupported-version' | 'truncated' | 'checksum-mismatch' | 'malformed-pair';

/** A snapshot file that must not be loaded, and why. */
export class SnapshotFormatError extends Error {
  constructor(
    readonly reason: SnapshotErrorReason,
    detail: string,
    /** Byte offset in the file where the problem was found. */
    readonly offset: number,
  ) {
    super(`CURVEFS snapshot: ${reason.replace('-', ' ')} at byte ${offset}: ${detail}`);
    this.name = 'SnapshotFormatError';
  }
}

// ---------------------------------------------------------------------------------------------
// writing

export interface SnapshotSink {
  /** Receives the file in order; may return a promise for backpressure. */
  write(chunk: Uint8Array): void | Promise<void>;
}

export interface SnapshotSummary {
  pairs: number;
  bytes: number;
  checksum: bigint;
}

/**
 * The snapshot of `views` (any order; each partition id once) as a sequence of chunks of about
 * `chunkSize` bytes. The last chunk carries the EOF byte and checksum. Sync: a caller that must
 * not block the event loop writes chunk by chunk with awaits in between (writeSnapshot).
 */
export function* encodeSnapshot(views: readonly PartitionView[], chunkSize = DEFAULT_CHUNK, summary?: SnapshotSummary): Generator<Uint8Array> {
  const sorted = [...views].sort((a, b) => a.partitionId - b.partitionId);
  for (let k = 1; k < sorted.length; k++) {
    if (sorted[k]!.partitionId === sorted[k - 1]!.partitionId) throw new Error(`partition ${sorted[k]!.partitionId} twice in one snapshot`);
  }
  const total = sorted.reduce((n, v) => n + v.pairCount, 0);
  const crc = new Crc64();
  const w = new Out(chunkSize);
  let bytes = 0;
  const emit = (): Uint8Array => {
    const c = w.take();
    crc.update(c);
    bytes += c.length;
    return c;
  };
  w.reserve(HEADER_BYTES);
  w.bytes(MAGIC_BYTES);
  w.u32le(SNAPSHOT_VERSION);
  w.u64le(total);
  let pairs = 0;
  for (const type of RECORD_TYPES) {
    for (const v of sorted) {
      const gen = encodeRecords(v, type, w);
      for (;;) {
        const r = gen.next();
        if (r.done) {
          pairs += r.value;
          break;
        }
        yield emit();
      }
    }
  }
  if (pairs !== total) throw new Error(`snapshot writer produced ${pairs} pairs, header says ${total}`);
  w.reserve(1);
  w.u8(SNAPSHOT_EOF);
  const last = emit();
  const sum = crc.digest();
  const tail = new Uint8Array(last.length + 8);
  tail.set(last);
  new DataView(tail.buffer).setBigUint64(last.length, sum, true);
  bytes += 8;
  if (summary) {
    summary.pairs = pairs;
    summary.bytes = bytes;
    summary.checksum = sum;
  }
  yield tail;
}

/**
 * Freezes `partitions`, streams their snapshot into `sink` (awaiting it between chunks, so ops
 * keep being applied meanwhile), and releases the views.
 */
export async function writeSnapshot(partitions: readonly Partition[], sink: SnapshotSink, chunkSize = DEFAULT_CHUNK): Promise<SnapshotSummary> {
  const views = partitions.map((p) => p.freeze());
  try {
    return await writeSnapshotViews(views, sink, chunkSize);
  } finally {
    for (const v of views) v.release();
  }
}

/** Streams already frozen views (the caller releases them). */
export async function writeSnapshotViews(views: readonly PartitionView[], sink: SnapshotSink, chunkSize = DEFAULT_CHUNK): Promise<SnapshotSummary> {
  const summary: SnapshotSummary = { pairs: 0, bytes: 0, checksum: 0n };
  for (const chunk of encodeSnapshot(views, chunkSize, summary)) {
    const r = sink.write(chunk);
    if (r !== undefined) await r;
  }
  return summary;
}

/** CRC-64 of a single-partition snapshot: equal digests = equal replicated state. */
export function partitionDigest(p: Partition): bigint {
  const v = p.freeze();
  try {
    const s: SnapshotSummary = { pairs: 0, bytes: 0, checksum: 0n };
    for (const _ of encodeSnapshot([v], DEFAULT_CHUNK, s));
    return s.checksum;
  } finally {
    v.release();
  }
}

// ---------------------------------------------------------------------------------------------
// reading

export interface SnapshotHeader {
  magic: string;
  version: number;
  pairCount: number;
}

export interface PairVisitor {
  header?(h: SnapshotHeader): void;
  /** key = buf[ks, ke), value = buf[vs, ve); the bytes are only valid during the call. */
  pair(buf: Uint8Array, ks: number, ke: number, vs: number, ve: number): void;
}

const enum State {
  HEADER,
  PAIRS,
  EOF,
  CHECKSUM,
  DONE,
}

/**
 * Incremental parser of the container: push() the file in chunks of any size, then end().
 * Throws SnapshotFormatError at the first problem; the checksum is checked in end()/push() of
 * the last bytes, after every pair has been visited, so a visitor must stage what it builds.
 */
export class SnapshotParser {
  private state = State.HEADER;
  private readonly crc = new Crc64();
  private carry: Buffer = Buffer.alloc(0);
  private carryLen = 0;
  /** File offset of the first byte not yet consumed. */
  private offset = 0;
  private remaining = 0;
  header: SnapshotHeader | undefined;
  checksum: bigint | undefined;

  constructor(private readonly visitor: PairVisitor) {}

  push(input: Uint8Array): void {
    // A Buffer view (no copy) gives visitors Buffer's fast string decoding.
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let off = 0;
    // Complete an item that straddles the previous chunk boundary.
    while (this.carryLen > 0 && off < chunk.length) {
      const need = this.need(this.carry, 0, this.carryLen);
      if (this.carryLen >= need) break;
      const take = Math.min(need - this.carryLen, chunk.length - off);
      this.appendCarry(chunk, off, take);
      off += take;
      if (this.carryLen >= this.need(this.carry, 0, this.carryLen)) {
        const used = this.consume(this.carry, 0, this.carryLen);
        if (used !== this.carryLen) throw new Error('internal: carried item not fully consumed');
        this.carryLen = 0;
      }
    }
    if (this.carryLen > 0) return;
    const used = this.consume(chunk, off, chunk.length);
    off += used;
    if (off < chunk.length) {
      if (this.state === State.DONE) this.fail('malformed-pair', `${chunk.length - off} bytes after the checksum`);
      this.appendCarry(chunk, off, chunk.length - off);
    }
  }

  /** Call after the last chunk: the file must have ended exactly after its checksum. */
  end(): void {
    if (this.state !== State.DONE) {
      const what =
        this.state === State.HEADER
          ? 'in the header'
          : this.state === State.PAIRS
            ? `with ${this.remaining} of ${this.header!.pairCount} pairs missing`
            : this.state === State.EOF
              ? 'before the EOF marker'
              : 'in the checksum';
      this.fail('truncated', `file ends ${what}`, this.offset + this.carryLen);
    }
  }

  private appendCarry(src: Uint8Array, off: number, n: number): void {
    if (this.carry.length < this.carryLen + n) {
      const b = Buffer.alloc(Math.max(this.carryLen + n, this.carry.length * 2, 256));
      b.set(this.carry.subarray(0, this.carryLen));
      this.carry = b;
    }
    this.carry.set(src.subarray(off, off + n), this.carryLen);
    this.carryLen += n;
  }

  private fail(reason: SnapshotErrorReason, detail: string, at = this.offset): never {
    throw new SnapshotFormatError(reason, detail, at);
  }

  /** Total bytes the next item needs, as far as the available bytes tell (a lower bound). */
  private need(b: Uint8Array, off: number, end: number): number {
    switch (this.state) {
      case State.HEADER:
        return HEADER_BYTES;
      case State.EOF:
        return 1;
      case State.CHECKSUM:
        return 8;
      case State.DONE:
        return 0;
      case State.PAIRS: {
        if (end - off < 4) return 4;
        const kl = readU32le(b, off);
        if (kl === 0 || kl > MAX_KEY_BYTES) this.fail('malformed-pair', `key length ${kl}`);
        if (end - off < 8 + kl) return 8 + kl;
        const vl = readU32le(b, off + 4 + kl);
        if (vl > MAX_VALUE_BYTES) this.fail('malformed-pair', `value length ${vl}`);
        return 8 + kl + vl;
      }
    }
  }

  /** Consumes complete items from b[off, end); returns the bytes consumed. */
  private consume(b: Uint8Array, off: number, end: number): number {
    const start = off;
    let crcFrom = off;
    while (this.state !== State.DONE && off < end) {
      const need = this.need(b, off, end);
      if (end - off < need) break;
      switch (this.state) {
        case State.HEADER:
          this.parseHeader(b, off);
          off += HEADER_BYTES;
          this.offset += HEADER_BYTES;
          this.state = this.remaining > 0 ? State.PAIRS : State.EOF;
          break;
        case State.PAIRS:
          off = this.pairs(b, off, end);
          break;
        case State.EOF:
          if (b[off] !== SNAPSHOT_EOF) {
            this.fail('malformed-pair', `expected the EOF marker 0xFF after ${this.header!.pairCount} pairs, found 0x${b[off]!.toString(16)}`);
          }
          off += 1;
          this.offset += 1;
          this.crc.update(b.subarray(crcFrom, off));
          crcFrom = off;
          this.state = State.CHECKSUM;
          break;
        case State.CHECKSUM: {
          const want = readChecksum(b, off);
          const got = this.crc.digest();
          if (want !== got) {
            this.fail('checksum-mismatch', `file says 0x${want.toString(16).padStart(16, '0')}, content is 0x${got.toString(16).padStart(16, '0')}`);
          }
          this.checksum = got;
          off += 8;
          this.offset += 8;
          crcFrom = off;
          this.state = State.DONE;
          break;
        }
      }
    }
    if (this.state !== State.DONE && this.state !== State.CHECKSUM) this.crc.update(b.subarray(crcFrom, off));
    return off - start;
  }

  /** The hot loop: visits every complete pair in b[off, end); returns where it stopped. */
  private pairs(b: Uint8Array, off: number, end: number): number {
    const visitor = this.visitor;
    let remaining = this.remaining;
    let offset = this.offset;
    try {
      while (remaining > 0 && end - off >= 4) {
        const kl = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24);
        if (kl <= 0 || kl > MAX_KEY_BYTES) break; // need() reports it
        const ks = off + 4;
        const ke = ks + kl;
        if (end - ke < 4) break;
        const vl = (b[ke]! | (b[ke + 1]! << 8) | (b[ke + 2]! << 16) | (b[ke + 3]! << 24)) >>> 0;
        if (vl > MAX_VALUE_BYTES) break;
        const ve = ke + 4 + vl;
        if (ve > end) break;
        this.offset = offset;
        visitor.pair(b, ks, ke, ke + 4, ve);
        offset += ve - off;
        off = ve;
        remaining--;
      }
    } catch (e) {
      if (e instanceof RecordError) this.fail('malformed-pair', e.message);
      throw e;
    } finally {
      this.remaining = remaining;
      this.offset = offset;
    }
    if (remaining === 0) this.state = State.EOF;
    return off;
  }

  private parseHeader(b: Uint8Array, off: number): void {
    for (let k = 0; k < MAGIC_BYTES.length; k++) {
      if (b[off + k] !== MAGIC_BYTES[k]) {
        this.fail('bad-magic', `expected "CURVEFS", found ${JSON.stringify(String.fromCharCode(...b.subarray(off, off + 7)))}`, k);
      }
    }
    const version = readU32le(b, off + 7);
    if (version < OLDEST_READABLE_VERSION || version > SNAPSHOT_VERSION) this.fail('unsupported-version', `version ${version} (this reader knows ${SNAPSHOT_VERSION})`, 7);
    const count = readU64le(b, off + 11);
    if (count < 0) this.fail('malformed-pair', 'pair count beyond 2^53', 11);
    this.remaining = count;
    this.header = { magic: SNAPSHOT_MAGIC, version, pairCount: count };
    this.visitor.header?.(this.header);
  }
}

function readChecksum(b: Uint8Array, off: number): bigint {
  return (BigInt(readU32le(b, off + 4)) << 32n) | BigInt(readU32le(b, off));
}

/** Runs a parser over an async stream of chunks (a file ReadStream, for instance). */
export async function parseSnapshot(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, visitor: PairVisitor): Promise<SnapshotHeader> {
  const parser = new SnapshotParser(visitor);
  for await (const chunk of source) parser.push(chunk);
  parser.end();
  return parser.header!;
}

/**
 * Loads every partition in a snapshot stream. Returns them by partition id only when the whole
 * file is valid; on any problem throws SnapshotFormatError and nothing is returned.
 */
export async function loadSnapshot(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Map<number, Partition>> {
  const loader = new SnapshotLoader();
  const parser = new SnapshotParser(loader);
  for await (const chunk of source) parser.push(chunk);
  parser.end();
  try {
    return loader.finish();
  } catch (e) {
    if (e instanceof RecordError) throw new SnapshotFormatError('malformed-pair', e.message, parser.header ? HEADER_BYTES : 0);
    throw e;
  }
}

/** loadSnapshot for bytes already in memory (tests, small files). */
export function loadSnapshotBytes(bytes: Uint8Array): Promise<Map<number, Partition>> {
  return loadSnapshot([bytes]);
}
