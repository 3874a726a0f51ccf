// RaftNode: hosts many Raft groups in one process. It owns the shared tick, each group's log and
// snapshot storage, and the transport, and runs the core's Ready cycle for all groups at once:
//
//   round: collect a Ready from every group that has one
//          0. send leader traffic (appends, heartbeats) at once, in parallel with the disk
//          1. persist all of them — appends buffered per group log, then one fdatasync per log,
//             all logs syncing in parallel (group commit across proposals and across groups)
//          2. send the rest (acknowledgements, votes): every message bound for the same peer,
//             from every group, in one batch (driver/outbox.ts)
//          3. apply committed entries (settling the proposers' promises) and reads — those an
//             earlier round already made durable here are applied during the write of step 1
//          4. advance
//   rounds run back to back while work arrives; proposals and messages that arrive during a
//   round's fdatasync are batched into the next. A leader of three voters or more does not
//   hold the round for its own write (asynchronous storage writes): its Ready is advanced at
//   once (RawNode.advanceWriting), the write finishes behind the rounds (finishWriteBehind ->
//   RawNode.written), and meanwhile the next rounds step its followers' acknowledgements,
//   commit, apply and answer — the core hands out only what needs no disk until written().
//
// Time, timers and randomness are injected, so the same driver runs in a simulation.
import { join } from 'node:path';
import {
  CurveError,
  StatusCode,
  createLogger,
  systemClock,
  systemRandom,
  systemTimer,
  trace,
  tracing,
  type Clock,
  type Logger,
  type Random,
  type Timer,
  type TimerHandle,
} from '../common/index.ts';
import {
  ConfChangeType,
  NotLeaderError,
  RawNode,
  decodeConfChangeEntry,
  type ConfChange,
  type RaftConfig,
  type RaftStatus,
} from './core/index.ts';
import { EntryType, MessageType, Role, isLeaderTraffic, type ConfState, type Entry, type NodeId, type RaftMessage, type Ready, type SnapshotMeta } from './core/types.ts';
import { RaftLog, type RaftLogOptions, type LogOpenReport } from './log/index.ts';
import { SnapshotStore, type SnapshotOpenReport } from './snapshot/index.ts';
import { AddressBook } from './address-book.ts';
import { Group } from './driver/group.ts';
import { GroupTicks } from './driver/ticks.ts';
import { Outbox } from './driver/outbox.ts';
import { PeerLiveness } from './driver/peer-liveness.ts';
import { receiveSnapshotChunk, sendSnapshot, type TransferHost } from './driver/snapshot-transfer.ts';
import { expireRequests, issueReads, releaseReads, settleProposal } from './driver/requests.ts';
import { readGroupMeta, writeGroupMeta } from './driver/group-meta.ts';
import { nodeStorage, type RaftStorage } from './storage.ts';
import type { StateMachine } from './state-machine.ts';
import type { GroupMessage, RaftTransport, SnapshotChunk } from './transport.ts';

export interface RaftNodeOptions {
  /** This replica's id in every group it hosts. */
  id: NodeId;
  /** Each group keeps its files in dataDir/group-<id>/. */
  dataDir: string;
  transport: RaftTransport;
  /** NodeId -> "host:port"; NOT_LEADER errors carry the leader's address from here. */
  addresses?: AddressBook;
  /**
   * Milliseconds per tick. Default 50: with electionTick 10 the election timeout is randomized in
   * [0.5 s, 1 s) and followers' vote lease is 0.4 s, so a leader's death is noticed in 0.5–1 s
   * (the metaservers' setting too); heartbeats every tick cost one small message per group and
   * follower every 50 ms, batched per peer.
   */
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Further core settings (pre-vote, check-quorum, read lease, flow control). */
  raft?: Omit<RaftConfig, 'id' | 'random' | 'electionTick' | 'heartbeatTick' | 'quiesce'>;
  /**
   * Quiescence (docs/raft.md): an idle group sends nothing and its followers stop their election
   * timers; the node sends each peer one small liveness batch every few ticks instead, and wakes the
   * quiesced followers of a leader whose process is gone. Default true.
   */
  quiesce?: boolean;
  /**
   * Asynchronous storage writes (docs/raft.md, "Rounds"): a leader's log write runs behind the
   * rounds, off the main thread, and the next rounds commit from its followers' acknowledgements,
   * apply and answer while it runs; its own copy counts once durable. Default false: measured in
   * a quiet window on this machine kind (fdatasync ~0.1 ms) the lone commit was no faster
   * (p50 0.59–0.61 vs 0.53–0.54 ms) and the leader spent ~30 % more CPU per commit (the
   * threadpool hand-off); it pays where the leader's disk is slow next to the round trip.
   */
  asyncWrites?: boolean;
  /** Deadline of propose/read/changeMembership unless the call gives one (default 10 s). */
  requestTimeoutMs?: number;
  /** Take a snapshot once this many entries were applied since the last one (default 100,000). */
  snapshotEntries?: number;
  /** ... or once this many bytes of entries were applied since the last one (default 64 MiB). */
  snapshotBytes?: number;
  /**
   * ... or once this many milliseconds passed since the last one (or since the group opened) and
   * anything was applied since: a quiet group's log is still compacted, and a restart replays at
   * most this much history (default 1 hour, like braft's snapshot_interval; 0 = no age bound).
   */
  snapshotIntervalMs?: number;
  /** Entries kept in memory behind a snapshot, so slightly slow followers need no snapshot (default 1,000). */
  snapshotKeepEntries?: number;
  /** Batches in flight to one peer before further ones are dropped (Raft retransmits; default 256). */
  maxInflightBatchesPerPeer?: number;
  log?: Omit<RaftLogOptions, 'storage'>;
  /** Where groups keep their files: the real disk by default (the simulation passes its own). */
  storage?: RaftStorage;
  /**
   * Called when a membership change that removes this replica is applied here (the group stays
   * open; the owner decides when to removeGroup({destroy})). A removed replica often never applies
   * its own removal — the leader stops talking to it once the change is appended — so whoever
   * removed it should also tell it directly.
   */
  onRemoved?: (groupId: number) => void;
  /**
   * Called once when a group stops because its storage failed (ENOSPC, EIO) or its state
   * machine threw: it has stepped down and serves nothing more; the owner decides what to do
   * (a metaserver closes it and reports the replica broken, so the MDS replaces it).
   */
  onGroupFailed?: (groupId: number, error: Error) => void;
  clock?: Clock;
  timer?: Timer;
  random?: Random;
  logger?: Logger;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export interface MembershipChange extends ConfChange {
  /** Address of the node being added; recorded in the address book of every replica. */
  address?: string;
}

export interface GroupStatus extends RaftStatus {
  groupId: number;
  leaderAddress: string | undefined;
  snapshotIndex: number;
  pendingProposals: number;
}

/** What addGroup found on disk and had to repair. */
export interface GroupOpenReport {
  log: LogOpenReport;
  snapshot: SnapshotOpenReport;
  restoredSnapshot: SnapshotMeta | undefined;
  /** The log held entries of a history the snapshot replaced; they were dropped. */
  logReset: boolean;
}

/** See RaftNodeOptions.tickMs. */
const DEFAULT_TICK_MS = 50;

export class RaftNode {
  readonly id: NodeId;
  readonly addresses: AddressBook;
  private readonly opts: Required<Pick<RaftNodeOptions, 'tickMs' | 'electionTick' | 'heartbeatTick' | 'requestTimeoutMs' | 'snapshotEntries' | 'snapshotBytes' | 'snapshotIntervalMs' | 'snapshotKeepEntries' | 'maxInflightBatchesPerPeer' | 'quiesce' | 'asyncWrites'>>;
  private readonly groups = new Map<number, Group>();
  /** Groups whose addGroup() is reading their files. */
  private readonly opening = new Set<number>();
  private readonly clock: Clock;
  private readonly timer: Timer;
  private readonly random: Random;
  private readonly log: Logger;
  private readonly transport: RaftTransport;
  private readonly fs: RaftStorage;
  private tickHandle: TimerHandle | undefined;
  /** The clock turned into core ticks (driver/ticks.ts). */
  private readonly ticks: GroupTicks;
  /** Which peer processes seem alive (quiescence: driver/peer-liveness.ts). */
  private readonly liveness: PeerLiveness;
  /** Outgoing batches, one per peer per round; commit-index-only appends held (driver/outbox.ts). */
  private readonly outbox: Outbox;
  /** Peers sharing a group with this node, as of timer callback `peersAt` (see watchPeers). */
  private peers: Set<NodeId> | undefined;
  private peersAt = 0;
  /** Timer callbacks so far: peer liveness's clock (see watchPeers). */
  private tickCallbacks = 0;
  /** Callbacks between liveness pings to a peer we send nothing else. */
  private readonly pingEvery: number;
  /** What snapshot transfers (driver/snapshot-transfer.ts) need of this node. */
  private readonly transferHost: TransferHost;
  private loop: Promise<void> | undefined;
  /** The round being run, if any (closing a group waits for it). */
  private currentRound: Promise<boolean> | undefined;
  /** Leaders' writes running behind the rounds (see finishWriteBehind). */
  private readonly writesBehind = new Set<Promise<void>>();
  /** Leaders' writes that finished behind the rounds (asyncWrites), for simulations and tests. */
  writesBehindDone = 0;
  private again = false;
  private stopped = false;

  constructor(private readonly cfg: RaftNodeOptions) {
    this.id = cfg.id;
    this.addresses = cfg.addresses ?? new AddressBook();
    this.clock = cfg.clock ?? systemClock;
    this.timer = cfg.timer ?? systemTimer;
    this.random = cfg.random ?? systemRandom;
    this.log = cfg.logger ?? createLogger(`raft/node-${cfg.id}`);
    this.transport = cfg.transport;
    this.fs = cfg.storage ?? nodeStorage;
    this.opts = {
      tickMs: cfg.tickMs ?? DEFAULT_TICK_MS,
      electionTick: cfg.electionTick ?? 10,
      heartbeatTick: cfg.heartbeatTick ?? 1,
      requestTimeoutMs: cfg.requestTimeoutMs ?? 10_000,
      snapshotEntries: cfg.snapshotEntries ?? 100_000,
      snapshotBytes: cfg.snapshotBytes ?? 64 << 20,
      snapshotIntervalMs: cfg.snapshotIntervalMs ?? 3_600_000,
      snapshotKeepEntries: cfg.snapshotKeepEntries ?? 1000,
      maxInflightBatchesPerPeer: cfg.maxInflightBatchesPerPeer ?? 256,
      quiesce: cfg.quiesce ?? true,
      asyncWrites: cfg.asyncWrites ?? false,
    };
    // Silent for an election timeout's worth of timer callbacks: gone (a refused send says so at once).
    this.liveness = new PeerLiveness(this.opts.electionTick);
    this.pingEvery = Math.max(1, Math.floor(this.opts.electionTick / 3));
    this.transport.listen({
      onMessages: (batch, from) => this.onMessages(batch, from),
      onSnapshotChunk: (c) => this.onSnapshotChunk(c),
    });
    this.ticks = new GroupTicks(this.clock, this.opts.tickMs, 4 * this.opts.electionTick);
    this.transferHost = {
      transport: this.transport,
      log: this.log,
      kick: () => this.kick(),
      stopped: () => this.stopped,
      noteDropped: (g, msg) => this.noteDropped(g, msg),
    };
    this.outbox = new Outbox({
      transport: this.transport,
      maxInflightBatchesPerPeer: this.opts.maxInflightBatchesPerPeer,
      now: () => this.tickCallbacks,
      isOpen: (groupId) => this.groups.has(groupId),
      unreachable: (to, batch) => this.unreachable(to, batch),
    });
    this.tickHandle = this.timer.setInterval(() => this.onTick(), this.opts.tickMs);
  }

  // ---- groups ------------------------------------------------------------------------------

  /**
   * Opens (or creates) group `groupId` on this node. `peers` are the initial voters of a new
   * group (the same list on every initial member); a replica that joins an existing group passes
   * []. After a restart the stored membership wins and `peers` is ignored. Restores the state
   * machine from the newest snapshot; the log after it is replayed through apply().
   */
  async addGroup(groupId: number, peers: NodeId[], sm: StateMachine): Promise<GroupOpenReport> {
    this.checkRunning();
    if (!Number.isSafeInteger(groupId) || groupId < 0) throw new CurveError(StatusCode.PARAM_ERROR, `invalid group id ${groupId}`);
    if (this.groups.has(groupId) || this.opening.has(groupId)) throw new CurveError(StatusCode.PARAM_ERROR, `group ${groupId} is already open`);
    this.opening.add(groupId);
    try {
      return await this.openGroup(groupId, peers, sm);
    } finally {
      this.opening.delete(groupId);
    }
  }

  private async openGroup(groupId: number, peers: NodeId[], sm: StateMachine): Promise<GroupOpenReport> {
    const dir = join(this.cfg.dataDir, `group-${groupId}`);
    await this.fs.mkdirp(dir);
    let meta = await readGroupMeta(this.fs, dir);
    if (!meta) {
      meta = { groupId, initialConf: { voters: [...new Set(peers)].sort((a, b) => a - b), learners: [] } };
      await writeGroupMeta(this.fs, dir, meta);
    }
    const { store: snaps, report: snapReport } = await SnapshotStore.open(join(dir, 'snap'), this.log, this.fs);
    const opened = await RaftLog.open(join(dir, 'log'), { logger: this.log, ...this.cfg.log, storage: this.fs });
    try {
      const snapMeta: SnapshotMeta = snaps.latest ?? { index: 0, term: 0, conf: meta.initialConf };
      if (snaps.latest) await sm.restore(snaps.readData());
      const { entries, reset } = await entriesAfterSnapshot(opened.log, opened.entries, snapMeta);
      this.learnAddresses(entries);
      const node = new RawNode(
        {
          ...this.cfg.raft,
          id: this.id,
          random: this.random,
          electionTick: this.opts.electionTick,
          heartbeatTick: this.opts.heartbeatTick,
          quiesce: this.opts.quiesce,
        },
        { hardState: opened.hardState, snapshotMeta: snapMeta, entries, applied: snapMeta.index },
      );
      this.checkRunning();
      const durable = entries.length > 0 ? entries[entries.length - 1]!.index : snapMeta.index;
      const g = new Group(groupId, dir, node, opened.log, snaps, sm, snapMeta.index, durable);
      g.snapshotAt = this.clock.now();
      g.ticked = this.ticks.ticks;
      this.groups.set(groupId, g);
      this.peers = undefined; // its members are pinged from the next tick
      this.kick();
      return { log: opened.report, snapshot: snapReport, restoredSnapshot: snaps.latest, logReset: reset };
    } catch (e) {
      await opened.log.close();
      throw e;
    }
  }

  /**
   * Closes group `groupId` on this node; its waiting requests fail with GROUP_REMOVED. With
   * `destroy`, its files are deleted too (the replica was removed from the group).
   */
  async removeGroup(groupId: number, opts: { destroy?: boolean } = {}): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) throw new CurveError(StatusCode.COPYSET_NOTEXIST, `group ${groupId} is not open here`);
    g.removed = true;
    this.groups.delete(groupId);
    g.failAll(new CurveError(StatusCode.GROUP_REMOVED, `group ${groupId} was removed from node ${this.id}`));
    await this.closeGroup(g);
    if (opts.destroy) await this.fs.removeTree(g.dir);
  }

  hasGroup(groupId: number): boolean {
    return this.groups.has(groupId);
  }

  groupIds(): number[] {
    return [...this.groups.keys()];
  }

  // ---- requests ----------------------------------------------------------------------------

  /**
   * Replicates `data` and applies it; settles with the state machine's result (or its error)
   * once applied here. Fails with NOT_LEADER (leaderHint: the leader's address when known),
   * TIMEOUT (outcome unknown), GROUP_REMOVED or SHUTTING_DOWN.
   */
  propose(groupId: number, data: Uint8Array, opts: RequestOptions = {}): Promise<unknown> {
    let g: Group;
    let index: number;
    try {
      g = this.group(groupId);
      index = g.node.propose(data);
      if (tracing) trace('raft.propose');
    } catch (e) {
      return Promise.reject(this.translate(e));
    }
    const term = g.node.term;
    this.kick();
    return new Promise((resolve, reject) => {
      g.proposals.set(index, { term, resolve, reject, deadline: this.deadline(opts) });
    });
  }

  /**
   * Resolves once a linearizable read may be served from this replica's state machine: the
   * leader confirmed its leadership (ReadIndex) and applied everything committed before the call.
   */
  read(groupId: number, opts: RequestOptions = {}): Promise<void> {
    let g: Group;
    try {
      g = this.group(groupId);
      if (g.node.role !== Role.Leader) throw new NotLeaderError(g.node.leader, 'reads are served by the leader');
    } catch (e) {
      return Promise.reject(this.translate(e));
    }
    this.kick();
    return new Promise((resolve, reject) => {
      g.readQueue.push({ resolve, reject, deadline: this.deadline(opts) });
    });
  }

  /** Adds or removes one member; resolves with the new membership once the change is applied here. */
  changeMembership(groupId: number, change: MembershipChange, opts: RequestOptions = {}): Promise<ConfState> {
    let g: Group;
    let index: number;
    try {
      g = this.group(groupId);
      const cc: ConfChange = { type: change.type, nodeId: change.nodeId };
      if (change.address) cc.context = new TextEncoder().encode(change.address);
      index = g.node.proposeConfChange(cc);
    } catch (e) {
      return Promise.reject(this.translate(e));
    }
    const term = g.node.term;
    this.kick();
    return new Promise((resolve, reject) => {
      g.proposals.set(index, { term, resolve: resolve as (v: unknown) => void, reject, deadline: this.deadline(opts) });
    });
  }

  /** Asks this replica (the leader) to hand leadership to `to`; watch status() for the outcome. */
  transferLeader(groupId: number, to: NodeId): void {
    try {
      this.group(groupId).node.transferLeader(to);
    } catch (e) {
      throw this.translate(e);
    }
    this.kick();
  }

  /** Starts an election on this replica now (tests, tools; normally elections start on timeout). */
  campaign(groupId: number): void {
    this.group(groupId).node.campaign();
    this.kick();
  }

  status(groupId: number): GroupStatus {
    const g = this.group(groupId);
    const s = g.node.status();
    return {
      ...s,
      applied: g.applied,
      groupId,
      leaderAddress: s.leader ? this.addressOf(s.leader) : undefined,
      snapshotIndex: g.snapshotIndex,
      pendingProposals: g.proposals.size,
    };
  }

  /**
   * Resolves once no round is running. For tests and tools on a manual clock: disk writes take
   * real time, and simulated time that runs ahead of them expires election timers and requests
   * while an fdatasync is still in flight.
   */
  async idle(): Promise<void> {
    while (this.loop || this.writesBehind.size > 0) {
      if (this.loop) await this.loop;
      else await Promise.all([...this.writesBehind]);
    }
  }

  /** Stops ticking and processing, fails waiting requests with SHUTTING_DOWN and closes storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickHandle) this.timer.clear(this.tickHandle);
    const err = new CurveError(StatusCode.SHUTTING_DOWN, `raft node ${this.id} is stopping`);
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const g of groups) {
      g.removed = true;
      g.failAll(err);
    }
    await Promise.all(groups.map((g) => this.closeGroup(g)));
  }

  // ---- the Ready cycle ---------------------------------------------------------------------

  /** Schedules a round (coalesced: one loop runs rounds back to back while there is work). */
  private kick(): void {
    if (this.stopped) return;
    if (this.loop) {
      this.again = true;
      return;
    }
    this.loop = Promise.resolve()
      .then(() => this.runRounds())
      .catch((e: unknown) => this.log.error('raft loop failed', { error: String(e), stack: (e as Error).stack }))
      .finally(() => {
        this.loop = undefined;
        if (this.again) this.kick();
      });
  }

  private async runRounds(): Promise<void> {
    do {
      this.again = false;
      for (;;) {
        if (this.stopped) break;
        this.currentRound = this.round();
        if (!(await this.currentRound)) break;
      }
    } while (this.again && !this.stopped);
  }

  private async round(): Promise<boolean> {
    const work: [Group, Ready][] = [];
    /** Groups whose Ready is handed out while their own write runs (nothing to persist). */
    const whileWriting = new Set<Group>();
    /** Leaders whose write runs behind the round (asynchronous storage writes). */
    const writeBehind = new Set<Group>();
    for (const g of this.groups.values()) {
      if (g.failed) continue;
      issueReads(g, (x) => this.ticks.catchUp(x), (e) => this.translate(e));
      if (!g.node.hasReady()) continue;
      if (g.node.writeInFlight) whileWriting.add(g);
      const rd = g.node.ready();
      work.push([g, rd]);
      if (this.opts.asyncWrites && !whileWriting.has(g) && this.othersCanCommit(g) && !rd.snapshot && (rd.entries.length > 0 || rd.mustSync)) writeBehind.add(g);
    }
    if (work.length === 0) return false;
    if (tracing) traceRound('raft.round', work);
    // The core adopts a configuration when its entry is appended, not when it commits, and may
    // send to a new member in this very Ready: the transport must know the address by now.
    for (const [, rd] of work) this.learnAddresses(rd.entries);

    // 0. A leader's own messages go out while its disk write runs (Raft thesis §10.2.1). Safe
    //    because the core counts the leader's own copy toward a commit, and a candidate's own
    //    vote toward leadership, only once advance()/written() reports them durable: these
    //    appends carry no commit index and no term that the disk does not already back.
    //    Everything else — acknowledgements, votes — waits for the disk.
    this.send(work, true);
    // 1. Persist, every group's log synced at once. A lone small entry may be written on this
    //    thread (RaftLogOptions.inlineBytes); several logs' writes go to the threadpool together,
    //    so they run in parallel rather than one after another. A leader's write runs behind
    //    the round, off this thread, so that its followers' acknowledgements are read, commit
    //    and are answered while it runs (writeBehind below).
    const writes = work.filter(([g, rd]) => !whileWriting.has(g) && (rd.entries.length > 0 || rd.mustSync || rd.snapshot));
    const mayInline = writes.length <= 1;
    const ackWaitsInline = new Set<Group>();
    const persists = new Map<Group, Promise<void>>();
    for (const [g, rd] of work) {
      if (!whileWriting.has(g)) persists.set(g, this.persist(g, rd, mayInline && !writeBehind.has(g), ackWaitsInline));
    }
    // 3a. Committed entries that an earlier round already made durable here are applied while
    //     this round's write runs: waiting for it would add a disk sync to every commit. So are
    //     a leader's (committed means on a quorum's disks, its own copy counted only once
    //     durable) and those handed out while this replica's write runs (the core hands out only
    //     entries a quorum holds). Not when the write is made on this thread and an
    //     acknowledgement waits for it (a follower's lone entry): then "while" means "before",
    //     and the apply — which nobody waits for on a follower — would delay the
    //     acknowledgement, the commit's own path, by its duration; those are applied after the
    //     acknowledgement left (3b).
    const appliedEarly = new Set<Group>();
    for (const [g, rd] of work) {
      if (!(whileWriting.has(g) || writeBehind.has(g) || this.durableAlready(g, rd)) || ackWaitsInline.has(g)) continue;
      appliedEarly.add(g);
      await this.applyOrFail(g, rd);
    }
    // A leader's write behind the round: its Ready is acknowledged now, and the core hands out
    // the next one (new appends, commits from acknowledgements) before the write is durable.
    for (const g of writeBehind) {
      if (g.failed || g.removed) continue;
      const rd = work.find(([x]) => x === g)![1];
      this.ticks.catchUp(g);
      g.node.advanceWriting();
      this.finishWriteBehind(g, rd, persists.get(g)!);
    }
    await Promise.all([...persists].filter(([g]) => !writeBehind.has(g)).map(([, p]) => p));
    if (tracing) traceRound('raft.persisted', work);
    // 2. Send the rest (acknowledgements must not outrun the disk), one batch per peer.
    this.send(
      work.filter(([g]) => !writeBehind.has(g)),
      false,
    );
    // 3b. Apply what waited for this round's write, 4. advance.
    for (const [g, rd] of work) {
      if (g.failed || g.removed || writeBehind.has(g)) continue;
      if (!appliedEarly.has(g) && !(await this.applyOrFail(g, rd))) continue;
      if (tracing && rd.committedEntries.length > 0) trace(`raft.applied ${roleName(g.role)}`);
      if (g.removed || g.failed) continue;
      // advance() may commit (the leader's own copy is now durable), which releases reads
      // waiting for this leader's first commit: their lease is judged on the clock.
      this.ticks.catchUp(g);
      g.node.advance();
      this.maybeSnapshot(g);
    }
    return true;
  }

  /**
   * A leader whose other voters form a quorum by themselves (3 voters or more): only then can
   * its followers' acknowledgements commit while its own write runs. A single voter, or one of
   * two, needs its own copy for every commit, so its write stays in the round (and inline).
   */
  private othersCanCommit(g: Group): boolean {
    if (g.node.role !== Role.Leader) return false;
    const voters = g.node.conf.voters;
    const others = voters.length - (voters.includes(this.id) ? 1 : 0);
    return others >= Math.floor(voters.length / 2) + 1;
  }

  /**
   * The end of a leader's write that runs behind the rounds: once durable, the messages of its
   * Ready that waited for the disk leave, and the core counts the leader's own copy (written()).
   * A write that failed stopped the group (persist → failGroup): the core never hears of it, so
   * the leader never counts that copy.
   */
  private finishWriteBehind(g: Group, rd: Ready, persisted: Promise<void>): void {
    const done = persisted
      .then(() => {
        if (g.failed || g.removed) return;
        this.writesBehindDone++;
        this.send([[g, rd]], false);
        this.ticks.catchUp(g);
        g.node.written();
        this.maybeSnapshot(g);
        this.kick();
      })
      // Like a round's: an exception here is a bug (e.g. a core invariant), logged as the loop's are.
      .catch((e: unknown) => this.log.error('raft loop failed', { group: g.id, error: String(e), stack: (e as Error).stack }));
    g.writeBehind = done;
    this.writesBehind.add(done);
    void done.finally(() => {
      this.writesBehind.delete(done);
      if (g.writeBehind === done) g.writeBehind = undefined;
    });
  }

  /** True when every entry `rd` hands out for applying was persisted by an earlier round. */
  private durableAlready(g: Group, rd: Ready): boolean {
    if (rd.snapshot || g.failed || g.removed) return false;
    const ce = rd.committedEntries;
    return ce.length === 0 || ce[ce.length - 1]!.index <= g.durableIndex;
  }

  private async applyOrFail(g: Group, rd: Ready): Promise<boolean> {
    try {
      await this.apply(g, rd);
      return true;
    } catch (e) {
      this.failGroup(g, e);
      return false;
    }
  }

  /**
   * Sends the messages of a round that are (`early`) or are not leader traffic: snapshots through
   * their own stream, the rest one batch per peer (driver/outbox.ts).
   */
  private send(work: [Group, Ready][], early: boolean): void {
    const out: GroupMessage[] = [];
    for (const [g, rd] of work) {
      if (g.failed || g.removed) continue;
      for (const m of rd.messages) {
        if (isLeaderTraffic(m.type) !== early) continue;
        if (m.type === MessageType.Snapshot) this.sendSnapshot(g, m);
        else out.push({ groupId: g.id, msg: m });
      }
    }
    if (out.length > 0) this.outbox.send(out);
  }

  /**
   * Makes `rd`'s snapshot, entries and hard state durable. Adds `g` to `ackWaitsInline` (before
   * its first await) when the write is made on this thread and a message of `rd` waits for it.
   */
  private async persist(g: Group, rd: Ready, mayInline: boolean, ackWaitsInline?: Set<Group>): Promise<void> {
    try {
      if (rd.snapshot) {
        const meta = rd.snapshot.meta;
        const key = `${meta.index}-${meta.term}`;
        // Taken out of `received` before the first await: a newer snapshot that arrives while
        // this one installs is stepped into the core and kept in `received` for the next round
        // (onSnapshotChunk drops the files the core did not take).
        const rx = g.received.get(key);
        if (!rx) throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `snapshot ${key} to install was never received`);
        g.received.delete(key);
        // The snapshot first, then the log reset: a crash in between restarts from the new
        // snapshot and drops the stale log (entriesAfterSnapshot).
        await rx.install();
        g.log.resetTo(meta.index, meta.term);
      }
      if (rd.entries.length > 0) g.log.append(rd.entries);
      // A hard state that changed only its commit index (mustSync false) need not be written:
      // after a restart the commit index is learned again from the leader. Written with the
      // next entries or term/vote change, it costs nothing extra.
      if (rd.hardState && (rd.mustSync || g.log.hasPending)) g.log.setHardState(rd.hardState);
      if (g.log.hasPending) {
        if (ackWaitsInline && rd.messages.some((m) => !isLeaderTraffic(m.type)) && g.log.writesInline(mayInline)) ackWaitsInline.add(g);
        if (tracing && rd.entries.length > 0) trace(`raft.write ${roleName(g.role)}`);
        await g.log.sync(rd.mustSync || rd.snapshot !== undefined, mayInline);
        if (tracing && rd.entries.length > 0) trace(`raft.written ${roleName(g.role)}`);
      }
      if (rd.snapshot) g.durableIndex = rd.snapshot.meta.index;
      if (rd.entries.length > 0) g.durableIndex = rd.entries[rd.entries.length - 1]!.index;
      if (rd.snapshot) await g.log.compactPrefix(rd.snapshot.meta.index);
    } catch (e) {
      this.failGroup(g, e);
    }
  }

  private async apply(g: Group, rd: Ready): Promise<void> {
    if (rd.softState) {
      const wasLeader = g.role === Role.Leader;
      g.role = rd.softState.role;
      g.leader = rd.softState.leader;
      if (wasLeader && g.role !== Role.Leader) {
        g.failReads(this.notLeader(g.leader, `node ${this.id} lost leadership of group ${g.id}`));
      }
      g.sm.onRoleChange?.(g.role, g.leader, g.node.term);
    }
    if (rd.snapshot) {
      const meta = rd.snapshot.meta;
      await g.sm.restore(g.snaps.readData());
      g.applied = meta.index;
      g.snapshotIndex = meta.index;
      g.bytesSinceSnapshot = 0;
      g.snapshotAt = this.clock.now();
      const lost = this.notLeader(g.leader, `replaced by a snapshot at ${meta.index}; outcome unknown`);
      for (const [i, p] of g.proposals) {
        if (i <= meta.index) {
          g.proposals.delete(i);
          p.reject(lost);
        }
      }
    }
    for (const e of rd.committedEntries) {
      if (g.removed) return;
      let result: unknown;
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChangeEntry(e.data);
        if (cc.change.context && cc.change.context.length > 0 && cc.change.type !== ConfChangeType.RemoveNode) {
          this.addresses.set(cc.change.nodeId, new TextDecoder().decode(cc.change.context));
        }
        g.sm.onConfChange?.(cc, e.index);
        result = cc.conf;
        if (cc.change.type === ConfChangeType.RemoveNode && cc.change.nodeId === this.id) this.cfg.onRemoved?.(g.id);
      } else if (e.data.length > 0) {
        try {
          result = g.sm.apply(e);
          if (result instanceof Promise) result = await result;
        } catch (err) {
          // Not a result: replicas must apply identically, and an exception (a bug, out of
          // memory) may happen on this replica only. Going on would diverge it silently, so
          // the group stops here, before this entry counts as applied (as etcd and braft do).
          throw new ApplyError(g.id, e, err);
        }
      }
      g.applied = e.index;
      g.bytesSinceSnapshot += e.data.length;
      settleProposal(g, e, result, (detail) => this.notLeader(g.leader, detail));
    }
    releaseReads(g, rd.readStates);
  }

  /** Records the address carried by every membership change among `entries` (added members only). */
  private learnAddresses(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange) continue;
      const cc = decodeConfChangeEntry(e.data).change;
      if (cc.type !== ConfChangeType.RemoveNode && cc.context && cc.context.length > 0) this.addresses.set(cc.nodeId, new TextDecoder().decode(cc.context));
    }
  }

  private failGroup(g: Group, e: unknown): void {
    if (g.failed) return;
    g.failed = e instanceof Error ? e : new Error(String(e));
    if (e instanceof ApplyError) {
      this.log.error('raft group stopped: the state machine threw applying an entry; this replica applies nothing more until it is restarted or rebuilt', {
        group: g.id,
        index: e.index,
        term: e.term,
        error: e.cause instanceof Error ? e.cause.message : String(e.cause),
        stack: e.cause instanceof Error ? e.cause.stack : undefined,
      });
    } else {
      this.log.error('raft group stopped: storage failed', { group: g.id, error: g.failed.message });
    }
    g.failAll(new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `group ${g.id} failed: ${g.failed.message}`));
    // Step down: the core is frozen (never ticked or advanced again), so its followers elect
    // another leader once its heartbeats stop; the owner must not go on acting as leader
    // (answering reads, running transactions) from a replica that can persist nothing.
    if (g.role === Role.Leader) {
      g.role = Role.Follower;
      g.leader = 0;
      g.failReads(this.notLeader(0, `node ${this.id} stopped leading group ${g.id}: its storage failed`));
      g.sm.onRoleChange?.(Role.Follower, 0, g.node.term);
    }
    this.cfg.onGroupFailed?.(g.id, g.failed);
  }

  // ---- snapshots ---------------------------------------------------------------------------

  /** Starts a snapshot in the background once enough was applied since the last one. */
  private maybeSnapshot(g: Group): void {
    if (g.snapshotTask || g.removed || g.failed) return;
    const aged = this.opts.snapshotIntervalMs > 0 && this.clock.now() - g.snapshotAt >= this.opts.snapshotIntervalMs;
    if (g.applied - g.snapshotIndex < this.opts.snapshotEntries && g.bytesSinceSnapshot < this.opts.snapshotBytes && !aged) return;
    if (g.applied <= g.snapshotIndex) return;
    const meta = g.node.snapshotMetaAt(g.applied);
    const source = g.sm.snapshot();
    const bytesBefore = g.bytesSinceSnapshot;
    g.bytesSinceSnapshot = 0;
    g.snapshotAt = this.clock.now();
    g.snapshotTask = (async () => {
      const w = await g.snaps.createWriter(meta);
      try {
        await source(w);
        await w.commit();
      } catch (e) {
        await w.abort();
        throw e;
      }
      g.snapshotIndex = Math.max(g.snapshotIndex, meta.index);
      if (g.removed) return;
      // The core may have moved past this snapshot (a newer one from the leader): then there
      // is nothing left to compact.
      if (g.node.status().firstIndex - 1 <= meta.index) {
        g.node.compact(meta.index, Math.max(0, meta.index - this.opts.snapshotKeepEntries));
      }
      // Not past this replica's own durable log: a leader may apply (and snapshot) entries that
      // its write behind the rounds has not finished yet.
      await g.log.compactPrefix(Math.min(meta.index, g.durableIndex));
    })()
      .catch((e: unknown) => {
        g.bytesSinceSnapshot += bytesBefore;
        this.log.warn('snapshot failed', { group: g.id, index: meta.index, error: String(e) });
      })
      .finally(() => {
        g.snapshotTask = undefined;
        this.kick();
      });
  }

  /** Streams the current snapshot file to a follower that needs it (driver/snapshot-transfer.ts). */
  private sendSnapshot(g: Group, m: RaftMessage): void {
    sendSnapshot(this.transferHost, g, m);
  }

  private async onSnapshotChunk(c: SnapshotChunk): Promise<void> {
    const g = this.groups.get(c.groupId);
    if (!g || this.stopped) throw new CurveError(StatusCode.COPYSET_NOTEXIST, `group ${c.groupId} is not open on node ${this.id}`);
    await receiveSnapshotChunk(this.transferHost, g, c);
  }

  // ---- transport -----------------------------------------------------------------------------

  private unreachable(to: NodeId, batch: GroupMessage[]): void {
    if (tracing) trace('raft.unsent');
    this.liveness.sendFailed(to);
    const seen = new Set<number>();
    for (const { groupId } of batch) {
      if (seen.has(groupId)) continue;
      seen.add(groupId);
      this.groups.get(groupId)?.node.reportUnreachable(to);
    }
  }

  private onMessages(batch: GroupMessage[], from: NodeId | undefined): void {
    if (this.stopped) return;
    if (from !== undefined) this.liveness.heard(from, this.tickCallbacks);
    if (batch.length === 0) return; // a liveness ping
    for (const { groupId, msg } of batch) {
      const g = this.groups.get(groupId);
      if (!g || g.failed) continue;
      try {
        // An acknowledgement may commit this leader's first entry and release the reads that
        // waited for it, judged on the lease: the core's ticks must be the clock's first.
        this.ticks.catchUp(g);
        const dropped = g.node.droppedFromNonMembers;
        if (tracing) traceStep(msg, g.role);
        g.node.step(msg);
        if (g.node.droppedFromNonMembers !== dropped) this.noteDropped(g, msg);
      } catch (e) {
        // A message the core cannot accept (a bug or a corrupt peer): drop it, keep the group.
        this.log.error('raft step failed', { group: groupId, from: msg.from, type: msg.type, error: String(e) });
      }
    }
    this.kick();
  }

  private onTick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    this.ticks.advance();
    for (const g of this.groups.values()) {
      if (g.failed) continue;
      this.ticks.onTimer(g);
      expireRequests(g, now);
      // A quiet group may run no round for a long time: its age bound is checked here — only
      // between rounds, when the state machine is exactly at g.applied.
      if (!this.loop) this.maybeSnapshot(g);
    }
    if (this.opts.quiesce) this.watchPeers();
    this.outbox.flushHeld();
    this.kick();
  }

  /**
   * Quiescence's other half: wakes the quiesced followers whose leader's process seems gone
   * (their election timers stand still and would never fire) and the quiesced leaders with a
   * member that seems gone (check-quorum must judge whether they still lead; a group with a
   * dead member stays awake), and pings every peer that shares a group with this node and was
   * sent nothing for `pingEvery` callbacks, so that peer can tell the same about us. One small
   * batch per peer every few ticks, however many groups.
   */
  private watchPeers(): void {
    // Silence is counted in timer callbacks, not clock ticks: after a stall (GC, a long round, a
    // starved process) the timer fires before the pings that queued meanwhile are read, and a
    // clock-based count would find every peer silent and wake every group at once.
    const now = ++this.tickCallbacks;
    // The peer set is recomputed every election timeout (memberships change rarely; a new peer
    // missed meanwhile only sees us silent for a while, which wakes groups early, no worse).
    if (!this.peers || now - this.peersAt >= this.opts.electionTick) {
      this.peers = new Set();
      this.peersAt = now;
      for (const g of this.groups.values()) {
        const conf = g.node.conf;
        for (const v of conf.voters) if (v !== this.id) this.peers.add(v);
        for (const v of conf.learners) if (v !== this.id) this.peers.add(v);
      }
    }
    const gone = new Set<NodeId>();
    for (const p of this.peers) {
      if (this.liveness.gone(p, now)) gone.add(p);
      // A ping when nothing went to p for a few callbacks: a third of the silence that means
      // "gone", so a live peer is never judged by one late or lost batch. Each ping is a socket
      // write here and a read there (one-way), most of what an idle process spends.
      if (now - this.outbox.lastSent(p) >= this.pingEvery) this.outbox.ping(p);
    }
    if (gone.size === 0) return;
    for (const g of this.groups.values()) {
      if (g.failed || !g.node.quiesced) continue;
      const lead = g.node.leader;
      if (lead !== this.id) {
        if (gone.has(lead)) g.node.wake();
        continue;
      }
      const conf = g.node.conf;
      if (conf.voters.some((v) => gone.has(v)) || conf.learners.some((v) => gone.has(v))) g.node.wake();
    }
  }

  /**
   * A message from a node that is not a member of the group was dropped by the core. Logged at
   * the 1st, 2nd, 4th, 8th … drop per group, so a flood cannot fill the log; the count is in
   * status().droppedFromNonMembers.
   */
  private noteDropped(g: Group, msg: RaftMessage): void {
    const n = g.node.droppedFromNonMembers;
    if ((n & (n - 1)) !== 0) return;
    this.log.warn('raft message from a non-member dropped', { group: g.id, from: msg.from, type: msg.type, term: msg.term, dropped: n });
  }

  // ---- helpers -------------------------------------------------------------------------------

  private group(groupId: number): Group {
    this.checkRunning();
    const g = this.groups.get(groupId);
    if (!g) throw new CurveError(StatusCode.COPYSET_NOTEXIST, `group ${groupId} is not open on node ${this.id}`);
    if (g.failed) throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `group ${groupId} failed: ${g.failed.message}`);
    return g;
  }

  private checkRunning(): void {
    if (this.stopped) throw new CurveError(StatusCode.SHUTTING_DOWN, `raft node ${this.id} is stopped`);
  }

  private deadline(opts: RequestOptions): number {
    return this.clock.now() + (opts.timeoutMs ?? this.opts.requestTimeoutMs);
  }

  private addressOf(id: NodeId): string | undefined {
    return this.addresses.get(id);
  }

  private notLeader(leader: NodeId, detail: string): CurveError {
    const addr = leader ? this.addressOf(leader) : undefined;
    return new CurveError(StatusCode.NOT_LEADER, `${detail}${leader ? ` (leader: node ${leader})` : ''}`, addr);
  }

  private translate(e: unknown): Error {
    if (e instanceof NotLeaderError) return this.notLeader(e.leaderId, e.message.replace(/^NOT_LEADER: /, ''));
    return e instanceof Error ? e : new Error(String(e));
  }

  private async closeGroup(g: Group): Promise<void> {
    // The group is out of the map, so later rounds skip it; let the current one finish with it.
    await this.currentRound?.catch(() => undefined);
    await g.writeBehind;
    await g.snapshotTask;
    for (const rx of [...g.receiving.values(), ...g.received.values()]) await rx.abort();
    g.receiving.clear();
    g.received.clear();
    await g.log.close();
  }
}

/** The state machine threw applying a committed entry: the group stops (see apply). */
class ApplyError extends CurveError {
  readonly index: number;
  readonly term: number;
  constructor(groupId: number, e: Entry, cause: unknown) {
    super(
      StatusCode.STORAGE_INTERNAL_ERROR,
      `state machine of group ${groupId} threw applying entry ${e.index} (term ${e.term}): ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = 'ApplyError';
    this.index = e.index;
    this.term = e.term;
    this.cause = cause;
  }
}

/**
 * The log entries that follow the snapshot, and whether the log had to be reset. The snapshot
 * is made durable before the log is reset to it, so after a crash the log may still hold the
 * history the snapshot replaced: it is dropped here.
 */
async function entriesAfterSnapshot(log: RaftLog, entries: Entry[], snap: SnapshotMeta): Promise<{ entries: Entry[]; reset: boolean }> {
  if (snap.index === 0) return { entries, reset: false };
  let kept: Entry[] = [];
  if (entries.length > 0) {
    const first = entries[0]!.index;
    const last = entries[entries.length - 1]!.index;
    if (first > snap.index + 1) {
      throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `log starts at ${first}, after snapshot ${snap.index}: entries are missing`);
    }
    if (last >= snap.index) {
      const at = first <= snap.index ? entries[snap.index - first]! : undefined;
      // first === snap.index + 1: the log was compacted exactly at this snapshot, so it follows it.
      if (!at || at.term === snap.term) kept = entries.slice(Math.max(0, snap.index + 1 - first));
    }
  }
  if (kept.length === 0 && log.lastIndex !== snap.index) {
    log.resetTo(snap.index, snap.term);
    await log.sync();
    return { entries: [], reset: true };
  }
  return { entries: kept, reset: false };
}

// ---- tracing (CURVEFS_TRACE, src/common/trace.ts): only rounds and messages that carry entries,
// so a create's stamps are not drowned by heartbeats.

function roleName(r: Role): string {
  return r === Role.Leader ? 'leader' : 'follower';
}

function traceRound(stage: string, work: [Group, Ready][]): void {
  for (const [g, rd] of work) {
    if (rd.entries.length > 0 || rd.committedEntries.length > 0) {
      trace(`${stage} ${roleName(g.role)}${rd.entries.length > 0 ? ' entries' : ''}${rd.committedEntries.length > 0 ? ' committed' : ''}`);
      return;
    }
  }
}

function traceStep(msg: RaftMessage, role: Role): void {
  if (msg.type === MessageType.Append && msg.entries.length > 0) trace(`raft.step Append ${roleName(role)}`);
  else if (msg.type === MessageType.AppendResp) trace(`raft.step AppendResp ${roleName(role)}`);
}
