// The two forms of a metadata dump (docs/formats.md, "Metadata dumps"), written and read as
// streams: memory stays that of one record whatever the dump's size.
//
// Binary: "CURVEDMP" | version u32 LE | frames, each kind u8 | length u32 LE | payload |
//   crc32c(kind, length, payload) u32 LE. Kinds: 1 header (JSON), 2 root (Inode), 3 entry
//   (DumpEntry), 127 trailer (JSON {entries, inodes, crc64}: CRC-64/XZ of every byte before the
//   trailer frame). Protobuf payloads are the binary encoding of proto/metaserver.proto.
// JSON: one object per line. The first {"magic":"CURVEFS-DUMP","version":1,"header":{...}},
//   then {"root":Inode} and {"entry":DumpEntry} (protobuf JSON: bytes in base64), the last
//   {"trailer":{entries, inodes, crc64}} with the CRC-64/XZ of every byte of the lines before it.
// A reader accepts a dump only whole: a bad frame checksum, a torn end, a missing trailer or one
// whose counts or checksum disagree is a DumpFormatError naming where.
import { fromBinary, fromJson, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { Crc64, crc32c } from '../common/index.ts';
import { DumpEntrySchema, InodeSchema, type DumpEntry, type Inode } from '../gen/metaserver_pb.ts';

export const DUMP_MAGIC = 'CURVEDMP';
export const DUMP_JSON_MAGIC = 'CURVEFS-DUMP';
// Version 2: slices carry their append sequence (ChunkSlice.seq), which orders overlapping slices.
// Version 1 dumps (no sequence: 0) still load, their slices ordered by chunk id as that version read them.
export const DUMP_VERSION = 2;
const OLDEST_DUMP_VERSION = 1;
export type DumpFormat = 'json' | 'binary';

const KIND_HEADER = 1;
const KIND_ROOT = 2;
const KIND_ENTRY = 3;
const KIND_TRAILER = 127;
/** Largest frame payload accepted (a whole inode with a large block map and xattrs). */
export const MAX_FRAME = 64 * 1024 * 1024;

export interface DumpHeader {
  fsName: string;
  fsId: number;
  chunkSize: number;
  blockSize: number;
  /** ISO time the dump started. */
  createdAt: string;
}

export interface DumpTrailer {
  entries: number;
  inodes: number;
  crc64: string;
}

export type DumpRecord = { kind: 'header'; header: DumpHeader } | { kind: 'root'; inode: Inode } | { kind: 'entry'; entry: DumpEntry };

export class DumpFormatError extends Error {
  override readonly name = 'DumpFormatError';
}

/** Where a writer's bytes go; resolves when the sink can take more (backpressure). */
export type ByteSink = (bytes: Uint8Array) => Promise<void>;

export class DumpWriter {
  private readonly crc = new Crc64();
  private entries = 0;
  private inodes = 0;
  private readonly enc = new TextEncoder();

  constructor(private readonly format: DumpFormat, private readonly sink: ByteSink) {}

  private async emit(bytes: Uint8Array): Promise<void> {
    this.crc.update(bytes);
    await this.sink(bytes);
  }

  private frame(kind: number, payload: Uint8Array): Uint8Array {
    const out = new Uint8Array(9 + payload.length);
    const dv = new DataView(out.buffer);
    out[0] = kind;
    dv.setUint32(1, payload.length, true);
    out.set(payload, 5);
    dv.setUint32(5 + payload.length, crc32c(out.subarray(0, 5 + payload.length)), true);
    return out;
  }

  private line(obj: unknown): Uint8Array {
    return this.enc.encode(JSON.stringify(obj) + '\n');
  }

  async header(h: DumpHeader): Promise<void> {
    if (this.format === 'binary') {
      const head = new Uint8Array(12);
      head.set(this.enc.encode(DUMP_MAGIC), 0);
      new DataView(head.buffer).setUint32(8, DUMP_VERSION, true);
      await this.emit(head);
      await this.emit(this.frame(KIND_HEADER, this.enc.encode(JSON.stringify(h))));
    } else {
      await this.emit(this.line({ magic: DUMP_JSON_MAGIC, version: DUMP_VERSION, header: h }));
    }
  }

  async root(inode: Inode): Promise<void> {
    this.inodes++;
    if (this.format === 'binary') await this.emit(this.frame(KIND_ROOT, toBinary(InodeSchema, inode)));
    else await this.emit(this.line({ root: toJson(InodeSchema, inode) }));
  }

  async entry(e: DumpEntry): Promise<void> {
    this.entries++;
    if (e.inode) this.inodes++;
    if (this.format === 'binary') await this.emit(this.frame(KIND_ENTRY, toBinary(DumpEntrySchema, e)));
    else await this.emit(this.line({ entry: toJson(DumpEntrySchema, e) }));
  }

  async end(): Promise<DumpTrailer> {
    const t: DumpTrailer = { entries: this.entries, inodes: this.inodes, crc64: this.crc.digest().toString(16).padStart(16, '0') };
    if (this.format === 'binary') await this.sink(this.frame(KIND_TRAILER, this.enc.encode(JSON.stringify(t))));
    else await this.sink(this.line({ trailer: t }));
    return t;
  }
}

/** Grows and consumes a byte buffer fed by chunks. */
class Bytes {
  buf = new Uint8Array(0);
  pos = 0;
  offset = 0; // file offset of buf[0]
  push(chunk: Uint8Array): void {
    const rest = this.buf.subarray(this.pos);
    const next = new Uint8Array(rest.length + chunk.length);
    next.set(rest, 0);
    next.set(chunk, rest.length);
    this.offset += this.pos;
    this.buf = next;
    this.pos = 0;
  }
  get available(): number {
    return this.buf.length - this.pos;
  }
}

/**
 * The records of a dump, checked as they stream by; the trailer's verdict comes after the last
 * record, so a caller that must not act on a bad dump reads it through once first (load does).
 */
export async function* readDump(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<DumpRecord, DumpTrailer> {
  const it = chunks[Symbol.asyncIterator]();
  const b = new Bytes();
  let done = false;
  const fill = async (n: number): Promise<boolean> => {
    while (b.available < n && !done) {
      const r = await it.next();
      if (r.done) done = true;
      else b.push(r.value);
    }
    return b.available >= n;
  };
  await fill(DUMP_MAGIC.length);
  const first = new TextDecoder().decode(b.buf.subarray(0, Math.min(b.available, DUMP_MAGIC.length)));
  if (first === DUMP_MAGIC) return yield* readBinary(b, fill);
  if (first.startsWith('{')) return yield* readJson(b, fill);
  throw new DumpFormatError(b.available === 0 ? 'empty file: not a curvefs dump' : `not a curvefs dump (starts with ${JSON.stringify(first)})`);
}

async function* readBinary(b: Bytes, fill: (n: number) => Promise<boolean>): AsyncGenerator<DumpRecord, DumpTrailer> {
  const crc = new Crc64();
  if (!(await fill(12))) throw new DumpFormatError('torn binary dump: the file ends inside its 12-byte header');
  const version = new DataView(b.buf.buffer, b.buf.byteOffset + 8, 4).getUint32(0, true);
  if (version < OLDEST_DUMP_VERSION || version > DUMP_VERSION) throw new DumpFormatError(`binary dump version ${version}; this curvefs reads versions ${OLDEST_DUMP_VERSION} to ${DUMP_VERSION}`);
  crc.update(b.buf.subarray(0, 12));
  b.pos = 12;
  let entries = 0;
  let inodes = 0;
  let sawHeader = false;
  const dec = new TextDecoder('utf-8', { fatal: true });
  for (;;) {
    const at = b.offset + b.pos;
    if (!(await fill(5))) throw new DumpFormatError(`torn binary dump: no trailer (the file ends at byte ${at})`);
    const dv = new DataView(b.buf.buffer, b.buf.byteOffset + b.pos);
    const kind = b.buf[b.pos]!;
    const len = dv.getUint32(1, true);
    if (len > MAX_FRAME) throw new DumpFormatError(`frame at byte ${at} claims ${len} bytes (more than ${MAX_FRAME}): corrupt`);
    if (!(await fill(9 + len))) throw new DumpFormatError(`torn binary dump: the frame at byte ${at} is cut short`);
    const frame = b.buf.subarray(b.pos, b.pos + 5 + len);
    const stored = new DataView(b.buf.buffer, b.buf.byteOffset + b.pos + 5 + len, 4).getUint32(0, true);
    if (crc32c(frame) !== stored) throw new DumpFormatError(`frame at byte ${at}: checksum mismatch (corrupt)`);
    const payload = frame.subarray(5);
    const whole = b.buf.subarray(b.pos, b.pos + 9 + len);
    b.pos += 9 + len;
    try {
      if (kind === KIND_TRAILER) {
        const t = JSON.parse(dec.decode(payload)) as DumpTrailer;
        checkTrailer(t, crc, entries, inodes, `trailer at byte ${at}`);
        if (await fill(1)) throw new DumpFormatError(`bytes after the trailer (at byte ${b.offset + b.pos})`);
        return t;
      }
      crc.update(whole);
      if (kind === KIND_HEADER) {
        if (sawHeader) throw new DumpFormatError(`second header at byte ${at}`);
        sawHeader = true;
        yield { kind: 'header', header: JSON.parse(dec.decode(payload)) as DumpHeader };
      } else if (!sawHeader) {
        throw new DumpFormatError(`record at byte ${at} before the header`);
      } else if (kind === KIND_ROOT) {
        inodes++;
        yield { kind: 'root', inode: fromBinary(InodeSchema, payload) };
      } else if (kind === KIND_ENTRY) {
        const entry = fromBinary(DumpEntrySchema, payload);
        entries++;
        if (entry.inode) inodes++;
        yield { kind: 'entry', entry };
      } else {
        throw new DumpFormatError(`unknown frame kind ${kind} at byte ${at}`);
      }
    } catch (e) {
      if (e instanceof DumpFormatError) throw e;
      throw new DumpFormatError(`frame at byte ${at}: ${(e as Error).message}`);
    }
  }
}

function checkTrailer(t: DumpTrailer, crc: Crc64, entries: number, inodes: number, where: string): void {
  if (typeof t !== 'object' || t === null || typeof t.crc64 !== 'string') throw new DumpFormatError(`${where}: malformed`);
  const digest = crc.digest().toString(16).padStart(16, '0');
  if (t.crc64 !== digest) throw new DumpFormatError(`${where}: checksum ${t.crc64} does not match the content (${digest}): corrupt or altered`);
  if (t.entries !== entries || t.inodes !== inodes) {
    throw new DumpFormatError(`${where}: says ${t.entries} entries and ${t.inodes} inodes, the dump holds ${entries} and ${inodes}`);
  }
}

async function* readJson(b: Bytes, fill: (n: number) => Promise<boolean>): AsyncGenerator<DumpRecord, DumpTrailer> {
  const crc = new Crc64();
  const dec = new TextDecoder('utf-8', { fatal: true });
  let lineNo = 0;
  let entries = 0;
  let inodes = 0;
  for (;;) {
    // One line: find the newline, reading more as needed.
    let nl = b.buf.indexOf(10, b.pos);
    while (nl < 0) {
      const had = b.available;
      if (!(await fill(had + 1))) break;
      nl = b.buf.indexOf(10, b.pos);
    }
    lineNo++;
    if (nl < 0) {
      throw new DumpFormatError(b.available === 0 ? `torn JSON dump: no trailer line (the file ends after line ${lineNo - 1})` : `torn JSON dump: line ${lineNo} has no end`);
    }
    const bytes = b.buf.subarray(b.pos, nl + 1);
    b.pos = nl + 1;
    let obj: Record<string, JsonValue>;
    try {
      obj = JSON.parse(dec.decode(bytes)) as Record<string, JsonValue>;
    } catch (e) {
      throw new DumpFormatError(`line ${lineNo}: not JSON (${(e as Error).message})`);
    }
    try {
      if (lineNo === 1) {
        if (obj.magic !== DUMP_JSON_MAGIC) throw new DumpFormatError(`line 1: not a curvefs dump header`);
        if (typeof obj.version !== 'number' || obj.version < OLDEST_DUMP_VERSION || obj.version > DUMP_VERSION) {
          throw new DumpFormatError(`JSON dump version ${String(obj.version)}; this curvefs reads versions ${OLDEST_DUMP_VERSION} to ${DUMP_VERSION}`);
        }
        crc.update(bytes);
        yield { kind: 'header', header: obj.header as unknown as DumpHeader };
      } else if (obj.trailer !== undefined) {
        checkTrailer(obj.trailer as unknown as DumpTrailer, crc, entries, inodes, `trailer (line ${lineNo})`);
        if (await fill(1)) throw new DumpFormatError(`lines after the trailer (line ${lineNo + 1})`);
        return obj.trailer as unknown as DumpTrailer;
      } else if (obj.root !== undefined) {
        crc.update(bytes);
        inodes++;
        yield { kind: 'root', inode: fromJson(InodeSchema, obj.root) };
      } else if (obj.entry !== undefined) {
        crc.update(bytes);
        const entry = fromJson(DumpEntrySchema, obj.entry);
        entries++;
        if (entry.inode) inodes++;
        yield { kind: 'entry', entry };
      } else {
        throw new DumpFormatError(`line ${lineNo}: neither root, entry nor trailer`);
      }
    } catch (e) {
      if (e instanceof DumpFormatError) throw e;
      throw new DumpFormatError(`line ${lineNo}: ${(e as Error).message}`);
    }
  }
}

