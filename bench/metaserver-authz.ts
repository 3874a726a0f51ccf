// CPU cost of the metaserver data path's fs check (src/metaserver/authz.ts) per call, against
// the same handler unwrapped, in one process, interleaved rounds (load-independent: the figure
// that matters is the difference, a few hundred ns against an RPC of tens of µs).
//
//   node --import tsx bench/metaserver-authz.ts [calls per round, default 200000] [rounds, default 7]
import { FsScope, guardDataPath } from '../src/metaserver/authz.ts';
import type { CallContext } from '../src/rpc/index.ts';

const CALLS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 7);

const ref = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 3, partitionId: 7, fsId: 1 };
const req = { $typeName: 'curvefs.metaserver.GetInodeRequest', p: ref, inodeId: 12345 };
let sink = 0;
const impl = {
  getInode: (r: typeof req, _ctx?: CallContext) => {
    sink += r.inodeId;
    return { inode: undefined };
  },
};
const scope = new FsScope({ fsNameOf: () => Promise.resolve('alpha') });
const guarded = guardDataPath(impl, scope);
const ctx = (principal: CallContext['principal']): CallContext => ({ signal: new AbortController().signal, deadline: Infinity, peer: 'x', principal });
const asFs = ctx({ role: 'fs', fsName: 'alpha' });
const asAdmin = ctx({ role: 'admin' });

/** CPU µs per call of `fn` over CALLS calls. */
function cpuPerCall(fn: () => void): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / CALLS;
}

async function main(): Promise<void> {
  await guarded.getInode(req as never, asFs); // the fs id → name look-up, once
  const rows: Record<string, number[]> = { plain: [], admin: [], fs: [] };
  for (let r = 0; r < ROUNDS; r++) {
    rows.plain!.push(cpuPerCall(() => void impl.getInode(req)));
    rows.admin!.push(cpuPerCall(() => void guarded.getInode(req as never, asAdmin)));
    rows.fs!.push(cpuPerCall(() => void guarded.getInode(req as never, asFs)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const plain = median(rows.plain!);
  for (const [k, xs] of Object.entries(rows)) {
    const m = median(xs);
    console.log(`${k.padEnd(6)} ${(m * 1000).toFixed(0).padStart(5)} ns/call CPU (median of ${ROUNDS} rounds of ${CALLS}); +${((m - plain) * 1000).toFixed(0)} ns over the unwrapped handler`);
  }
  if (sink === 42) console.log('');
}

void main();
