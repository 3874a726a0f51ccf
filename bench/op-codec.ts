// CPU per copyset log operation of what a metaserver does for every create besides Raft: the op
// encoded by the leader and decoded by every replica's apply (src/metaserver/copyset/op-codec.ts),
// and the request metrics observed (src/metaserver/metrics.ts) — each against the way it was done
// before (protobuf-es toBinary/fromBinary; prom-client's labelled histogram and counter),
// interleaved rounds, CPU time of this process (process.cpuUsage), medians. Every op type is
// encoded and decoded first, so protobuf-es's shared code is as polymorphic as in a server.
//
//   npx tsx bench/op-codec.ts [--n 100000] [--rounds 5]
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { StatusCode, statusName } from '../src/common/index.ts';
import { CreateFileRequestSchema } from '../src/gen/metaserver_pb.ts';
import { decodeOp, encodeOp, opName, opSchema, OP_CODEC_VERSION, OP_HEADER_BYTES, OpType } from '../src/metaserver/copyset/op-codec.ts';
import { OpMetrics } from '../src/metaserver/metrics.ts';
import { Metrics } from '../src/metrics/index.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const N = Number(arg('n', '100000'));
const ROUNDS = Number(arg('rounds', '5'));

// A CreateFile as the service proposes it: the request as decoded, with the leader's time.
const req = create(CreateFileRequestSchema, {
  p: { poolId: 1, copysetId: 3, partitionId: 7, fsId: 1 },
  rid: { clientId: 12, seq: 345_678 },
  parent: 1_048_577,
  name: 'f12345',
  type: 2,
  mode: 0o100644,
  uid: 0,
  gid: 0,
  time: { sec: 1_765_000_000, nsec: 123_456_789 },
});

/** The codec as it was: protobuf-es, then the header in front (a second buffer and a copy). */
function encodeBefore(msg: typeof req): Uint8Array {
  const payload = toBinary(CreateFileRequestSchema, msg);
  const out = new Uint8Array(OP_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  out[0] = OP_CODEC_VERSION;
  view.setUint32(1, OpType.CreateFile, false);
  view.setUint32(5, payload.length, false);
  out.set(payload, OP_HEADER_BYTES);
  return out;
}
function decodeBefore(bytes: Uint8Array): unknown {
  return fromBinary(CreateFileRequestSchema, bytes.subarray(OP_HEADER_BYTES));
}

/** OpMetrics as it was: prom-client's labelled histogram and counter, hashed per observe. */
function metricsBefore(): (op: string, ms: number, status: StatusCode) => void {
  const m = new Metrics({ runtime: false });
  const requests = m.counter('curvefs_metaserver_requests_total', 'x', ['op', 'status']);
  const latency = m.histogram('curvefs_metaserver_request_seconds', 'x', ['op']);
  return (op, ms, status) => {
    latency.observe({ op }, ms / 1000);
    requests.inc({ op, status: statusName(status) });
  };
}
function metricsAfter(): (op: string, ms: number, status: StatusCode) => void {
  const m = new OpMetrics(new Metrics({ runtime: false }));
  return (op, ms, status) => m.observe(op, ms, status);
}

let sink = 0;
function cpuNsPerOp(fn: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / N;
}

// A metaserver encodes and decodes every op type through protobuf-es's shared functions, whose
// inline caches then see every message shape (megamorphic); a loop over CreateFile alone would
// measure them monomorphic, faster than they ever run in the server. So both paths first go
// through every op type.
for (let t = 0; t < 256; t++) {
  const schema = opSchema(t);
  if (!schema || opName(t).startsWith('op#')) continue;
  for (let i = 0; i < 2000; i++) {
    const m = create(schema, {});
    fromBinary(schema, toBinary(schema, m));
    decodeOp(encodeOp(t as OpType, m as never));
  }
}

const bytes = encodeOp(OpType.CreateFile, req);
const before = metricsBefore();
const after = metricsAfter();
const cases: [string, () => void, () => void][] = [
  ['CreateFile op encode (leader)', () => (sink += encodeBefore(req).length), () => (sink += encodeOp(OpType.CreateFile, req).length)],
  ['CreateFile op decode (every replica)', () => (sink += (decodeBefore(bytes) as { parent: number }).parent), () => (sink += (decodeOp(bytes).msg as { parent: number }).parent)],
  ['request metrics: 2 observes (GetDentry NOT_FOUND + CreateFile OK)', () => {
    before('GetDentry', 0.3, StatusCode.NOT_FOUND);
    before('CreateFile', 1.2, StatusCode.OK);
  }, () => {
    after('GetDentry', 0.3, StatusCode.NOT_FOUND);
    after('CreateFile', 1.2, StatusCode.OK);
  }],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`op-codec: ${N} ops per round, ${ROUNDS} rounds, interleaved; CPU ns per op (medians)\n`);
console.log('| what | before CPU ns | after CPU ns | before / after |');
console.log('|---|---:|---:|---:|');
for (const [name, b, a] of cases) {
  for (let i = 0; i < N / 10; i++) {
    b();
    a();
  }
  const xs: number[] = [];
  const ys: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      xs.push(cpuNsPerOp(b));
      ys.push(cpuNsPerOp(a));
    } else {
      ys.push(cpuNsPerOp(a));
      xs.push(cpuNsPerOp(b));
    }
  }
  console.log(`| ${name} | ${median(xs).toFixed(0)} | ${median(ys).toFixed(0)} | ${(median(xs) / median(ys)).toFixed(1)}× |`);
}
if (sink === -1) console.log(sink);
