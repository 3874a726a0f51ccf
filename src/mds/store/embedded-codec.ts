// Byte formats of the embedded store (docs: src/mds/README.md "Embedded store files"). Pure
// encode/decode, no I/O. All integers little-endian.
//
// Log record (file kv.log, appended; one per committed transaction):
//   0  magic    u32  0x52564b43 ("CKVR")
//   4  version  u16  1
//   6  flags    u16  0
//   8  length   u32  payload bytes
//   12 payload       revision u64 | opCount u32 | ops: type u8 (1 put, 2 delete) |
//                    keyLen u32 | key (UTF-8) | [valueLen u32 | value]   (value only for put)
//   .. crc      u32  CRC-32C of bytes [0, 12 + length)
//
// Snapshot (file kv.snap, written to a temp file, fsynced, renamed):
//   0  magic    8 bytes "CFKVSNAP"
//   8  version  u32 1
//   12 revision u64
//   20 count    u64
//   28 entries  keyLen u32 | key | valueLen u32 | value | createRevision u64 | modRevision u64 |
//               version u64
//   .. checksum u64 CRC-64/XZ of every preceding byte
import { crc32c, crc64 } from '../../common/index.ts';
import type { KvOp } from './types.ts';

export const RECORD_MAGIC = 0x52564b43;
export const RECORD_VERSION = 1;
export const RECORD_HEADER = 12;
export const SNAP_MAGIC = 'CFKVSNAP';
export const SNAP_VERSION = 1;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export interface LogRecord {
  revision: number;
  ops: KvOp[];
}

export interface SnapEntry {
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface Snapshot {
  revision: number;
  entries: SnapEntry[];
}

class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;
  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  u64(v: number): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  lenBytes(b: Uint8Array): void {
    this.u32(b.length);
    this.bytes(b);
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }
}

/** Thrown by decoders; `message` says exactly what is wrong and where. */
export class FormatError extends Error {}

class Reader {
  pos = 0;
  private view: DataView;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new FormatError(`${this.what}: truncated at byte ${this.pos} (need ${n})`);
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${this.what}: integer out of range at byte ${this.pos - 8}`);
    return Number(v);
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    // A plain Uint8Array copy, whatever the input (a Buffer's slice would share its memory).
    const b = new Uint8Array(n);
    b.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
  lenBytes(): Uint8Array {
    return this.bytes(this.u32());
  }
  str(): string {
    const at = this.pos;
    try {
      return dec.decode(this.lenBytes());
    } catch (e) {
      if (e instanceof FormatError) throw e;
      throw new FormatError(`${this.what}: invalid UTF-8 key at byte ${at}`);
    }
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
}

export function encodeRecord(rec: LogRecord): Uint8Array {
  const w = new Writer(64);
  w.u32(RECORD_MAGIC);
  w.u16(RECORD_VERSION);
  w.u16(0);
  w.u32(0); // length, patched below
  w.u64(rec.revision);
  w.u32(rec.ops.length);
  for (const op of rec.ops) {
    w.u8(op.type === 'put' ? 1 : 2);
    w.lenBytes(enc.encode(op.key));
    if (op.type === 'put') w.lenBytes(op.value);
  }
  const payloadLen = w.pos - RECORD_HEADER;
  w.patchU32(8, payloadLen);
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32c(body), true);
  return out;
}

export type RecordScan =
  | { kind: 'record'; record: LogRecord; end: number }
  /** The bytes from `offset` to EOF do not hold a whole record: a write torn by a crash. */
  | { kind: 'torn'; reason: string }
  /** A complete but invalid record with more data after it: corruption, not a torn tail. */
  | { kind: 'corrupt'; reason: string };

/** Decodes the record at `offset` of `buf` (a whole log file). */
export function scanRecord(buf: Uint8Array, offset: number): RecordScan {
  const left = buf.length - offset;
  if (left < RECORD_HEADER + 4) return { kind: 'torn', reason: `${left} trailing bytes, less than a record header` };
  const view = new DataView(buf.buffer, buf.byteOffset + offset, left);
  const magic = view.getUint32(0, true);
  const version = view.getUint16(4, true);
  const length = view.getUint32(8, true);
  const end = offset + RECORD_HEADER + length + 4;
  const isLast = end >= buf.length;
  const bad = (reason: string): RecordScan => (isLast ? { kind: 'torn', reason } : { kind: 'corrupt', reason });
  if (end > buf.length) return { kind: 'torn', reason: `record at ${offset} declares ${length} bytes, file ends first` };
  if (magic !== RECORD_MAGIC) return bad(`bad record magic 0x${magic.toString(16)} at offset ${offset}`);
  const body = buf.subarray(offset, end - 4);
  const crc = view.getUint32(RECORD_HEADER + length, true);
  if (crc32c(body) !== crc) return bad(`record checksum mismatch at offset ${offset}`);
  if (version !== RECORD_VERSION) return { kind: 'corrupt', reason: `unsupported record version ${version} at offset ${offset}` };
  try {
    const r = new Reader(buf.subarray(offset + RECORD_HEADER, end - 4), `record at ${offset}`);
    const revision = r.u64();
    const n = r.u32();
    const ops: KvOp[] = [];
    for (let i = 0; i < n; i++) {
      const type = r.u8();
      const key = r.str();
      if (type === 1) ops.push({ type: 'put', key, value: r.lenBytes() });
      else if (type === 2) ops.push({ type: 'delete', key });
      else throw new FormatError(`record at ${offset}: unknown op type ${type}`);
    }
    if (r.remaining !== 0) throw new FormatError(`record at ${offset}: ${r.remaining} unexpected trailing payload bytes`);
    return { kind: 'record', record: { revision, ops }, end };
  } catch (e) {
    // The checksum matched, so these bytes were written as they are: a format error, never torn.
    return { kind: 'corrupt', reason: (e as Error).message };
  }
}

export function encodeSnapshot(snap: Snapshot): Uint8Array {
  const w = new Writer(1024);
  w.bytes(enc.encode(SNAP_MAGIC));
  w.u32(SNAP_VERSION);
  w.u64(snap.revision);
  w.u64(snap.entries.length);
  for (const e of snap.entries) {
    w.lenBytes(enc.encode(e.key));
    w.lenBytes(e.value);
    w.u64(e.createRevision);
    w.u64(e.modRevision);
    w.u64(e.version);
  }
  const body = w.finish();
  const out = new Uint8Array(body.length + 8);
  out.set(body);
  new DataView(out.buffer).setBigUint64(body.length, crc64(body), true);
  return out;
}

export function decodeSnapshot(buf: Uint8Array): Snapshot {
  const what = 'snapshot';
  if (buf.length < 8 + 4 + 8 + 8 + 8) throw new FormatError(`${what}: file of ${buf.length} bytes is too short`);
  const magic = new TextDecoder().decode(buf.subarray(0, 8));
  if (magic !== SNAP_MAGIC) throw new FormatError(`${what}: bad magic ${JSON.stringify(magic)}`);
  const body = buf.subarray(0, buf.length - 8);
  const stored = new DataView(buf.buffer, buf.byteOffset + buf.length - 8, 8).getBigUint64(0, true);
  if (crc64(body) !== stored) throw new FormatError(`${what}: checksum mismatch`);
  const r = new Reader(body, what);
  r.bytes(8);
  const version = r.u32();
  if (version !== SNAP_VERSION) throw new FormatError(`${what}: unsupported version ${version}`);
  const revision = r.u64();
  const count = r.u64();
  const entries: SnapEntry[] = [];
  for (let i = 0; i < count; i++) {
    const key = r.str();
    const value = r.lenBytes();
    entries.push({ key, value, createRevision: r.u64(), modRevision: r.u64(), version: r.u64() });
  }
  if (r.remaining !== 0) throw new FormatError(`${what}: ${r.remaining} bytes after the last entry`);
  return { revision, entries };
}
