// The partition state machine's cost of link(2) against the link count, in process (no Raft, no
// RPC: load-independent CPU per op): one file gets N names (link + createDentry, each with a
// request id as the service applies them), and the CPU per link is measured over K links at
// link count ~K and at ~N.
//   npx tsx bench/partition-link.ts [--n 20000] [--k 2000]
import { FileType } from '../src/metaserver/partition/index.ts';
import { at, FS, mkdir, mkfile, newPartition, ok } from '../test/helpers/partition.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 20000);
const K = arg('k', 2000);

const p = newPartition();
const d = mkdir(p, 1, 'd');
const f = mkfile(p, 1, 'f');
let seq = 0;
let next = 0;
const link = (): void => {
  ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: d, time: at(1), requestId: { clientId: 7, seq: ++seq } }));
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: d, name: `l${next++}`, ino: f, type: FileType.TYPE_S3, time: at(1), requestId: { clientId: 7, seq: ++seq } }));
};
const timed = (label: string): void => {
  const c0 = process.cpuUsage();
  for (let i = 0; i < K; i++) link();
  const c = process.cpuUsage(c0);
  console.log(`${label}: ${((c.user + c.system) / K).toFixed(1)} µs CPU per link (link + createDentry)`);
};
timed('warm-up');
timed(`nlink ~${next}`);
while (next < N) link();
timed(`nlink ~${next}`);
