// Byte layout of a Raft snapshot file (little-endian). Pure; no I/O.
//
//   header:  magic "CFSRSNP1" (8) | version u32 | header length u32 (whole header, this field
//            included) | last index u64 | last term u64 | voters: count u32, ids u64… |
//            learners: count u32, ids u64… | crc32c of the header bytes before it u32
//   data:    the state machine's bytes, as it streamed them
//   trailer: magic "CFSRSEND" (8) | data length u64 | CRC-64/XZ of every byte before this field
//
// The header has its own checksum so the meta can be read without the data; the trailer's
// CRC-64 covers header and data, so a file is valid only once fully written and checked.
import { crc32c } from '../../common/index.ts';
import type { ConfState, SnapshotMeta } from '../core/types.ts';
import { getU64, putU64 } from '../bytes.ts';

export const SNAPSHOT_MAGIC = 'CFSRSNP1';
export const SNAPSHOT_VERSION = 1;
export const TRAILER_MAGIC = 'CFSRSEND';
export const TRAILER_BYTES = 24;
/** Bounds a header's length (and so its member count) before anything is allocated. */
export const MAX_HEADER_BYTES = 1 << 20;

export function encodeSnapshotHeader(meta: SnapshotMeta): Uint8Array {
  const { voters, learners } = meta.conf;
  const len = 8 + 4 + 4 + 16 + 4 + 8 * voters.length + 4 + 8 * learners.length + 4;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(SNAPSHOT_MAGIC), 0);
  v.setUint32(8, SNAPSHOT_VERSION, true);
  v.setUint32(12, len, true);
  putU64(v, 16, meta.index);
  putU64(v, 24, meta.term);
  let o = 32;
  for (const ids of [voters, learners]) {
    v.setUint32(o, ids.length, true);
    o += 4;
    for (const id of ids) {
      putU64(v, o, id);
      o += 8;
    }
  }
  v.setUint32(o, crc32c(b.subarray(0, o)), true);
  return b;
}

/** The header length announced by the first 16 bytes, or an error. */
export function peekHeaderLength(b: Uint8Array): number | { error: string } {
  if (b.length < 16) return { error: `file too short for a header (${b.length} bytes)` };
  if (new TextDecoder().decode(b.subarray(0, 8)) !== SNAPSHOT_MAGIC) return { error: 'bad magic' };
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const version = v.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) return { error: `unsupported version ${version}` };
  const len = v.getUint32(12, true);
  if (len < 44 || len > MAX_HEADER_BYTES) return { error: `header length ${len} out of range` };
  return len;
}

export function decodeSnapshotHeader(b: Uint8Array): SnapshotMeta | { error: string } {
  const len = peekHeaderLength(b);
  if (typeof len !== 'number') return len;
  if (b.length < len) return { error: `header truncated (${b.length} of ${len} bytes)` };
  const v = new DataView(b.buffer, b.byteOffset, len);
  if (v.getUint32(len - 4, true) !== crc32c(b.subarray(0, len - 4))) return { error: 'header checksum mismatch' };
  const index = getU64(v, 16), term = getU64(v, 24);
  if (index < 0 || term < 0) return { error: 'index/term out of range' };
  let o = 32;
  const ids = (): number[] | undefined => {
    if (o + 4 > len - 4) return undefined;
    const n = v.getUint32(o, true);
    o += 4;
    if (o + 8 * n > len - 4) return undefined;
    const out: number[] = [];
    for (let i = 0; i < n; i++, o += 8) {
      const id = getU64(v, o);
      if (id <= 0) return undefined;
      out.push(id);
    }
    return out;
  };
  const voters = ids(), learners = ids();
  if (!voters || !learners || o !== len - 4) return { error: 'malformed membership' };
  const conf: ConfState = { voters, learners };
  return { index, term, conf };
}

export function encodeTrailer(dataLength: number, crc: bigint): Uint8Array {
  const b = new Uint8Array(TRAILER_BYTES);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(TRAILER_MAGIC), 0);
  putU64(v, 8, dataLength);
  v.setBigUint64(16, crc, true);
  return b;
}

export function decodeTrailer(b: Uint8Array): { dataLength: number; crc: bigint } | { error: string } {
  if (b.length !== TRAILER_BYTES) return { error: 'trailer truncated' };
  if (new TextDecoder().decode(b.subarray(0, 8)) !== TRAILER_MAGIC) return { error: 'bad trailer magic (file incomplete?)' };
  const v = new DataView(b.buffer, b.byteOffset, TRAILER_BYTES);
  const dataLength = getU64(v, 8);
  if (dataLength < 0) return { error: 'data length out of range' };
  return { dataLength, crc: v.getBigUint64(16, true) };
}
