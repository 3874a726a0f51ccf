// Raft commit throughput, latency and leader failover: 3 replica processes on loopback with real
// fdatasync (test/helpers/raft-kv-server.ts), 100-byte entries, and in the same run a 3-member
// etcd cluster (Debian's etcd) with a put stream as the reference.
//
//   npx tsx bench/raft-commit.ts [--seconds 10] [--kills 20] [--no-etcd] [--tick-ms MS] [--election-tick N]
//                                [--prealloc truncate|zeros] [--inflight 1,64,1024] [--floor-n 1000]
//                                [--log-sync dsync,fdatasync,dsync:0] [--no-quiesce] [--async-writes] [--tls]
//
// --log-sync runs the Raft part once per listed RaftLogOptions.syncMode, back to back (an A/B in
// one run; default: dsync only); "mode:N" sets RaftLogOptions.inlineBytes to N as well (dsync:0:
// every write through the threadpool, as before inline writes).
// --tls runs the Raft part four times per log sync mode, plain and over mutual TLS interleaved
// (plain, tls, plain, tls), each on a fresh cluster, and prints TLS/plain ratios of the means.
// TLS is as metaservers run it (src/metaserver/main.ts): certificates from `curvefs certs`
// (makeCerts) in a temporary directory, replica i serving and dialling with `metaserver<i>`, Raft
// batches accepted only over the sender's own certificate, the client with `client`. etcd stays
// plain (its TLS is not in test/helpers/etcd.ts).
// bench/raft-profile.ts shows where a commit's CPU goes, bench/raft-wire.ts the batch codec's.
//
// First the floor, in the same run (bench/floor.ts): pwrite+fdatasync of 100 B and 4 KiB into a
// preallocated file, and the loopback RPC round trip to a replica; the commit latencies are then
// printed as ratios to it.
//
// Commit = the leader applied the entry and answered the client (our propose resolves after
// apply, so this is at least as strict as etcd's put). Failover = time from kill -9 of the leader
// to the first proposal committed by its successor, probed by a client that retries every 5 ms
// (each probe waits up to PROBE_DEADLINE_MS for its commit).
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { makeCerts } from '../src/cli/commands/certs.ts';
import { KvProcessCluster } from '../test/helpers/raft-kv-cluster.ts';
import { ChannelPool } from '../src/rpc/index.ts';
import { KV_PING, KV_PROPOSE, encodeKv } from '../test/helpers/raft-kv.ts';
import { diskFloor, diskFloorConcurrent, fmt, rpcFloor, type Percentiles } from './floor.ts';
import { EtcdCluster } from '../test/helpers/etcd.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const SECONDS = Number(arg('seconds', '10'));
const KILLS = Number(arg('kills', '20'));
// Unset: RaftNode's defaults (the "default timeouts" of the failover target).
const TICK_MS = process.argv.includes('--tick-ms') ? Number(arg('tick-ms', '')) : undefined;
const ELECTION_TICK = process.argv.includes('--election-tick') ? Number(arg('election-tick', '')) : undefined;
const WITH_ETCD = !process.argv.includes('--no-etcd');
const NO_QUIESCE = process.argv.includes('--no-quiesce');
/** RaftNodeOptions.asyncWrites true: the leader's write behind the rounds (off by default: docs/raft.md). */
const ASYNC_WRITES = process.argv.includes('--async-writes');
const PREALLOC = arg('prealloc', 'truncate') === 'zeros' ? 'zeros' : 'truncate';
const INFLIGHT = arg('inflight', '1,64,1024').split(',').map(Number);
const FLOOR_N = Number(arg('floor-n', '1000'));
const LOG_SYNC = arg('log-sync', 'dsync').split(',');
const WITH_TLS = process.argv.includes('--tls');
/**
 * Deadline of one failover probe. Long enough that a proposal the successor accepted is counted
 * when it commits even on a busy machine (with 300 ms, a commit slower than that was retried and
 * the failover time grew by a whole extra commit); a replica that is not the leader answers at once.
 */
const PROBE_DEADLINE_MS = 2000;
const ENTRY_BYTES = 100;
const KEYS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface LoadResult {
  inflight: number;
  perSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs per commit of the client process. */
  clientCpu: number;
  /** CPU µs per commit: leader process, each follower (average); unset if the leader changed in the window. */
  cpu?: { leader: number; follower: number };
  /** The leader at the window's end was not the one at its start (an election under load). */
  leaderChanged?: boolean;
}

/**
 * Runs `inflight` closed-loop workers; counts what completes in the measured window. `cpu`
 * samples the servers' CPU counters at the window's edges.
 */
async function load(
  inflight: number,
  op: (seq: number) => Promise<unknown>,
  seconds: number,
  cpu?: () => Promise<{ leader: number; us: number[] }>,
): Promise<LoadResult> {
  const warmupMs = 2000;
  let phase: 'warm' | 'measure' | 'done' = 'warm';
  const lat: number[] = [];
  let errors = 0;
  let seq = 0;
  const worker = async () => {
    while (phase !== 'done') {
      const t0 = performance.now();
      try {
        await op(seq++);
        if (phase === 'measure') lat.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  const workers = Array.from({ length: inflight }, worker);
  await sleep(warmupMs);
  phase = 'measure';
  const cpu0 = await cpu?.();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const n = lat.length;
  const client = process.cpuUsage(client0);
  const cpu1 = await cpu?.();
  phase = 'done';
  await Promise.all(workers);
  lat.sort((a, b) => a - b);
  const r: LoadResult = { inflight, perSec: n / elapsed, p50: pct(lat, 50), p99: pct(lat, 99), errors, clientCpu: (client.user + client.system) / n };
  if (cpu0 && cpu1 && cpu0.leader !== cpu1.leader) r.leaderChanged = true;
  else if (cpu0 && cpu1) {
    // cpu() lists the leader first.
    const d = cpu1.us.map((x, i) => (x - cpu0.us[i]!) / n);
    r.cpu = { leader: d[0]!, follower: (d[1]! + d[2]!) / 2 };
  }
  return r;
}

/** Put commands whose encoded entries are exactly ENTRY_BYTES long, made once (client CPU). */
const ENTRIES = Array.from({ length: KEYS }, (_, i) => {
  const key = `k${i}`;
  const empty = encodeKv({ op: 'put', key, value: '' }).length;
  return encodeKv({ op: 'put', key, value: 'v'.repeat(ENTRY_BYTES - empty) });
});
const entryFor = (seq: number): Uint8Array => ENTRIES[seq % KEYS]!;

interface Floor {
  fsync100: Percentiles;
  fsync4k: Percentiles;
  /** 100 B writes of three writers at once on this disk: what a one-machine cluster's replicas do. */
  fsync100x3: Percentiles;
  rpc: Percentiles;
}

async function measureFloor(dir: string, c: KvProcessCluster): Promise<Floor> {
  const fsync100 = await diskFloor(dir, 100, FLOOR_N, PREALLOC, 'sync');
  const fsync4k = await diskFloor(dir, 4096, FLOOR_N, PREALLOC, 'sync');
  const fsync100x3 = await diskFloorConcurrent(dir, 100, FLOOR_N, PREALLOC, 3);
  const leader = await c.findLeader();
  const empty = new Uint8Array(0);
  const rpc = await rpcFloor(() => c.pool.callRaw(c.address(leader), KV_PING, empty, { timeoutMs: 5000 }), FLOOR_N * 2);
  console.log(`floor  pwrite+fdatasync 100 B: ${fmt(fsync100)}   4 KiB: ${fmt(fsync4k)}   (${FLOOR_N} each, ${PREALLOC} preallocation)`);
  console.log(`floor  pwrite+fdatasync 100 B, 3 writers at once (one per replica, same disk): ${fmt(fsync100x3)}`);
  console.log(`floor  loopback RPC round trip: ${fmt(rpc)}`);
  return { fsync100, fsync4k, fsync100x3, rpc };
}

/** Proof that TLS is on: a plain-TCP call to a TLS replica must fail. */
async function plainRefused(address: string): Promise<void> {
  const plain = new ChannelPool({ tls: false, connectTimeoutMs: 1000, backoff: { initialMs: 50, maxMs: 50 } });
  try {
    await plain.callRaw(address, KV_PING, new Uint8Array(0), { timeoutMs: 2000 });
    throw new Error(`a plain-TCP call to ${address} was answered: the replica is not on TLS`);
  } catch (e) {
    if ((e as Error).message.includes('not on TLS')) throw e;
    console.log(`tls    a plain-TCP call to a replica is refused (${(e as Error).message.slice(0, 60)})`);
  } finally {
    plain.close();
  }
}

async function benchRaft(dir: string, mode: string, tlsDir?: string): Promise<{ loads: LoadResult[]; failovers: number[]; floor: Floor }> {
  console.log(`raft   log sync mode: ${mode}${tlsDir ? ', mutual TLS' : ''}`);
  const [sync, inline] = mode.split(':');
  const logSync = sync === 'fdatasync' ? 'fdatasync' : 'dsync';
  const inlineBytes = inline === undefined ? undefined : Number(inline);
  const c = new KvProcessCluster({ dataDir: dir, tickMs: TICK_MS, electionTick: ELECTION_TICK, prealloc: PREALLOC, logSync, inlineBytes, noQuiesce: NO_QUIESCE, asyncWrites: ASYNC_WRITES, tlsDir });
  await c.start();
  try {
    await c.propose(entryFor(0), Date.now() + 30_000);
    if (tlsDir) await plainRefused(c.address(c.ids[0]!));
    const floor = await measureFloor(dir, c);
    const target = 2 * (floor.fsync100.p50 + floor.rpc.p50);
    const loads: LoadResult[] = [];
    const cpu = async () => {
      const leader = await c.findLeader();
      const order = [leader, ...c.ids.filter((x) => x !== leader)];
      return { leader, us: await Promise.all(order.map(async (id) => (await c.status(id)).cpuUs)) };
    };
    for (const n of INFLIGHT) {
      const r = await load(n, (s) => c.propose(entryFor(s), Date.now() + 30_000), SECONDS, cpu);
      loads.push(r);
      const cpuText = r.leaderChanged ? '  LEADER CHANGED in the window (no CPU figures)' : r.cpu ? `  cpu µs/commit leader ${r.cpu.leader.toFixed(1)} follower ${r.cpu.follower.toFixed(1)} client ${r.clientCpu.toFixed(1)}` : '';
      console.log(`raft   in flight ${String(n).padStart(4)}: ${r.perSec.toFixed(0).padStart(7)} commits/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}${cpuText}`);
      if (n === 1) {
        const unit = floor.fsync100.p50 + floor.rpc.p50;
        console.log(`raft   in flight    1: p50 = ${(r.p50 / unit).toFixed(2)} × (fsync p50 + RPC p50 = ${unit.toFixed(3)} ms); target ≤ 2× = ${target.toFixed(3)} ms: ${r.p50 <= target ? 'met' : 'not met'}`);
        const unit3 = floor.fsync100x3.p50 + floor.rpc.p50;
        console.log(`raft   in flight    1: p50 = ${(r.p50 / unit3).toFixed(2)} × (fsync p50 with 3 writers + RPC p50 = ${unit3.toFixed(3)} ms)`);
      }
    }
    const failovers: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      let leader = 0;
      while (!(leader = await c.findLeader())) await sleep(10);
      // Everyone caught up before the kill, so any of them may win.
      const commit = (await c.status(leader)).commit;
      for (const id of c.ids) while ((await c.status(id)).applied < commit) await sleep(5);
      const others = c.ids.filter((x) => x !== leader);
      const t0 = performance.now();
      await c.kill(leader);
      let t1 = 0;
      for (let s = 0; !t1; s++) {
        for (const id of others) {
          try {
            await c.pool.callRaw(c.address(id), KV_PROPOSE, entryFor(s), { timeoutMs: PROBE_DEADLINE_MS });
            t1 = performance.now();
            break;
          } catch {
            /* not the leader yet */
          }
        }
        if (!t1) await sleep(5);
      }
      failovers.push(t1 - t0);
      console.log(`raft   failover ${k + 1}/${KILLS}: ${(t1 - t0).toFixed(0)} ms`);
      await c.restart(leader);
    }
    return { loads, failovers, floor };
  } finally {
    await c.stopAll();
  }
}

async function benchEtcd(): Promise<{ loads: LoadResult[]; failovers: number[] }> {
  // etcd's defaults: 100 ms heartbeat, 1 s election timeout.
  const e = await EtcdCluster.start({ members: 3, heartbeatMs: 100, electionMs: 1000 });
  try {
    const leader = await e.leaderIndex();
    const client = new Etcd3({ hosts: e.endpoint(leader) });
    const value = 'v'.repeat(ENTRY_BYTES - 6);
    const loads: LoadResult[] = [];
    for (const n of INFLIGHT) {
      const r = await load(n, (s) => client.put(`k${s % KEYS}`).value(value).exec(), SECONDS);
      loads.push(r);
      console.log(`etcd   in flight ${String(n).padStart(4)}: ${r.perSec.toFixed(0).padStart(7)} puts/s     p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}  client cpu µs/put ${r.clientCpu.toFixed(1)}`);
    }
    client.close();
    const failovers: number[] = [];
    const kills = Math.min(KILLS, 10);
    for (let k = 0; k < kills; k++) {
      const l = await e.leaderIndex();
      const others = [0, 1, 2].filter((x) => x !== l);
      const clients = others.map((i) => new Etcd3({ hosts: e.endpoint(i), dialTimeout: 300 }));
      await Promise.all(clients.map((cl) => cl.put('warm').value('x')));
      const t0 = performance.now();
      await e.kill(l);
      let t1 = 0;
      while (!t1) {
        for (const cl of clients) {
          try {
            await Promise.race([cl.put('probe').value('x').exec(), sleep(PROBE_DEADLINE_MS).then(() => Promise.reject(new Error('timeout')))]);
            t1 = performance.now();
            break;
          } catch {
            /* no leader yet */
          }
        }
        if (!t1) await sleep(5);
      }
      failovers.push(t1 - t0);
      console.log(`etcd   failover ${k + 1}/${kills}: ${(t1 - t0).toFixed(0)} ms`);
      for (const cl of clients) cl.close();
      await e.restart(l);
      await e.waitHealthy();
    }
    return { loads, failovers };
  } finally {
    await e.stop();
  }
}

function summary(name: string, xs: number[]): string {
  if (xs.length === 0) return `${name}: not measured`;
  const s = [...xs].sort((a, b) => a - b);
  return `${name}: n=${s.length} p50 ${pct(s, 50).toFixed(0)} ms, p99 ${pct(s, 99).toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Means of the plain runs and of the TLS runs of one log sync mode per in-flight level, and TLS/plain. */
function tlsRatios(sync: string, runs: { tls: boolean; raft: { loads: LoadResult[]; floor: Floor } }[]): void {
  const plain = runs.filter((r) => !r.tls);
  const tls = runs.filter((r) => r.tls);
  const rtt = (xs: typeof runs) => mean(xs.map((r) => r.raft.floor.rpc.p50));
  console.log(`\nlog sync ${sync}: mutual TLS vs plain, means of ${plain.length} plain and ${tls.length} TLS runs (interleaved); RPC RTT p50 plain ${rtt(plain).toFixed(3)} ms, TLS ${rtt(tls).toFixed(3)} ms (×${(rtt(tls) / rtt(plain)).toFixed(2)})`);
  console.log('| in flight | plain commits/s | TLS commits/s | TLS/plain | plain p50 ms | TLS p50 ms | TLS/plain | cpu µs/commit plain leader / follower / client | TLS leader / follower / client | TLS/plain leader / follower / client |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const notes: string[] = [];
  INFLIGHT.forEach((n, i) => {
    const m = (xs: typeof runs, f: (r: LoadResult) => number) => mean(xs.map((r) => f(r.raft.loads[i]!)));
    // CPU per process only from windows with one leader throughout.
    const steady = (xs: typeof runs) => xs.filter((r) => r.raft.loads[i]!.cpu);
    const cell = (xs: typeof runs) => [m(steady(xs), (r) => r.cpu!.leader), m(steady(xs), (r) => r.cpu!.follower), m(xs, (r) => r.clientCpu)];
    const changed = runs.filter((r) => r.raft.loads[i]!.leaderChanged).map((r) => (r.tls ? 'TLS' : 'plain'));
    if (changed.length > 0) notes.push(`(in flight ${n}: the leader changed within the window of ${changed.join(', ')} run(s); their CPU left out of the means)`);
    const [p, t] = [cell(plain), cell(tls)];
    const [pr, tr] = [m(plain, (r) => r.perSec), m(tls, (r) => r.perSec)];
    const [pp, tp] = [m(plain, (r) => r.p50), m(tls, (r) => r.p50)];
    const f1 = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');
    console.log(
      `| ${n} | ${pr.toFixed(0)} | ${tr.toFixed(0)} | ${(tr / pr).toFixed(2)} | ${pp.toFixed(2)} | ${tp.toFixed(2)} | ${(tp / pp).toFixed(2)} | ${f1(p)} | ${f1(t)} | ${t.map((x, k) => (x / p[k]!).toFixed(2)).join(' / ')} |`,
    );
  });
  for (const note of notes) console.log(note);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raft-bench-'));
  try {
    console.log(`raft-commit: ${ENTRY_BYTES}-byte entries, ${SECONDS} s per level, tick ${TICK_MS ?? 'default (50)'} ms x election ${ELECTION_TICK ?? 'default (10)'}, segments preallocated by ${PREALLOC}`);
    const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
    console.log(`load average at start: ${load()}`);
    const tlsDir = WITH_TLS ? join(dir, 'certs') : undefined;
    if (tlsDir) makeCerts(tlsDir, ['metaserver1', 'metaserver2', 'metaserver3', 'client']);
    const runs: { mode: string; tls: boolean; raft: Awaited<ReturnType<typeof benchRaft>> }[] = [];
    for (const sync of LOG_SYNC) {
      // With --tls: plain, tls, plain, tls, so drift in the machine's load falls on both alike.
      const variants = WITH_TLS ? [false, true, false, true] : [false];
      for (const [i, tls] of variants.entries()) {
        const mode = tls ? `${sync} tls` : sync;
        runs.push({ mode: sync, tls, raft: await benchRaft(join(dir, `${sync}-${i}`), sync, tls ? tlsDir : undefined) });
        console.log(`load average after raft (${mode}): ${load()}`);
      }
    }
    const etcd = WITH_ETCD ? await benchEtcd() : undefined;
    if (etcd) console.log(`load average after etcd: ${load()}`);
    for (const { mode, tls, raft } of runs) {
      const f = raft.floor;
      const unit = f.fsync100.p50 + f.rpc.p50;
      console.log(`\nlog sync ${mode}${tls ? ', mutual TLS' : ''}; floor: fsync 100 B p50 ${f.fsync100.p50.toFixed(3)} / p99 ${f.fsync100.p99.toFixed(3)} ms, 4 KiB p50 ${f.fsync4k.p50.toFixed(3)} / p99 ${f.fsync4k.p99.toFixed(3)} ms, RPC RTT p50 ${f.rpc.p50.toFixed(3)} / p99 ${f.rpc.p99.toFixed(3)} ms`);
      console.log('| in flight | raft commits/s | p50 ms | p50 / (fsync+RTT) | p99 ms | etcd puts/s | p50 ms | p99 ms | raft/etcd |');
      console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
      raft.loads.forEach((r, i) => {
        const e = etcd?.loads[i];
        const ratio = e ? (r.perSec / e.perSec).toFixed(2) : '—';
        console.log(
          `| ${r.inflight} | ${r.perSec.toFixed(0)} | ${r.p50.toFixed(2)} | ${(r.p50 / unit).toFixed(2)} | ${r.p99.toFixed(2)} | ${e ? e.perSec.toFixed(0) : '—'} | ${e ? e.p50.toFixed(2) : '—'} | ${e ? e.p99.toFixed(2) : '—'} | ${ratio} |`,
        );
      });
      console.log(summary(`raft failover (${mode})`, raft.failovers));
    }
    if (etcd) console.log(summary('etcd failover', etcd.failovers));
    if (WITH_TLS) for (const sync of LOG_SYNC) tlsRatios(sync, runs.filter((r) => r.mode === sync));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

void main();
