// Seeded generators for the protocol fuzz test (test/integration/rpc-fuzz.test.ts): random but
// well-typed protobuf messages of any generated type (values chosen from the edges a decoder must
// check: NaN, ±Infinity, negatives, 2^53, huge strings, path tricks), random protobuf wire bytes
// (valid tags, any field numbers and wire types: decodes as some message or fails), bytes that no
// decoder accepts, and raw frames (valid, truncated, oversized, wrong kind, flags, call id 0).
// Everything comes from one SeededRandom, so a seed replays a case exactly.
import { create, toBinary, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';
import { SeededRandom } from '../../src/common/index.ts';
import { FrameKind, HEADER_BYTES, PREFACE, writeHeader } from '../../src/rpc/frame.ts';

export type Rng = SeededRandom;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(0, xs.length)]!;
}

const EDGE_NUMBERS = [0, 1, 2, 3, 7, 255, 1 << 20, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 53 - 1, 2 ** 53, 2 ** 64, -1, -0, 1.5, NaN, Infinity, -Infinity];
const EDGE_STRINGS = ['', 'alpha', 'gamma', '/', '.', '..', 'a/b', '\0', 'x'.repeat(5000), 'é☃\u{1F600}', '127.0.0.1:1', 'admin', ' '];

function randomNumber(rng: Rng, t: ScalarType): number | bigint | boolean | string | Uint8Array {
  const n = rng.next() < 0.6 ? pick(rng, EDGE_NUMBERS) : rng.int(0, 1000);
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return n;
    case ScalarType.BOOL:
      return rng.next() < 0.5;
    case ScalarType.STRING:
      return rng.next() < 0.7 ? pick(rng, EDGE_STRINGS) : randomString(rng);
    case ScalarType.BYTES:
      return randomBytes(rng, rng.int(0, 64));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return BigInt.asIntN(64, BigInt(Number.isFinite(n) ? Math.trunc(n) : -1));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return BigInt.asUintN(64, BigInt(Number.isFinite(n) ? Math.trunc(n) : -1));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return Number.isFinite(n) ? Math.trunc(n) | 0 : -1;
    default: // UINT32, FIXED32
      return Number.isFinite(n) ? Math.trunc(n) >>> 0 : 0xffffffff;
  }
}

function randomString(rng: Rng): string {
  let s = '';
  const n = rng.int(0, 24);
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(0x20, 0x7f));
  return s;
}

export function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 256);
  return b;
}

function fieldValue(rng: Rng, f: DescField, depth: number): unknown {
  if (f.fieldKind === 'message') return randomInit(rng, f.message, depth + 1);
  if (f.fieldKind === 'enum') return rng.next() < 0.8 ? pick(rng, f.enum.values).number : rng.int(-2, 1000);
  if (f.fieldKind === 'scalar') return randomNumber(rng, f.scalar);
  return undefined;
}

function randomInit(rng: Rng, desc: DescMessage, depth: number): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (depth > 3) return init;
  for (const f of desc.fields) {
    if (rng.next() < 0.35) continue;
    if (f.fieldKind === 'list') {
      const n = rng.int(0, 4);
      const xs: unknown[] = [];
      for (let i = 0; i < n; i++) {
        xs.push(f.listKind === 'message' ? randomInit(rng, f.message, depth + 1) : f.listKind === 'enum' ? rng.int(0, 8) : randomNumber(rng, f.scalar));
      }
      init[f.localName] = xs;
    } else if (f.fieldKind === 'map') {
      const m: Record<string, unknown> = {};
      const n = rng.int(0, 3);
      for (let i = 0; i < n; i++) {
        const k = String(randomNumber(rng, f.mapKey));
        m[k] = f.mapKind === 'message' ? randomInit(rng, f.message, depth + 1) : f.mapKind === 'enum' ? rng.int(0, 8) : randomNumber(rng, f.scalar);
      }
      init[f.localName] = m;
    } else if (f.oneof) {
      // protobuf-es models oneof members under the oneof's name
      if (init[f.oneof.localName] === undefined) init[f.oneof.localName] = { case: f.localName, value: fieldValue(rng, f, depth) };
    } else init[f.localName] = fieldValue(rng, f, depth);
  }
  return init;
}

/** A well-typed message of `desc` with random (mostly edge) values, encoded. */
export function randomMessageBytes(rng: Rng, desc: DescMessage): Uint8Array {
  return toBinary(desc, create(desc, randomInit(rng, desc, 0) as never));
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** Valid protobuf wire syntax with random field numbers, wire types and values: decodes as some
 *  message of any type, or is refused for a wire type that does not fit the field. */
export function randomWireBytes(rng: Rng): Buffer {
  const out: number[] = [];
  const n = rng.int(0, 8);
  for (let i = 0; i < n; i++) {
    const field = rng.next() < 0.8 ? rng.int(1, 16) : rng.int(16, 5000);
    const wt = pick(rng, [0, 1, 2, 5]);
    out.push(...varint((field << 3) | wt));
    if (wt === 0) out.push(...varint(rng.int(0, 2 ** 31)));
    else if (wt === 1) out.push(...randomBytes(rng, 8));
    else if (wt === 5) out.push(...randomBytes(rng, 4));
    else {
      const len = rng.int(0, 20);
      out.push(...varint(len), ...randomBytes(rng, len));
    }
  }
  return Buffer.from(out);
}

/** Bytes no protobuf decoder accepts (truncated or invalid syntax). */
export function undecodableBytes(rng: Rng): Buffer {
  return pick(rng, [
    Buffer.from([0x0a, 0x05, 0x01]), // length-delimited field 1 claims 5 bytes, 1 follows
    Buffer.from([0x0b]), // field 1, wire type 3 (start group) never ended
    Buffer.from([0x0f]), // wire type 7 does not exist
    Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // varint over 10 bytes
    Buffer.from([0x00, 0x01]), // field number 0
    Buffer.from([0x80]), // a tag whose varint never ends
    Buffer.from([0x0c]), // end of a group that never started
    // (not [0x09, 1, 2], a fixed64 cut short: protobuf-es reads a field by its declared type, not
    // the wire type, so for a string field 1 that is the one-byte string "\x02")
  ]);
}

/** One frame with the given fields; the length is right unless `length` overrides it. */
export function frame(kind: number, callId: number, methodId: number, payload: Uint8Array, opts: { flags?: number; status?: number; timeoutMs?: number; length?: number } = {}): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + payload.length);
  writeHeader(b, 0, kind as FrameKind, opts.status ?? 0, callId, methodId, opts.timeoutMs ?? 5000, payload.length);
  if (opts.flags !== undefined) b[5] = opts.flags;
  if (opts.length !== undefined) b.writeUInt32LE(opts.length >>> 0, 0);
  b.set(payload, HEADER_BYTES);
  return b;
}

export interface ByteScript {
  what: string;
  bytes: Buffer;
  /** The script ends on a frame boundary: a Ping after it must be answered (or the server closed). */
  complete: boolean;
  /** Requests that must each get an answer (unless the server closes the connection). */
  answers?: number;
}

/** A valid credential and methods it may call, for scripts that get past authentication. */
export interface Authed {
  token: string;
  methods: ReadonlyArray<{ id: number; input: DescMessage }>;
}

/**
 * A connection's worth of hostile bytes: garbage instead of a preface, a bad version, frames with
 * wrong kinds, reserved flags, call id 0, lengths shorter than a header or far over the limit,
 * truncated frames, several Auth frames, requests with random method ids or payloads.
 */
export function randomScript(rng: Rng, methodIds: readonly number[], maxFrameBytes: number, authed?: Authed): ByteScript {
  const req = () => frame(FrameKind.Request, rng.int(1, 2 ** 31), rng.next() < 0.8 ? pick(rng, methodIds) : rng.int(0, 2 ** 32), rng.next() < 0.5 ? randomWireBytes(rng) : randomBytes(rng, rng.int(0, 40)));
  switch (rng.int(0, authed ? 13 : 11)) {
    case 0:
      return { what: 'random bytes instead of a preface', bytes: randomBytes(rng, rng.int(1, 64)), complete: false };
    case 1: {
      const p = Buffer.from(PREFACE);
      p[4] = rng.int(2, 256);
      return { what: 'a preface with an unknown protocol version', bytes: p, complete: false };
    }
    case 2:
      return { what: 'preface then random bytes', bytes: Buffer.concat([PREFACE, randomBytes(rng, rng.int(1, 200))]), complete: false };
    case 3:
      return { what: 'a frame of an unknown kind', bytes: Buffer.concat([PREFACE, frame(pick(rng, [0, 8, 9, 100, 255]), 1, 0, Buffer.alloc(0))]), complete: true };
    case 4:
      return { what: 'a frame with reserved flags', bytes: Buffer.concat([PREFACE, frame(FrameKind.Request, 1, pick(rng, methodIds), Buffer.alloc(0), { flags: rng.int(1, 256) })]), complete: true };
    case 5:
      return { what: 'a request with call id 0', bytes: Buffer.concat([PREFACE, frame(FrameKind.Request, 0, pick(rng, methodIds), Buffer.alloc(0))]), complete: true };
    case 6:
      return { what: 'a length shorter than a header', bytes: Buffer.concat([PREFACE, frame(FrameKind.Request, 1, pick(rng, methodIds), Buffer.alloc(0), { length: rng.int(0, HEADER_BYTES - 4) })]), complete: true };
    case 7:
      return { what: 'a length over the frame limit', bytes: Buffer.concat([PREFACE, frame(FrameKind.Request, 1, pick(rng, methodIds), Buffer.alloc(0), { length: rng.int(maxFrameBytes, 2 ** 32) })]), complete: true };
    case 8: {
      const f = req();
      return { what: 'a truncated request', bytes: Buffer.concat([PREFACE, f.subarray(0, rng.int(1, f.length))]), complete: false };
    }
    case 9: {
      const auth = () => frame(FrameKind.Auth, 0, 0, rng.next() < 0.5 ? randomBytes(rng, rng.int(0, 100)) : Buffer.from(`cfs1.${pick(rng, ['admin', 'cluster', 'fs:alpha'])}.${randomBytes(rng, 32).toString('base64url')}`));
      const frames = [auth(), req()];
      if (rng.next() < 0.5) frames.push(auth()); // a second Auth frame, after a request
      return { what: 'forged Auth frames and requests', bytes: Buffer.concat([PREFACE, ...frames]), complete: true };
    }
    case 11:
    case 12: {
      // Past authentication: requests with edge deadlines (0 = none; beyond a 32-bit timer;
      // the largest the header holds) and call ids, some reusing one id.
      const a = authed!;
      const frames = [frame(FrameKind.Auth, 0, 0, Buffer.from(a.token))];
      const n = rng.int(1, 6);
      for (let i = 0; i < n; i++) {
        const m = pick(rng, a.methods);
        frames.push(frame(FrameKind.Request, rng.next() < 0.3 ? 7 : rng.int(1, 2 ** 32), m.id, randomMessageBytes(rng, m.input), { timeoutMs: pick(rng, [0, 60_000, 2 ** 31, 2 ** 32 - 1]) }));
      }
      if (rng.next() < 0.3) frames.push(frame(FrameKind.Auth, 0, 0, Buffer.alloc(rng.int(4097, 9000), 0x61))); // a second (and oversized) credential
      return { what: 'authenticated requests with edge deadlines', bytes: Buffer.concat([PREFACE, ...frames]), complete: true, answers: n };
    }
    default: {
      const frames: Buffer[] = [];
      const n = rng.int(1, 6);
      for (let i = 0; i < n; i++) frames.push(rng.next() < 0.8 ? req() : frame(pick(rng, [FrameKind.Cancel, FrameKind.Ping, FrameKind.Response, FrameKind.Pong]), rng.int(1, 100), 0, randomBytes(rng, rng.int(0, 8))));
      return { what: 'requests and stray frames without a credential', bytes: Buffer.concat([PREFACE, ...frames]), complete: true };
    }
  }
}
