// link(2) against the link count: one file gets N names (grown 64 at a time), and sequential
// links are timed at link count ~1 and ~N, with the metaserver calls per link and the size of the
// answer that carries the inode. The time
// per link should not grow with N (the inode keeps its parent list; answers must not carry it).
//   npx tsx bench/sdk-link.ts [--n 20000] [--k 200]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** CPU time (µs, user+system) of this process's descendants: the MDS and the metaservers. */
function childrenCpuUs(): number {
  const pids: string[] = [];
  const walk = (pid: number): void => {
    let out = '';
    try {
      out = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
    } catch {
      return; // no children
    }
    for (const c of out.split('\n').filter(Boolean)) {
      pids.push(c);
      walk(Number(c));
    }
  };
  walk(process.pid);
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return (ticks * 1e6) / 100; // USER_HZ = 100
}

const cluster = await startCluster({ fsName: 'links' });
try {
  const conn = await cluster.connect();
  const { fs, core } = conn;
  let answerBytes = 0;
  let calls = 0;
  const inner = (conn.meta as unknown as { caller: MetaCaller }).caller;
  (conn.meta as unknown as { caller: MetaCaller }).caller = {
    async call(address, method, req, opts) {
      const r = await inner.call(address, method, req, opts);
      const inode = (r as { inode?: InodeAttr }).inode;
      // The inode after the link: LinkInode's answer (before), CreateDentry{link}'s (now).
      if ((method === 'linkInode' || method === 'createDentry') && inode) answerBytes += toBinary(InodeAttrSchema, inode).length;
      calls++;
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
    calls = 0;
    const cpu0 = process.cpuUsage();
    const srv0 = childrenCpuUs();
    const t0 = performance.now();
    for (let i = 0; i < K; i++) await core.link(ino, d, `l${next++}`);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const srv = childrenCpuUs() - srv0;
    console.log(`${label}: ${Math.round((K / ms) * 1000)} links/s, client CPU ${Math.round((cpu.user + cpu.system) / K)} µs/link, servers' CPU ${Math.round(srv / K)} µs/link, metaserver calls ${(calls / K).toFixed(1)}/link, inode answer ${Math.round(answerBytes / K)} B`);
  };
  await timed(`warm-up`);
  await timed(`nlink ~${next}`);
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
