// link(2) against the link count: one file gets N names (grown 64 at a time), and sequential
// links are timed at link count ~1 and ~N, with the metaserver calls' answer sizes. The time
// per link should not grow with N (the inode keeps its parent list; answers must not carry it).
//   npx tsx bench/sdk-link.ts [--n 20000] [--k 200]
import { toBinary } from '@bufbuild/protobuf';
import { startCluster } from '../test/helpers/cluster.ts';
import type { MetaCaller } from '../src/client/index.ts';
import { InodeAttrSchema, type InodeAttr } from '../src/gen/metaserver_pb.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 20000);
const K = arg('k', 200);

const cluster = await startCluster({ fsName: 'links' });
try {
  const conn = await cluster.connect();
  const { fs, core } = conn;
  let answerBytes = 0;
  const inner = (conn.meta as unknown as { caller: MetaCaller }).caller;
  (conn.meta as unknown as { caller: MetaCaller }).caller = {
    async call(address, method, req, opts) {
      const r = await inner.call(address, method, req, opts);
      const inode = (r as { inode?: InodeAttr }).inode;
      if (method === 'linkInode' && inode) answerBytes += toBinary(InodeAttrSchema, inode).length;
      return r;
    },
  };
  await fs.mkdir('/d');
  await fs.writeFile('/d/f', '');
  const ino = (await fs.stat('/d/f')).ino;
  const d = (await fs.stat('/d')).ino;
  let next = 0;
  const timed = async (label: string): Promise<void> => {
    answerBytes = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < K; i++) await core.link(ino, d, `l${next++}`);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(`${label}: ${Math.round((K / ms) * 1000)} links/s, client CPU ${Math.round((cpu.user + cpu.system) / K)} µs/link, LinkInode answer ${Math.round(answerBytes / K)} B`);
  };
  await timed(`nlink ~1`);
  while (next < N) {
    const batch = [];
    for (let i = 0; i < 64 && next < N; i++) batch.push(core.link(ino, d, `l${next++}`));
    await Promise.all(batch);
  }
  await timed(`nlink ~${N}`);
  console.log(`load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  await conn.close();
} finally {
  await cluster.stop();
}
process.exit(0);
