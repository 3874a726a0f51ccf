// The copyset log's op codec (src/metaserver/copyset/op-codec.ts): for every op type, sample
// messages give the bytes the log has always held (version, op type and length, then
// protobuf-es's encoding of the message) and decode to protobuf-es's message; bad entries are
// refused with PARSE_FROM_STRING_FAILED and the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { decodeOp, encodeOp, opName, opSchema, peekOpType, OP_CODEC_VERSION, OP_HEADER_BYTES, type OpType } from '../../src/metaserver/copyset/op-codec.ts';
import { rng, sample } from '../helpers/proto-sample.ts';

/** Every op type: the numbers opName knows. */
function opTypes(): number[] {
  const out: number[] = [];
  for (let t = 0; t < 256; t++) if (!opName(t).startsWith('op#')) out.push(t);
  return out;
}

/** The layout as protobuf-es made it before the generated codecs. */
function reference(type: number, msg: object): Uint8Array {
  const schema = opSchema(type)!;
  const payload = toBinary(schema, create(schema, msg as never));
  const out = new Uint8Array(OP_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  out[0] = OP_CODEC_VERSION;
  view.setUint32(1, type, false);
  view.setUint32(5, payload.length, false);
  out.set(payload, OP_HEADER_BYTES);
  return out;
}

test('every op type: the same bytes as protobuf-es under the same header, and the same message back', () => {
  const r = rng(7);
  const types = opTypes();
  assert.ok(types.length >= 30, `${types.length} op types`);
  for (const type of types) {
    const schema = opSchema(type);
    assert.ok(schema, `${opName(type)} has a message type`);
    for (let i = 0; i < 30; i++) {
      const init: Record<string, unknown> = i === 0 ? {} : sample(schema, r, 3);
      const expected = reference(type, init);
      const bytes: Uint8Array = encodeOp(type as OpType, init as never);
      assert.deepEqual(Buffer.from(bytes), Buffer.from(expected), `${opName(type)} sample ${i}: bytes`);
      assert.ok(!Buffer.isBuffer(bytes), 'a plain Uint8Array (a Buffer slices without copying)');
      assert.equal(peekOpType(bytes), type);
      const op = decodeOp(bytes);
      assert.equal(op.type, type);
      assert.deepStrictEqual(op.msg, fromBinary(schema, expected.subarray(OP_HEADER_BYTES)), `${opName(type)} sample ${i}: message`);
    }
  }
});

test('a bad entry is refused with PARSE_FROM_STRING_FAILED and the reason', () => {
  const good = encodeOp(2 as OpType, { name: 'a file', parent: 1 } as never);
  const refused = (bytes: Uint8Array, why: RegExp): void => {
    assert.throws(
      () => decodeOp(bytes),
      (e: unknown) => e instanceof CurveError && e.status === StatusCode.PARSE_FROM_STRING_FAILED && why.test(e.message),
    );
  };
  refused(good.subarray(0, 5), /shorter than the 9-byte header/);
  refused(Uint8Array.from([9, ...good.subarray(1)]), /version 9/);
  refused(good.subarray(0, good.length - 1), /payload length/);
  const unknown = Uint8Array.from(good);
  unknown[4] = 200;
  refused(unknown, /unknown op type 200/);
  const garbage = Uint8Array.from(good);
  garbage[OP_HEADER_BYTES] = 0x07; // field 0, wire type 7
  refused(garbage, /CreateFile: bad protobuf payload/);
});
