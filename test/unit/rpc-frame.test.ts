// The RPC frame codec and reconnect backoff, without sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededRandom, StatusCode } from '../../src/common/index.ts';
import { Backoff, methodIdOf, parseAddress } from '../../src/rpc/index.ts';
import {
  compactPayload,
  FLAG_ONE_WAY,
  FrameDecoder,
  FrameKind,
  HEADER_BYTES,
  PREFACE,
  decodeErrorTrailer,
  encodeErrorTrailer,
  writeHeader,
  type FrameHeader,
} from '../../src/rpc/frame.ts';

interface Frame {
  kind: FrameKind;
  flags?: number;
  status: number;
  callId: number;
  methodId: number;
  timeoutMs: number;
  payload: Uint8Array;
}

function encode(frames: Frame[]): Buffer {
  const parts: Buffer[] = [PREFACE];
  for (const f of frames) {
    const b = Buffer.alloc(HEADER_BYTES + f.payload.length);
    writeHeader(b, 0, f.kind, f.status, f.callId, f.methodId, f.timeoutMs, f.payload.length);
    b.set(f.payload, HEADER_BYTES);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

function collect(maxFrameBytes?: number) {
  const frames: Frame[] = [];
  const errors: Array<{ status: StatusCode; message: string; callId: number }> = [];
  const decoder = new FrameDecoder(
    {
      // flags 0 is left out, so ordinary frames compare equal to what encode() was given.
      onFrame: (h: FrameHeader, payload) => {
        const { flags, ...rest } = h;
        frames.push(flags === 0 ? { ...rest, payload: Uint8Array.from(payload) } : { ...h, payload: Uint8Array.from(payload) });
      },
      onProtocolError: (status, message, callId) => errors.push({ status, message, callId }),
    },
    maxFrameBytes,
  );
  return { decoder, frames, errors };
}

const frameArb = fc.record({
  kind: fc.constantFrom(FrameKind.Request, FrameKind.Response, FrameKind.Cancel),
  status: fc.integer({ min: 0, max: 0xffff }),
  callId: fc.integer({ min: 1, max: 0xffffffff }),
  methodId: fc.integer({ min: 0, max: 0xffffffff }),
  timeoutMs: fc.integer({ min: 0, max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

test('frames split at any byte boundaries decode to the frames that were sent', () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (sent, cuts) => {
      const bytes = encode(sent);
      const { decoder, frames, errors } = collect();
      let off = 0;
      for (let i = 0; off < bytes.length; i++) {
        const n = cuts[i % cuts.length]!;
        decoder.push(bytes.subarray(off, off + n));
        off += n;
      }
      assert.deepEqual(errors, []);
      assert.deepEqual(frames, sent.map((f) => ({ ...f })));
    }),
  );
});

test('a frame over the limit is rejected from its header alone, with its call id', () => {
  const { decoder, frames, errors } = collect(1000);
  const h = Buffer.alloc(HEADER_BYTES);
  writeHeader(h, 0, FrameKind.Request, 0, 42, 7, 0, 5000);
  decoder.push(Buffer.concat([PREFACE, h]));
  assert.equal(frames.length, 0);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.status, StatusCode.FRAME_TOO_LARGE);
  assert.equal(errors[0]!.callId, 42);
  // Broken streams ignore the rest.
  decoder.push(encode([{ kind: FrameKind.Request, status: 0, callId: 1, methodId: 1, timeoutMs: 0, payload: new Uint8Array() }]));
  assert.equal(frames.length, 0);
  assert.equal(errors.length, 1);
});

function oneWayFrame(callId: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES + 3);
  writeHeader(h, 0, FrameKind.Request, 0, callId, 0xabc, 0, 3, FLAG_ONE_WAY);
  h.set([1, 2, 3], HEADER_BYTES);
  return Buffer.concat([PREFACE, h]);
}

test('a one-way request (flag, call id 0) decodes with its flag; an ordinary frame has flags 0', () => {
  const { decoder, frames, errors } = collect();
  decoder.push(oneWayFrame(0));
  decoder.push(encode([{ kind: FrameKind.Request, status: 0, callId: 5, methodId: 9, timeoutMs: 0, payload: new Uint8Array() }]).subarray(PREFACE.length));
  assert.deepEqual(errors, []);
  assert.equal(frames.length, 2);
  assert.equal(frames[0]!.flags, FLAG_ONE_WAY);
  assert.equal(frames[0]!.callId, 0);
  assert.equal(frames[0]!.methodId, 0xabc);
  assert.deepEqual([...frames[0]!.payload], [1, 2, 3]);
  assert.equal(frames[1]!.flags, undefined, 'flags 0');
});

test('malformed headers are MALFORMED_FRAME', () => {
  const bad: Array<[string, Buffer]> = [
    ['preface', Buffer.from('NOTCURVE')],
    ['version', Buffer.from([0x43, 0x52, 0x50, 0x43, 2, 0, 0, 0])],
    ['kind', Buffer.concat([PREFACE, Buffer.from([16, 0, 0, 0, 9, 0])])],
    ['unknown flag', Buffer.concat([PREFACE, Buffer.from([16, 0, 0, 0, 1, 2])])],
    ['one-way flag on a response', Buffer.concat([PREFACE, Buffer.from([16, 0, 0, 0, 2, FLAG_ONE_WAY])])],
    ['one-way request with a call id', oneWayFrame(7)],
    ['call id 0 without the one-way flag', Buffer.concat([PREFACE, (() => {
      const h = Buffer.alloc(HEADER_BYTES);
      writeHeader(h, 0, FrameKind.Request, 0, 0, 1, 0, 0);
      return h;
    })()])],
    ['short length', Buffer.concat([PREFACE, Buffer.from([15, 0, 0, 0])])],
  ];
  for (const [what, bytes] of bad) {
    const { decoder, errors } = collect();
    decoder.push(bytes);
    assert.equal(errors.length, 1, what);
    assert.equal(errors[0]!.status, StatusCode.MALFORMED_FRAME, what);
  }
});

test('error trailers round trip; malformed trailers are detected', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (message, hint) => {
      assert.deepEqual(decodeErrorTrailer(encodeErrorTrailer(message, hint)), { message, leaderHint: hint });
    }),
  );
  assert.deepEqual(decodeErrorTrailer(new Uint8Array()), { message: '', leaderHint: '' });
  assert.equal(decodeErrorTrailer(new Uint8Array([5, 0, 1])), undefined);
  assert.equal(decodeErrorTrailer(new Uint8Array([0, 0, 0, 0, 9])), undefined);
});

test('method ids are FNV-1a of the full name and never 0', () => {
  assert.equal(methodIdOf(''), 0x811c9dc5);
  assert.equal(methodIdOf('a'), 0xe40c292c);
  fc.assert(fc.property(fc.string(), (s) => methodIdOf(s) !== 0));
});

test('backoff grows, is capped, jitters within bounds and resets', () => {
  const b = new Backoff(new SeededRandom(1), { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.5 });
  const caps = [100, 200, 400, 800, 1000, 1000];
  for (const cap of caps) {
    const d = b.next();
    assert.ok(d <= cap && d >= cap / 2, `${d} within [${cap / 2}, ${cap}]`);
  }
  b.reset();
  assert.ok(b.next() <= 100);
});

test('addresses parse in host:port, CurveFS peer and IPv6 forms', () => {
  assert.deepEqual(parseAddress('127.0.0.1:6700'), ['127.0.0.1', 6700]);
  assert.deepEqual(parseAddress('127.0.0.1:6700:0'), ['127.0.0.1', 6700]);
  assert.deepEqual(parseAddress('[::1]:6700'), ['::1', 6700]);
  assert.throws(() => parseAddress('nohost'), /bad address/);
});

test('small payloads inside a large receive buffer are copied out; large ones are not', () => {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const small = compactPayload(chunk.subarray(100, 140));
  assert.equal(small.buffer.byteLength, 40);
  assert.deepEqual([...small], new Array(40).fill(7));
  const whole = chunk.subarray(10);
  assert.equal(compactPayload(whole), whole);
});
