// CPU per metaserver call spent in the client's own routing (MetaClient.callPartition: partition,
// copyset route, request id, the request object), with a caller that answers at once — no
// sockets, so the figure is the client's work alone. process.cpuUsage over N calls per round.
//
//   npx tsx bench/meta-client-call.ts [--n 500000] [--rounds 5]
import { create } from '@bufbuild/protobuf';
import { MetaClient, type MetaCaller } from '../src/client/index.ts';
import type { MdsApi } from '../src/client/mds-api.ts';
import { PartitionInfoSchema, PartitionStatus } from '../src/gen/common_pb.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const N = Number(arg('n', '500000'));
const ROUNDS = Number(arg('rounds', '5'));

async function main(): Promise<void> {
  const answer = Promise.resolve({});
  const caller: MetaCaller = { call: (() => answer) as unknown as MetaCaller['call'] };
  const meta = new MetaClient({ mds: {} as MdsApi, caller, fsId: 1, clientId: 1 });
  meta.table.setPartitions([create(PartitionInfoSchema, { partitionId: 1, poolId: 1, copysetId: 1, fsId: 1, start: 0, end: 1 << 30, status: PartitionStatus.READWRITE })]);
  meta.table.setCopyset({ poolId: 1, copysetId: 1, peers: ['a', 'b', 'c'], leader: 'a' });
  for (let r = 0; r < ROUNDS; r++) {
    const c = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      await meta.callForInode('getDentry', 1 + (i & 1023), { parentInodeId: 1 + (i & 1023), name: 'x', withAttr: true });
      await meta.callForInode('createFile', 1 + (i & 1023), { parentInodeId: 1, name: 'y', mode: 0o644 } as never);
    }
    const u = process.cpuUsage(c);
    console.log(`CPU ns per call: ${(((u.user + u.system) * 1000) / (2 * N)).toFixed(0)}`);
  }
}

await main();
