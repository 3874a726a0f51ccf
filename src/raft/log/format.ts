// Byte layout of a Raft log segment file. Pure encode/decode; no I/O.
//
// Segment file (little-endian):
//   header, 32 bytes: magic "CFSRLOG1" (8) | version u32 | reserved u32 | sequence u64 |
//                     reserved u32 | crc32c of the 28 bytes before it u32
//   records, back to back, from byte 32:
//     type u8 | payload length u32 | payload | crc32c(type, length, payload) u32
//   then zeros up to the preallocated size. A zero type byte marks the end of the records.
//
// Record types:
//   Entry     index u64 | term u64 | entry type u8 | data
//   HardState term u64 | vote u64 | commit u64
//   Truncate  from u64            — entries >= from are gone
//   Base      index u64 | term u64 — the log is now empty and continues after `index`
//                                   (written when a snapshot replaces the whole log)
//   Position  last index u64       — written at the start of each new segment, so a segment
//                                   still says where the log ends after every entry before it
//                                   was compacted away
//
// The log is append-only: a conflicting suffix is replaced by appending entries with lower
// indexes (or a Truncate record); replay applies the records in order, so the last write wins.
// Old bytes are never overwritten in place, so stale records cannot resurface after a crash.
import { crc32c } from '../../common/index.ts';
import type { Entry, EntryType, HardState } from '../core/types.ts';
import { getU64, putU64 } from '../bytes.ts';

export const SEGMENT_MAGIC = 'CFSRLOG1';
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 32;
/** type + length before the payload, crc after it. */
export const RECORD_OVERHEAD = 1 + 4 + 4;
/** A payload larger than this is corruption, not a record (protects the reader's memory). */
export const MAX_RECORD_PAYLOAD = 1 << 30;

export const enum RecordType {
  End = 0,
  Entry = 1,
  HardState = 2,
  Truncate = 3,
  Base = 4,
  Position = 5,
}

export function encodeSegmentHeader(sequence: number): Uint8Array {
  const b = new Uint8Array(SEGMENT_HEADER_BYTES);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(SEGMENT_MAGIC), 0);
  v.setUint32(8, SEGMENT_VERSION, true);
  putU64(v, 16, sequence);
  v.setUint32(28, crc32c(b.subarray(0, 28)), true);
  return b;
}

/** Returns the sequence number, or a description of what is wrong with the header. */
export function decodeSegmentHeader(b: Uint8Array): { sequence: number } | { error: string } {
  if (b.length < SEGMENT_HEADER_BYTES) return { error: `header truncated (${b.length} bytes)` };
  const v = new DataView(b.buffer, b.byteOffset, SEGMENT_HEADER_BYTES);
  if (new TextDecoder().decode(b.subarray(0, 8)) !== SEGMENT_MAGIC) return { error: 'bad magic' };
  if (v.getUint32(28, true) !== crc32c(b.subarray(0, 28))) return { error: 'header checksum mismatch' };
  const version = v.getUint32(8, true);
  if (version !== SEGMENT_VERSION) return { error: `unsupported version ${version}` };
  const sequence = getU64(v, 16);
  if (sequence < 0) return { error: 'sequence out of range' };
  return { sequence };
}

/** Frames one record: type, length, the payload `fill` writes at offset 5, checksum. */
function frame(type: RecordType, payloadLen: number, fill: (view: DataView, b: Uint8Array, p: number) => void): Uint8Array {
  // Every `fill` writes its whole payload, so every byte is set: no zero fill, and a slice of
  // Node's pool rather than an ArrayBuffer of its own (a hard state record goes with every sync).
  const b = Buffer.allocUnsafe(RECORD_OVERHEAD + payloadLen);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  b[0] = type;
  v.setUint32(1, payloadLen, true);
  fill(v, b, 5);
  v.setUint32(5 + payloadLen, crc32c(b.subarray(0, 5 + payloadLen)), true);
  return b;
}

/** Bytes an entry's record takes. */
export function entryRecordSize(e: Entry): number {
  return RECORD_OVERHEAD + 17 + e.data.length;
}

/**
 * Writes an entry's record into `b` at `off` (room for entryRecordSize(e) bytes; `v` views the
 * same memory as `b`, from its start). The hot path of the log: no allocation per entry.
 */
export function writeEntryRecord(b: Uint8Array, v: DataView, off: number, e: Entry): void {
  const len = 17 + e.data.length;
  b[off] = RecordType.Entry;
  v.setUint32(off + 1, len, true);
  putU64(v, off + 5, e.index);
  putU64(v, off + 13, e.term);
  b[off + 21] = e.type;
  b.set(e.data, off + 22);
  v.setUint32(off + 5 + len, crc32c(b.subarray(off, off + 5 + len)), true);
}

export function encodeEntryRecord(e: Entry): Uint8Array {
  const b = new Uint8Array(entryRecordSize(e));
  writeEntryRecord(b, new DataView(b.buffer), 0, e);
  return b;
}

export function encodeHardStateRecord(hs: HardState): Uint8Array {
  return frame(RecordType.HardState, 24, (v, _b, p) => {
    putU64(v, p, hs.term);
    putU64(v, p + 8, hs.vote);
    putU64(v, p + 16, hs.commit);
  });
}

export function encodeTruncateRecord(from: number): Uint8Array {
  return frame(RecordType.Truncate, 8, (v, _b, p) => putU64(v, p, from));
}

export function encodeBaseRecord(index: number, term: number): Uint8Array {
  return frame(RecordType.Base, 16, (v, _b, p) => {
    putU64(v, p, index);
    putU64(v, p + 8, term);
  });
}

export function encodePositionRecord(lastIndex: number): Uint8Array {
  return frame(RecordType.Position, 8, (v, _b, p) => putU64(v, p, lastIndex));
}

export type DecodedRecord =
  | { type: RecordType.Entry; entry: Entry }
  | { type: RecordType.HardState; hardState: HardState }
  | { type: RecordType.Truncate; from: number }
  | { type: RecordType.Base; index: number; term: number }
  | { type: RecordType.Position; lastIndex: number };

export type RecordParse =
  | { kind: 'record'; record: DecodedRecord; size: number }
  /** Zero type byte: clean end of the records in this segment. */
  | { kind: 'end' }
  /** Not enough bytes in `b` to tell; the caller reads more (or, at end of file, reports). */
  | { kind: 'short'; need: number }
  | { kind: 'bad'; reason: string };

/**
 * Parses the record at the start of `b`. `b` is a window of the file; `short` asks for a
 * larger window. Payloads are copied so the window can be reused.
 */
export function parseRecord(b: Uint8Array): RecordParse {
  if (b.length < 1) return { kind: 'short', need: 1 };
  const type = b[0]!;
  if (type === RecordType.End) return { kind: 'end' };
  if (b.length < 5) return { kind: 'short', need: 5 };
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const len = v.getUint32(1, true);
  if (len > MAX_RECORD_PAYLOAD) return { kind: 'bad', reason: `record length ${len} too large` };
  const size = RECORD_OVERHEAD + len;
  if (b.length < size) return { kind: 'short', need: size };
  if (v.getUint32(5 + len, true) !== crc32c(b.subarray(0, 5 + len))) return { kind: 'bad', reason: 'record checksum mismatch' };
  const p = 5;
  const u64 = (off: number): number => getU64(v, p + off);
  switch (type) {
    case RecordType.Entry: {
      if (len < 17) return { kind: 'bad', reason: `entry record too short (${len})` };
      const index = u64(0), term = u64(8);
      if (index < 1 || term < 0) return { kind: 'bad', reason: 'entry index/term out of range' };
      const entry: Entry = { index, term, type: b[p + 16]! as EntryType, data: b.slice(p + 17, p + len) };
      return { kind: 'record', record: { type, entry }, size };
    }
    case RecordType.HardState: {
      if (len !== 24) return { kind: 'bad', reason: `hard state record has length ${len}` };
      const term = u64(0), vote = u64(8), commit = u64(16);
      if (term < 0 || vote < 0 || commit < 0) return { kind: 'bad', reason: 'hard state out of range' };
      return { kind: 'record', record: { type, hardState: { term, vote, commit } }, size };
    }
    case RecordType.Truncate: {
      const from = len === 8 ? u64(0) : -1;
      if (from < 1) return { kind: 'bad', reason: 'malformed truncate record' };
      return { kind: 'record', record: { type, from }, size };
    }
    case RecordType.Base: {
      const index = len === 16 ? u64(0) : -1, term = len === 16 ? u64(8) : -1;
      if (index < 0 || term < 0) return { kind: 'bad', reason: 'malformed base record' };
      return { kind: 'record', record: { type, index, term }, size };
    }
    case RecordType.Position: {
      const lastIndex = len === 8 ? u64(0) : -1;
      if (lastIndex < 0) return { kind: 'bad', reason: 'malformed position record' };
      return { kind: 'record', record: { type, lastIndex }, size };
    }
    default:
      return { kind: 'bad', reason: `unknown record type ${type}` };
  }
}
