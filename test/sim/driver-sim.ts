// The driver-level deterministic simulation (issue [G]), after TigerBeetle's VOPR: the production
// RaftNode (src/raft/node.ts with its driver, log and snapshot code) runs N replicas in one
// process under a seeded world (test/helpers/sim-world.ts) that owns
//   time      each process's Clock and Timer, at its own tick rate;
//   network   delay, loss, duplication, reordering and partitions (sim-network.ts);
//   storage   a simulated disk per replica (sim-storage.ts): a crash loses or tears what was not
//             synced, writes and syncs fail with EIO/ENOSPC, bits flip at rest.
// A nemesis crashes and restarts replicas at any step (every storage operation is an event, so a
// crash lands between any two awaits), cuts links, turns disk errors on and off and corrupts a
// stopped replica's files. Clients put/append/get on a small key-value state machine.
//
// Checked: election safety (one leader per term), state-machine safety (every replica applies the
// same command at the same index: a digest chained over the applied commands, compared per
// index), nothing applied twice (each command has a unique id), a linearizable client history
// (test/sim/linearizability.ts), log matching of the durable logs at the end, the storage rules
// of docs/raft.md (a crash alone never stops a replica from opening; damage at rest makes it
// refuse with LogDamagedError or set a snapshot aside, and it never serves wrong data), and after
// every fault is healed: the group converges and every acknowledged write is on every replica.
// Same seed, same run: the trace hash is a function of the seed.
import { CurveError, SeededRandom, StatusCode, type Logger } from '../../src/common/index.ts';
import { ConfChangeType, RaftLog, RaftNode, Role, type Entry, type NodeId, type SnapshotSource, type StateMachine } from '../../src/raft/index.ts';
import { LogDamagedError } from '../../src/raft/log/index.ts';
import { SimDisk } from '../helpers/sim-storage.ts';
import { SimNetwork } from '../helpers/sim-network.ts';
import { SimProcessTime, SimWorld, type Proc } from '../helpers/sim-world.ts';
import { KvStore } from './kv.ts';
import { checkLinearizable, describeOps, kvModel, type KvInput, type KvOutput, type Operation } from './linearizability.ts';

const GROUP = 1;
const TICK_MS = 10;

export interface DriverScenario {
  seed: number;
  voters: number;
  /** Events of the chaos phase (then faults stop and the group must converge). */
  steps: number;
  syncMode: 'dsync' | 'fdatasync';
  readOnly: 'safe' | 'lease';
  quiesce: boolean;
  /** Per-process clock rates (lease reads need equal rates: docs/raft.md). */
  rates: number[];
  snapshotEntries: number;
  segmentBytes: number;
  minDelay: number;
  maxDelay: number;
  dropRate: number;
  dupRate: number;
  /** Per nemesis turn (every 20 ms): probability of each fault. */
  crashRate: number;
  partitionRate: number;
  diskErrorRate: number;
  /** Whether one replica's files are corrupted at rest once (3+ voters only). */
  corrupt: boolean;
  clients: number;
  keys: number;
  /** A deliberately broken disk (syncs persist nothing), to prove the checks catch lost data. */
  lyingDisk?: boolean;
  /** Log writes of a lone small entry made inline (SimDisk.inlineWrites), as on the real disk. */
  inlineWrites?: boolean;
  /** RaftNodeOptions.asyncWrites: a leader's log write behind the rounds. */
  asyncWrites: boolean;
}

export interface DriverSimResult {
  ok: boolean;
  failure?: string;
  traceHash: string;
  stats: Record<string, number>;
}

export function driverScenario(seed: number, steps = 3000, over: Partial<DriverScenario> = {}): DriverScenario {
  const r = new SeededRandom(seed ^ 0x5eed5eed);
  const voters = [1, 3, 3, 3, 3, 5][r.int(0, 6)]!;
  const readOnly = r.next() < 0.5 ? 'safe' : 'lease';
  const rates = Array.from({ length: voters }, () => (readOnly === 'lease' ? 1 : 0.9 + r.next() * 0.2));
  const base: DriverScenario = {
    seed,
    voters,
    steps,
    syncMode: r.next() < 0.5 ? 'dsync' : 'fdatasync',
    readOnly,
    quiesce: r.next() < 0.5,
    rates,
    snapshotEntries: 8 + r.int(0, 40),
    segmentBytes: 1024 * (1 + r.int(0, 8)),
    minDelay: 0.05 + r.next() * 0.5,
    maxDelay: 1 + r.next() * 15,
    dropRate: r.next() * 0.05,
    dupRate: r.next() * 0.03,
    crashRate: 0.03 + r.next() * 0.12,
    partitionRate: r.next() * 0.1,
    diskErrorRate: r.next() * 0.05,
    corrupt: voters >= 3 && r.next() < 0.3,
    clients: 2 + r.int(0, 3),
    keys: 1 + r.int(0, 4),
    // Drawn last, so the seeds' other draws (and their recorded traces) stay as they were.
    asyncWrites: r.next() < 0.5,
  };
  return { ...base, ...over };
}

/** Every fault 2–4× as frequent as the seed's scenario draws them (`--hard`). */
export const HARD: Partial<DriverScenario> = { crashRate: 0.25, partitionRate: 0.2, diskErrorRate: 0.1, dropRate: 0.1, dupRate: 0.05 };

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** FNV-1a over a digest and an entry: the history of applied commands, chained. */
function chain(prev: number, e: Entry): number {
  let h = prev ^ 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  for (const x of [e.index, e.term]) for (let k = 0; k < 6; k++) mix(Math.floor(x / 256 ** k));
  for (const b of e.data) mix(b);
  return h >>> 0;
}

interface Command {
  opId: number;
  input: KvInput;
}
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The replicated key-value state machine, with the ids it applied and its history digest. */
class SimKv implements StateMachine {
  kv = new KvStore();
  opIds = new Set<number>();
  digest = 0;
  lastIndex = 0;

  constructor(
    private readonly sim: DriverSim,
    private readonly replica: NodeId,
  ) {}

  apply(e: Entry): unknown {
    const c = JSON.parse(dec.decode(e.data)) as Command;
    if (this.opIds.has(c.opId)) this.sim.violation(`state machine: op ${c.opId} applied twice on replica ${this.replica} (again at index ${e.index})`);
    if (e.index <= this.lastIndex) this.sim.violation(`state machine: replica ${this.replica} applied index ${e.index} after ${this.lastIndex}`);
    this.opIds.add(c.opId);
    this.digest = chain(this.digest, e);
    this.lastIndex = e.index;
    this.sim.applied(this.replica, e, this.digest);
    return this.kv.apply(c.input);
  }

  snapshot(): SnapshotSource {
    const image = enc.encode(JSON.stringify({ kv: dec.decode(this.kv.encode()), ops: [...this.opIds], digest: this.digest, lastIndex: this.lastIndex }));
    return async (sink) => {
      // Two chunks, so a snapshot file is written (and sent) in pieces.
      const half = image.length >> 1;
      await sink.write(image.subarray(0, half));
      await sink.write(image.subarray(half));
    };
  }

  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const c of data) parts.push(c.slice());
    const s = JSON.parse(dec.decode(Buffer.concat(parts))) as { kv: string; ops: number[]; digest: number; lastIndex: number };
    this.kv = KvStore.decode(enc.encode(s.kv));
    this.opIds = new Set(s.ops);
    this.digest = s.digest;
    this.lastIndex = s.lastIndex;
    this.sim.restored(this.replica, s.lastIndex, s.digest);
  }

  onRoleChange(role: Role, _leader: NodeId, term: number): void {
    if (role === Role.Leader) this.sim.leaderElected(this.replica, term);
  }
}

interface Replica {
  id: NodeId;
  disk: SimDisk;
  rate: number;
  proc?: Proc;
  node?: RaftNode;
  sm?: SimKv;
  /** The group is open on the current incarnation. */
  open: boolean;
  /** Refused to open (damage at rest): set aside for good, as a metaserver does. */
  broken?: string;
  /** Joins the running group (a replacement for a broken replica) rather than founding it. */
  joining: boolean;
  incarnation: number;
}

class DriverSim {
  readonly world: SimWorld;
  readonly net: SimNetwork;
  readonly replicas: Replica[] = [];
  private readonly violations: string[] = [];
  /** Leaders' writes that finished behind the rounds, over every incarnation (asyncWrites). */
  private writesBehindDone = 0;
  private readonly leaders = new Map<number, NodeId>();
  /** index -> digest of the history up to that command, as the first replica applied it. */
  private readonly digests = new Map<number, number>();
  private readonly ops: (Operation<KvInput, KvOutput> & { opId: number })[] = [];
  private readonly acked = new Set<number>();
  private nextOp = 1;
  private chaos = true;
  private corrupted = false;
  /** The founding voters (every replica's initial configuration). */
  private readonly initialVoters: NodeId[];
  /** A membership change the repairer has in flight. */
  private changing = false;
  /** The final checks run: nothing starts any more. */
  private finished = false;
  readonly stats: Record<string, number> = {
    crashes: 0,
    restarts: 0,
    partitions: 0,
    diskErrorSpells: 0,
    groupFailures: 0,
    corruptions: 0,
    brokenReplicas: 0,
    openIoErrors: 0,
    processKills: 0,
    confChanges: 0,
    transfers: 0,
    replacements: 0,
    logCuts: 0,
    snapshotsSetAside: 0,
    opsOk: 0,
    opsUnknown: 0,
    readsOk: 0,
    applied: 0,
    restores: 0,
    elections: 0,
  };

  constructor(
    readonly sc: DriverScenario,
    tracer?: (line: string) => void,
  ) {
    this.world = new SimWorld(sc.seed, tracer);
    this.net = new SimNetwork(this.world, { minDelay: sc.minDelay, maxDelay: sc.maxDelay, dropRate: sc.dropRate, dupRate: sc.dupRate });
    this.initialVoters = Array.from({ length: sc.voters }, (_, i) => i + 1);
    for (let i = 0; i < sc.voters; i++) {
      const id = i + 1;
      const disk = new SimDisk(this.world, `disk-${id}`);
      disk.lieAboutSync = sc.lyingDisk === true;
      disk.inlineWrites = sc.inlineWrites === true;
      this.replicas.push({ id, disk, rate: sc.rates[i] ?? 1, open: false, incarnation: 0, joining: false });
    }
  }

  violation(what: string): void {
    this.world.note(`VIOLATION ${what}`);
    this.violations.push(`${what} (at ${this.world.now.toFixed(3)} ms, step ${this.world.steps})`);
  }

  applied(replica: NodeId, e: Entry, digest: number): void {
    this.stats.applied!++;
    this.world.note(`apply r${replica} i${e.index} t${e.term}`);
    const want = this.digests.get(e.index);
    if (want === undefined) this.digests.set(e.index, digest);
    else if (want !== digest) this.violation(`state machine safety: replica ${replica} applied a different history at index ${e.index} (term ${e.term})`);
  }

  restored(replica: NodeId, index: number, digest: number): void {
    this.stats.restores!++;
    this.world.note(`restore r${replica} i${index}`);
    if (index === 0) return;
    const want = this.digests.get(index);
    if (want !== undefined && want !== digest) this.violation(`state machine safety: replica ${replica} restored a snapshot at ${index} with another history`);
  }

  leaderElected(replica: NodeId, term: number): void {
    this.stats.elections!++;
    this.world.note(`leader r${replica} t${term}`);
    const other = this.leaders.get(term);
    if (other !== undefined && other !== replica) this.violation(`election safety: replicas ${other} and ${replica} both led term ${term}`);
    this.leaders.set(term, replica);
  }

  // ---- processes --------------------------------------------------------------------------

  start(r: Replica): void {
    const proc: Proc = { alive: true, name: `r${r.id}.${++r.incarnation}` };
    r.proc = proc;
    r.open = false;
    const time = new SimProcessTime(this.world, proc, r.rate, 1_000_000 * r.id);
    const sm = new SimKv(this, r.id);
    r.sm = sm;
    const node = new RaftNode({
      id: r.id,
      dataDir: `/sim/node-${r.id}`,
      transport: this.net.transport(r.id, proc),
      storage: r.disk.storage(proc),
      clock: time,
      timer: time,
      random: new SeededRandom(this.world.rng.int(0, 2 ** 31)),
      logger: silent,
      tickMs: TICK_MS,
      electionTick: 10,
      heartbeatTick: 1,
      quiesce: this.sc.quiesce,
      asyncWrites: this.sc.asyncWrites,
      raft: { readOnlyOption: this.sc.readOnly, preVote: true, checkQuorum: true, maxSizePerMsg: 4096, maxInflightMsgs: 16 },
      requestTimeoutMs: 500,
      snapshotEntries: this.sc.snapshotEntries,
      snapshotKeepEntries: 4,
      snapshotIntervalMs: 0,
      log: { segmentBytes: this.sc.segmentBytes, syncMode: this.sc.syncMode },
    });
    r.node = node;
    this.world.note(`start ${proc.name}`);
    node.addGroup(GROUP, r.joining ? [] : this.initialVoters, sm).then(
      (report) => {
        if (!proc.alive) return;
        r.open = true;
        this.stats.logCuts! += report.log.cuts.length;
        this.stats.snapshotsSetAside! += report.snapshot.corrupt.length;
        this.world.note(`open ${proc.name} cuts=${report.log.cuts.length} snapCorrupt=${report.snapshot.corrupt.length} reset=${report.logReset}`);
        if (report.snapshot.corrupt.length > 0 && r.disk.corrupted.length === 0) {
          this.violation(`replica ${r.id} set aside a snapshot no fault at rest touched: ${JSON.stringify(report.snapshot.corrupt)}`);
        }
      },
      (e: unknown) => {
        if (!proc.alive) return;
        const msg = e instanceof Error ? e.message : String(e);
        this.world.note(`open-failed ${proc.name} ${msg}`);
        const code = (e as { code?: unknown }).code;
        if (!(e instanceof CurveError) && (code === 'EIO' || code === 'ENOSPC')) {
          // The disk failed under the open: a precise error, nothing changed. Retried later.
          this.stats.openIoErrors!++;
          this.kill(r, false);
          this.world.schedule(10 + this.world.rng.next() * 50, () => !r.proc && !r.broken && this.restart(r));
          return;
        }
        if (r.disk.corrupted.length > 0 && e instanceof CurveError) {
          // Damage at rest: the replica refuses to run (LogDamagedError, or a log that no
          // longer follows its snapshot), and is set aside for good.
          r.broken = msg;
          this.stats.brokenReplicas!++;
          this.kill(r, false);
          return;
        }
        this.violation(`replica ${r.id} cannot open after ${e instanceof LogDamagedError ? 'a crash alone' : 'a restart'}: ${msg}`);
        r.broken = msg;
        this.kill(r, false);
      },
    );
  }

  /** The process dies; with `powerLoss` its disk loses what it had not synced. */
  kill(r: Replica, powerLoss: boolean): void {
    if (!r.proc) return;
    r.proc.alive = false;
    this.world.note(`crash ${r.proc.name}${powerLoss ? ' power-loss' : ''}`);
    r.proc = undefined;
    this.writesBehindDone += r.node?.writesBehindDone ?? 0;
    r.node = undefined;
    r.sm = undefined;
    r.open = false;
    if (powerLoss) r.disk.crash();
  }

  /** The group failed on this replica (a storage error, an apply exception): its status says so. */
  private groupFailed(r: Replica): boolean {
    if (!r.node || !r.open) return false;
    try {
      r.node.status(GROUP);
      return false;
    } catch (e) {
      return e instanceof CurveError && e.status === StatusCode.STORAGE_INTERNAL_ERROR;
    }
  }

  // ---- nemesis ----------------------------------------------------------------------------

  private nemesis(): void {
    if (!this.chaos) return;
    const rng = this.world.rng;
    const up = this.replicas.filter((r) => r.proc && !r.broken);
    const down = this.replicas.filter((r) => !r.proc && !r.broken);
    if (rng.next() < this.sc.crashRate && up.length > 0) {
      const r = up[rng.int(0, up.length)]!;
      // A power loss (unsynced writes lost or torn) or a process crash (the page cache keeps them).
      const powerLoss = rng.next() < 0.6;
      this.stats.crashes!++;
      if (!powerLoss) this.stats.processKills!++;
      this.kill(r, powerLoss);
      // Down for a while, damaged at rest perhaps, then restarted.
      const downFor = 5 + rng.next() * 300;
      if (this.sc.corrupt && !this.corrupted && rng.next() < 0.5) {
        this.corrupted = true;
        const what = r.disk.corruptAtRest((p) => /\.(seg|snap)$/.test(p));
        if (what) {
          this.stats.corruptions!++;
          this.world.note(`corrupt r${r.id} ${what}`);
        }
      }
      this.world.schedule(downFor, () => !r.proc && !r.broken && this.restart(r));
    }
    if (rng.next() < this.sc.crashRate / 3 && down.length > 0) this.restart(down[rng.int(0, down.length)]!);
    if (rng.next() < this.sc.partitionRate && this.replicas.length > 1) {
      this.stats.partitions!++;
      const ids = this.replicas.map((r) => r.id);
      const a = ids[rng.int(0, ids.length)]!;
      if (rng.next() < 0.5) {
        // Isolate a.
        for (const b of ids) if (b !== a) this.net.setLink(a, b, false);
        this.world.note(`isolate r${a}`);
      } else {
        const b = ids.filter((x) => x !== a)[rng.int(0, ids.length - 1)]!;
        this.net.setLink(a, b, false);
        this.world.note(`cut r${a}-r${b}`);
      }
      this.world.schedule(20 + rng.next() * 400, () => {
        if (!this.chaos) return;
        this.net.healAll();
        this.world.note('heal-net');
      });
    }
    if (rng.next() < this.sc.diskErrorRate && up.length > 0) {
      const r = up[rng.int(0, up.length)]!;
      this.stats.diskErrorSpells!++;
      r.disk.errorRate = 0.05 + rng.next() * 0.3;
      this.world.note(`disk-errors r${r.id} ${r.disk.errorRate.toFixed(2)}`);
      this.world.schedule(5 + rng.next() * 100, () => {
        r.disk.errorRate = 0;
        this.world.note(`disk-ok r${r.id}`);
      });
    }
    if (rng.next() < this.sc.partitionRate / 2) {
      // A leadership transfer to a random voter (it may fail, or race a crash).
      const leader = up.find((r) => this.statusOf(r)?.role === Role.Leader);
      const st = leader && this.statusOf(leader);
      const to = st?.conf.voters.filter((v) => v !== leader!.id);
      if (leader && to && to.length > 0) {
        const target = to[rng.int(0, to.length)]!;
        this.stats.transfers!++;
        this.world.note(`transfer r${leader.id} -> r${target}`);
        try {
          leader.node!.transferLeader(GROUP, target);
        } catch (e) {
          this.world.note(`transfer refused: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
    this.world.schedule(20, () => this.nemesis());
  }

  /**
   * What the MDS does for a broken replica (docs/raft.md): remove it from the group, add a fresh
   * replica on another "machine" as a learner (it catches up by snapshot install), promote it.
   * One change at a time, through whichever replica leads; runs until the group is whole again.
   */
  private repair(): void {
    if (this.finished) return;
    this.world.schedule(50, () => this.repair());
    if (this.changing) return;
    const leader = this.replicas.find((r) => r.node && r.open && !r.broken && this.statusOf(r)?.role === Role.Leader);
    if (!leader) return;
    const st = this.statusOf(leader)!;
    const members = new Set([...st.conf.voters, ...st.conf.learners]);
    const change = (what: string, c: { type: ConfChangeType; nodeId: NodeId }) => {
      this.changing = true;
      this.stats.confChanges!++;
      this.world.note(`conf-change ${what} r${c.nodeId} via r${leader.id}`);
      let done = false;
      const settle = (how: string) => {
        if (done) return;
        done = true;
        this.changing = false;
        this.world.note(`conf-change ${what} r${c.nodeId} ${how}`);
      };
      this.world.schedule(1000, () => settle('given up'));
      leader.node!.changeMembership(GROUP, c).then(
        () => settle('done'),
        (e: unknown) => settle(`failed: ${e instanceof Error ? e.message : String(e)}`),
      );
    };
    const broken = this.replicas.find((r) => r.broken && members.has(r.id));
    if (broken) return change('remove', { type: ConfChangeType.RemoveNode, nodeId: broken.id });
    const wanted = this.initialVoters.length;
    const healthy = this.replicas.filter((r) => !r.broken);
    if (healthy.length < wanted) {
      const id = Math.max(...this.replicas.map((r) => r.id)) + 1;
      const disk = new SimDisk(this.world, `disk-${id}`);
      disk.inlineWrites = this.sc.inlineWrites === true;
      const r: Replica = { id, disk, rate: 1, open: false, incarnation: 0, joining: true };
      this.replicas.push(r);
      this.stats.replacements!++;
      this.start(r);
      return;
    }
    const newcomer = healthy.find((r) => !members.has(r.id));
    if (newcomer) return change('add-learner', { type: ConfChangeType.AddLearner, nodeId: newcomer.id });
    const learner = healthy.find((r) => st.conf.learners.includes(r.id));
    if (learner && (this.statusOf(learner)?.applied ?? -1) >= st.commit) return change('promote', { type: ConfChangeType.AddVoter, nodeId: learner.id });
  }

  private statusOf(r: Replica): ReturnType<RaftNode['status']> | undefined {
    if (!r.node || !r.open) return undefined;
    try {
      return r.node.status(GROUP);
    } catch {
      return undefined;
    }
  }

  /**
   * A process supervisor: a replica whose group failed (a storage error) is stopped — its
   * machine perhaps losing power with it — and started again. Runs in every phase: a write that
   * failed just before the heal is seen after it.
   */
  private supervise(): void {
    const rng = this.world.rng;
    for (const r of this.replicas) {
      if (r.broken || !r.proc || !this.groupFailed(r)) continue;
      this.stats.groupFailures!++;
      this.world.note(`group-failed r${r.id}`);
      this.kill(r, this.chaos && rng.next() < 0.5);
      this.world.schedule(rng.next() * 50, () => !r.proc && !r.broken && this.restart(r));
    }
    this.world.schedule(20, () => this.supervise());
  }

  private restart(r: Replica): void {
    // Restarts scheduled during the run must not race the final checks' reading of the files.
    if (this.finished) return;
    this.stats.restarts!++;
    this.start(r);
  }

  // ---- clients ----------------------------------------------------------------------------

  private client(c: number, hint: { leader: NodeId }): void {
    if (!this.chaos) return;
    const rng = this.world.rng;
    const next = (delay: number) => this.world.schedule(delay, () => this.client(c, hint));
    let r = this.replicas.find((x) => x.id === hint.leader);
    if (!r || !r.node || !r.open || rng.next() < 0.1) r = this.replicas[rng.int(0, this.replicas.length)]!;
    const node = r.node;
    if (!node || !r.open) return next(1 + rng.next() * 10);
    let st;
    try {
      st = node.status(GROUP);
    } catch {
      return next(1 + rng.next() * 10);
    }
    if (st.role !== Role.Leader) {
      hint.leader = st.leader || this.replicas[rng.int(0, this.replicas.length)]!.id;
      return next(1 + rng.next() * 5);
    }
    const key = `k${rng.int(0, this.sc.keys)}`;
    const kind = (['put', 'append', 'get', 'append'] as const)[rng.int(0, 4)]!;
    const opId = this.nextOp++;
    const input: KvInput = kind === 'get' ? { kind, key } : { kind, key, value: `${opId}.` };
    const op = { clientId: c, input, call: this.world.now, ret: Infinity, output: undefined as KvOutput | undefined, opId };
    this.ops.push(op);
    this.world.note(`call c${c} op${opId} ${kind} ${key} at r${r.id}`);
    let done = false;
    const sm = r.sm!;
    const finish = (output: KvOutput | undefined) => {
      if (done) return;
      done = true;
      if (output !== undefined) {
        op.ret = this.world.now;
        op.output = output;
        if (kind === 'get') this.stats.readsOk!++;
        else {
          this.stats.opsOk!++;
          this.acked.add(opId);
        }
      } else {
        this.stats.opsUnknown!++;
      }
      this.world.note(`return c${c} op${opId} ${output === undefined ? '?' : JSON.stringify(output)}`);
      next(rng.next() * 10);
    };
    // The client gives up after a while (its process or the replica's may have died): unknown.
    this.world.schedule(800, () => finish(undefined));
    if (kind === 'get') {
      node.read(GROUP).then(
        () => finish(sm.kv.get(key)),
        () => finish(undefined),
      );
    } else {
      node.propose(GROUP, enc.encode(JSON.stringify({ opId, input } satisfies Command))).then(
        (res) => finish(res as string),
        () => finish(undefined),
      );
    }
  }

  // ---- the run ----------------------------------------------------------------------------

  async run(): Promise<DriverSimResult> {
    for (const r of this.replicas) this.start(r);
    this.world.schedule(20, () => this.nemesis());
    this.world.schedule(50, () => this.repair());
    this.world.schedule(25, () => this.supervise());
    for (let c = 0; c < this.sc.clients; c++) {
      const hint = { leader: 1 };
      this.world.schedule(50 + c, () => this.client(c, hint));
    }
    while (this.world.steps < this.sc.steps && this.violations.length === 0) await this.world.step();
    // Heal: every fault ends, every replica that is not broken runs; the group must converge.
    this.chaos = false;
    this.net.healAll();
    for (const r of this.replicas) r.disk.errorRate = 0;
    this.world.note('heal');
    for (const r of this.replicas) {
      if (r.broken) continue;
      if (r.proc && this.groupFailed(r)) this.kill(r, false);
      if (!r.proc) this.restart(r);
    }
    const healDeadline = this.world.now + 30_000;
    let converged = false;
    while (this.violations.length === 0 && this.world.now < healDeadline) {
      if (!(await this.world.step())) break;
      if (this.world.steps % 64 === 0 && this.converged()) {
        converged = true;
        break;
      }
    }
    if (this.violations.length === 0 && !converged) this.violation(`liveness: the group did not converge within 30 s of healing (${this.describeState()})`);
    this.finished = true;
    if (this.violations.length === 0) this.finalChecks();
    if (this.violations.length === 0) await this.checkLogMatching();
    this.stats.steps = this.world.steps;
    this.stats.batches = this.net.stats.batches;
    this.stats.snapshotChunks = this.net.stats.snapshotChunks;
    for (const r of this.replicas) {
      this.stats.tornFiles = (this.stats.tornFiles ?? 0) + r.disk.stats.tornFiles;
      this.stats.diskErrors = (this.stats.diskErrors ?? 0) + r.disk.stats.errors;
      // Only in that mode: every other run's stats, and so its trace hash, stay as they were.
      if (this.sc.inlineWrites) this.stats.inlineWrites = (this.stats.inlineWrites ?? 0) + r.disk.stats.inlineWrites;
      this.writesBehindDone += r.node?.writesBehindDone ?? 0;
    }
    // Only when drawn: other runs' stats, and so their trace hashes, stay as they were.
    if (this.sc.asyncWrites) this.stats.writesBehind = this.writesBehindDone;
    this.world.note(`end ${JSON.stringify(this.stats)}`);
    return {
      ok: this.violations.length === 0,
      failure: this.violations.length ? this.violations.join('\n') : undefined,
      traceHash: this.world.traceHash,
      stats: this.stats,
    };
  }

  private describeState(): string {
    return this.replicas
      .map((r) => {
        if (r.broken) return `r${r.id}: broken`;
        if (!r.node || !r.open) return `r${r.id}: down`;
        try {
          const s = r.node.status(GROUP);
          return `r${r.id}: ${['follower', 'pre-candidate', 'candidate', 'leader'][s.role]} t${s.term} commit ${s.commit} applied ${s.applied} last ${s.lastIndex}`;
        } catch (e) {
          return `r${r.id}: ${e instanceof Error ? e.message : String(e)}`;
        }
      })
      .join('; ');
  }

  private converged(): boolean {
    const live = this.replicas.filter((r) => !r.broken);
    let leader: ReturnType<RaftNode['status']> | undefined;
    const sts = [];
    for (const r of live) {
      if (!r.node || !r.open) return false;
      let s;
      try {
        s = r.node.status(GROUP);
      } catch {
        return false;
      }
      sts.push(s);
      if (s.role === Role.Leader) leader = s;
    }
    if (!leader || leader.commit !== leader.lastIndex) return false;
    // The group is whole again: no broken member, no learner waiting for promotion.
    if (leader.conf.learners.length > 0 || leader.conf.voters.length !== this.initialVoters.length) return false;
    if (live.some((r) => !leader!.conf.voters.includes(r.id))) return false;
    return sts.every((s) => s.term === leader.term && s.applied === leader.lastIndex && s.leader === leader.id);
  }

  private finalChecks(): void {
    const live = this.replicas.filter((r) => !r.broken);
    for (const r of live) {
      const sm = r.sm!;
      for (const id of this.acked) if (!sm.opIds.has(id)) this.violation(`acknowledged write op ${id} is missing on replica ${r.id}`);
    }
    const [first, ...rest] = live;
    for (const r of rest) {
      if (r.sm!.digest !== first!.sm!.digest) this.violation(`replicas ${first!.id} and ${r.id} ended with different histories`);
    }
    // An operation whose outcome the client never learned either applied (it is in the final
    // state: it took effect at some point after its call) or never will (the group converged):
    // the latter is dropped, as is every unanswered get, which keeps the search small.
    const final = first!.sm!.opIds;
    const history = this.ops.filter((o) => o.output !== undefined || (o.input.kind !== 'get' && final.has(o.opId)));
    const check = checkLinearizable(kvModel, history);
    if (check.ok === false) this.violation(`linearizability violated:\n${describeOps(check.ops)}`);
    if (check.ok === 'unknown') this.violation(`linearizability check ran out of budget on key part ${check.part}`);
  }

  /** Stops every replica and compares their durable logs (read with the production log code). */
  private async checkLogMatching(): Promise<void> {
    const logs: { id: NodeId; entries: Entry[] }[] = [];
    for (const r of this.replicas) {
      if (r.broken) continue;
      const stopping = r.node?.stop();
      if (stopping) await this.pump(stopping);
      this.kill(r, false);
      const proc: Proc = { alive: true, name: `check-${r.id}` };
      let opened;
      try {
        opened = await this.pump(RaftLog.open(`/sim/node-${r.id}/group-${GROUP}/log`, { storage: r.disk.storage(proc), segmentBytes: this.sc.segmentBytes, logger: silent }));
      } catch (e) {
        if (process.env.SIM_DEBUG) r.disk.debugDump(`/sim/node-${r.id}/group-${GROUP}/log`);
        this.violation(`replica ${r.id}'s log does not reopen after a clean stop: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      await this.pump(opened.log.close());
      proc.alive = false;
      logs.push({ id: r.id, entries: opened.entries });
    }
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) {
        const a = new Map(logs[i]!.entries.map((e) => [e.index, e]));
        // Log matching: where both hold an entry of the same term, they hold the same entries before it.
        let agreeAt = 0;
        for (const e of logs[j]!.entries) if (a.get(e.index)?.term === e.term) agreeAt = Math.max(agreeAt, e.index);
        for (const e of logs[j]!.entries) {
          if (e.index > agreeAt) break;
          const o = a.get(e.index);
          if (o && (o.term !== e.term || o.type !== e.type || Buffer.compare(o.data, e.data) !== 0)) {
            this.violation(`log matching: replicas ${logs[i]!.id} and ${logs[j]!.id} agree at ${agreeAt} but differ at ${e.index}`);
            return;
          }
        }
      }
    }
  }

  /** Runs the world until `p` settles. */
  private async pump<T>(p: Promise<T>): Promise<T> {
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise<void>((r) => setImmediate(r));
    while (!settled && (await this.world.step()));
    return p;
  }
}

export { DriverSim };

/** Runs one seed of the driver-level simulation. */
export async function runDriverSeed(seed: number, steps = 3000, over: Partial<DriverScenario> = {}, tracer?: (line: string) => void): Promise<DriverSimResult> {
  return new DriverSim(driverScenario(seed, steps, over), tracer).run();
}
