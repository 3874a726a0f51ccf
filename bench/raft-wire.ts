// CPU of one Raft batch on the wire, generated protobuf code vs the hand codec
// (src/raft/wire-batch.ts), in one process, interleaved: the encode a leader does per follower
// per commit and the decode a follower does, for the batch of a lone commit (one Append with one
// 100-byte entry) and for a busy round (64 Appends of 16 entries).
//
//   npx tsx bench/raft-wire.ts [--rounds 5] [--n 20000]
//
// Prints µs per batch (process.cpuUsage) for each way and the ratio hand / generated.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { loadavg } from 'node:os';
import { RaftBatchSchema } from '../src/gen/raft_pb.ts';
import { MessageType, type Entry } from '../src/raft/core/types.ts';
import type { GroupMessage } from '../src/raft/transport.ts';
import { fromWire, toWire } from '../src/raft/wire.ts';
import { decodeBatch, encodeBatch } from '../src/raft/wire-batch.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const ROUNDS = Number(arg('rounds', '5'));
const N = Number(arg('n', '20000'));

const entries = (first: number, n: number): Entry[] => Array.from({ length: n }, (_, i) => ({ index: first + i, term: 3, type: 0, data: new Uint8Array(100).fill(7) }));
const append = (groupId: number, n: number): GroupMessage => ({
  groupId,
  msg: { type: MessageType.Append, from: 1, to: 2, term: 3, index: 1000, logTerm: 3, entries: entries(1001, n), commit: 1000, reject: false, rejectHint: 0 },
});
const shapes: [string, GroupMessage[]][] = [
  ['lone commit (1 Append, 1 entry)', [append(1, 1)]],
  ['busy round (64 Appends × 16 entries)', Array.from({ length: 64 }, (_, g) => append(g + 1, 16))],
];

const generated = {
  encode: (b: GroupMessage[]) => toBinary(RaftBatchSchema, create(RaftBatchSchema, { from: 1, msgs: b.map(({ groupId, msg }) => ({ groupId, msg: toWire(msg) })) })),
  decode: (bytes: Uint8Array) => fromBinary(RaftBatchSchema, bytes).msgs.map((g) => ({ groupId: g.groupId, msg: fromWire(g.msg!) })),
};
const hand = {
  encode: (b: GroupMessage[]) => encodeBatch(1, b),
  decode: (bytes: Uint8Array) => decodeBatch(bytes).msgs,
};

function cpuPerOp(fn: () => unknown, n: number): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

console.log(`raft-wire: ${ROUNDS} interleaved rounds; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (const [name, batch] of shapes) {
  const n = Math.max(100, Math.floor(N / batch.length));
  const bytes = hand.encode(batch);
  const res = { genEnc: [] as number[], handEnc: [] as number[], genDec: [] as number[], handDec: [] as number[] };
  for (let r = 0; r < ROUNDS + 1; r++) {
    const row = [cpuPerOp(() => generated.encode(batch), n), cpuPerOp(() => hand.encode(batch), n), cpuPerOp(() => generated.decode(bytes), n), cpuPerOp(() => hand.decode(bytes), n)];
    if (r === 0) continue; // warm-up
    res.genEnc.push(row[0]!);
    res.handEnc.push(row[1]!);
    res.genDec.push(row[2]!);
    res.handDec.push(row[3]!);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [ge, he, gd, hd] = [med(res.genEnc), med(res.handEnc), med(res.genDec), med(res.handDec)];
  console.log(`${name}, ${bytes.length} bytes:`);
  console.log(`  encode  generated ${ge.toFixed(2)} µs  hand ${he.toFixed(2)} µs  hand/generated ${(he / ge).toFixed(2)}`);
  console.log(`  decode  generated ${gd.toFixed(2)} µs  hand ${hd.toFixed(2)} µs  hand/generated ${(hd / gd).toFixed(2)}`);
}
