// Message codecs for RPC payloads, generated per message type from its protobuf-es descriptor.
//
// protobuf-es encodes and decodes through closures shared by every message type, so each
// property access in them sees every type (megamorphic inline caches), and encoding first builds
// a full message with create(); the profile of a create through the mount had ~13 µs per request
// encoded and ~12 µs per answer decoded there (docs/benchmarks.md, "The mount's CPU per create").
// Here each message type gets its own encoder and decoder as generated source (`new Function`), so
// every property access has one shape, and the encoder reads the caller's plain init object
// directly. The wire bytes are protobuf-es's (fields in number order, the same zero-value rules;
// test/unit/rpc-codec.test.ts compares them for every message of every service), and a decoded
// message has protobuf-es's shape (`$typeName`, zero values, lists and maps empty, absent message
// fields unset) — except that unknown fields are skipped rather than kept in `$unknown`.
//
// Types with what this does not cover (64-bit integers, oneofs, groups, well-known wrapper types,
// recursion) keep protobuf-es: `codecOf` returns its functions for them.
import { create, fromBinary, toBinary, ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';

export interface MessageCodec {
  /**
   * Encodes an init object or message of the type (throws on a value the type cannot hold).
   * With `headroom`, the payload starts that many bytes into the result, for a header the caller
   * writes there (saves a copy; the bytes before it are unspecified).
   */
  encode(init: unknown, headroom?: number): Uint8Array;
  /** Decodes a whole payload (throws on malformed input). */
  decode(bytes: Uint8Array): unknown;
  /** Whether this is the generated codec (false: protobuf-es's, for an unsupported type). */
  readonly generated: boolean;
}

const codecs = new WeakMap<DescMessage, MessageCodec>();

/** The codec of `desc`, generated on first use. */
export function codecOf(desc: DescMessage): MessageCodec {
  let c = codecs.get(desc);
  if (!c) {
    c = supported(desc, new Set()) ? generate(desc) : fallback(desc);
    codecs.set(desc, c);
  }
  return c;
}

function fallback(desc: DescMessage): MessageCodec {
  return {
    encode: (init, headroom = 0) => {
      const payload = toBinary(desc, create(desc, init as never));
      if (headroom === 0) return payload;
      const out = new Uint8Array(headroom + payload.length);
      out.set(payload, headroom);
      return out;
    },
    decode: (bytes) => fromBinary(desc, bytes),
    generated: false,
  };
}

const SUPPORTED_SCALARS = new Set<ScalarType>([
  ScalarType.DOUBLE, ScalarType.FLOAT, ScalarType.INT32, ScalarType.UINT32, ScalarType.SINT32,
  ScalarType.FIXED32, ScalarType.SFIXED32, ScalarType.BOOL, ScalarType.STRING, ScalarType.BYTES,
]);

/**
 * Whether the generated codec covers `desc` and everything it reaches. A recursive type does not:
 * its nesting depth would be the sender's choice (protobuf-es bounds it), so it keeps protobuf-es.
 */
function supported(desc: DescMessage, path: Set<DescMessage>): boolean {
  if (path.has(desc)) return false;
  path.add(desc);
  const ok = fieldsSupported(desc, path);
  path.delete(desc);
  return ok;
}

function fieldsSupported(desc: DescMessage, seen: Set<DescMessage>): boolean {
  if (desc.typeName.startsWith('google.protobuf.') || desc.oneofs.length > 0) return false;
  for (const f of desc.fields) {
    if (f.oneof) return false;
    switch (f.fieldKind) {
      case 'scalar':
        if (!SUPPORTED_SCALARS.has(f.scalar)) return false;
        break;
      case 'enum':
        break;
      case 'message':
        if (f.delimitedEncoding || !supported(f.message, seen)) return false;
        break;
      case 'list':
        if (f.listKind === 'scalar' && !SUPPORTED_SCALARS.has(f.scalar)) return false;
        if (f.listKind === 'message' && (f.delimitedEncoding || !supported(f.message, seen))) return false;
        break;
      case 'map':
        if (!SUPPORTED_SCALARS.has(f.mapKey)) return false;
        if (f.mapKind === 'scalar' && !SUPPORTED_SCALARS.has(f.scalar)) return false;
        if (f.mapKind === 'message' && !supported(f.message, seen)) return false;
        break;
    }
  }
  return true;
}

// ---- wire primitives -------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

// Uint8Array's slice copies (Buffer's does not), without making a Buffer view first.
const sliceCopy = Uint8Array.prototype.slice;

/** Growable output buffer, one per process (encoding is synchronous); encode() copies out. */
export class Writer {
  buf = Buffer.allocUnsafe(1024);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** An unsigned varint of at most 32 bits (tags, lengths, uint32). */
  u32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  /** int32 (and enums): negative values take ten bytes, as sign-extended 64-bit. */
  i32(v: number): void {
    if (v >= 0) return this.u32(v);
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    let lo = v >>> 0;
    for (let i = 0; i < 4; i++) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    b[p++] = (lo & 0x0f) | 0x70 | 0x80; // bits 28-31, then the sign bits 32-34
    for (let i = 0; i < 4; i++) b[p++] = 0xff;
    b[p++] = 0x01;
    this.pos = p;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  string(s: string): void {
    if (typeof s !== 'string') throw new Error(`invalid string: ${typeof s}`);
    const len = s.length;
    if (len < 0x80) {
      // Short ASCII (names, mostly) byte by byte: cheaper than two calls into C++.
      this.ensure(len + 1);
      const b = this.buf;
      const at = this.pos;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + 1 + i] = c;
      }
      if (i === len) {
        b[at] = len;
        this.pos = at + 1 + len;
        return;
      }
    }
    const n = Buffer.byteLength(s);
    this.u32(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  bytes(v: Uint8Array): void {
    if (!(v instanceof Uint8Array)) throw new Error('invalid bytes: not a Uint8Array');
    this.u32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** Starts a length-delimited body: reserves one length byte. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the body begun at `at`, moving it when its length needs more than one byte. */
  end(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const extra = len < 1 << 14 ? 1 : len < 1 << 21 ? 2 : len < 1 << 28 ? 3 : 4;
    this.ensure(extra);
    this.buf.copy(this.buf, at + 1 + extra, at + 1, this.pos);
    const save = this.pos + extra;
    this.pos = at;
    this.u32(len);
    this.pos = save;
  }

  /** A copy of the bytes written (the buffer is reused by the next encode). */
  take(): Uint8Array {
    const out = sliceCopy.call(this.buf, 0, this.pos);
    this.pos = 0;
    return out;
  }
}

/** Input cursor over one payload. */
export class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    /** End of the readable bytes (narrowed while a packed list is read). */
    public limit: number,
  ) {}

  /** A varint's low 32 bits, unsigned (tags, lengths, uint32). */
  u32(): number {
    const b = this.buf;
    let p = this.pos;
    let v = 0;
    let shift = 0;
    for (;;) {
      if (p >= this.limit) throw new Error('premature end of varint');
      const x = b[p++]!;
      if (shift < 32) v |= (x & 0x7f) << shift;
      if (x < 0x80) break;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
    this.pos = p;
    return v >>> 0;
  }

  i32(): number {
    return this.u32() | 0;
  }

  sint32(): number {
    const v = this.u32();
    return (v >>> 1) ^ -(v & 1);
  }

  bool(): boolean {
    return this.u32() !== 0;
  }

  private take(n: number): number {
    const at = this.pos;
    if (n < 0 || at + n > this.limit) throw new Error('premature end of field');
    this.pos = at + n;
    return at;
  }

  double(): number {
    return this.buf.readDoubleLE(this.take(8));
  }

  float(): number {
    return this.buf.readFloatLE(this.take(4));
  }

  fixed32(): number {
    return this.buf.readUInt32LE(this.take(4));
  }

  sfixed32(): number {
    return this.buf.readInt32LE(this.take(4));
  }

  /** The end of a length-delimited field whose length comes next. */
  len(): number {
    const n = this.u32();
    const end = this.pos + n;
    if (end > this.limit) throw new Error('premature end of field');
    return end;
  }

  string(): string {
    const end = this.len();
    const at = this.pos;
    this.pos = end;
    return this.buf.toString('utf8', at, end);
  }

  bytes(): Uint8Array {
    const end = this.len();
    const out = new Uint8Array(end - this.pos);
    out.set(this.buf.subarray(this.pos, end));
    this.pos = end;
    return out;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.u32();
        return;
      case WIRE_I64:
        this.take(8);
        return;
      case WIRE_LEN:
        this.pos = this.len();
        return;
      case WIRE_I32:
        this.take(4);
        return;
      default:
        throw new Error(`cannot skip wire type ${wireType}`);
    }
  }
}

/** Throws unless `v` fits the 32-bit type (what protobuf-es checks before writing). */
export function checkU32(v: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`invalid uint32: ${String(v)}`);
  return v;
}
export function checkI32(v: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`invalid int32: ${String(v)}`);
  return v;
}
function checkNumber(v: number): number {
  if (typeof v !== 'number') throw new Error(`invalid number: ${typeof v}`);
  return v;
}

// ---- generation ------------------------------------------------------------------------------

interface Generated {
  enc: (w: Writer, m: Record<string, unknown>) => void;
  dec: (r: Reader, end: number) => Record<string, unknown>;
}

/** Runtime helpers the generated source calls, by name. */
const RT = { checkU32, checkI32, checkNumber };

function wireOf(t: ScalarType): number {
  switch (t) {
    case ScalarType.DOUBLE:
      return WIRE_I64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WIRE_I32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WIRE_LEN;
    default:
      return WIRE_VARINT;
  }
}

/** Source writing scalar `v` (no tag). */
function writeScalar(t: ScalarType, v: string): string {
  switch (t) {
    case ScalarType.DOUBLE:
      return `w.double(RT.checkNumber(${v}));`;
    case ScalarType.FLOAT:
      return `w.float(RT.checkNumber(${v}));`;
    case ScalarType.INT32:
      return `w.i32(RT.checkI32(${v}));`;
    case ScalarType.UINT32:
      return `w.u32(RT.checkU32(${v}));`;
    case ScalarType.SINT32: {
      return `{ const z = RT.checkI32(${v}); w.u32(((z << 1) ^ (z >> 31)) >>> 0); }`;
    }
    case ScalarType.FIXED32:
      return `w.fixed32(RT.checkU32(${v}));`;
    case ScalarType.SFIXED32:
      return `w.fixed32(RT.checkI32(${v}));`;
    case ScalarType.BOOL:
      return `w.u32(${v} ? 1 : 0);`;
    case ScalarType.STRING:
      return `w.string(${v});`;
    case ScalarType.BYTES:
      return `w.bytes(${v});`;
    default:
      throw new Error(`unsupported scalar ${t}`);
  }
}

/** Source of an expression reading each scalar type (the Reader method of that name). */
const READ_SCALAR: Partial<Record<ScalarType, string>> = {
  [ScalarType.DOUBLE]: 'r.double()',
  [ScalarType.FLOAT]: 'r.float()',
  [ScalarType.INT32]: 'r.i32()',
  [ScalarType.UINT32]: 'r.u32()',
  [ScalarType.SINT32]: 'r.sint32()',
  [ScalarType.FIXED32]: 'r.fixed32()',
  [ScalarType.SFIXED32]: 'r.sfixed32()',
  [ScalarType.BOOL]: 'r.bool()',
  [ScalarType.STRING]: 'r.string()',
  [ScalarType.BYTES]: 'r.bytes()',
};

function readScalar(t: ScalarType): string {
  const src = READ_SCALAR[t];
  if (!src) throw new Error(`unsupported scalar ${t}`);
  return src;
}

function zeroOf(t: ScalarType): string {
  return t === ScalarType.STRING ? '""' : t === ScalarType.BOOL ? 'false' : t === ScalarType.BYTES ? 'new Uint8Array(0)' : '0';
}

/** The condition under which an implicit-presence scalar is written (protobuf-es's rules). */
function isSetImplicit(t: ScalarType, v: string): string {
  switch (t) {
    case ScalarType.STRING:
      return `${v} != null && ${v} !== ""`;
    case ScalarType.BOOL:
      return `${v} != null && ${v} !== false`;
    case ScalarType.BYTES:
      return `${v} != null && !(${v} instanceof Uint8Array && ${v}.byteLength === 0)`;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return `${v} != null && !Object.is(${v}, 0)`;
    default:
      return `${v} != null && ${v} != 0`;
  }
}

const IMPLICIT = 2; // FeatureSet.FieldPresence.IMPLICIT, as protobuf-es's descriptors carry it

/**
 * Generates the codecs of `root` and every message type it reaches, in one source text so that
 * each function calls the others directly.
 */
function generate(root: DescMessage): MessageCodec {
  const order: DescMessage[] = [];
  const index = new Map<DescMessage, number>();
  const visit = (d: DescMessage): void => {
    if (index.has(d)) return;
    index.set(d, order.length);
    order.push(d);
    for (const f of d.fields) if (f.message) visit(f.message);
  };
  visit(root);
  const parts: string[] = [];
  for (const d of order) parts.push(encoderSource(d, index), decoderSource(d, index));
  const names = order.map((_, i) => `{ enc: enc${i}, dec: dec${i} }`).join(', ');
  const source = `"use strict";\n${parts.join('\n')}\nreturn [${names}];`;
  const made = new Function('RT', 'TYPE_NAMES', source)(RT, order.map((d) => d.typeName)) as Generated[];
  const top = made[0]!;
  const writer = new Writer();
  return {
    encode(init: unknown, headroom = 0): Uint8Array {
      writer.pos = 0;
      writer.ensure(headroom);
      writer.pos = headroom;
      try {
        top.enc(writer, init as Record<string, unknown>);
      } catch (e) {
        writer.pos = 0;
        throw e;
      }
      return writer.take();
    },
    decode(bytes: Uint8Array): unknown {
      const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const r = new Reader(buf, buf.length);
      const m = top.dec(r, buf.length);
      return m;
    },
    generated: true,
  };
}

function sortedFields(d: DescMessage): DescField[] {
  return d.fields.concat().sort((a, b) => a.number - b.number);
}

function encoderSource(d: DescMessage, index: Map<DescMessage, number>): string {
  const i = index.get(d)!;
  const lines = [`function enc${i}(w, m) {`, '  let v;'];
  for (const f of sortedFields(d)) {
    const name = JSON.stringify(f.localName);
    lines.push(`  v = m[${name}];`);
    const no = f.number;
    switch (f.fieldKind) {
      case 'scalar':
      case 'enum': {
        const t = f.fieldKind === 'enum' ? ScalarType.INT32 : f.scalar;
        const tag = (no << 3) | wireOf(t);
        const cond = f.presence === IMPLICIT ? (f.fieldKind === 'enum' ? `v != null && v !== ${f.enum.values[0]?.number ?? 0}` : isSetImplicit(t, 'v')) : 'v != null';
        lines.push(`  if (${cond}) { w.u32(${tag}); ${writeScalar(t, 'v')} }`);
        break;
      }
      case 'message': {
        const tag = (no << 3) | WIRE_LEN;
        lines.push(`  if (v != null) { w.u32(${tag}); const at = w.begin(); enc${index.get(f.message)}(w, v); w.end(at); }`);
        break;
      }
      case 'list': {
        lines.push('  if (v != null) {');
        if (f.listKind === 'message') {
          const tag = (no << 3) | WIRE_LEN;
          lines.push(`    for (let k = 0; k < v.length; k++) { w.u32(${tag}); const at = w.begin(); enc${index.get(f.message)}(w, v[k]); w.end(at); }`);
        } else {
          const t = f.listKind === 'enum' ? ScalarType.INT32 : f.scalar;
          if (f.packed) {
            lines.push(`    if (v.length > 0) { w.u32(${(no << 3) | WIRE_LEN}); const at = w.begin(); for (let k = 0; k < v.length; k++) { ${writeScalar(t, 'v[k]')} } w.end(at); }`);
          } else {
            lines.push(`    for (let k = 0; k < v.length; k++) { w.u32(${(no << 3) | wireOf(t)}); ${writeScalar(t, 'v[k]')} }`);
          }
        }
        lines.push('  }');
        break;
      }
      case 'map': {
        const keyT = f.mapKey;
        const keyExpr =
          keyT === ScalarType.STRING ? 'key' : keyT === ScalarType.BOOL ? '(key === "true" ? true : key === "false" ? false : key)' : 'Number.parseInt(key, 10)';
        lines.push('  if (v != null) for (const key of Object.keys(v)) {');
        lines.push(`    w.u32(${(no << 3) | WIRE_LEN}); const at = w.begin();`);
        lines.push(`    w.u32(${(1 << 3) | wireOf(keyT)}); ${writeScalar(keyT, keyExpr)}`);
        if (f.mapKind === 'message') {
          lines.push(`    w.u32(${(2 << 3) | WIRE_LEN}); const at2 = w.begin(); enc${index.get(f.message)}(w, v[key] ?? {}); w.end(at2);`);
        } else {
          const t = f.mapKind === 'enum' ? ScalarType.INT32 : f.scalar;
          lines.push(`    w.u32(${(2 << 3) | wireOf(t)}); ${writeScalar(t, 'v[key]')}`);
        }
        lines.push('    w.end(at);');
        lines.push('  }');
        break;
      }
    }
  }
  lines.push('}');
  return lines.join('\n');
}

function decoderSource(d: DescMessage, index: Map<DescMessage, number>): string {
  const i = index.get(d)!;
  // The zero message, with its properties in declaration order (as create() makes them).
  const init: string[] = [`$typeName: TYPE_NAMES[${i}]`];
  for (const f of d.fields) {
    const name = JSON.stringify(f.localName);
    if (f.fieldKind === 'list') init.push(`${name}: []`);
    else if (f.fieldKind === 'map') init.push(`${name}: {}`);
    else if (f.fieldKind === 'enum' && f.presence === IMPLICIT) init.push(`${name}: ${f.enum.values[0]?.number ?? 0}`);
    else if (f.fieldKind === 'scalar' && f.presence === IMPLICIT) init.push(`${name}: ${zeroOf(f.scalar)}`);
  }
  const lines = [`function dec${i}(r, end) {`, `  const m = { ${init.join(', ')} };`, '  while (r.pos < end) {', '    const t = r.u32();', '    switch (t) {'];
  for (const f of d.fields) {
    const name = JSON.stringify(f.localName);
    const no = f.number;
    switch (f.fieldKind) {
      case 'scalar':
      case 'enum': {
        const t = f.fieldKind === 'enum' ? ScalarType.INT32 : f.scalar;
        lines.push(`      case ${(no << 3) | wireOf(t)}: m[${name}] = ${readScalar(t)}; break;`);
        break;
      }
      case 'message':
        lines.push(`      case ${(no << 3) | WIRE_LEN}: { const e = r.len(); m[${name}] = dec${index.get(f.message)}(r, e); break; }`);
        break;
      case 'list': {
        if (f.listKind === 'message') {
          lines.push(`      case ${(no << 3) | WIRE_LEN}: { const e = r.len(); m[${name}].push(dec${index.get(f.message)}(r, e)); break; }`);
          break;
        }
        const t = f.listKind === 'enum' ? ScalarType.INT32 : f.scalar;
        const wt = wireOf(t);
        lines.push(`      case ${(no << 3) | wt}: m[${name}].push(${readScalar(t)}); break;`);
        // Packed form (accepted whatever the field's declared packing, as protobuf-es does).
        if (wt !== WIRE_LEN) lines.push(`      case ${(no << 3) | WIRE_LEN}: { const e = r.len(); const l = m[${name}]; const lim = r.limit; r.limit = e; while (r.pos < e) l.push(${readScalar(t)}); r.limit = lim; break; }`);
        break;
      }
      case 'map': {
        const keyT = f.mapKey;
        const valueRead =
          f.mapKind === 'message'
            ? `{ const e2 = r.len(); val = dec${index.get(f.message)}(r, e2); }`
            : `val = ${readScalar(f.mapKind === 'enum' ? ScalarType.INT32 : f.scalar)};`;
        const valueZero = f.mapKind === 'message' ? `dec${index.get(f.message)}(r, r.pos)` : f.mapKind === 'enum' ? '0' : zeroOf(f.scalar);
        const valueTag = (2 << 3) | (f.mapKind === 'message' ? WIRE_LEN : wireOf(f.mapKind === 'enum' ? ScalarType.INT32 : f.scalar));
        lines.push(`      case ${(no << 3) | WIRE_LEN}: {`);
        lines.push(`        const e = r.len(); let key = ${zeroOf(keyT)}; let val;`);
        lines.push('        while (r.pos < e) { const t2 = r.u32();');
        lines.push(`          if (t2 === ${(1 << 3) | wireOf(keyT)}) key = ${readScalar(keyT)};`);
        lines.push(`          else if (t2 === ${valueTag}) ${valueRead}`);
        lines.push('          else r.skip(t2 & 7); }');
        lines.push('        if (r.pos !== e) throw new Error("map entry overruns its length");');
        lines.push(`        if (val === undefined) val = ${valueZero};`);
        lines.push(`        m[${name}][key] = val; break; }`);
        break;
      }
    }
  }
  lines.push('      default:');
  lines.push('        if ((t >>> 3) === 0) throw new Error("field number 0");');
  lines.push('        r.skip(t & 7);');
  lines.push('    }', '  }', '  if (r.pos !== end) throw new Error("message overruns its length");', '  return m;', '}');
  return lines.join('\n');
}
