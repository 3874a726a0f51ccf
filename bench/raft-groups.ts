// Commits across many Raft groups in one set of 3 processes: what group commit across groups
// could save shows only here (bench/raft-commit.ts runs one group). Three replica processes
// (test/helpers/raft-kv-server.ts --groups N), each a replica of every group; the groups' leaders
// spread over the processes. One client keeps `--per-group` proposals in flight in every group,
// each sent to that group's leader (Kv/ProposeIn), 100-byte entries.
//
//   npx tsx bench/raft-groups.ts [--groups 1,8,64] [--per-group 1,4] [--seconds 3] [--log-sync dsync|fdatasync]
//
// Per configuration it prints commits/s, the commit latency p50/p99, and per commit, summed over
// the three processes: CPU µs (user + system) and durable log writes (an O_DSYNC write or an
// fdatasync: RaftLog's logSyncCounters), with the share of them made on the main thread. Every
// commit needs one durable write on each of the three replicas, so 3 syncs per commit means no
// two commits shared a sync; fewer means writes were shared (by commits of one group batched in
// one round). Before the load, the disk floor of the same run (bench/floor.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvProcessCluster, type ReplicaStatus } from '../test/helpers/raft-kv-cluster.ts';
import { KV_PROPOSE_IN, encodeKv, proposeInBody } from '../test/helpers/raft-kv.ts';
import { diskFloor, fmt } from './floor.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const GROUPS = arg('groups', '1,8,64').split(',').map(Number);
const PER_GROUP = arg('per-group', '1,4').split(',').map(Number);
const SECONDS = Number(arg('seconds', '3'));
const LOG_SYNC = arg('log-sync', 'dsync') === 'fdatasync' ? 'fdatasync' : 'dsync';
const WARMUP_MS = 1500;
const ENTRY_BYTES = 100;
const LEADERS_LIMIT_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loads = () => loadavg().map((x) => x.toFixed(1)).join(' ');

const ENTRIES = Array.from({ length: 1000 }, (_, i) => {
  const key = `k${i}`;
  const empty = encodeKv({ op: 'put', key, value: '' }).length;
  return encodeKv({ op: 'put', key, value: 'v'.repeat(ENTRY_BYTES - empty) });
});

async function statuses(c: KvProcessCluster): Promise<ReplicaStatus[]> {
  return Promise.all(c.ids.map((id) => c.status(id)));
}

/** group → id of the replica leading it; waits (polling) until every group has one. */
async function leaders(c: KvProcessCluster, groups: number): Promise<Map<number, number>> {
  const deadline = Date.now() + LEADERS_LIMIT_MS;
  for (;;) {
    const ss = await statuses(c);
    const m = new Map<number, number>();
    ss.forEach((s, i) => s.ledGroups?.forEach((g) => m.set(g, c.ids[i]!)));
    if (m.size === groups) return m;
    if (Date.now() > deadline) throw new Error(`only ${m.size} of ${groups} groups have a leader`);
    await sleep(50);
  }
}

interface Result {
  groups: number;
  perGroup: number;
  perSec: number;
  p50: number;
  p99: number;
  errors: number;
  cpuUs: number;
  syncs: number;
  inlineShare: number;
}

async function run(dir: string, groups: number, perGroups: number[]): Promise<Result[]> {
  const c = new KvProcessCluster({ dataDir: dir, groups, logSync: LOG_SYNC });
  await c.start();
  try {
    let leaderOf = await leaders(c, groups);
    const results: Result[] = [];
    for (const perGroup of perGroups) {
      let phase: 'warm' | 'measure' | 'done' = 'warm';
      const lat: number[] = [];
      let errors = 0;
      let refreshing: Promise<void> | undefined;
      const worker = async (g: number, w: number) => {
        for (let s = w; phase !== 'done'; s += perGroup) {
          const t0 = performance.now();
          try {
            await c.pool.callRaw(c.address(leaderOf.get(g)!), KV_PROPOSE_IN, proposeInBody(g, ENTRIES[s % ENTRIES.length]!), { timeoutMs: 10_000 });
            if (phase === 'measure') lat.push(performance.now() - t0);
          } catch {
            errors++;
            refreshing ??= leaders(c, groups).then((m) => {
              leaderOf = m;
              refreshing = undefined;
            });
            await refreshing;
          }
        }
      };
      const workers: Promise<void>[] = [];
      for (let g = 1; g <= groups; g++) for (let w = 0; w < perGroup; w++) workers.push(worker(g, w));
      await sleep(WARMUP_MS);
      phase = 'measure';
      const s0 = await statuses(c);
      const t0 = performance.now();
      await sleep(SECONDS * 1000);
      const elapsed = (performance.now() - t0) / 1000;
      const n = lat.length;
      const s1 = await statuses(c);
      phase = 'done';
      await Promise.all(workers);
      lat.sort((a, b) => a - b);
      const sum = (f: (s: ReplicaStatus) => number) => s1.reduce((a, s, i) => a + f(s) - f(s0[i]!), 0);
      const syncs = sum((s) => s.syncs ?? 0);
      results.push({
        groups,
        perGroup,
        perSec: n / elapsed,
        p50: lat[Math.floor(n * 0.5)] ?? NaN,
        p99: lat[Math.min(n - 1, Math.floor(n * 0.99))] ?? NaN,
        errors,
        cpuUs: sum((s) => s.cpuUs) / n,
        syncs: syncs / n,
        inlineShare: sum((s) => s.inlineSyncs ?? 0) / syncs,
      });
      const r = results[results.length - 1]!;
      console.log(
        `groups ${String(groups).padStart(3)} × ${perGroup} in flight: ${r.perSec.toFixed(0).padStart(6)} commits/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ` +
          `per commit (3 processes): cpu ${r.cpuUs.toFixed(1)} µs, durable writes ${r.syncs.toFixed(2)} (${(100 * r.inlineShare).toFixed(0)} % inline)  errors ${errors}  load ${loads()}`,
      );
    }
    return results;
  } finally {
    await c.stopAll();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raft-groups-'));
  try {
    console.log(`raft-groups: ${ENTRY_BYTES}-byte entries, ${SECONDS} s per level, log sync ${LOG_SYNC}; load average ${loads()}`);
    const floor = await diskFloor(dir, 100, 1000, 'truncate', 'sync');
    console.log(`floor  pwrite+fdatasync 100 B: ${fmt(floor)}`);
    const all: Result[] = [];
    for (const g of GROUPS) all.push(...(await run(join(dir, `g${g}`), g, PER_GROUP)));
    console.log('\n| groups × in flight each | commits/s | p50 ms | p99 ms | CPU µs / commit (3 processes) | durable writes / commit | of them inline |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of all) {
      console.log(`| ${r.groups} × ${r.perGroup} | ${r.perSec.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuUs.toFixed(1)} | ${r.syncs.toFixed(2)} | ${(100 * r.inlineShare).toFixed(0)} % |`);
    }
    console.log(`load average at the end: ${loads()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
