// Metaserver benchmark: 3 metaserver processes, one copyset (3 replicas), on loopback; client load
// from a separate process (bench/metaserver-load.ts). Creates, lookups, getattrs and full
// listings of a 10,000-entry directory per second at 1, 16 and 256 concurrent callers; in the same
// run the same create/lookup pattern on a 3-member etcd (Debian's etcd-server) and on
// redis-server with appendfsync always. Then the copyset leader is killed (SIGKILL) repeatedly
// under a steady create load, and the client-seen stall of each failover is measured.
//
//   npx tsx bench/metaserver-bench.ts
//   BENCH_SECONDS=5 BENCH_CONC=1,16,256 BENCH_FAILOVERS=8 npx tsx bench/metaserver-bench.ts
//   BENCH_CONC= BENCH_FAILOVERS=10 npx tsx bench/metaserver-bench.ts     (failover only)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { FileType } from '../src/gen/common_pb.ts';
import type { PartitionRef } from '../src/gen/metaserver_pb.ts';
import { MetaserverCluster } from '../test/helpers/metaserver-cluster.ts';
import { EtcdCluster, freePort, waitFor } from '../test/helpers/etcd.ts';
import { Resp, runLoad as load, type LoadJob, type LoadResult } from './metaserver-load.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** BENCH_CONC= (empty) runs only the failover part. */
const CONC = (process.env.BENCH_CONC ?? '1,16,256').split(',').filter((x) => x !== '').map(Number);
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 8);
const LOOKUP_NAMES = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'ms-bench-'));
const P = { poolId: 1, copysetId: 1, partitionId: 1, fsId: 1 };
const PR: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', ...P };

async function main(): Promise<void> {
  console.error(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  // ---- curvefs: 3 metaservers, one copyset ----
  const ms = await MetaserverCluster.start({ n: 3, dir: join(dir, 'ms') });
  await ms.createCopyset(1, 1);
  await ms.createPartition({ ...P, start: 0, end: (1 << 23) - 1 });
  await ms.call(1, 1, 'createRootInode', { p: PR, mode: 0o755 });
  const mkdir = async (name: string) => (await ms.call(1, 1, 'createFile', { p: PR, rid: { clientId: 1, seq: name.length * 1000 + name.charCodeAt(0) }, parent: 1, name, type: FileType.TYPE_DIRECTORY, mode: 0o755 })).inode!.inodeId;
  const createDir = await mkdir('create');
  const lookupDir = await mkdir('lookup');
  let seq = 10_000;
  for (let i = 0; i < LOOKUP_NAMES; i += 256) {
    await Promise.all(
      Array.from({ length: Math.min(256, LOOKUP_NAMES - i) }, (_, k) =>
        ms.call(1, 1, 'createFile', { p: PR, rid: { clientId: 1, seq: ++seq }, parent: lookupDir, name: `n${i + k}`, type: FileType.TYPE_S3, mode: 0o644 }),
      ),
    );
  }
  const members = ms.procs.map((p) => p.address);
  const leader = await ms.waitLeader(1, 1);
  const curvefsCfg = (clientId: number): LoadJob['curvefs'] => ({ members: [leader, ...members.filter((m) => m !== leader)], p: P, createDir, lookupDir, lookupNames: LOOKUP_NAMES, listDir: lookupDir, clientId });

  // ---- etcd: 3 members ----
  const etcd = await EtcdCluster.start({ members: 3, baseDir: dir, heartbeatMs: 100, electionMs: 1000 });
  const ec = new Etcd3({ hosts: etcd.endpoints() });
  for (let i = 0; i < LOOKUP_NAMES; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, LOOKUP_NAMES - i) }, (_, k) => ec.put(`d/lookup/n${i + k}`).value(String(i + k))));
  }
  ec.close();

  // ---- redis: appendfsync always ----
  const redisPort = await freePort();
  mkdirSync(join(dir, 'redis'));
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', join(dir, 'redis')], { stdio: 'ignore' });
  const rc = await waitFor(async () => Resp.open(redisPort), 'redis');
  for (let i = 0; i < LOOKUP_NAMES; i += 1000) {
    await rc.send(Array.from({ length: Math.min(1000, LOOKUP_NAMES - i) }, (_, k) => ['HSET', 'd:lookup', `n${i + k}`, String(i + k)]));
  }
  rc.close();

  // ---- cells ----
  const results: { system: string; op: string; c: number; r: LoadResult }[] = [];
  let clientId = 100;
  const cell = async (system: LoadJob['system'], op: LoadJob['op'], c: number): Promise<void> => {
    const job: LoadJob = { system, op, concurrency: c, seconds: SECONDS, prefix: `${system}-${op}-${c}`, warmupSeconds: 1 };
    if (system === 'curvefs') job.curvefs = curvefsCfg(++clientId);
    if (system === 'etcd') job.etcd = { endpoints: etcd.endpoints(), lookupNames: LOOKUP_NAMES };
    if (system === 'redis') job.redis = { port: redisPort, lookupNames: LOOKUP_NAMES };
    const r = await load(job);
    results.push({ system, op, c, r });
    console.error(`${system} ${op} c=${c}: ${r.rate.toFixed(0)}/s p50 ${r.p50us} µs p99 ${r.p99us} µs errors ${r.errors}`);
  };
  // Warm-up (not recorded): JIT and connections of every process on the write and read paths.
  await load({ system: 'curvefs', op: 'createFile', concurrency: 16, seconds: 3, warmupSeconds: 0, prefix: 'warm', curvefs: curvefsCfg(++clientId) });
  await load({ system: 'curvefs', op: 'create', concurrency: 16, seconds: 2, warmupSeconds: 0, prefix: 'warm2', curvefs: curvefsCfg(++clientId) });
  await load({ system: 'curvefs', op: 'lookup', concurrency: 16, seconds: 2, warmupSeconds: 0, prefix: 'warm3', curvefs: curvefsCfg(++clientId) });
  for (const c of CONC) {
    for (const op of ['create', 'createFile', 'lookup', 'getattr', 'list'] as const) await cell('curvefs', op, c);
    for (const op of ['create', 'lookup'] as const) await cell('etcd', op, c);
    for (const op of ['create', 'lookup'] as const) await cell('redis', op, c);
  }

  // ---- failover ----
  const stalls: number[] = [];
  if (FAILOVERS > 0) {
    // Long enough for every kill/restart cycle (a restart takes seconds on a loaded machine);
    // kills after the load ended are not counted.
    const loadSeconds = FAILOVERS * 15 + 5;
    const loadEnd = Date.now() + loadSeconds * 1000;
    const job: LoadJob = { system: 'curvefs', op: 'failover', concurrency: 16, seconds: loadSeconds, warmupSeconds: 0, prefix: 'failover', curvefs: curvefsCfg(++clientId) };
    const running = load(job);
    const kills: number[] = [];
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < FAILOVERS && Date.now() < loadEnd - 8000; i++) {
      const l = await ms.waitLeader(1, 1);
      const idx = ms.procs.findIndex((p) => p.address === l);
      kills.push(Date.now());
      await ms.kill(idx);
      await ms.waitLeader(1, 1);
      await ms.restart(idx);
      await new Promise((r) => setTimeout(r, 3000));
    }
    const r = await running;
    for (const t of kills) {
      const window = (r.slow ?? []).filter(([start]) => start >= t - 3000 && start <= t + 3000);
      stalls.push(window.reduce((m, [, lat]) => Math.max(m, lat), 0));
    }
    stalls.sort((a, b) => a - b);
    console.error(`failover stalls (ms): ${stalls.map((s) => s.toFixed(0)).join(' ')}; steady ops ${r.ops}, errors ${r.errors}`);
  }

  // ---- report ----
  const get = (system: string, op: string, c: number) => results.find((x) => x.system === system && x.op === op && x.c === c)?.r;
  const lines: string[] = [];
  lines.push('| callers | op | curvefs ops/s | p50 µs | p99 µs | etcd ops/s | redis ops/s | curvefs / etcd | curvefs / redis |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of CONC) {
    for (const op of ['create', 'createFile', 'lookup', 'getattr', 'list']) {
      const m = get('curvefs', op, c)!;
      const base = op === 'createFile' ? 'create' : op;
      const e = get('etcd', base, c);
      const rd = get('redis', base, c);
      const ratio = (x: LoadResult | undefined) => (x && (op === 'create' || op === 'createFile' || op === 'lookup') ? `${(m.rate / x.rate).toFixed(2)}×` : '');
      lines.push(`| ${c} | ${op} | ${m.rate.toFixed(0)} | ${m.p50us} | ${m.p99us} | ${e && base !== op ? '' : e?.rate.toFixed(0) ?? ''} | ${rd && base !== op ? '' : rd?.rate.toFixed(0) ?? ''} | ${ratio(e)} | ${ratio(rd)} |`);
    }
  }
  console.log(lines.join('\n'));
  if (stalls.length > 0) {
    const p99 = stalls[Math.min(stalls.length - 1, Math.floor(0.99 * stalls.length))]!;
    console.log(`\nleader failover, client-seen stall per failover (ms, ${stalls.length} kills): min ${stalls[0]!.toFixed(0)}, median ${stalls[Math.floor(stalls.length / 2)]!.toFixed(0)}, p99 ${p99.toFixed(0)}, max ${stalls[stalls.length - 1]!.toFixed(0)}`);
  }
  console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(JSON.stringify({ results, stalls }));

  redis.kill('SIGTERM');
  await etcd.stop();
  await ms.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
