// On-disk format of one object in the local block store (docs/formats.md, "Block store
// objects"). A header with magic, version and a CRC-32C per 64 KiB segment of data, so a ranged
// read verifies only the segments it touches instead of the whole object.
//
//   off  size  field
//   0    8     magic "CFSBLOCK"
//   8    4     version (u32 LE) = 1
//   12   4     segment size (u32 LE)
//   16   8     data length (u64 LE)
//   24   4     segment count n = ceil(length / segment size)
//   28   4     CRC-32C of bytes [0, 28) followed by the segment table
//   32   4n    CRC-32C of each data segment
//   32+4n      data
import { CurveError, StatusCode, crc32c } from '../common/index.ts';

export const BLOCK_FILE_MAGIC = 'CFSBLOCK';
export const BLOCK_FILE_VERSION = 1;
export const BLOCK_FILE_SEGMENT = 64 * 1024;
export const BLOCK_FILE_FIXED_HEADER = 32;

const MAGIC_BYTES = Buffer.from(BLOCK_FILE_MAGIC, 'latin1');

export interface BlockFileHeader {
  segmentSize: number;
  dataLength: number;
  segments: number;
  /** Byte offset of the data in the file. */
  dataStart: number;
  crcs: Uint32Array;
}

function corrupt(what: string, detail: string): CurveError {
  return new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `corrupt block file ${what}: ${detail}`);
}

/** The header (fixed part plus segment table) to write in front of `data`. */
export function encodeBlockHeader(data: Uint8Array, segmentSize = BLOCK_FILE_SEGMENT): Buffer {
  const n = Math.ceil(data.length / segmentSize);
  const header = Buffer.alloc(BLOCK_FILE_FIXED_HEADER + 4 * n);
  MAGIC_BYTES.copy(header, 0);
  header.writeUInt32LE(BLOCK_FILE_VERSION, 8);
  header.writeUInt32LE(segmentSize, 12);
  header.writeUInt32LE(data.length % 0x1_0000_0000, 16);
  header.writeUInt32LE(Math.floor(data.length / 0x1_0000_0000), 20);
  header.writeUInt32LE(n, 24);
  for (let i = 0; i < n; i++) {
    const seg = data.subarray(i * segmentSize, Math.min(data.length, (i + 1) * segmentSize));
    header.writeUInt32LE(crc32c(seg), BLOCK_FILE_FIXED_HEADER + 4 * i);
  }
  header.writeUInt32LE(headerCrc(header), 28);
  return header;
}

function headerCrc(header: Uint8Array): number {
  return crc32c(header.subarray(BLOCK_FILE_FIXED_HEADER), crc32c(header.subarray(0, 28)));
}

/** Total header length once the fixed part is known, or throws if the fixed part is corrupt. */
export function parseFixedHeader(fixed: Buffer, what: string): { segmentSize: number; dataLength: number; segments: number } {
  if (fixed.length < BLOCK_FILE_FIXED_HEADER) throw corrupt(what, `short header (${fixed.length} bytes)`);
  if (!fixed.subarray(0, 8).equals(MAGIC_BYTES)) throw corrupt(what, 'bad magic');
  const version = fixed.readUInt32LE(8);
  if (version !== BLOCK_FILE_VERSION) throw corrupt(what, `unsupported version ${version}`);
  const segmentSize = fixed.readUInt32LE(12);
  const dataLength = fixed.readUInt32LE(16) + fixed.readUInt32LE(20) * 0x1_0000_0000;
  const segments = fixed.readUInt32LE(24);
  if (segmentSize === 0 || !Number.isSafeInteger(dataLength) || segments !== Math.ceil(dataLength / segmentSize)) {
    throw corrupt(what, 'inconsistent header fields');
  }
  return { segmentSize, dataLength, segments };
}

/** Parses and verifies the whole header (fixed part plus table) from its bytes. */
export function parseBlockHeader(bytes: Buffer, what: string): BlockFileHeader {
  const { segmentSize, dataLength, segments } = parseFixedHeader(bytes, what);
  const dataStart = BLOCK_FILE_FIXED_HEADER + 4 * segments;
  if (bytes.length < dataStart) throw corrupt(what, 'short segment table');
  const header = bytes.subarray(0, dataStart);
  if (headerCrc(header) !== bytes.readUInt32LE(28)) throw corrupt(what, 'header checksum mismatch');
  const crcs = new Uint32Array(segments);
  for (let i = 0; i < segments; i++) crcs[i] = bytes.readUInt32LE(BLOCK_FILE_FIXED_HEADER + 4 * i);
  return { segmentSize, dataLength, segments, dataStart, crcs };
}

/** Which file bytes hold data [offset, end) rounded out to whole segments. */
export function segmentSpan(h: BlockFileHeader, offset: number, end: number): { first: number; fileStart: number; fileEnd: number } {
  const first = Math.floor(offset / h.segmentSize);
  const last = Math.ceil(end / h.segmentSize); // exclusive
  return {
    first,
    fileStart: h.dataStart + first * h.segmentSize,
    fileEnd: h.dataStart + Math.min(h.dataLength, last * h.segmentSize),
  };
}

/** Verifies the whole segments in `span` (data starting at segment `first`). */
export function verifySegments(h: BlockFileHeader, first: number, span: Uint8Array, what: string): void {
  for (let pos = 0, i = first; pos < span.length; pos += h.segmentSize, i++) {
    const seg = span.subarray(pos, Math.min(span.length, pos + h.segmentSize));
    if (crc32c(seg) !== h.crcs[i]) throw corrupt(what, `segment ${i} checksum mismatch`);
  }
}
