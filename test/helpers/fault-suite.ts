// The multi-host fault suite (Jepsen style; docs/testing.md): an MDS, three metaservers and
// three clients, each on its own "host" (a network namespace on a test bridge, TestNet), with
// delay and a little packet loss on every link; a seeded nemesis cuts hosts off, splits the
// cluster (majority/minority, bridge, ring), pauses processes longer than their leases, kill -9s
// and restarts metaservers and the MDS, fills a metaserver's disk, and once replaces a
// metaserver by the MDS heal (with --etcd also: three etcd members and a standby MDS on their own
// hosts, etcd members faulted too), while the clients run creates, writes with fsync, mkdirs,
// renames across directories, hard links, unlinks and rmdirs, logging every outcome, and two of
// them race directory renames against each other. After healing everything, clients on different
// hosts dump the tree, fault-check.ts compares it with the logs, and `curvefs fsck` checks the
// metadata.
//
//   npx tsx test/helpers/fault-suite.ts --minutes 5 --seed 7   (or node scripts/fault-suite.mjs)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { SeededRandom } from '../../src/common/index.ts';
import { MdsProcess } from './mds-process.ts';
import { MetaserverCluster } from './metaserver-cluster.ts';
import { TestNet } from './netns.ts';
import { fill, free, mountTmpfs, unmountTmpfs } from './fault-disk.ts';
import { FaultEtcd } from './fault-etcd.ts';
import { check, checkRaces, type Dump } from './fault-check.ts';
import { RACE_DIRS, type LogLine, type RaceLine } from './fault-model.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLIENT = join(ROOT, 'test', 'helpers', 'fault-client.ts');
const CURVEFS_BIN = join(ROOT, 'bin', 'curvefs.mjs');
const METASERVERS = 3;
const CLIENTS = 3;

export interface Fault {
  kind: 'isolate' | 'pause' | 'kill' | 'partition' | 'disk-full' | 'replace';
  /** Hosts affected ("mds", "ms0", …); for a partition, the hosts named in its shape. */
  targets: string[];
  /** A partition's shape: majority/minority, a bridge, a ring. */
  shape?: 'majority' | 'bridge' | 'ring';
  /** A partition's cut links (both directions); every other link stays up. */
  cuts?: [string, string][];
  holdMs: number;
  quietMs: number;
}

const SERVERS = ['mds', ...Array.from({ length: METASERVERS }, (_, i) => `ms${i}`)];
const CLIENT_HOSTS = Array.from({ length: CLIENTS }, (_, i) => `c${i}`);

/** A seeded permutation (Fisher–Yates). */
function shuffled<T>(r: SeededRandom, items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(0, i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Every link between a host of `a` and a host of `b` (clients never talk to each other: not those). */
function between(a: readonly string[], b: readonly string[]): [string, string][] {
  return a.flatMap((x) => b.map((y): [string, string] => [x, y])).filter(([x, y]) => !(CLIENT_HOSTS.includes(x) && CLIENT_HOSTS.includes(y)));
}

/**
 * The partitions where hosts disagree about who is reachable (Jepsen's nemesis shapes), drawn
 * from `r`:
 * - majority: one metaserver and one client on the minority side, everything else (two
 *   metaservers, the MDS, two clients, and `others`: the etcd members and the second MDS when
 *   there are) on the majority side — the replicas the cut-off metaserver
 *   leads lose their leader, and a client keeps only the cut-off metaserver;
 * - bridge: two halves of the servers that see each other only through one bridge server (every
 *   half sees the bridge, the bridge sees both; clients are on one half or the other);
 * - ring: the four servers in a ring, each reaching only its two neighbours (clients see all).
 */
export function partition(r: SeededRandom, shape: 'majority' | 'bridge' | 'ring', others: readonly string[] = []): { targets: string[]; cuts: [string, string][] } {
  const servers = shuffled(r, SERVERS);
  if (shape === 'majority') {
    const m = servers.find((h) => h !== 'mds')!;
    const client = CLIENT_HOSTS[r.int(0, CLIENTS)]!;
    const minority = [m, client];
    const majority = [...SERVERS, ...others, ...CLIENT_HOSTS].filter((h) => !minority.includes(h));
    return { targets: minority, cuts: between(minority, majority) };
  }
  if (shape === 'bridge') {
    const [bridge, a, ...b] = servers as [string, string, ...string[]];
    const half = [a, ...CLIENT_HOSTS.filter(() => r.int(0, 2) === 0)];
    const other = [...b, ...CLIENT_HOSTS.filter((c) => !half.includes(c))];
    return { targets: [bridge], cuts: between(half, other) };
  }
  // A ring p0–p1–p2–p3–p0: the diagonals are cut.
  return { targets: servers, cuts: [[servers[0]!, servers[2]!], [servers[1]!, servers[3]!]] };
}

/**
 * The nemesis schedule: a pure function of the seed, so a run replays its faults in order
 * (what the processes do in between depends on timing, as on real machines).
 */
/** The etcd members' hosts, with `etcd` (and the second MDS's: mds1). */
export const ETCD_HOSTS = ['e0', 'e1', 'e2'];

export function* schedule(seed: number, opts: { replace?: boolean; etcd?: boolean } = {}): Generator<Fault> {
  const r = new SeededRandom(seed);
  const ms = () => `ms${r.int(0, METASERVERS)}`;
  // The one replacement of a run, as its n-th fault (its own draws: the other faults stay the same).
  const replaceAt = opts.replace ? new SeededRandom(seed * 13 + 5).int(2, 6) : -1;
  for (let n = 0; ; n++) {
    if (n === replaceAt) {
      yield { kind: 'replace', targets: [`ms${new SeededRandom(seed * 17 + 1).int(0, METASERVERS)}`], holdMs: 0, quietMs: 3000 };
      continue;
    }
    // With etcd, three more kinds: an etcd member killed, paused or cut off.
    const k = r.int(0, opts.etcd ? 14 : 11);
    const holdMs = r.int(2000, 6000);
    const quietMs = r.int(1500, 4000);
    if (k === 0) yield { kind: 'isolate', targets: [ms()], holdMs, quietMs };
    else if (k === 1) yield { kind: 'isolate', targets: ['mds'], holdMs, quietMs };
    // A minority of the whole cluster: the MDS and one metaserver on the far side of the cut.
    else if (k === 2) yield { kind: 'isolate', targets: ['mds', ms()], holdMs, quietMs };
    // Pauses outlast the metaservers' Raft lease and election timeout and the MDS's 2 s lease.
    else if (k === 3) yield { kind: 'pause', targets: [ms()], holdMs: r.int(3000, 6000), quietMs };
    else if (k === 4) yield { kind: 'pause', targets: ['mds'], holdMs: r.int(3000, 6000), quietMs };
    else if (k === 5) yield { kind: 'kill', targets: [ms()], holdMs: r.int(500, 3000), quietMs };
    else if (k === 6) yield { kind: 'kill', targets: ['mds'], holdMs: r.int(500, 3000), quietMs };
    else if (k === 10) yield { kind: 'disk-full', targets: [ms()], holdMs: r.int(3000, 8000), quietMs };
    else if (k >= 11) {
      const e = ETCD_HOSTS[r.int(0, ETCD_HOSTS.length)]!;
      yield { kind: (['kill', 'pause', 'isolate'] as const)[k - 11]!, targets: [e], holdMs, quietMs };
    }
    else {
      const shape = (['majority', 'bridge', 'ring'] as const)[k - 7]!;
      yield { kind: 'partition', shape, ...partition(r, shape, opts.etcd ? ['mds1', ...ETCD_HOSTS] : []), holdMs, quietMs };
    }
  }
}

/**
 * Each host's one-way egress delay: 100–1000 µs with a third of it as jitter, so a round trip
 * between two hosts is 0.2–2 ms (a LAN across racks), seeded like the rest of the run.
 */
export function linkDelay(seed: number): (host: string, index: number) => { us: number; jitterUs: number } {
  return (_host, index) => {
    const us = new SeededRandom(seed * 31 + index).int(100, 1001);
    return { us, jitterUs: Math.round(us / 3) };
  };
}

/** While only the MDS was down (paused, cut off, killed): the data writes that ran wholly inside. */
export interface MdsOutageWrites {
  /** Outages of the MDS alone (wall-clock ms, from the fault taking effect to its healing). */
  windows: [number, number][];
  ok: number;
  failed: number;
}

/** Writes (write + fsync) whose whole run [t - ms, t] falls inside one of the windows. */
export function writesDuring(windows: readonly [number, number][], logs: readonly LogLine[]): MdsOutageWrites {
  let ok = 0;
  let failed = 0;
  for (const l of logs) {
    if (l.o.op !== 'write' || l.t === undefined || l.ms === undefined) continue;
    const start = l.t - l.ms;
    if (!windows.some(([a, b]) => start >= a && l.t! <= b)) continue;
    if (l.r === 'ok') ok++;
    else failed++;
  }
  return { windows: [...windows], ok, failed };
}

/** "partition bridge ms1 (cut c0–mds …)", "kill ms2": for logs. */
export function describe(f: Fault): string {
  if (f.kind !== 'partition') return `${f.kind} ${f.targets.join('+')}`;
  return `partition ${f.shape} ${f.targets.join('+')} (cut ${f.cuts!.map(([a, b]) => `${a}–${b}`).join(' ')})`;
}

/** A fault's kind for counting: "isolate ms+mds", "partition bridge". */
export function kindOf(f: Fault): string {
  return f.kind === 'partition' ? `partition ${f.shape}` : `${f.kind} ${f.targets.map((t) => t.replace(/\d+$/, '')).join('+')}`;
}

function raceCounts(lines: readonly RaceLine[]): SuiteResult['races'] {
  const outcomes: Record<string, number> = {};
  for (const l of lines) {
    // "ok", "error EINVAL", "skipped not found by the walk"
    const k = l.r === 'ok' ? 'ok' : l.r === 'skipped' ? `skipped ${l.err ?? ''}` : `${l.r} ${l.err?.split(' ')[0] ?? ''}`;
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  }
  return { rounds: new Set(lines.map((l) => l.race)).size, outcomes };
}

export interface SuiteResult {
  seed: number;
  seconds: number;
  ops: { ok: number; unknown: number; error: number; byOp: Record<string, number>; byClient: Record<number, number> };
  /** The racing directory renames: rounds, and each side's outcome (ok, or the errno). */
  races: { rounds: number; outcomes: Record<string, number> };
  /** Writes during outages of the MDS alone: they need no MDS (chunk ids are leased ahead). */
  mdsOutage: MdsOutageWrites;
  /** With a disk-full fault: whether the metaserver logged ENOSPC while its disk was full. */
  faults: (Fault & { atMs: number; enospc?: boolean })[];
  violations: string[];
  dir: string;
  /** The TestNet tag (its namespaces are cfs-<tag>-*), to check that none is left. */
  netTag: string;
}

interface Worker {
  proc: ChildProcess;
  lines: unknown[];
  exited: Promise<number | null>;
  stderr: string[];
}

function startClient(net: TestNet, host: string, mode: string, args: object, onLine?: (o: unknown) => void): Worker {
  const proc = spawn(net.exec(host)[0]!, [...net.exec(host).slice(1), process.execPath, '--import', 'tsx', CLIENT, mode, JSON.stringify(args)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group, with the `curvefs mount` it may start: killGroup takes both (a
    // mount whose client was SIGKILLed alone would live on, orphaned).
    detached: true,
    env: { ...process.env, CURVEFS_LOG: 'error' },
  });
  const w: Worker = { proc, lines: [], stderr: [], exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    if (!l.startsWith('@')) return;
    const o = JSON.parse(l.slice(1)) as unknown;
    w.lines.push(o);
    onLine?.(o);
  });
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    w.stderr.push(l);
    if (w.stderr.length > 100) w.stderr.shift();
  });
  return w;
}

/** SIGKILL of a client host's process and everything it started. */
function killGroup(w: Worker): void {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null || w.proc.pid === undefined) return;
  try {
    process.kill(-w.proc.pid, 'SIGKILL');
  } catch {
    w.proc.kill('SIGKILL');
  }
}

async function finish(w: Worker, what: string): Promise<void> {
  const code = await w.exited;
  if (code !== 0) throw new Error(`${what} exited with ${code}:\n${w.stderr.join('\n')}`);
}

export interface SuiteOptions {
  seconds: number;
  seed: number;
  dir?: string;
  log?: (s: string) => void;
  lossPerMille?: number;
  /**
   * Clients c0 and c1 work through FUSE mounts (`curvefs mount` on their own hosts) instead of
   * the SDK, and the tree is dumped through both mounts and through the SDK on c2.
   */
  fuse?: boolean;
  /**
   * Once in the run, a metaserver is killed for good and a spare one (its own host) started; the
   * MDS must heal the lost replicas onto it (its offline bound is 20 s then, with no heal delay).
   */
  replace?: boolean;
  /**
   * The MDS keeps its state in a three-member etcd cluster (members on hosts e0–e2) and a second
   * MDS (host mds1) stands by: an MDS fault is a failover, not an outage. etcd members are
   * killed, paused and cut off too.
   */
  etcd?: boolean;
}

/**
 * Each metaserver's tmpfs (MiB): room for its copysets' logs and snapshots over a long run. Log
 * segments are sparse until written (the default preallocation), so a full disk fails the next
 * append, whichever segment it lands in.
 */
const TMPFS_MIB = 256;
/** Runs `curvefs --json …` from a client host; its exit code and parsed output (undefined: none). */
async function cliJson(net: TestNet, host: string, mdsAddrs: string[], args: string[]): Promise<{ code: number | null; doc: unknown; stderr: string }> {
  const exec = net.exec(host);
  const proc = spawn(exec[0]!, [...exec.slice(1), process.execPath, CURVEFS_BIN, '--mds', mdsAddrs.join(','), '--json', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CURVEFS_LOG: 'error' },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d));
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  try {
    return { code, doc: JSON.parse(stdout) as unknown, stderr };
  } catch {
    return { code, doc: undefined, stderr };
  }
}

interface StatusDoc {
  copysets: { copyset: string; leader: number; replicas: { id: number; state: string }[] }[];
}

/**
 * Polls `curvefs status` until no copyset has metaserver `victim` among its replicas and each
 * has three answering replicas and a leader: the MDS healed everything the victim held.
 */
async function waitHealed(net: TestNet, host: string, mdsAddrs: string[], victim: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    const { doc } = await cliJson(net, host, mdsAddrs, ['status']);
    const st = doc as StatusDoc | undefined;
    if (st?.copysets) {
      const pending = st.copysets.filter((c) => c.leader === 0 || c.replicas.length !== 3 || c.replicas.some((x) => x.id === victim || x.state === 'unreachable' || x.state === 'BROKEN'));
      if (pending.length === 0) return;
      last = JSON.stringify(pending);
    }
  }
  throw new Error(`metaserver ${victim}'s replicas were not healed elsewhere in ${timeoutMs} ms; still pending: ${last}`);
}

/**
 * Findings of `curvefs fsck` that are violations: a linked inode no name reaches (a link or an
 * inode a half-done operation left behind — the issue's "no inode left unreachable"), a name
 * without its inode, nlink ≠ names, loops, detached directories, missing data, replicas that
 * disagree with the MDS. Objects no inode references are not: an overwritten version's blocks
 * stay until gc removes them.
 */
const FSCK_VIOLATIONS = new Set(['dangling-dentry', 'nlink', 'orphan-inode', 'directory-loop', 'directory-names', 'unreachable-directory', 'missing-object', 'partition-agreement']);

/** Runs `curvefs fsck` (read-only) from a client host; its findings that are violations. */
async function fsckViolations(net: TestNet, host: string, mdsAddrs: string[], fsName: string): Promise<{ inodes: number; dentries: number; findings: number; violations: string[] }> {
  const { code, doc, stderr } = await cliJson(net, host, mdsAddrs, ['fsck', fsName]);
  // Exit 1 means findings; anything else without a report is a failure of the check itself.
  const report = doc as { inodes: number; dentries: number; findings: { kind: string; message: string }[] } | undefined;
  if (!report?.findings) throw new Error(`fsck on ${host} exited with ${code} and no report:\n${stderr}`);
  const bad = report.findings.filter((f) => FSCK_VIOLATIONS.has(f.kind));
  return { inodes: report.inodes, dentries: report.dentries, findings: report.findings.length, violations: bad.map((f) => `fsck ${f.kind}: ${f.message}`) };
}

/** The client hosts that work (and dump) through a FUSE mount when `fuse` is on. */
const FUSE_HOSTS = ['c0', 'c1'];

export async function runFaultSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const log = opts.log ?? (() => undefined);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'curvefs-faults-'));
  mkdirSync(dir, { recursive: true });
  // ms3 is the spare host: a metaserver runs there only once it replaces one (`replace`).
  const hosts = [...SERVERS, 'ms3', ...CLIENT_HOSTS, ...(opts.etcd ? ['mds1', ...ETCD_HOSTS] : [])];
  const net = await TestNet.create(hosts, { lossPerMille: opts.lossPerMille ?? 5, workDir: dir, delay: linkDelay(opts.seed) });
  log(`network ${net.subnet}.0/24, namespaces cfs-${net.tag}-*, seed ${opts.seed}, loss ${opts.lossPerMille ?? 5}‰, delay ${JSON.stringify(net.delays())}`);
  let mds: MdsProcess | undefined;
  let standby: MdsProcess | undefined;
  let etcd: FaultEtcd | undefined;
  let ms: MetaserverCluster | undefined;
  let spare: MetaserverCluster | undefined;
  const tmpfs: string[] = [];
  const workers: Worker[] = [];
  const paused = new Set<ChildProcess>();
  const faults: SuiteResult['faults'] = [];
  const mdsWindows: [number, number][] = [];
  const logs: LogLine[] = [];
  const races: RaceLine[] = [];
  /** Race rounds waiting for their two sides' walks, and for their two outcomes. */
  const walks = new Map<number, number>();
  const walksDone = new Map<number, () => void>();
  const roundDone = new Map<number, () => void>();
  // Ctrl-C, a timeout's SIGTERM or an uncaught error: the processes on the hosts and the
  // namespaces go too (the finally below never runs then).
  const killAll = () => {
    for (const p of paused) p.kill('SIGCONT');
    for (const w of workers) killGroup(w);
    for (const p of [...(ms?.procs ?? []), ...(spare?.procs ?? [])]) p.proc?.kill('SIGKILL');
    mds?.proc?.kill('SIGKILL');
    standby?.proc?.kill('SIGKILL');
    etcd?.killAll();
    net.destroy();
    for (const d of tmpfs.splice(0)) unmountTmpfs(d);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killAll);
  try {
    if (opts.etcd) etcd = await FaultEtcd.start(net, ETCD_HOSTS, join(dir, 'etcd'));
    const mdsOn = (host: string) =>
      MdsProcess.spawn({
        etcd: etcd?.urls() ?? [],
        dataDir: join(dir, host),
        journal: join(dir, `${host}-journal`),
        host: net.address(host),
        wrap: net.exec(host),
        // No heal for a metaserver that is only cut off, paused or restarting; with `replace`, the
        // one killed for good is healed 20 s after its last heartbeat (longer than any other fault).
        args: opts.replace ? ['--offline-after-ms', '20000', '--heal-delay-ms', '0'] : ['--offline-after-ms', '600000'],
      });
    mds = await mdsOn('mds');
    if (opts.etcd) standby = await mdsOn('mds1');
    const mdsAddrs = [mds.address, ...(standby ? [standby.address] : [])];
    for (let i = 0; i < METASERVERS; i++) {
      mountTmpfs(join(dir, `ms${i}`), TMPFS_MIB);
      tmpfs.push(join(dir, `ms${i}`));
    }
    ms = await MetaserverCluster.start({
      n: METASERVERS,
      dir,
      mdsAddrs,
      host: (i) => net.address(`ms${i}`),
      wrap: (i) => net.exec(`ms${i}`),
      env: { CURVEFS_LOG: 'warn' },
    });
    /** The metaserver behind each slot ms0…: after a replacement, the spare on its own host. */
    const slots = Array.from({ length: METASERVERS }, (_, i) => ({ cluster: ms!, index: i, host: `ms${i}` }));
    const slotOf = (t: string) => slots[Number(t.slice(2))]!;
    const hostOf = (t: string) => (t.startsWith('ms') ? slotOf(t).host : t);
    const base = { mds: mdsAddrs, fsName: 'faults', dataDir: join(dir, 'data') };
    await finish(startClient(net, 'c0', 'setup', base), 'setup');
    log('cluster up, fs "faults" created');

    // The nemesis starts once every client has finished an op (connected or mounted, and working):
    // a fault that comes before any client works tests nothing (a full disk no write reaches).
    const working = new Set<number>();
    let allWorking = () => {};
    const clientsWorking = new Promise<void>((r) => (allWorking = r));
    const mntOf = (host: string) => (opts.fuse && FUSE_HOSTS.includes(host) ? { mnt: join(dir, `mnt-${host}`) } : {});
    for (let k = 0; k < CLIENTS; k++) {
      workers.push(startClient(net, `c${k}`, 'work', { ...base, client: k, seed: opts.seed, ...mntOf(`c${k}`) }, (o) => {
        if ((o as LogLine).o) {
          logs.push(o as LogLine);
          working.add((o as LogLine).c);
          if (working.size === CLIENTS) allWorking();
        }
        const walked = (o as { walked?: number }).walked;
        if (walked !== undefined) {
          walks.set(walked, (walks.get(walked) ?? 0) + 1);
          if (walks.get(walked) === 2) walksDone.get(walked)?.();
        }
        if ((o as RaceLine).race !== undefined) {
          races.push(o as RaceLine);
          if (races.filter((l) => l.race === (o as RaceLine).race).length === 2) roundDone.get((o as RaceLine).race)?.();
        }
      }));
    }
    // Racing directory renames between c0 and c1 (two hosts; FUSE mounts with --fuse), round after
    // round beside the workload: rX → rY/rX on one while rY → rX/rY on the other.
    let racing = true;
    const racer = (async () => {
      const rr = new SeededRandom(opts.seed * 7 + 3);
      for (let n = 1; racing; n++) {
        const from = rr.int(0, RACE_DIRS);
        const to = (from + rr.int(1, RACE_DIRS)) % RACE_DIRS;
        const walked = new Promise<void>((res) => walksDone.set(n, res));
        const done = new Promise<void>((res) => roundDone.set(n, res));
        workers[0]!.proc.stdin!.write(`race ${JSON.stringify({ race: n, from, to })}\n`);
        workers[1]!.proc.stdin!.write(`race ${JSON.stringify({ race: n, from: to, to: from })}\n`);
        // Both sides have found the directories: their renames leave together.
        await walked;
        for (const w of workers.slice(0, 2)) w.proc.stdin!.write(`go ${n}\n`);
        await done;
        walksDone.delete(n);
        walks.delete(n);
        roundDone.delete(n);
      }
    })();
    const hold = (msec: number) => new Promise((r) => setTimeout(r, msec));
    // (A client that dies first fails the run with its output.)
    const died = new Promise<never>((_, reject) => {
      for (const [k, w] of workers.entries()) void w.exited.then((code) => working.size < CLIENTS && reject(new Error(`client ${k} exited with ${code} before working:\n${w.stderr.join('\n')}`)));
    });
    await Promise.race([clientsWorking, died]);
    const t0 = performance.now();
    const procOf = (t: string): ChildProcess | undefined => (t === 'mds' ? mds!.proc : ETCD_HOSTS.includes(t) ? etcd!.proc(t) : slotOf(t).cluster.procs[slotOf(t).index]!.proc);
    const sched = schedule(opts.seed, { replace: opts.replace, etcd: opts.etcd });
    // The nemesis: one fault at a time, held for its duration (the fault itself, not a wait for
    // anything), then healed; a restarted process is back once it says it is ready.
    // With `replace`, the run goes on until its replacement has happened (every such run has one).
    let replaced = !opts.replace;
    while (performance.now() - t0 < opts.seconds * 1000 || !replaced) {
      const f = sched.next().value as Fault;
      if (f.kind === 'replace') replaced = true;
      faults.push({ ...f, atMs: Math.round(performance.now() - t0) });
      log(`${Math.round((performance.now() - t0) / 1000)}s fault ${describe(f)} for ${f.holdMs} ms (ops so far ${logs.length})`);
      // From the fault taking effect to its healing, on the clock the clients stamp their ops with.
      let from = 0;
      // With a standby MDS, taking one away is a failover, not an outage.
      const mdsAlone = !opts.etcd && f.targets.length === 1 && f.targets[0] === 'mds';
      const healed = () => {
        if (mdsAlone) mdsWindows.push([from, Date.now()]);
      };
      if (f.kind === 'partition') {
        net.cut(f.cuts!.map(([a, b]) => [hostOf(a), hostOf(b)]));
        from = Date.now();
        await hold(f.holdMs);
        net.heal();
      } else if (f.kind === 'isolate') {
        for (const h of f.targets) net.isolate(hostOf(h));
        from = Date.now();
        await hold(f.holdMs);
        healed();
        net.heal();
      } else if (f.kind === 'pause') {
        const p = procOf(f.targets[0]!);
        if (p) {
          p.kill('SIGSTOP');
          paused.add(p);
          from = Date.now();
          await hold(f.holdMs);
          healed();
          p.kill('SIGCONT');
          paused.delete(p);
        }
      } else if (f.kind === 'kill') {
        const h = f.targets[0]!;
        if (h === 'mds') await mds.kill9();
        else if (ETCD_HOSTS.includes(h)) await etcd!.kill9(h);
        else await slotOf(h).cluster.kill(slotOf(h).index);
        from = Date.now();
        await hold(f.holdMs);
        healed();
        if (h === 'mds') await mds.start();
        else if (ETCD_HOSTS.includes(h)) await etcd!.startMember(h);
        else await slotOf(h).cluster.restart(slotOf(h).index);
      } else if (f.kind === 'disk-full') {
        const s = slotOf(f.targets[0]!);
        const d = s.cluster.procs[s.index]!.dir;
        const bytes = await fill(d);
        await hold(f.holdMs);
        await free(d);
        // What the metaserver said about it (the suite's evidence that the fault bit).
        const said = s.cluster.procs[s.index]!.stderr.some((l) => l.includes('ENOSPC'));
        faults[faults.length - 1]!.enospc = said;
        // A replica that could not persist stepped down and stays down (broken) until its
        // process restarts, as an operator would restart it once the disk has room again.
        await s.cluster.kill(s.index);
        await s.cluster.restart(s.index);
        log(`  disk of ${s.host} filled (${Math.round(bytes / 1024)} KiB more), freed, metaserver restarted; it logged ENOSPC: ${said}`);
      } else {
        // Replacement: the slot's metaserver dies for good; a spare starts on host ms3.
        const slot = Number(f.targets[0]!.slice(2));
        const s = slots[slot]!;
        const victim = s.cluster.procs[s.index]!.id;
        await s.cluster.kill(s.index);
        mountTmpfs(join(dir, 'spare', 'ms0'), TMPFS_MIB);
        tmpfs.push(join(dir, 'spare', 'ms0'));
        const started = performance.now();
        spare = await MetaserverCluster.start({ n: 1, dir: join(dir, 'spare'), mdsAddrs, host: () => net.address('ms3'), wrap: () => net.exec('ms3'), env: { CURVEFS_LOG: 'warn' } });
        slots[slot] = { cluster: spare, index: 0, host: 'ms3' };
        await waitHealed(net, 'c2', mdsAddrs, victim, 300_000);
        f.holdMs = Math.round(performance.now() - started);
        faults[faults.length - 1]!.holdMs = f.holdMs;
        log(`  metaserver ${victim} replaced by ${spare.procs[0]!.id} on ms3: healed in ${f.holdMs} ms`);
      }
      await hold(f.quietMs);
    }
    log(`healed; stopping the clients (ops so far ${logs.length})`);
    racing = false;
    await racer;
    for (const w of workers) w.proc.stdin!.write('stop\n');
    await Promise.all(workers.map((w, k) => finish(w, `client ${k}`)));
    const seconds = Math.round((performance.now() - t0) / 1000);

    const dumpers = (opts.fuse ? ['c0', 'c1', 'c2'] : ['c1', 'c2']).map((h) => ({ h, w: startClient(net, h, 'dump', { ...base, ...mntOf(h) }) }));
    workers.push(...dumpers.map((d) => d.w));
    await Promise.all(dumpers.map(({ h, w }) => finish(w, `dump on ${h}`)));
    const dumps = dumpers.map(({ w }) => w.lines[0] as Dump);
    const violations = [...check(logs, dumps, CLIENTS), ...checkRaces(races, dumps[0]!)];
    const fsck = await fsckViolations(net, 'c2', mdsAddrs, 'faults');
    log(`fsck: ${fsck.inodes} inodes, ${fsck.dentries} names; ${fsck.findings} finding(s), ${fsck.violations.length} violation(s)`);
    violations.push(...fsck.violations);
    const byOp: Record<string, number> = {};
    const byClient: Record<number, number> = {};
    for (const l of logs) {
      if (l.r !== 'ok') continue;
      byOp[l.o.op] = (byOp[l.o.op] ?? 0) + 1;
      byClient[l.c] = (byClient[l.c] ?? 0) + 1;
    }
    const result: SuiteResult = {
      seed: opts.seed,
      seconds,
      ops: { ok: logs.filter((l) => l.r === 'ok').length, unknown: logs.filter((l) => l.r === 'unknown').length, error: logs.filter((l) => l.r === 'error').length, byOp, byClient },
      mdsOutage: writesDuring(mdsWindows, logs),
      races: raceCounts(races),
      faults,
      violations,
      dir,
      netTag: net.tag,
    };
    writeFileSync(join(dir, 'ops.jsonl'), logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
    writeFileSync(join(dir, 'races.jsonl'), races.map((l) => JSON.stringify(l)).join('\n') + '\n');
    writeFileSync(join(dir, 'dumps.json'), JSON.stringify(dumps));
    writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 1));
    return result;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
    for (const p of paused) p.kill('SIGCONT');
    for (const w of workers) killGroup(w);
    for (const c of [ms, spare]) {
      if (!c) continue;
      for (let i = 0; i < c.procs.length; i++) await c.kill(i);
      c.pool.close();
    }
    await mds?.kill9();
    await standby?.kill9();
    etcd?.killAll();
    net.destroy();
    for (const d of tmpfs.splice(0)) unmountTmpfs(d);
  }
}

function argOf(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const minutes = Number(argOf('--minutes') ?? '1');
  const seed = Number(argOf('--seed') ?? String(Date.now() % 100000));
  const keep = process.argv.includes('--keep');
  const r = await runFaultSuite({ seconds: minutes * 60, seed, log: (s) => console.log(s), fuse: process.argv.includes('--fuse'), replace: !process.argv.includes('--no-replace'), etcd: process.argv.includes('--etcd') });
  const kinds: Record<string, number> = {};
  for (const f of r.faults) kinds[kindOf(f)] = (kinds[kindOf(f)] ?? 0) + 1;
  console.log(`seed ${r.seed}: ${r.seconds} s, ops ok ${r.ops.ok} unknown ${r.ops.unknown} error ${r.ops.error} ${JSON.stringify(r.ops.byOp)}`);
  console.log(`faults ${r.faults.length}: ${JSON.stringify(kinds)}`);
  console.log(`race rounds ${r.races.rounds}: ${JSON.stringify(r.races.outcomes)}`);
  console.log(`writes inside ${r.mdsOutage.windows.length} outages of the MDS alone: ok ${r.mdsOutage.ok}, failed ${r.mdsOutage.failed}`);
  console.log(`violations ${r.violations.length}`);
  for (const v of r.violations) console.log(`  ${v}`);
  console.log(`logs in ${r.dir}`);
  if (!keep && r.violations.length === 0) rmSync(r.dir, { recursive: true, force: true });
  process.exit(r.violations.length === 0 ? 0 : 1);
}
