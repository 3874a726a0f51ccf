// Where one create through the mount spends its time: starts a side cluster (`curvefs up
// --fresh-ports`: MDS + 3 metaservers + mount) with CURVEFS_TRACE set (src/common/trace.ts), makes
// N files one at a time through the mount (open O_CREAT|O_EXCL + close, as meta-workload.py
// does), and prints, for the stages every process stamped while a create ran, the median time
// from the create's start and the median step from the stage before. Stamps share one clock
// (CLOCK_MONOTONIC), so the mount's and the metaservers' stamps sort on one line.
//
// With --cpu-prof every cluster process profiles itself (CURVEFS_CPU_PROF); the bench then prints each
// process's top functions by self time, counting only the samples taken while the create loop
// ran (V8 stamps samples with the same monotonic clock).
//
// Each cluster process's CPU time per create (user + system, from /proc/PID/stat over the loop)
// is printed too: a figure the machine's load hardly moves, for old/new comparisons. --no-trace
// leaves the tracing off so that figure is not the tracer's.
//
//   npx tsx bench/create-breakdown.ts [--creates 2000] [--warmup 200] [--cpu-prof] [--top 15] [--all] [--keep] [--no-trace] [--json] [--threads]
// (--all: also every stamp seen in most creates, by occurrence; --keep: keep the traces and profiles)
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidRecords, UpProc } from '../test/helpers/up-proc.ts';
import { waitFor } from '../test/helpers/wait.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const CREATES = Number(arg('creates', '2000'));
const WARMUP = Number(arg('warmup', '200'));
const CPU_PROF = process.argv.includes('--cpu-prof');
const TOP = Number(arg('top', '15'));
const TRACE = !process.argv.includes('--no-trace');
const JSON_OUT = process.argv.includes('--json');

const now = (): bigint => process.hrtime.bigint();

interface Stamp {
  ns: bigint;
  key: string;
}

/** Stamps of every process, each keyed "<process>: <stage>"; the metaserver that served the creates is "leader", the others "follower". */
async function readTraces(dir: string): Promise<Stamp[]> {
  const out: Stamp[] = [];
  for (const f of await readdir(dir)) {
    if (!f.endsWith('.trace')) continue;
    const text = await readFile(join(dir, f), 'utf8');
    let role = f.slice(0, f.indexOf('-'));
    if (role === 'metaserver') role = text.includes('MetaServerService/CreateFile') ? 'leader' : 'follower';
    for (const line of text.split('\n')) {
      const sp = line.indexOf(' ');
      if (sp <= 0) continue;
      out.push({ ns: BigInt(line.slice(0, sp)), key: `${role}: ${line.slice(sp + 1)}` });
    }
  }
  out.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const MS = 'curvefs.metaserver.MetaServerService';
/**
 * The hops of one create, in order: [label, stamp key, the hop it follows]. Each is matched to the
 * first stamp starting with that key at or after the stamp of the hop it follows, within the create.
 */
const HOPS: [string, string, string | undefined][] = [
  ['kernel LOOKUP read by a reader thread', 'mount: fuse.read', undefined],
  ['LOOKUP on the main thread', 'mount: fuse.handle LOOKUP', 'kernel LOOKUP read by a reader thread'],
  ['GetDentry call queued', `mount: rpc.call ${MS}/GetDentry`, 'LOOKUP on the main thread'],
  ['GetDentry at the leader', `leader: rpc.request ${MS}/GetDentry`, 'GetDentry call queued'],
  ['GetDentry answered', `leader: rpc.respond ${MS}/GetDentry`, 'GetDentry at the leader'],
  ['GetDentry answer at the mount', `mount: rpc.response ${MS}/GetDentry`, 'GetDentry answered'],
  ['LOOKUP reply written', 'mount: fuse.reply LOOKUP', 'GetDentry answer at the mount'],
  ['CREATE on the main thread', 'mount: fuse.handle CREATE', 'LOOKUP reply written'],
  ['CreateFile call queued', `mount: rpc.call ${MS}/CreateFile`, 'CREATE on the main thread'],
  ['CreateFile at the leader', `leader: rpc.request ${MS}/CreateFile`, 'CreateFile call queued'],
  ['proposed', 'leader: raft.propose', 'CreateFile at the leader'],
  ['leader round starts (write + sends)', 'leader: raft.round leader entries', 'proposed'],
  ['Append handed to the RPC client', 'leader: raft.send Append', 'leader round starts (write + sends)'],
  ['Append stepped at a follower', 'follower: raft.step Append follower', 'Append handed to the RPC client'],
  ['follower round starts', 'follower: raft.round follower entries', 'Append stepped at a follower'],
  ['follower log write done', 'follower: raft.persisted follower entries', 'follower round starts'],
  ['AppendResp handed to the RPC client', 'follower: raft.send AppendResp', 'follower log write done'],
  ['AppendResp stepped at the leader', 'leader: raft.step AppendResp leader', 'AppendResp handed to the RPC client'],
  ['leader log write done', 'leader: raft.persisted leader entries', 'leader round starts (write + sends)'],
  ['applied at the leader', 'leader: raft.applied leader', 'AppendResp stepped at the leader'],
  ['CreateFile answered', `leader: rpc.respond ${MS}/CreateFile`, 'applied at the leader'],
  ['CreateFile answer at the mount', `mount: rpc.response ${MS}/CreateFile`, 'CreateFile answered'],
  ['CREATE reply written', 'mount: fuse.reply CREATE', 'CreateFile answer at the mount'],
  ['FLUSH on the main thread', 'mount: fuse.handle FLUSH', 'CREATE reply written'],
  ['FLUSH reply written', 'mount: fuse.reply FLUSH', 'FLUSH on the main thread'],
  // The kernel sends RELEASE after close(2) returned: found only when it came within the create.
  ['RELEASE on the main thread (after close)', 'mount: fuse.handle RELEASE', 'FLUSH reply written'],
  ['RELEASE reply written (after close)', 'mount: fuse.reply RELEASE', 'RELEASE on the main thread (after close)'],
];

/** The hop table: per hop, median µs since the create started and median µs since the hop it follows. */
function hops(stamps: Stamp[], windows: [bigint, bigint][]): void {
  const at = new Map<string, number[]>();
  const step = new Map<string, number[]>();
  let j = 0;
  let complete = 0;
  for (const [start, end] of windows) {
    while (j < stamps.length && stamps[j]!.ns < start) j++;
    const found = new Map<string, bigint>();
    for (const [label, key, after] of HOPS) {
      const from = after === undefined ? start : found.get(after);
      if (from === undefined) continue;
      for (let k = j; k < stamps.length && stamps[k]!.ns <= end; k++) {
        const s = stamps[k]!;
        // Prefix: "raft.round follower entries" also matches "... entries committed".
        if (s.ns >= from && s.key.startsWith(key)) {
          found.set(label, s.ns);
          break;
        }
      }
      const t = found.get(label);
      if (t === undefined) continue;
      (at.get(label) ?? at.set(label, []).get(label)!).push(Number(t - start) / 1000);
      (step.get(label) ?? step.set(label, []).get(label)!).push(Number(t - from) / 1000);
    }
    if (found.size >= HOPS.length - 2) complete++;
  }
  const total = median(windows.map(([s, e]) => Number(e - s) / 1000));
  console.log(`\n${windows.length} creates (${complete} with every hop up to FLUSH stamped), median ${total.toFixed(0)} µs each (open O_CREAT|O_EXCL + close)\n`);
  console.log('| hop | follows | median µs since start | median µs since the hop it follows |');
  console.log('|---|---|---:|---:|');
  for (const [label, , after] of HOPS) {
    const a = at.get(label);
    if (!a) continue;
    console.log(`| ${label} | ${after ?? 'open() called'} | ${median(a).toFixed(0)} | ${median(step.get(label)!).toFixed(0)} |`);
  }
  console.log(`| close() returned | | ${total.toFixed(0)} | |`);
}

/**
 * Work per create, independent of the machine's load: how many times each process passed each
 * stamp during the create loop, divided by the creates (rpc.flush = socket writes, rpc.request =
 * requests served, raft.send = Raft batches handed to the transport, fuse.read = kernel requests).
 */
function counts(stamps: Stamp[], loop: [bigint, bigint], creates: number): void {
  const byKey = new Map<string, number>();
  for (const s of stamps) {
    if (s.ns < loop[0] || s.ns > loop[1]) continue;
    // Method names and roles stay; occurrence numbers do not exist here.
    byKey.set(s.key, (byKey.get(s.key) ?? 0) + 1);
  }
  console.log(`\nstamps per create during the loop (${creates} creates; followers summed over both)\n`);
  console.log('| process: stamp | per create |');
  console.log('|---|---:|');
  for (const [k, n] of [...byKey].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (n / creates >= 0.05) console.log(`| ${k} | ${(n / creates).toFixed(2)} |`);
  }
}

/** Per stage (its k-th occurrence within a create), median µs since the create started. */
function breakdown(stamps: Stamp[], windows: [bigint, bigint][]): void {
  const offsets = new Map<string, number[]>();
  let j = 0;
  for (const [start, end] of windows) {
    while (j < stamps.length && stamps[j]!.ns < start) j++;
    const seen = new Map<string, number>();
    for (let k = j; k < stamps.length && stamps[k]!.ns <= end; k++) {
      const s = stamps[k]!;
      const n = (seen.get(s.key) ?? 0) + 1;
      seen.set(s.key, n);
      const key = n === 1 ? s.key : `${s.key} #${n}`;
      let list = offsets.get(key);
      if (!list) offsets.set(key, (list = []));
      list.push(Number(s.ns - start) / 1000);
    }
  }
  const rows = [...offsets]
    .filter(([, xs]) => xs.length >= windows.length / 2) // stages of most creates, not stray heartbeats
    .map(([key, xs]) => ({ key, at: median(xs), share: xs.length / windows.length }))
    .sort((a, b) => a.at - b.at);
  const total = median(windows.map(([s, e]) => Number(e - s) / 1000));
  console.log(`\n${windows.length} creates, median ${total.toFixed(0)} µs each (open O_CREAT|O_EXCL + close)\n`);
  console.log('| stage (process: stamp) | in % of creates | median µs since start | step µs |');
  console.log('|---|---:|---:|---:|');
  let prev = 0;
  for (const r of rows) {
    console.log(`| ${r.key} | ${(r.share * 100).toFixed(0)} | ${r.at.toFixed(0)} | ${(r.at - prev).toFixed(0)} |`);
    prev = r.at;
  }
  console.log(`| app: close returned | 100 | ${total.toFixed(0)} | ${(total - prev).toFixed(0)} |`);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Top functions by self time among samples taken within [fromUs, toUs] (monotonic µs). */
async function summarizeProfile(file: string, fromUs: number, toUs: number): Promise<void> {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let t = p.startTime;
  let inWindow = 0;
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    inWindow++;
    const n = byId.get(p.samples[i]!)!;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') continue;
    busy++;
    const where = cf.url ? `${cf.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  console.log(`\n${file.replace(/^.*\//, '')}: ${inWindow} samples in the loop, ${((busy / Math.max(1, inWindow)) * 100).toFixed(0)} % not idle`);
  console.log('| self % of busy | function |');
  console.log('|---:|---|');
  for (const [k, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`| ${((n / Math.max(1, busy)) * 100).toFixed(1)} | ${k} |`);
  }
}

/** CPU seconds (user + system) each cluster process has used so far, by its pid file's name. */
async function cpuSeconds(clusterDir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [name, r] of pidRecords(clusterDir)) {
    try {
      const stat = await readFile(`/proc/${r.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat(5) (utime, stime), in clock ticks (USER_HZ = 100 on Linux).
      out.set(name, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** CPU ticks (user + system) of every thread of every cluster process, keyed "<process> <tid offset from pid>". */
async function threadTicks(clusterDir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [name, r] of pidRecords(clusterDir)) {
    let tids: string[];
    try {
      tids = await readdir(`/proc/${r.pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = await readFile(`/proc/${r.pid}/task/${tid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(`${name} +${Number(tid) - r.pid}`, Number(f[11]) + Number(f[12]));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'curvefs-breakdown-'));
  const traceDir = join(root, 'trace');
  const profDir = join(root, 'prof');
  const clusterDir = join(root, 'cluster');
  if (TRACE) process.env.CURVEFS_TRACE = traceDir;
  if (CPU_PROF) process.env.CURVEFS_CPU_PROF = profDir;
  const up = UpProc.start(clusterDir);
  let loop: [bigint, bigint] = [0n, 0n];
  const windows: [bigint, bigint][] = [];
  try {
    await up.waitUp();
    const mnt = join(clusterDir, 'mnt');
    const mounts = async () => (await readFile('/proc/mounts', 'utf8')).includes(` ${mnt} `);
    await waitFor(mounts, `the mount at ${mnt}`, 60_000);
    const flags = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY;
    for (let i = 0; i < WARMUP; i++) closeSync(openSync(join(mnt, `warm${i}`), flags, 0o644));
    const cpu0 = await cpuSeconds(clusterDir);
    const threads0 = await threadTicks(clusterDir);
    const t0 = now();
    for (let i = 0; i < CREATES; i++) {
      const s = now();
      closeSync(openSync(join(mnt, `f${i}`), flags, 0o644));
      windows.push([s, now()]);
    }
    loop = [t0, now()];
    const cpu1 = await cpuSeconds(clusterDir);
    if (process.argv.includes('--threads')) {
      // Which thread of each process burns the CPU: +0 is the main (JavaScript) thread; the others
      // are V8's platform workers (GC, compilers), libuv's pool and Node's helpers, by creation order.
      const rows: string[] = [];
      for (const [k, t1] of await threadTicks(clusterDir)) {
        const us = ((t1 - (threads0.get(k) ?? 0)) / 100 / CREATES) * 1e6;
        if (us >= 1) rows.push(`${k} ${us.toFixed(0)}`);
      }
      console.log(`CPU µs per create, by thread (tid - pid): ${rows.join(', ')}`);
    }
    const secs = Number(loop[1] - loop[0]) / 1e9;
    const cpuUs: Record<string, number> = {};
    for (const [name, c] of cpu1) if (cpu0.has(name)) cpuUs[name] = Math.round(((c - cpu0.get(name)!) / CREATES) * 1e6);
    if (JSON_OUT) console.log(JSON.stringify({ createsPerSec: CREATES / secs, cpuUsPerCreate: cpuUs }));
    console.log(`creates/s through the mount: ${(CREATES / secs).toFixed(0)} (${CREATES} in ${secs.toFixed(2)} s)`);
    console.log(`CPU µs per create, by process: ${Object.entries(cpuUs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  } catch (e) {
    console.error(up.output);
    throw e;
  } finally {
    if (up.proc.exitCode === null && up.proc.signalCode === null) await up.interrupt();
  }
  if (TRACE) {
    const stamps = await readTraces(traceDir);
    hops(stamps, windows);
    counts(stamps, loop, CREATES);
    if (process.argv.includes('--all')) breakdown(stamps, windows);
  }
  if (CPU_PROF) {
    for (const f of (await readdir(profDir)).sort()) {
      await summarizeProfile(join(profDir, f), Number(loop[0] / 1000n), Number(loop[1] / 1000n));
    }
  }
  if (!process.argv.includes('--keep')) await rm(root, { recursive: true, force: true });
  else console.log(`\nkept ${root} (the loop ran from ${loop[0] / 1000n} to ${loop[1] / 1000n} µs on the monotonic clock)`);
}

await main();
