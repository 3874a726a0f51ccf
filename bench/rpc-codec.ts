// CPU per message of the generated codecs (src/rpc/codec.ts) against protobuf-es, on the messages
// of a create through the mount (GetDentry, CreateFile) and a stat with the block map: ns per
// encode of the request (from the plain init object the client builds) and per decode of the
// answer, in CPU time of this process. The two are interleaved round by round; medians of the rounds.
//   npx tsx bench/rpc-codec.ts [--n 200000] [--rounds 5]
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { readFile } from 'node:fs/promises';
import { codecOf } from '../src/rpc/codec.ts';
import * as ms from '../src/gen/metaserver_pb.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const N = Number(arg('n', '200000'));
const ROUNDS = Number(arg('rounds', '5'));

const p = { poolId: 1, copysetId: 3, partitionId: 12, fsId: 1 };
const time = { sec: 1765100000, nsec: 123456789 };
const attr = { inodeId: 1048600, fsId: 1, length: 0, ctime: 1765100000, ctimeNs: 123456789, mtime: 1765100000, mtimeNs: 123456789, atime: 1765100000, atimeNs: 123456789, uid: 0, gid: 0, mode: 0o100644, nlink: 1, type: 2, parent: [1048577], blocks: 0, hasXattrs: false };
const cases: { name: string; desc: DescMessage; value: Record<string, unknown>; kind: 'encode' | 'decode' }[] = [
  { name: 'GetDentryRequest', desc: ms.GetDentryRequestSchema, value: { p, parentInodeId: 1048577, name: 'f1234', withAttr: true, withChunks: true }, kind: 'encode' },
  { name: 'CreateFileRequest', desc: ms.CreateFileRequestSchema, value: { p, rid: { clientId: 3, seq: 1234 }, parent: 1048577, name: 'f1234', type: 2, mode: 0o644, uid: 0, gid: 0, time }, kind: 'encode' },
  { name: 'CreateFileResponse', desc: ms.CreateFileResponseSchema, value: { inode: attr, parent: { ...attr, inodeId: 1048577, type: 1, nlink: 2 } }, kind: 'decode' },
  { name: 'GetDentryResponse (with inode)', desc: ms.GetDentryResponseSchema, value: { dentry: { fsId: 1, inodeId: 1048600, parentInodeId: 1048577, name: 'f1234', type: 2 }, appliedIndex: 99, inode: { attr, chunks: {} } }, kind: 'decode' },
];

/** CPU ns per call (user + system of this process: what the machine's load hardly moves). */
function perOp(fn: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / N;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`rpc-codec: ${N} ops per round, ${ROUNDS} rounds, node ${process.version}, load ${(await readFile('/proc/loadavg', 'utf8')).trim()}`);
console.log('| message | op | protobuf-es CPU ns | generated CPU ns | ratio |');
console.log('|---|---|---:|---:|---:|');
for (const c of cases) {
  const codec = codecOf(c.desc);
  const bytes = toBinary(c.desc, create(c.desc, c.value as never));
  const buf = Buffer.from(bytes);
  const es = c.kind === 'encode' ? () => void toBinary(c.desc, create(c.desc, c.value as never)) : () => void fromBinary(c.desc, buf);
  const gen = c.kind === 'encode' ? () => void codec.encode(c.value) : () => void codec.decode(buf);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(perOp(es));
    b.push(perOp(gen));
  }
  console.log(`| ${c.name} | ${c.kind} | ${median(a).toFixed(0)} | ${median(b).toFixed(0)} | ${(median(a) / median(b)).toFixed(1)}× |`);
}
