// The hand codec of RaftBatch (src/raft/wire-batch.ts) against the generated protobuf code: the
// same bytes out, the same messages in, in both directions, and bad input refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { RaftBatchSchema } from '../../src/gen/raft_pb.ts';
import { fromWire, toWire } from '../../src/raft/wire.ts';
import { decodeBatch, encodeBatch } from '../../src/raft/wire-batch.ts';
import { MessageType, type RaftMessage } from '../../src/raft/core/types.ts';
import type { GroupMessage } from '../../src/raft/transport.ts';
import { StatusCode, isCurveError } from '../../src/common/index.ts';

const base: RaftMessage = { type: MessageType.Append, from: 1, to: 2, term: 7, index: 100, logTerm: 6, entries: [], commit: 99, reject: false, rejectHint: 0 };

const samples: GroupMessage[][] = [
  [],
  [{ groupId: 0, msg: { ...base, term: 0, index: 0, logTerm: 0, commit: 0 } }],
  [
    { groupId: 3, msg: base },
    {
      groupId: 2 ** 40,
      msg: {
        ...base,
        type: MessageType.AppendResp,
        reject: true,
        rejectHint: 2 ** 52,
        entries: [
          { index: 101, term: 7, type: 0, data: new Uint8Array([1, 2, 3]) },
          { index: 102, term: 7, type: 1, data: new Uint8Array(0) },
          { index: 103, term: 2 ** 40, type: 0, data: new Uint8Array(300).fill(9) },
        ],
        context: new Uint8Array([7, 8]),
      },
    },
    { groupId: 9, msg: { ...base, type: MessageType.Snapshot, snapshot: { meta: { index: 9, term: 3, conf: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array(0) } } },
    { groupId: 9, msg: { ...base, type: MessageType.Snapshot, snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [5] } }, data: new Uint8Array(0) } } },
  ],
];

function generated(from: number, batch: GroupMessage[]): Uint8Array {
  return toBinary(RaftBatchSchema, create(RaftBatchSchema, { from, msgs: batch.map(({ groupId, msg }) => ({ groupId, msg: toWire(msg) })) }));
}

const plain = (b: GroupMessage[]) =>
  b.map(({ groupId, msg }) => ({ groupId, msg: { ...msg, entries: msg.entries.map((e) => ({ ...e, data: [...e.data] })), context: msg.context ? [...msg.context] : undefined } }));

test('the hand encoder writes the bytes protobuf-es writes', () => {
  for (const batch of samples) {
    for (const from of [0, 1, 2 ** 33]) assert.deepEqual([...encodeBatch(from, batch)], [...generated(from, batch)]);
  }
});

test('the hand decoder reads what protobuf-es writes, and protobuf-es reads what it writes', () => {
  for (const batch of samples) {
    const back = decodeBatch(generated(4, batch));
    assert.equal(back.from, 4);
    assert.deepEqual(plain(back.msgs), plain(batch));
    const viaGenerated = fromBinary(RaftBatchSchema, encodeBatch(4, batch));
    assert.deepEqual(plain(viaGenerated.msgs.map((g) => ({ groupId: g.groupId, msg: fromWire(g.msg!) }))), plain(batch));
  }
});

test('any valid encoding decodes: unknown fields skipped, unpacked repeated doubles', () => {
  // RaftBatch{from: 2, msgs: [GroupMsg{group_id: 1, msg: RaftMsg{type: 7 (Snapshot), term: 3, snapshot: {voters: 1, 2 unpacked}}, unknown field 15 varint}]}
  const f64 = (x: number) => [...new Uint8Array(new Float64Array([x]).buffer)];
  const meta = [(3 << 3) | 1, ...f64(1), (3 << 3) | 1, ...f64(2)];
  const msg = [(1 << 3) | 0, MessageType.Snapshot, (4 << 3) | 1, ...f64(3), (11 << 3) | 2, meta.length, ...meta, (15 << 3) | 0, 0x96, 0x01];
  const group = [(1 << 3) | 1, ...f64(1), (2 << 3) | 2, msg.length, ...msg];
  const bytes = new Uint8Array([(2 << 3) | 2, group.length, ...group, (1 << 3) | 1, ...f64(2)]);
  const { from, msgs } = decodeBatch(bytes);
  assert.equal(from, 2);
  assert.equal(msgs[0]!.groupId, 1);
  assert.equal(msgs[0]!.msg.term, 3);
  assert.deepEqual(msgs[0]!.msg.snapshot!.meta.conf.voters, [1, 2]);
});

test('bytes that do not parse are refused as the generated code refuses them; numbers out of range with PARAM_ERROR', () => {
  const good = encodeBatch(1, samples[2]!);
  for (let cut = 1; cut < good.length; cut++) {
    const part = good.subarray(0, cut);
    let generatedParses = true;
    try {
      fromBinary(RaftBatchSchema, part);
    } catch {
      generatedParses = false;
    }
    try {
      decodeBatch(part);
      assert.ok(generatedParses, `cut at ${cut}: decoded what protobuf-es refuses`);
    } catch (e) {
      // Unparseable bytes (what protobuf-es refuses too), or a parsed message with bad contents
      // (packed entries cut short inside a bytes field that is itself whole).
      if (generatedParses) assert.ok(isCurveError(e, StatusCode.PARAM_ERROR), `cut at ${cut}: ${String(e)}`);
      else assert.ok(isCurveError(e, StatusCode.PARSE_FROM_STRING_FAILED), `cut at ${cut}: ${String(e)}`);
    }
  }
  assert.throws(() => decodeBatch(new Uint8Array([0x0a, 0x05, 0x01])), (e: unknown) => isCurveError(e, StatusCode.PARSE_FROM_STRING_FAILED));
  const bad = (b: GroupMessage[]) => () => decodeBatch(generated(1, b));
  assert.throws(bad([{ groupId: 1, msg: { ...base, term: 2 ** 60 } }]), /out of range/);
  assert.throws(bad([{ groupId: 1, msg: { ...base, commit: 1.5 } }]), /out of range/);
  assert.throws(bad([{ groupId: 1.5, msg: base }]), /group id/);
  assert.throws(bad([{ groupId: 1, msg: { ...base, type: 42 as MessageType } }]), /type/);
});
