// Where the wall-clock time of a lone Raft commit goes, hop by hop: the 3-process KV cluster of
// bench/raft-commit.ts with CURVEFS_TRACE set (src/common/trace.ts), one client proposing one
// entry at a time; for every commit of the measured window the stamps the replicas took between
// the client's call and its answer are lined up, and the median time of each stage from the call
// is printed, with the median step from the stage before. All processes stamp CLOCK_MONOTONIC,
// so the client's, the leader's and the followers' stamps sort on one line.
//
// The stages are those of the critical path (PATH below), each the first stamp of its name after
// the stage before; a follower's are those of the follower that acknowledged first (the one that
// decided the commit). The leader's own write runs in parallel and is shown apart.
//
//   npx tsx bench/raft-trace.ts [--seconds 3] [--warmup 1] [--keep] [--raw N] [--prealloc truncate|zeros]
//
// Tracing costs a few µs per stamp and a buffered write every 200 ms: the total is a little
// longer than bench/raft-commit.ts's p50 of the same build; compare builds with the same tool.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvProcessCluster } from '../test/helpers/raft-kv-cluster.ts';
import { KV_PING, encodeKv } from '../test/helpers/raft-kv.ts';
import { diskFloor, diskFloorConcurrent, rpcFloor } from './floor.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const SECONDS = Number(arg('seconds', '3'));
const WARMUP = Number(arg('warmup', '1'));
const KEEP = process.argv.includes('--keep');
/** Also print the whole timeline of this many commits (from the middle of the window). */
const RAW = Number(arg('raw', '0'));
const PREALLOC = arg('prealloc', 'truncate') === 'zeros' ? 'zeros' : 'truncate';

interface Stamp {
  ns: bigint;
  stage: string;
}

/** Stamps per process id (pid), sorted by time. */
async function readTraces(dir: string): Promise<Map<number, Stamp[]>> {
  const out = new Map<number, Stamp[]>();
  for (const f of await readdir(dir)) {
    const m = /-(\d+)\.trace$/.exec(f);
    if (!m) continue;
    const stamps: Stamp[] = [];
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      const sp = line.indexOf(' ');
      if (sp > 0) stamps.push({ ns: BigInt(line.slice(0, sp)), stage: line.slice(sp + 1) });
    }
    stamps.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
    out.set(Number(m[1]), stamps);
  }
  return out;
}

/** The stamps of `s` in [from, to]; binary search for the start. */
function within(s: Stamp[], from: bigint, to: bigint): Stamp[] {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]!.ns < from) lo = mid + 1;
    else hi = mid;
  }
  const out: Stamp[] = [];
  for (let i = lo; i < s.length && s[i]!.ns <= to; i++) out.push(s[i]!);
  return out;
}

/** A stamp is of `stage` when it has all its words ("raft.round follower entries" matches "… entries committed"). */
function isStage(stamp: string, stage: string): boolean {
  const words = new Set(stamp.split(' '));
  return stage.split(' ').every((w) => words.has(w));
}

function pctl(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const median = (xs: number[]): number => pctl(xs, 50);

/** The critical path of a lone commit: (process, stage) in order; see the header. */
const PATH: ['leader' | 'follower', string, string?][] = [
  ['leader', 'rpc.request curvefs.rafttest.Kv/Propose'],
  ['leader', 'raft.propose'],
  ['leader', 'raft.round leader entries'],
  ['leader', 'rpc.flush', 'rpc.flush (first Append on a socket)'],
  ['follower', 'rpc.request curvefs.raft.RaftService/Send'],
  ['follower', 'raft.step Append follower'],
  ['follower', 'raft.round follower entries'],
  ['follower', 'raft.write follower'],
  ['follower', 'raft.written follower'],
  ['follower', 'raft.send AppendResp'],
  ['follower', 'rpc.flush', 'rpc.flush (acknowledgement on the socket)'],
  ['leader', 'rpc.request curvefs.raft.RaftService/Send'],
  ['leader', 'raft.step AppendResp leader'],
  ['leader', 'raft.round leader committed'],
  ['leader', 'rpc.respond curvefs.rafttest.Kv/Propose'],
  ['leader', 'rpc.flush', 'rpc.flush (answer on the socket)'],
];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raft-trace-'));
  const traceDir = join(dir, 'trace');
  // Set before the replicas start (they inherit it); this process's own tracing stays off.
  process.env.CURVEFS_TRACE = traceDir;
  const load0 = loadavg();
  const c = new KvProcessCluster({ dataDir: dir, prealloc: PREALLOC });
  await c.start();
  await c.propose(encodeKv({ op: 'put', key: 'k', value: 'v' }));
  const leader = await c.findLeader();
  const roleOf = new Map<number, number>();
  for (const id of c.ids) roleOf.set((await c.status(id)).pid ?? 0, id);
  // The floor of bench/raft-commit.ts, in the same run: one 100 B pwrite+fdatasync alone, one RPC round trip.
  const fsync = await diskFloor(dir, 100, 1000, PREALLOC, 'sync');
  const fsync3 = await diskFloorConcurrent(dir, 100, 1000, PREALLOC, 3);
  const rtt = await rpcFloor(() => c.pool.callRaw(c.address(leader), KV_PING, new Uint8Array(0), { timeoutMs: 5000 }), 2000);
  const entry = encodeKv({ op: 'put', key: 'k', value: 'v'.repeat(80) });
  const windows: [bigint, bigint][] = [];
  const now = () => process.hrtime.bigint();
  const start = now() + BigInt(WARMUP * 1e9);
  const end = start + BigInt(SECONDS * 1e9);
  for (;;) {
    const t0 = now();
    if (t0 >= end) break;
    await c.propose(entry);
    if (t0 >= start) windows.push([t0, now()]);
  }
  for (const id of c.ids) await c.terminate(id);
  c.pool.close();
  const load1 = loadavg();

  const traces = await readTraces(traceDir);
  const leaderStamps = [...traces].find(([pid]) => roleOf.get(pid) === leader)?.[1] ?? [];
  const followerStamps = [...traces].filter(([pid]) => roleOf.has(pid) && roleOf.get(pid) !== leader).map(([, s]) => s);
  // Per commit: the critical path, each stage found as the first stamp of that name at or after
  // the stage before it, and off the path the leader's own write (in parallel with the followers').
  const steps = new Map<string, number[]>();
  const offsets = new Map<string, number[]>();
  const totals: number[] = [];
  /** The deciding follower's write time, by whether the leader's own write still ran when it began. */
  const overlap = new Map<string, number[]>();
  /** Per commit 1 when the leader's own write was done only after the deciding acknowledgement left the follower. */
  const leaderLast: number[] = [];
  const answeredFirst: number[] = [];
  const push = (m: Map<string, number[]>, k: string, v: number) => {
    const xs = m.get(k) ?? [];
    xs.push(v);
    m.set(k, xs);
  };
  let shown = 0;
  for (const [t0, t1] of windows) {
    const leaderW = within(leaderStamps, t0, t1);
    // The deciding follower: the first to send its acknowledgement.
    let follower: Stamp[] = [];
    let bestAck = t1 + 1n;
    for (const s of followerStamps) {
      const w = within(s, t0, t1);
      const ack = w.find((x) => x.stage === 'raft.send AppendResp');
      if (ack && ack.ns < bestAck) {
        bestAck = ack.ns;
        follower = w;
      }
    }
    const path: [string, bigint][] = [['client: call', t0]];
    let at = t0;
    for (const [who, stage, name] of PATH) {
      const from = who === 'leader' ? leaderW : follower;
      const hit = from.find((x) => x.ns >= at && isStage(x.stage, stage));
      if (!hit) continue;
      path.push([`${who}: ${name ?? stage}`, hit.ns]);
      at = hit.ns;
    }
    path.push(['client: answer', t1]);
    totals.push(Number(t1 - t0) / 1000);
    for (let i = 1; i < path.length; i++) {
      push(steps, path[i]![0], Number(path[i]![1] - path[i - 1]![1]) / 1000);
      push(offsets, path[i]![0], Number(path[i]![1] - t0) / 1000);
    }
    const fw = follower.find((x) => x.stage === 'raft.write follower');
    const fd = fw && follower.find((x) => x.ns >= fw.ns && x.stage === 'raft.written follower');
    const ld = leaderW.find((x) => x.stage === 'raft.written leader');
    if (fw && fd && ld) push(overlap, ld.ns > fw.ns ? 'overlapping' : 'alone', Number(fd.ns - fw.ns) / 1000);
    // Asynchronous writes: the client answered while the leader's own write still ran.
    const lw = leaderW.find((x) => x.stage === 'raft.write leader');
    if (lw) answeredFirst.push(leaderW.some((x) => x.ns >= lw.ns && x.stage === 'raft.written leader') ? 0 : 1);
    const ackOut = path.find(([k]) => k.startsWith('follower: rpc.flush'));
    if (ld && ackOut) leaderLast.push(ld.ns > ackOut[1] ? 1 : 0);
    for (const stage of ['raft.write leader', 'raft.written leader']) {
      const hit = leaderW.find((x) => x.stage === stage);
      if (hit) push(offsets, `(leader: ${stage})`, Number(hit.ns - t0) / 1000);
    }
    if (RAW > 0 && shown < RAW && totals.length > windows.length / 2) {
      shown++;
      const all: [string, bigint][] = [...leaderW.map((x) => [`leader: ${x.stage}`, x.ns] as [string, bigint]), ...follower.map((x) => [`follower: ${x.stage}`, x.ns] as [string, bigint])];
      all.sort((a, b) => (a[1] < b[1] ? -1 : 1));
      console.log(all.map(([k, ns]) => `${(Number(ns - t0) / 1000).toFixed(0).padStart(6)} ${k}`).join('\n') + `\n${(Number(t1 - t0) / 1000).toFixed(0).padStart(6)} client: answer\n`);
    }
  }
  console.log(`raft-trace: ${windows.length} lone commits in ${SECONDS} s (leader node ${leader}); load average ${load0.map((x) => x.toFixed(1)).join(' ')} -> ${load1.map((x) => x.toFixed(1)).join(' ')}`);
  const floorUs = 1000 * (fsync.p50 + rtt.p50);
  console.log(`floor: pwrite+fdatasync 100 B p50 ${(1000 * fsync.p50).toFixed(0)} µs, RPC round trip p50 ${(1000 * rtt.p50).toFixed(0)} µs`);
  const floor3Us = 1000 * (fsync3.p50 + rtt.p50);
  console.log(`floor with 3 writers (one per replica, same disk): pwrite+fdatasync 100 B p50 ${(1000 * fsync3.p50).toFixed(0)} µs`);
  console.log(`client call -> answer: p50 ${median(totals).toFixed(0)} µs (${(median(totals) / floorUs).toFixed(2)} × fsync + RTT; ${(median(totals) / floor3Us).toFixed(2)} × fsync with 3 writers + RTT), p90 ${pctl(totals, 90).toFixed(0)} µs`);
  console.log('| stage | µs from call, median | step from the stage before, median / p90 | in % of commits |');
  console.log('|---|---:|---:|---:|');
  for (const [k, xs] of offsets) {
    const st = steps.get(k);
    console.log(`| ${k} | ${median(xs).toFixed(0)} | ${st ? `${median(st).toFixed(0)} / ${pctl(st, 90).toFixed(0)}` : '(parallel)'} | ${((100 * xs.length) / windows.length).toFixed(0)} |`);
  }
  console.log(`client answered before the leader's own write of the entry was durable: ${((100 * answeredFirst.reduce((a, b) => a + b, 0)) / Math.max(1, answeredFirst.length)).toFixed(0)}% of commits`);
  console.log(`leader's own write done after the deciding acknowledgement was sent: ${((100 * leaderLast.reduce((a, b) => a + b, 0)) / Math.max(1, leaderLast.length)).toFixed(0)}% of commits`);
  for (const [k, xs] of overlap) console.log(`follower's write, leader's write ${k === 'alone' ? 'done before it began' : 'still running when it began'}: ${xs.length} commits, median ${median(xs).toFixed(0)} µs`);
  if (KEEP) console.log(`traces in ${traceDir}`);
  else await rm(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
