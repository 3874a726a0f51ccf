// Deterministic simulation of Raft groups: N replicas of the pure core in one process, a seeded
// network that delays, drops, duplicates, reorders and partitions, crashes that lose unsynced
// writes, membership changes, leader transfers, and clients doing put / append / get against a
// key-value state machine. Every run checks election safety, state-machine safety and
// linearizability of the client history, then heals everything and checks the group converges.
// Same seed, same run: all randomness comes from SeededRandom, all iteration is in id order.
import { SeededRandom } from '../../src/common/index.ts';
import {
  ConfChangeType,
  EntryType,
  isLeaderTraffic,
  MessageType,
  NotLeaderError,
  RawNode,
  Role,
  decodeConfChangeEntry,
  type Entry,
  type HardState,
  type NodeId,
  type RaftConfig,
  type RaftMessage,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.ts';
import { KvStore, decodeCommand, encodeCommand } from './kv.ts';
import { checkLinearizable, describeOps, kvModel, type KvInput, type Operation } from './linearizability.ts';

/** Simulated time unit; a Raft tick is TICK units. */
const TICK = 10;

export interface Scenario {
  seed: number;
  nodes: number;
  chaosUnits: number;
  healUnits: number;
  clients: number;
  keys: number;
  minDelay: number;
  maxDelay: number;
  dropRate: number;
  dupRate: number;
  /** Per tick: probability of crashing one node, of a crash in the middle of a sync. */
  crashRate: number;
  crashInSyncRate: number;
  partitionRate: number;
  membership: boolean;
  transfers: boolean;
  readOnly: 'safe' | 'lease';
  preVote: boolean;
  checkQuorum: boolean;
  /** Quiescence on, with a peer-liveness oracle standing in for the driver's (wakeIfPeerGone). */
  quiesce: boolean;
  /**
   * Asynchronous storage writes (docs/raft.md, "The Ready contract"): a leader's write of new
   * entries completes 1–30 units after its Ready was acknowledged with advanceWriting(); its
   * messages that wait for the disk leave then, and a crash before that loses the write.
   */
  asyncWrites: boolean;
  snapshotEvery: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  /** Share of gets among client operations. */
  readRatio: number;
  /** Probability that a client ignores its leader hint and asks a random replica (finds stale leaders). */
  clientSpread: number;
  /**
   * A deliberately broken driver, to prove the checks catch what they claim to:
   *  'skip-sync': never makes a Ready durable (a crash forgets votes and acknowledged entries);
   *  'local-read': answers gets from the contacted replica's state, without ReadIndex.
   */
  bug?: 'skip-sync' | 'local-read';
}

/** The scenario a seed stands for (varied so a run of seeds covers many combinations). */
export function scenarioFor(seed: number, overrides: Partial<Scenario> = {}): Scenario {
  const r = new SeededRandom(seed ^ 0x5eed5eed);
  const lease = r.next() < 0.3;
  const legacy = !lease && r.next() < 0.15; // no pre-vote, no check-quorum
  return {
    seed,
    nodes: r.next() < 0.6 ? 3 : 5,
    chaosUnits: 3000,
    healUnits: 6000,
    clients: r.int(2, 6),
    keys: r.int(1, 4),
    minDelay: 1,
    maxDelay: r.int(3, 40),
    dropRate: r.next() < 0.3 ? 0 : r.next() * 0.15,
    dupRate: r.next() * 0.05,
    crashRate: r.next() < 0.3 ? 0 : r.next() * 0.03,
    crashInSyncRate: r.next() * 0.01,
    partitionRate: r.next() < 0.3 ? 0 : r.next() * 0.03,
    membership: r.next() < 0.35,
    transfers: r.next() < 0.35,
    readOnly: lease ? 'lease' : 'safe',
    preVote: !legacy,
    checkQuorum: !legacy,
    snapshotEvery: r.int(5, 60),
    maxSizePerMsg: r.next() < 0.5 ? 1 << 20 : r.int(1, 400),
    maxInflightMsgs: r.int(1, 64),
    clientSpread: r.next() < 0.5 ? 0 : r.next() * 0.7,
    readRatio: 0.2 + r.next() * 0.6,
    // Drawn last, so every other field of a seed's scenario is what it was before quiescence.
    quiesce: r.next() < 0.5,
    // Drawn after quiescence, for the same reason.
    asyncWrites: r.next() < 0.5,
    ...overrides,
  };
}

export interface SimResult {
  seed: number;
  ok: boolean;
  failure?: string;
  /** Hash of the whole event trace: equal for equal runs. */
  traceHash: string;
  stats: Record<string, number>;
}

class SimFailure extends Error {}

interface DiskState {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

interface ClientOp {
  id: number;
  client: number;
  input: KvInput;
  call: number;
  ret: number;
  output: string | undefined;
  viaLog: boolean;
  attempts: number;
}

interface Client {
  id: number;
  op: ClientOp | undefined;
  /** When to (re)submit op, or start the next one. */
  nextAt: number;
  leaderHint: NodeId;
}

class SimNode {
  raw: RawNode | undefined;
  /** Everything written, synced or not (lost by a crash). */
  disk: DiskState;
  /** What survives a crash. */
  durable: DiskState;
  kv = new KvStore();
  applied = 0;
  pendingProps = new Map<number, { term: number; op: ClientOp }>();
  pendingReads = new Map<string, ClientOp>();
  readWaits: { index: number; op: ClientOp }[] = [];
  removed = false;
  restartAt = 0;
  ctxSeq = 0;
  /** A write behind (asyncWrites): when it completes and the messages that wait for it. */
  writing: { at: number; held: RaftMessage[] } | undefined;

  constructor(
    readonly id: NodeId,
    voters: NodeId[],
  ) {
    const empty: DiskState = {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: { meta: { index: 0, term: 0, conf: { voters: voters.slice(), learners: [] } }, data: new Uint8Array(0) },
      entries: [],
    };
    this.disk = empty;
    this.durable = cloneDisk(empty);
  }

  get up(): boolean {
    return this.raw !== undefined;
  }
}

function cloneDisk(d: DiskState): DiskState {
  return { hardState: { ...d.hardState }, snapshot: d.snapshot, entries: d.entries.slice() };
}

function cloneMessage(m: RaftMessage): RaftMessage {
  const c: RaftMessage = { ...m, entries: m.entries.map((e) => ({ ...e })) };
  if (m.snapshot) c.snapshot = { meta: { ...m.snapshot.meta }, data: m.snapshot.data };
  return c;
}

function hashBytes(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193);
  return h >>> 0;
}

const MSG_NAMES: Record<number, string> = {
  1: 'PreVote',
  2: 'PreVoteResp',
  3: 'Vote',
  4: 'VoteResp',
  5: 'App',
  6: 'AppResp',
  7: 'HB',
  8: 'HBResp',
  9: 'Snap',
  10: 'TimeoutNow',
};

export class Simulation {
  readonly sc: Scenario;
  private rng: SeededRandom;
  private now = 0;
  private nodes = new Map<NodeId, SimNode>();
  private nextNodeId: number;
  private buckets = new Map<number, RaftMessage[]>();
  /** Partition: group number per node (absent: group 0). */
  private group = new Map<NodeId, number>();
  private partitionUntil = 0;
  private clients: Client[] = [];
  private history: ClientOp[] = [];
  private opSeq = 0;
  private leaderOfTerm = new Map<number, NodeId>();
  private appliedAt = new Map<number, { term: number; hash: number }>();
  /** Client operations whose command some replica applied (so it took effect). */
  private appliedOps = new Set<number>();
  private hash = 0x811c9dc5;
  private verbose: ((line: string) => void) | undefined;
  readonly stats: Record<string, number> = {
    msgs: 0,
    dropped: 0,
    duplicated: 0,
    crashes: 0,
    crashesInSync: 0,
    writesBehind: 0,
    partitions: 0,
    quiesceMsgs: 0,
    quiesceWakes: 0,
    elections: 0,
    confChanges: 0,
    transfers: 0,
    snapshotsTaken: 0,
    snapshotsSent: 0,
    opsOk: 0,
    opsUnknown: 0,
    opsUnknownApplied: 0,
    readsDropped: 0,
  };

  constructor(sc: Scenario, verbose?: (line: string) => void) {
    this.sc = sc;
    this.rng = new SeededRandom(sc.seed);
    this.verbose = verbose;
    const voters = Array.from({ length: sc.nodes }, (_, i) => i + 1);
    this.nextNodeId = sc.nodes + 1;
    for (const id of voters) {
      const n = new SimNode(id, voters);
      this.nodes.set(id, n);
      this.start(n);
    }
    for (let c = 0; c < sc.clients; c++) {
      this.clients.push({ id: c, op: undefined, nextAt: this.rng.int(0, 200), leaderHint: 0 });
    }
  }

  // ---- trace ---------------------------------------------------------------------------------

  private mix(...xs: number[]): void {
    let h = this.hash;
    for (const x of xs) {
      h = Math.imul(h ^ (x & 0xffff), 0x01000193);
      h = Math.imul(h ^ ((x / 65536) & 0xffff), 0x01000193);
    }
    this.hash = h >>> 0;
  }

  private log(line: () => string): void {
    if (this.verbose) this.verbose(`${String(this.now).padStart(6)} ${line()}`);
  }

  private fail(msg: string): never {
    this.log(() => `FAIL ${msg}`);
    throw new SimFailure(msg);
  }

  // ---- nodes ---------------------------------------------------------------------------------

  private config(id: NodeId): RaftConfig {
    return {
      id,
      random: new SeededRandom(this.rng.int(0, 2 ** 31)),
      electionTick: 10,
      heartbeatTick: 1,
      preVote: this.sc.preVote,
      checkQuorum: this.sc.checkQuorum,
      readOnlyOption: this.sc.readOnly,
      quiesce: this.sc.quiesce,
      maxSizePerMsg: this.sc.maxSizePerMsg,
      maxInflightMsgs: this.sc.maxInflightMsgs,
      maxInflightBytes: 1 << 20,
    };
  }

  private start(n: SimNode): void {
    const d = n.durable;
    n.disk = cloneDisk(d);
    n.kv = KvStore.decode(d.snapshot.data);
    n.applied = d.snapshot.meta.index;
    n.pendingProps.clear();
    n.pendingReads.clear();
    n.readWaits = [];
    n.raw = new RawNode(this.config(n.id), {
      hardState: { ...d.hardState },
      snapshotMeta: d.snapshot.meta,
      entries: d.entries.slice(),
      applied: d.snapshot.meta.index,
    });
    this.drain(n);
  }

  private crash(n: SimNode, why: string): void {
    n.raw = undefined;
    n.writing = undefined; // a write behind that had not completed is lost
    n.restartAt = this.now + this.rng.int(5, 60) * TICK;
    this.stats.crashes!++;
    this.mix(1, n.id);
    this.log(() => `crash ${n.id} (${why}), restart at ${n.restartAt}`);
  }

  /** Runs every Ready of a node the way a driver must: persist, send, apply, advance. */
  private drain(n: SimNode): void {
    while (n.raw && n.raw.hasReady()) {
      const behind = this.sc.asyncWrites && !n.raw.writeInFlight && n.raw.role === Role.Leader && !n.raw.pendingSnapshotMeta();
      const rd = n.raw.ready();
      const writeBehind = behind && !rd.snapshot && (rd.entries.length > 0 || rd.mustSync);
      if (!this.handleReady(n, rd, writeBehind) || !n.raw) return; // crashed or destroyed meanwhile
      if (writeBehind) {
        n.raw.advanceWriting();
        n.writing = { at: this.now + this.rng.int(1, 31), held: rd.messages.filter((m) => !isLeaderTraffic(m.type)) };
        this.stats.writesBehind!++;
      } else n.raw.advance();
      if (n.applied - n.durable.snapshot.meta.index >= this.sc.snapshotEvery) this.takeSnapshot(n);
    }
  }

  /** A write behind whose time has come: durable now (or lost in a crash), then written(). */
  private finishWrite(n: SimNode): void {
    const w = n.writing!;
    if (this.rng.next() < this.sc.crashInSyncRate) {
      this.stats.crashesInSync!++;
      this.crash(n, 'during a write behind');
      return;
    }
    n.writing = undefined;
    if (this.sc.bug !== 'skip-sync') n.durable = cloneDisk(n.disk);
    this.mix(12, n.id);
    for (const m of w.held) this.send(n, m);
    n.raw!.written();
    this.drain(n);
  }

  /**
   * Persist, send, apply. With `behind` (a leader's write behind, asyncWrites) the write is not
   * durable yet and only leader traffic is sent; finishWrite completes it.
   */
  private handleReady(n: SimNode, rd: Ready, behind = false): boolean {
    const raw = n.raw!;
    // 1. persist
    const disk = n.disk;
    if (rd.snapshot) {
      // An installed snapshot replaces the whole log: entries after it were of the old history.
      disk.snapshot = rd.snapshot;
      disk.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      let keep = disk.entries.length;
      while (keep > 0 && disk.entries[keep - 1]!.index >= first) keep--;
      disk.entries = disk.entries.slice(0, keep).concat(rd.entries);
    }
    if (rd.hardState) disk.hardState = { ...rd.hardState };
    if (rd.mustSync && this.sc.bug !== 'skip-sync' && !behind) {
      if (this.rng.next() < this.sc.crashInSyncRate) {
        this.stats.crashesInSync!++;
        this.crash(n, 'during sync');
        return false;
      }
      n.durable = cloneDisk(disk);
    }
    if (rd.softState) {
      this.mix(2, n.id, rd.softState.role, rd.softState.leader);
      if (rd.softState.role === Role.Leader) {
        const term = raw.term;
        const prev = this.leaderOfTerm.get(term);
        if (prev !== undefined && prev !== n.id) this.fail(`election safety: ${prev} and ${n.id} both lead term ${term}`);
        if (prev === undefined) this.stats.elections!++;
        this.leaderOfTerm.set(term, n.id);
        this.log(() => `${n.id} is leader of term ${term}`);
      }
    }
    // 2. send
    for (const m of rd.messages) if (!behind || isLeaderTraffic(m.type)) this.send(n, m);
    // 3. apply
    if (rd.snapshot) {
      n.kv = KvStore.decode(rd.snapshot.data);
      n.applied = rd.snapshot.meta.index;
      for (const idx of [...n.pendingProps.keys()]) if (idx <= n.applied) n.pendingProps.delete(idx);
      this.log(() => `${n.id} installs snapshot at ${n.applied}`);
    }
    for (const e of rd.committedEntries) this.apply(n, e);
    for (const rs of rd.readStates) {
      const key = new TextDecoder().decode(rs.requestCtx);
      const op = n.pendingReads.get(key);
      if (!op) continue;
      n.pendingReads.delete(key);
      n.readWaits.push({ index: rs.index, op });
    }
    this.serveReads(n);
    return true;
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) this.fail(`node ${n.id} applies ${e.index} after ${n.applied}`);
    n.applied = e.index;
    const h = hashBytes(e.data);
    const prev = this.appliedAt.get(e.index);
    if (prev && (prev.term !== e.term || prev.hash !== h)) {
      this.fail(`state machine safety: index ${e.index} applied as term ${prev.term} and as term ${e.term} (node ${n.id})`);
    }
    if (!prev) this.appliedAt.set(e.index, { term: e.term, hash: h });
    this.mix(3, n.id, e.index, e.term);
    const pending = n.pendingProps.get(e.index);
    if (pending) n.pendingProps.delete(e.index);
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChangeEntry(e.data);
      this.log(() => `${n.id} applies conf change ${e.index}: ${JSON.stringify(cc)}`);
      if (cc.change.type === ConfChangeType.RemoveNode) {
        // Once a removal is committed the operator destroys the replica (it may never learn of
        // its removal itself, and without check-quorum a removed replica would disrupt the group).
        const gone = this.nodes.get(cc.change.nodeId);
        if (gone && !gone.removed) {
          gone.removed = true;
          gone.raw = undefined;
          this.mix(11, gone.id);
          this.log(() => `destroy removed node ${gone.id}`);
        }
      }
      return;
    }
    if (e.data.length === 0) return; // leader no-op
    const cmd = decodeCommand(e.data);
    this.appliedOps.add(cmd.opId);
    const out = n.kv.apply(cmd.input);
    if (pending) {
      if (pending.term === e.term && pending.op.id === cmd.opId) this.complete(pending.op, out);
      else this.retryLater(pending.op, 'overwritten');
    }
  }

  private serveReads(n: SimNode): void {
    if (n.readWaits.length === 0) return;
    const still: { index: number; op: ClientOp }[] = [];
    for (const w of n.readWaits) {
      if (w.index <= n.applied) this.complete(w.op, n.kv.get(w.op.input.key));
      else still.push(w);
    }
    n.readWaits = still;
  }

  private takeSnapshot(n: SimNode): void {
    const raw = n.raw!;
    const meta = raw.snapshotMetaAt(n.applied);
    const snap: Snapshot = { meta, data: n.kv.encode() };
    const compactTo = Math.max(meta.index - this.rng.int(0, 8), raw.status().firstIndex - 1);
    // Snapshot files are written, synced and renamed on their own.
    n.disk.snapshot = snap;
    n.durable.snapshot = snap;
    n.disk.entries = n.disk.entries.filter((e) => e.index > compactTo);
    n.durable.entries = n.durable.entries.filter((e) => e.index > compactTo);
    raw.compact(meta.index, compactTo);
    this.stats.snapshotsTaken!++;
    this.mix(4, n.id, meta.index);
  }

  /**
   * The driver's peer liveness (src/raft/driver/peer-liveness.ts), as an oracle: a quiesced
   * follower wakes once its leader is down, destroyed or partitioned away; a quiesced leader once
   * any member is. Liveness only: the safety checks do not depend on it.
   */
  private wakeIfPeerGone(n: SimNode): void {
    const raw = n.raw!;
    if (!raw.quiesced) return;
    const gone = (id: NodeId) => {
      const p = this.nodes.get(id);
      return !p || !p.up || p.removed || !this.linked(n.id, id);
    };
    const conf = raw.conf;
    const watched = raw.leader === n.id ? [...conf.voters, ...conf.learners].filter((v) => v !== n.id) : [raw.leader];
    if (watched.some(gone)) {
      this.stats.quiesceWakes!++;
      this.log(() => `wake ${n.id} (peer gone)`);
      raw.wake();
      this.drain(n);
    }
  }

  // ---- network -------------------------------------------------------------------------------

  private linked(a: NodeId, b: NodeId): boolean {
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  private send(from: SimNode, m: RaftMessage): void {
    this.stats.msgs!++;
    if (m.type === MessageType.Snapshot) {
      // The driver attaches its stored snapshot's bytes.
      if (from.disk.snapshot.meta.index !== m.snapshot!.meta.index) {
        this.fail(`node ${from.id} asked to send snapshot ${m.snapshot!.meta.index} but holds ${from.disk.snapshot.meta.index}`);
      }
      m.snapshot = { meta: m.snapshot!.meta, data: from.disk.snapshot.data };
      this.stats.snapshotsSent!++;
    }
    const lost = this.rng.next() < this.sc.dropRate || !this.linked(m.from, m.to);
    if (lost) {
      this.stats.dropped!++;
      // A snapshot goes over a stream: the sender learns that it failed.
      if (m.type === MessageType.Snapshot) from.raw?.reportSnapshot(m.to, false);
      return;
    }
    const copies = this.rng.next() < this.sc.dupRate ? 2 : 1;
    if (copies === 2) this.stats.duplicated!++;
    for (let i = 0; i < copies; i++) {
      const at = this.now + this.rng.int(this.sc.minDelay, this.sc.maxDelay + 1);
      let b = this.buckets.get(at);
      if (!b) this.buckets.set(at, (b = []));
      b.push(cloneMessage(m));
    }
  }

  private deliver(m: RaftMessage): void {
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    const ok = to !== undefined && to.up && !to.removed && this.linked(m.from, m.to);
    if (ok && m.type === MessageType.Quiesce) this.stats.quiesceMsgs!++;
    if (m.type === MessageType.Snapshot && from?.raw) {
      if (ok) {
        to.raw!.step(m);
        this.drain(to);
        from.raw.reportSnapshot(m.to, true);
        this.drain(from);
      } else {
        from.raw.reportSnapshot(m.to, false);
      }
      return;
    }
    if (!ok) return;
    this.mix(5, m.from, m.to, m.type, m.term, m.index);
    this.log(
      () =>
        `${m.from}->${m.to} ${MSG_NAMES[m.type]} t${m.term} i${m.index} lt${m.logTerm} c${m.commit}` +
        (m.entries.length ? ` [${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]` : '') +
        (m.reject ? ` reject hint ${m.rejectHint}` : ''),
    );
    to.raw!.step(m);
    this.drain(to);
  }

  // ---- clients -------------------------------------------------------------------------------

  private newOp(c: Client): ClientOp {
    const r = this.rng;
    const key = `k${r.int(0, this.sc.keys)}`;
    const id = ++this.opSeq;
    const x = r.next();
    const input: KvInput =
      x < this.sc.readRatio
        ? { kind: 'get', key }
        : r.next() < 0.5
          ? { kind: 'put', key, value: `p${id};` }
          : { kind: 'append', key, value: `a${id};` };
    return { id, client: c.id, input, call: this.now, ret: Infinity, output: undefined, viaLog: r.next() < 0.3, attempts: 0 };
  }

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.removed);
  }

  private submit(c: Client): void {
    const op = c.op!;
    op.attempts++;
    let target = this.rng.next() < this.sc.clientSpread ? undefined : this.nodes.get(c.leaderHint);
    if (!target || !target.up || target.removed) {
      const ups = this.upNodes();
      if (ups.length === 0) {
        c.nextAt = this.now + TICK;
        return;
      }
      target = ups[this.rng.int(0, ups.length)]!;
    }
    const raw = target.raw!;
    if (this.sc.bug === 'local-read' && op.input.kind === 'get') {
      this.complete(op, target.kv.get(op.input.key));
      return;
    }
    try {
      if (op.input.kind === 'get' && !op.viaLog) {
        const ctx = `r${op.id}.${op.attempts}`;
        raw.readIndex(new TextEncoder().encode(ctx));
        target.pendingReads.set(ctx, op);
      } else {
        const idx = raw.propose(encodeCommand({ opId: op.id, input: op.input }));
        target.pendingProps.set(idx, { term: raw.term, op });
      }
      c.nextAt = Infinity; // wait for the answer (or the deadline)
      this.mix(6, op.id, target.id);
      this.log(() => `client ${c.id} op ${op.id} ${JSON.stringify(op.input)} -> node ${target.id}`);
      this.drain(target);
    } catch (e) {
      if (!(e instanceof NotLeaderError) && !(e instanceof Error && /OVERLOAD|BUSY/.test(e.message))) throw e;
      c.leaderHint = e instanceof NotLeaderError ? e.leaderId : 0;
      c.nextAt = this.now + this.rng.int(1, 3) * TICK;
    }
  }

  private complete(op: ClientOp, output: string): void {
    const c = this.clients[op.client]!;
    if (c.op !== op) return; // the client gave up on it already
    op.ret = this.now;
    op.output = output;
    this.history.push(op);
    this.stats.opsOk!++;
    this.mix(7, op.id, hashBytes(new TextEncoder().encode(output)));
    this.log(() => `client ${c.id} op ${op.id} done: ${JSON.stringify(output)}`);
    c.op = undefined;
    c.nextAt = this.now + this.rng.int(0, 5) * TICK;
  }

  private retryLater(op: ClientOp, why: string): void {
    const c = this.clients[op.client]!;
    if (c.op !== op) return;
    this.log(() => `client ${c.id} op ${op.id} ${why}: retry`);
    c.leaderHint = 0;
    c.nextAt = this.now + TICK;
  }

  private clientStep(c: Client, acceptNew: boolean): void {
    if (c.op && this.now - c.op.call > 100 * TICK) {
      // Give up: a write's outcome is unknown; an unanswered read is just dropped.
      const op = c.op;
      if (op.input.kind === 'get') this.stats.readsDropped!++;
      else {
        this.history.push(op);
        this.stats.opsUnknown!++;
      }
      this.log(() => `client ${c.id} op ${op.id} timed out`);
      c.op = undefined;
      c.nextAt = this.now + TICK;
    }
    if (this.now < c.nextAt) return;
    if (!c.op) {
      if (!acceptNew) return;
      c.op = this.newOp(c);
    }
    this.submit(c);
  }

  // ---- faults --------------------------------------------------------------------------------

  private faults(): void {
    const r = this.rng;
    const all = [...this.nodes.values()].filter((n) => !n.removed);
    if (r.next() < this.sc.crashRate) {
      const ups = all.filter((n) => n.up);
      const downs = all.length - ups.length;
      if (ups.length > 0 && downs < Math.ceil(all.length / 2)) this.crash(ups[r.int(0, ups.length)]!, 'random');
    }
    if (this.now >= this.partitionUntil && this.group.size > 0) {
      this.group.clear();
      this.mix(8);
      this.log(() => 'partition healed');
    } else if (this.group.size === 0 && r.next() < this.sc.partitionRate) {
      for (const n of all) this.group.set(n.id, r.int(0, 2));
      this.partitionUntil = this.now + r.int(5, 80) * TICK;
      this.stats.partitions!++;
      this.mix(9, ...all.map((n) => this.group.get(n.id)!));
      this.log(() => `partition ${all.map((n) => `${n.id}:${this.group.get(n.id)}`).join(' ')} until ${this.partitionUntil}`);
    }
    const leader = this.currentLeader();
    if (!leader) return;
    if (this.sc.transfers && r.next() < 0.01) {
      const others = leader.raw!.status().conf.voters.filter((v) => v !== leader.id);
      if (others.length > 0) {
        const to = others[r.int(0, others.length)]!;
        this.stats.transfers!++;
        this.log(() => `transfer ${leader.id} -> ${to}`);
        leader.raw!.transferLeader(to);
        this.drain(leader);
      }
    }
    if (this.sc.membership && r.next() < 0.01) this.changeMembership(leader);
  }

  private changeMembership(leader: SimNode): void {
    const raw = leader.raw!;
    const conf = raw.status().conf;
    let cc: { type: ConfChangeType; nodeId: NodeId };
    if (conf.learners.length > 0) {
      cc = { type: ConfChangeType.AddVoter, nodeId: conf.learners[0]! };
    } else if (conf.voters.length > this.sc.nodes || (conf.voters.length > 1 && this.rng.next() < 0.2)) {
      cc = { type: ConfChangeType.RemoveNode, nodeId: conf.voters[this.rng.int(0, conf.voters.length)]! };
    } else {
      const id = this.nextNodeId++;
      this.nodes.set(id, new SimNode(id, []));
      this.start(this.nodes.get(id)!);
      cc = { type: ConfChangeType.AddLearner, nodeId: id };
    }
    try {
      raw.proposeConfChange(cc);
      this.stats.confChanges!++;
      this.log(() => `propose conf change ${JSON.stringify(cc)} at ${leader.id}`);
      this.drain(leader);
    } catch (e) {
      if (!(e instanceof Error && /BUSY|NOT_LEADER/.test(e.message))) throw e;
    }
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.up && !n.removed && n.raw!.role === Role.Leader && (!best || n.raw!.term > best.raw!.term)) best = n;
    }
    return best;
  }

  // ---- main loop -----------------------------------------------------------------------------

  private stepTime(chaos: boolean): void {
    const t = this.now;
    const due = this.buckets.get(t);
    if (due) {
      this.buckets.delete(t);
      for (const m of due) this.deliver(m);
    }
    for (const n of this.nodes.values()) {
      if (n.removed) continue;
      if (!n.up) {
        if (t >= n.restartAt) {
          this.log(() => `restart ${n.id}`);
          this.mix(10, n.id);
          this.start(n);
        }
        continue;
      }
      if (n.writing && t >= n.writing.at) {
        this.finishWrite(n);
        if (!n.up) continue;
      }
      // Every replica ticks at the same rate, each with its own phase.
      if ((t + n.id * 3) % TICK === 0) {
        if (this.sc.quiesce) this.wakeIfPeerGone(n);
        n.raw!.tick();
        this.drain(n);
      }
    }
    if (t % TICK === 0) {
      if (chaos) this.faults();
      for (const c of this.clients) this.clientStep(c, chaos);
    }
    this.now++;
  }

  run(): SimResult {
    try {
      while (this.now < this.sc.chaosUnits) this.stepTime(true);
      // Heal: no new faults, everyone back up, clients finish what they started.
      this.group.clear();
      for (const n of this.nodes.values()) if (!n.up && !n.removed) n.restartAt = this.now;
      const end = this.now + this.sc.healUnits;
      let converged = false;
      while (this.now < end && !converged) {
        this.stepTime(false);
        if (this.now % (5 * TICK) === 0) converged = this.converged() === undefined;
      }
      const why = this.converged();
      if (why) this.fail(why);
      this.checkHistory();
      return { seed: this.sc.seed, ok: true, traceHash: this.hash.toString(16), stats: this.stats };
    } catch (e) {
      const msg = e instanceof SimFailure ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
      return { seed: this.sc.seed, ok: false, failure: msg, traceHash: this.hash.toString(16), stats: this.stats };
    }
  }

  /**
   * After healing: one leader has replicated and committed everything, every member applied it
   * and holds the same state. Returns what is still wrong, or undefined.
   */
  private converged(): string | undefined {
    const leader = this.currentLeader();
    if (!leader) return 'liveness: no leader after healing';
    const st = leader.raw!.status();
    if (st.commit !== st.lastIndex) return `liveness: leader commit ${st.commit} < last index ${st.lastIndex}`;
    for (const c of this.clients) if (c.op) return `liveness: client ${c.id} still waits for op ${c.op.id}`;
    for (const id of [...st.conf.voters, ...st.conf.learners]) {
      const n = this.nodes.get(id);
      if (!n || !n.up) return `liveness: member ${id} is not running after healing`;
      if (n.applied !== st.commit) return `liveness: member ${id} applied ${n.applied}, leader ${leader.id} committed ${st.commit}`;
      if (n.kv.digest() !== leader.kv.digest()) this.fail(`state machine safety: member ${id} state differs from leader's`);
    }
    return undefined;
  }

  private checkHistory(): void {
    // Unanswered clients: their writes' outcomes are unknown.
    for (const c of this.clients) {
      if (c.op && !(c.op.input.kind === 'get')) {
        this.history.push(c.op);
        this.stats.opsUnknown!++;
      }
    }
    // A write whose client gave up and that no replica applied by the end (when everything has
    // converged) never took effect: drop it. Unknown outcomes otherwise blow up the search.
    const known = this.history.filter((o) => o.output !== undefined || this.appliedOps.has(o.id));
    this.stats.opsUnknownApplied = known.filter((o) => o.output === undefined).length;
    const ops: Operation<KvInput, string>[] = known.map((o) => ({
      clientId: o.client,
      input: o.input,
      call: o.call,
      ret: o.ret,
      output: o.output,
    }));
    const r = checkLinearizable(kvModel, ops);
    if (r.ok === false) this.fail(`linearizability violated on key ${(r.ops[0]!.input as KvInput).key}:\n${describeOps(r.ops)}`);
    if (r.ok === 'unknown') this.fail('linearizability check exceeded its budget');
  }
}

export function runSeed(seed: number, overrides: Partial<Scenario> = {}, verbose?: (line: string) => void): SimResult {
  return new Simulation(scenarioFor(seed, overrides), verbose).run();
}
