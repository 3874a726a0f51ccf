import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { RaftMsgSchema } from '../../src/gen/raft_pb.ts';
import { fromWire, packEntries, toWire, unpackEntries } from '../../src/raft/wire.ts';
import { MessageType, type RaftMessage } from '../../src/raft/core/types.ts';
import { StatusCode, isCurveError } from '../../src/common/index.ts';

const base: RaftMessage = { type: MessageType.Append, from: 1, to: 2, term: 7, index: 100, logTerm: 6, entries: [], commit: 99, reject: false, rejectHint: 0 };
const roundTrip = (m: RaftMessage) => fromWire(fromBinary(RaftMsgSchema, toBinary(RaftMsgSchema, toWire(m))));

test('raft messages survive the wire: entries, snapshot meta, context, big numbers', () => {
  const entries = [
    { index: 101, term: 7, type: 0 as const, data: new Uint8Array([1, 2, 3]) },
    { index: 102, term: 7, type: 1 as const, data: new Uint8Array(0) },
    { index: 103, term: 2 ** 40, type: 0 as const, data: new Uint8Array(1000).fill(9) },
  ];
  const m = roundTrip({ ...base, entries, index: 2 ** 52, reject: true, rejectHint: 5, context: new Uint8Array([7]) });
  assert.deepEqual(
    m.entries.map((e) => [e.index, e.term, e.type, [...e.data]]),
    entries.map((e) => [e.index, e.term, e.type, [...e.data]]),
  );
  assert.equal(m.index, 2 ** 52);
  assert.equal(m.reject, true);
  assert.deepEqual([...m.context!], [7]);
  const s = roundTrip({ ...base, type: MessageType.Snapshot, snapshot: { meta: { index: 9, term: 3, conf: { voters: [1, 2], learners: [5] } }, data: new Uint8Array(0) } });
  assert.deepEqual(s.snapshot!.meta, { index: 9, term: 3, conf: { voters: [1, 2], learners: [5] } });
  assert.equal(roundTrip(base).snapshot, undefined);
});

test('malformed input is refused with PARAM_ERROR', () => {
  const packed = packEntries([{ index: 1, term: 1, type: 0, data: new Uint8Array(10) }]);
  for (let cut = 1; cut < packed.length; cut++) {
    assert.throws(() => unpackEntries(packed.subarray(0, cut)), (e: unknown) => isCurveError(e, StatusCode.PARAM_ERROR), `cut at ${cut}`);
  }
  const badType = packed.slice();
  badType[16] = 9;
  assert.throws(() => unpackEntries(badType), /entry type/);
  const w = toWire(base);
  for (const f of ['from', 'term', 'index', 'commit'] as const) {
    for (const v of [-1, 1.5, 2 ** 60]) assert.throws(() => fromWire({ ...w, [f]: v }), /out of range/);
  }
  assert.throws(() => fromWire({ ...w, type: 42 }), /type/);
});
