// Safety of the driver (RaftNode) at the points where it runs concurrently with its disk and
// the network (issue [G], scenarios 1, 3, 5 and 6; issue [L], finding 1). Time is a ManualTime:
// ticks happen only when a test moves it, so every interleaving here is the test's choice.
// Some tests reach into a group's storage objects (`internals`) to hold an fdatasync or a
// snapshot install open: the storage modules have no fault-injection seam of their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom, StatusCode, isCurveError, type Clock, type Logger } from '../../src/common/index.ts';
import { RaftNode, type RaftNodeOptions } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { ConfChangeType, MessageType, Role, SnapshotStore, type NodeId, type RaftLog, type RaftMessage } from '../../src/raft/index.ts';
import type { Entry } from '../../src/raft/core/types.ts';
import type { GroupMessage, RaftTransport, RaftTransportHandler } from '../../src/raft/transport.ts';
import { KvStateMachine, encodeKv } from '../helpers/raft-kv.ts';
import { ManualTime } from '../helpers/manual-time.ts';

/** A message with every field the test does not care about zeroed. */
function raftMessage(m: Pick<RaftMessage, 'type' | 'from' | 'to' | 'term'> & Partial<RaftMessage>): RaftMessage {
  return { index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m };
}

const G = 1;
const put = (key: string, value: string) => encodeKv({ op: 'put', key, value });

interface GroupInternals {
  log: RaftLog;
  snaps: SnapshotStore;
}
/** The storage objects of one open group (see the header). */
function internals(n: RaftNode, groupId: number): GroupInternals {
  return (n as unknown as { groups: Map<number, GroupInternals> }).groups.get(groupId)!;
}

/** Records every log call, so a test can see what was reported. */
class CapturingLogger implements Logger {
  readonly records: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'debug', msg, fields });
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'info', msg, fields });
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'error', msg, fields });
  }
  child(): Logger {
    return this;
  }
}

class Harness {
  readonly time = new ManualTime();
  readonly net = new LocalNetwork();
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly loggers = new Map<NodeId, CapturingLogger>();
  /** How far a node's clock runs ahead of the shared time (a frozen process that woke up). */
  readonly ahead = new Map<NodeId, number>();
  constructor(readonly dir: string) {}

  start(id: NodeId, extra: Partial<RaftNodeOptions> = {}): RaftNode {
    const clock: Clock = { now: () => this.time.now() + (this.ahead.get(id) ?? 0), wallTime: () => this.time.wallTime() };
    const logger = new CapturingLogger();
    this.loggers.set(id, logger);
    const n = new RaftNode({
      id,
      dataDir: join(this.dir, `n${id}`),
      transport: this.net.transport(id),
      clock,
      timer: this.time,
      random: new SeededRandom(id),
      tickMs: 100,
      electionTick: 10,
      logger,
      ...extra,
    });
    this.nodes.set(id, n);
    return n;
  }

  /**
   * Waits until no node is running a round (their disks are real: a sync takes real time, and
   * simulated time must not run ahead of it, or requests time out while their fdatasync runs).
   * Nodes in `busy` are not waited for (a test holds their disk).
   */
  async idle(busy: NodeId[] = []): Promise<void> {
    const nodes = [...this.nodes].filter(([id]) => !busy.includes(id)).map(([, n]) => n);
    // Twice, with a turn between: LocalNetwork delivers on a later turn, which may start rounds.
    for (let i = 0; i < 2; i++) {
      await Promise.all(nodes.map((n) => n.idle()));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(nodes.map((n) => n.idle()));
  }

  /** Moves time in ticks, each once the nodes are idle, until `pred` holds (at most `ms` of simulated time). */
  async until(pred: () => boolean, what: string, ms = 60_000, busy: NodeId[] = []): Promise<void> {
    for (let t = 0; !pred(); t += 100) {
      if (t > ms) throw new Error(`not reached within ${ms} simulated ms: ${what}`);
      await this.idle(busy);
      if (pred()) return;
      await this.time.advance(100);
    }
  }

  /** Moves time until `p` settles; returns its value (or throws its error). */
  async settle<T>(p: Promise<T>, what: string): Promise<T> {
    let done = false;
    const q = p.finally(() => {
      done = true;
    });
    q.catch(() => undefined);
    await this.until(() => done, what);
    return q;
  }

  leader(): NodeId | undefined {
    for (const [id, n] of this.nodes) if (n.hasGroup(G) && n.status(G).role === Role.Leader) return id;
    return undefined;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) await n.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Lets queued I/O and promise callbacks run without moving time, until `pred` or `turns` run out. */
async function turns(pred: () => boolean, n = 200): Promise<void> {
  for (let i = 0; i < n && !pred(); i++) await new Promise((r) => setImmediate(r));
}

test("scenario 1: a learner never applies an entry before the single voter's own fdatasync", async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-s1-')));
  let release = () => {};
  try {
    const n1 = h.start(1);
    const n2 = h.start(2);
    await n1.addGroup(G, [1], new KvStateMachine());
    const sm2 = new KvStateMachine();
    await n2.addGroup(G, [], sm2);
    await h.until(() => h.leader() === 1 && n1.status(G).commit === n1.status(G).lastIndex, 'node 1 leads and committed its first entry');
    await h.settle(n1.changeMembership(G, { type: ConfChangeType.AddLearner, nodeId: 2 }), 'learner added');
    await h.settle(n1.propose(G, put('k', 'before')), 'first write');
    await h.until(() => sm2.data.get('k') === 'before', 'the learner caught up');

    // The leader's next fdatasync does not return until the test says so.
    const log = internals(n1, G).log;
    const sync = log.sync.bind(log);
    const gate = new Promise<void>((r) => (release = r));
    log.sync = (durable?: boolean) => gate.then(() => sync(durable));
    const x = n1.propose(G, put('k', 'x'));
    x.catch(() => undefined); // awaited below; a failed assertion must not leave it unhandled
    for (let i = 0; i < 20 && sm2.data.get('k') !== 'x'; i++) {
      await h.idle([1]);
      await h.time.advance(100);
    }
    assert.equal(sm2.data.get('k'), 'before', 'the learner applied x while the only voter had not synced it');
    // The sync completes: now x commits and reaches the learner.
    log.sync = sync;
    release();
    await h.settle(x, 'x applied on the leader');
    await h.until(() => sm2.data.get('k') === 'x', 'the learner applies x');
  } finally {
    release();
    await h.stop();
  }
});

/** A transport that holds the AppendResp messages it receives while `hold` is set. */
function holdingTransport(inner: RaftTransport, state: { hold: boolean; held: GroupMessage[]; handler?: RaftTransportHandler }): RaftTransport {
  return {
    ...inner,
    listen: (h) => {
      state.handler = h;
      inner.listen({
        onMessages: (batch) => {
          if (!state.hold) return h.onMessages(batch);
          const pass = batch.filter((m) => m.msg.type !== MessageType.AppendResp);
          state.held.push(...batch.filter((m) => m.msg.type === MessageType.AppendResp));
          if (pass.length > 0) h.onMessages(pass);
        },
        onSnapshotChunk: (c) => h.onSnapshotChunk(c),
      });
    },
  };
}

test('scenario 3: reads released by the first commit of a new leader judge the lease on the clock', async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-s3-')));
  const holds = new Map<NodeId, { hold: boolean; held: GroupMessage[]; handler?: RaftTransportHandler }>();
  try {
    for (const id of [1, 2, 3]) {
      const state = { hold: true, held: [] as GroupMessage[] };
      holds.set(id, state);
      const n = h.start(id, {
        transport: holdingTransport(h.net.transport(id), state),
        raft: { readOnlyOption: 'lease', checkQuorum: true, preVote: true },
      });
      await n.addGroup(G, [1, 2, 3], new KvStateMachine());
    }
    // A leader is elected; its followers' acknowledgements of its first entry are held back,
    // heartbeats and their answers flow: it has a lease but no commit in its term yet.
    await h.until(() => h.leader() !== undefined, 'a leader');
    const l = h.leader()!;
    const leader = h.nodes.get(l)!;
    await h.time.advance(300);
    assert.equal(leader.status(G).role, Role.Leader);
    const read = leader.read(G, { timeoutMs: 10_000 });
    let outcome: string | undefined;
    void read.then(
      () => (outcome = 'served'),
      (e: unknown) => (outcome = `refused: ${String(e)}`),
    );
    await turns(() => false, 20); // the read reaches the core and waits for the first commit
    assert.equal(outcome, undefined);

    // The leader's process stalls for 3 s (three election timeouts) and is cut off; the others
    // may have elected a new leader and taken writes meanwhile. It wakes up and the first thing
    // it processes is the held acknowledgement of its first entry — no tick timer ran before.
    for (const id of [1, 2, 3]) if (id !== l) h.net.setLink(l, id, false);
    h.ahead.set(l, 3000);
    const st = holds.get(l)!;
    st.hold = false;
    const acks = st.held.splice(0);
    assert.ok(acks.length > 0, 'no acknowledgement was held');
    st.handler!.onMessages(acks);
    await turns(() => outcome !== undefined);
    if (outcome === undefined) await h.until(() => outcome !== undefined, 'the read settles', 20_000);
    assert.match(outcome!, /^refused/, 'a read was served on a lease that had expired by the clock');
  } finally {
    await h.stop();
  }
});

test('scenario 5: a newer snapshot received while an older one installs is installed next', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-drv-s5-'));
  const h = new Harness(dir);
  try {
    // Two snapshot files as leader 1 would send them, at index 10 and 20 (term 1); 2 is a learner.
    const conf = { voters: [1], learners: [2] };
    const files: SnapshotStore[] = [];
    for (const [index, value] of [
      [10, 'at-10'],
      [20, 'at-20'],
    ] as const) {
      const { store } = await SnapshotStore.open(join(dir, `leader-${index}`));
      const sm = new KvStateMachine();
      sm.data.set('k', value);
      sm.applied = index;
      const w = await store.createWriter({ index, term: 1, conf });
      await sm.snapshot()(w);
      await w.commit();
      files.push(store);
    }
    let handler: RaftTransportHandler | undefined;
    const sent: RaftMessage[] = [];
    const transport: RaftTransport = {
      listen: (hd) => (handler = hd),
      send: async (_to, batch) => void sent.push(...batch.map((b) => b.msg)),
      sendSnapshot: async () => undefined,
    };
    const n2 = h.start(2, { transport });
    const sm2 = new KvStateMachine();
    await n2.addGroup(G, [], sm2);

    // The first received snapshot's install does not finish until the test says so.
    const snaps = internals(n2, G).snaps;
    const create = snaps.createReceiver.bind(snaps);
    let installing = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    snaps.createReceiver = async () => {
      const rx = await create();
      if (first) {
        first = false;
        const install = rx.install.bind(rx);
        rx.install = () => {
          installing = true;
          return gate.then(install);
        };
      }
      return rx;
    };
    const feed = async (store: SnapshotStore) => {
      const s = await store.openForSend();
      const msg = raftMessage({ type: MessageType.Snapshot, from: 1, to: 2, term: 1, snapshot: { meta: s.meta, data: new Uint8Array(0) } });
      let offset = 0;
      for await (const data of s.chunks) {
        await handler!.onSnapshotChunk({ groupId: G, msg, offset, data, done: false });
        offset += data.length;
      }
      await handler!.onSnapshotChunk({ groupId: G, msg, offset, data: new Uint8Array(0), done: true });
    };
    await feed(files[0]!);
    await turns(() => installing, 10_000);
    assert.ok(installing, 'the first snapshot never started installing');
    await feed(files[1]!); // arrives while the first one installs
    release();
    await turns(() => {
      try {
        return n2.status(G).applied === 20;
      } catch {
        return true; // the group failed: the assertion below reports why
      }
    }, 10_000);
    const s = n2.status(G); // throws STORAGE_INTERNAL_ERROR "... was never received" on the old driver
    assert.equal(s.applied, 20);
    assert.equal(s.snapshotIndex, 20);
    assert.equal(sm2.data.get('k'), 'at-20');
  } finally {
    await h.stop();
  }
});

/** A key-value state machine whose apply throws on one replica for one key (a local bug, OOM). */
class FlakyKv extends KvStateMachine {
  constructor(private readonly boomKey: string | undefined) {
    super();
  }
  override apply(e: Entry): unknown {
    const c = JSON.parse(new TextDecoder().decode(e.data)) as { key?: string };
    if (this.boomKey !== undefined && c.key === this.boomKey) throw new Error(`out of memory (simulated) at ${e.index}`);
    return super.apply(e);
  }
}

test('scenario 6: an exception in apply stops that replica, naming the entry index', async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-s6-')));
  try {
    const sms = new Map<NodeId, FlakyKv>();
    for (const id of [1, 2, 3]) {
      const n = h.start(id);
      const sm = new FlakyKv(id === 3 ? 'boom' : undefined);
      sms.set(id, sm);
      await n.addGroup(G, [1, 2, 3], sm);
    }
    await h.until(() => h.leader() !== undefined, 'a leader');
    if (h.leader() === 3) {
      // Move leadership away so that the proposer's replica is a healthy one.
      h.nodes.get(3)!.transferLeader(G, 1);
      await h.until(() => h.leader() === 1, 'node 1 leads');
    }
    const leader = h.nodes.get(h.leader()!)!;
    const boomIndex = leader.status(G).lastIndex + 1;
    await h.settle(leader.propose(G, put('boom', 'v')), 'the write that breaks 3');
    await h.settle(leader.propose(G, put('after', 'v')), 'a later write');
    const n3 = h.nodes.get(3)!;
    await h.until(() => {
      try {
        n3.status(G);
        return sms.get(3)!.data.has('after');
      } catch {
        return true;
      }
    }, 'node 3 stops or applies the later write');
    assert.throws(
      () => n3.status(G),
      (e: unknown) => isCurveError(e, StatusCode.STORAGE_INTERNAL_ERROR) && new RegExp(`entry ${boomIndex}\\b`).test((e as Error).message),
      'node 3 kept going after its state machine threw',
    );
    assert.equal(sms.get(3)!.data.has('after'), false, 'node 3 applied entries after the one that threw');
    const logged = h.loggers.get(3)!.records.find((r) => r.level === 'error' && r.fields?.index === boomIndex);
    assert.ok(logged, `no error log naming entry ${boomIndex}: ${JSON.stringify(h.loggers.get(3)!.records.filter((r) => r.level === 'error'))}`);
    // The two healthy replicas go on.
    await h.settle(leader.propose(G, put('later', 'v')), 'the healthy pair commits');
  } finally {
    await h.stop();
  }
});

test('[H] scenario 5: a leader whose group stops steps down, says so once, and the other two elect a leader', async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-h5-')));
  try {
    const failed: Array<[NodeId, number, string]> = [];
    const roles = new Map<NodeId, Role[]>();
    for (const id of [1, 2, 3]) {
      const n = h.start(id, { onGroupFailed: (g, e) => failed.push([id, g, e.message]) });
      const sm = new FlakyKv(id === 1 ? 'boom' : undefined);
      Object.assign(sm, { onRoleChange: (role: Role) => void (roles.get(id) ?? roles.set(id, []).get(id)!).push(role) });
      await n.addGroup(G, [1, 2, 3], sm);
    }
    await h.until(() => h.leader() !== undefined, 'a leader');
    if (h.leader() !== 1) {
      h.nodes.get(h.leader()!)!.transferLeader(G, 1);
      await h.until(() => h.leader() === 1, 'node 1 leads');
    }
    const n1 = h.nodes.get(1)!;
    // Its own replica stops applying at this entry (the driver treats it like a storage failure).
    await n1.propose(G, put('boom', 'v')).catch(() => undefined);
    await h.until(() => failed.length > 0, 'node 1 reports its group failed');
    assert.deepEqual(failed.map(([id, g]) => [id, g]), [[1, G]]);
    assert.equal(roles.get(1)!.at(-1), Role.Follower, 'node 1 told its state machine it no longer leads');
    // The others elect a leader among themselves and commit.
    await h.until(() => [2, 3].some((id) => h.nodes.get(id)!.status(G).role === Role.Leader), 'node 2 or 3 leads');
    const next = [2, 3].map((id) => h.nodes.get(id)!).find((n) => n.status(G).role === Role.Leader)!;
    await h.settle(next.propose(G, put('after', 'v')), 'the healthy pair commits');
    assert.equal(failed.length, 1, 'reported once');
  } finally {
    await h.stop();
  }
});

test('[L] a snapshot transfer from a node that is not a member is refused at its first chunk, before anything is stored', async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-l5-')));
  try {
    for (const id of [1, 2, 3]) await h.start(id).addGroup(G, [1, 2, 3], new KvStateMachine());
    await h.until(() => h.leader() !== undefined, 'a leader');
    const l = h.leader()!;
    const to = [1, 2, 3].find((id) => id !== l)!;
    const term = h.nodes.get(to)!.status(G).term;
    const forger = h.net.transport(99);
    let yielded = 0;
    async function* junk(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 8; i++) {
        yielded++;
        yield new Uint8Array(4096).fill(i);
      }
    }
    const msg = raftMessage({ type: MessageType.Snapshot, from: 99, to, term, snapshot: { meta: { index: 1_000, term, conf: { voters: [1, 2, 3, 99], learners: [] } }, data: new Uint8Array() } });
    await assert.rejects(forger.sendSnapshot(to, G, msg, junk()), /snapshot transfer from node 99, not a member/);
    assert.ok(yielded < 8, `the receiver took ${yielded} of 8 chunks from a stranger`);
    const s = h.nodes.get(to)!.status(G);
    assert.ok(s.droppedFromNonMembers >= 1, 'the refused transfer is counted');
    assert.equal(s.leader, l);
  } finally {
    await h.stop();
  }
});

test('[L] finding 1: a forged Heartbeat from an unknown node with a huge term is dropped, counted and logged', async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-l1-')));
  try {
    for (const id of [1, 2, 3]) await h.start(id).addGroup(G, [1, 2, 3], new KvStateMachine());
    await h.until(() => h.leader() !== undefined, 'a leader');
    const l = h.leader()!;
    const term = h.nodes.get(l)!.status(G).term;
    const forger = h.net.transport(99);
    for (const to of [1, 2, 3]) {
      const msg = raftMessage({ type: MessageType.Heartbeat, from: 99, to, term: Number.MAX_SAFE_INTEGER });
      await forger.send(to, [{ groupId: G, msg }]);
    }
    await h.time.advance(1000);
    for (const [id, n] of h.nodes) {
      const s = n.status(G);
      assert.equal(s.term, term, `node ${id} changed its term`);
      assert.equal(s.leader, l, `node ${id} lost its leader`);
      assert.ok(s.droppedFromNonMembers >= 1, `node ${id} did not count the dropped message`);
      assert.ok(
        h.loggers.get(id)!.records.some((r) => r.level === 'warn' && r.fields?.from === 99),
        `node ${id} did not log the dropped message`,
      );
    }
  } finally {
    await h.stop();
  }
});

/**
 * Holds group G's log syncs on `n` until the returned `release` (then they run: `true`) or
 * `crash` (then they fail as if the process died before its write reached the disk: nothing of
 * it is on the disk, and the group stops).
 */
function holdSyncs(n: RaftNode): { release: () => void; crash: () => void } {
  const log = internals(n, G).log;
  const sync = log.sync.bind(log);
  let open!: (ok: boolean) => void;
  const gate = new Promise<boolean>((r) => (open = r));
  log.sync = (...args: Parameters<RaftLog['sync']>) =>
    gate.then((ok) => {
      if (!ok) throw new Error('EIO: the process died before this write was durable');
      return sync(...args);
    });
  return { release: () => open(true), crash: () => open(false) };
}

/** Proposes `data` on `n`; `answer` becomes 'ok' or 'refused: …' when the proposal settles. */
function proposeWatched(n: RaftNode, data: Uint8Array): { answer: string | undefined } {
  const w: { answer: string | undefined } = { answer: undefined };
  n.propose(G, data).then(
    () => (w.answer = 'ok'),
    (e: unknown) => (w.answer = `refused: ${String(e)}`),
  );
  return w;
}

/** Starts nodes 1–3 of group G and returns the leader once it committed a first write. */
async function threeWithLeader(h: Harness, sms: Map<NodeId, KvStateMachine>, extra: Partial<RaftNodeOptions> = {}): Promise<NodeId> {
  for (const id of [1, 2, 3]) {
    const sm = new KvStateMachine();
    sms.set(id, sm);
    await h.start(id, extra).addGroup(G, [1, 2, 3], sm);
  }
  await h.until(() => h.leader() !== undefined, 'a leader');
  const l = h.leader()!;
  await h.settle(h.nodes.get(l)!.propose(G, put('k', 'before')), 'a first write');
  await h.until(() => [1, 2, 3].every((id) => sms.get(id)!.data.get('k') === 'before'), 'every replica applied it');
  return l;
}

test("asynchronous writes: a leader's entry is answered once both followers hold it, while its own write still runs; the leader then dies before its write and nothing is lost", async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-async-')));
  let gate = { release: () => {}, crash: () => {} };
  try {
    const sms = new Map<NodeId, KvStateMachine>();
    const l = await threeWithLeader(h, sms, { asyncWrites: true });
    const leader = h.nodes.get(l)!;
    const followers = [1, 2, 3].filter((id) => id !== l);
    gate = holdSyncs(leader);
    const xIndex = leader.status(G).lastIndex + 1;
    const x = proposeWatched(leader, put('k', 'x'));
    // Time moves (heartbeats, deadlines) while the leader's write is held.
    await h.until(() => x.answer !== undefined, "x answered while the leader's own write is held", 5_000, [l]);
    assert.equal(x.answer, 'ok');
    assert.equal(sms.get(l)!.data.get('k'), 'x', 'the leader applied x');
    // The quorum that answered is the two followers: both hold x on disk already.
    for (const id of followers) assert.ok(h.nodes.get(id)!.status(G).lastIndex >= xIndex, `follower ${id} does not hold x`);
    const self = leader.status(G).progress!.find((p) => p.id === l)!;
    assert.ok(self.match < xIndex, `the leader counted its own copy of x (match ${self.match}) before its write was durable`);

    // The leader dies before its write reached the disk: its log does not hold x.
    gate.crash();
    await h.until(() => failedGroup(leader), 'the leader stopped', 5_000);
    await leader.stop();
    h.nodes.delete(l);
    await h.until(() => followers.some((id) => h.nodes.get(id)!.status(G).role === Role.Leader), 'a follower leads');
    const next = h.nodes.get(followers.find((id) => h.nodes.get(id)!.status(G).role === Role.Leader)!)!;
    await h.settle(next.propose(G, put('after', 'v')), 'the new leader commits');
    for (const id of followers) assert.equal(sms.get(id)!.data.get('k'), 'x', `follower ${id} lost the acknowledged x`);
    // The old leader restarts from its disk (without x) and gets x back from the new leader.
    const back = new KvStateMachine();
    await h.start(l).addGroup(G, [1, 2, 3], back);
    await h.until(() => back.data.get('after') === 'v', 'the restarted replica caught up');
    assert.equal(back.data.get('k'), 'x');
  } finally {
    gate.release();
    await h.stop();
  }
});

test("asynchronous writes: an entry held by one follower only (the other's write failed) is not answered until the leader's own write is durable", async () => {
  const h = new Harness(await mkdtemp(join(tmpdir(), 'raft-drv-async-fail-')));
  let gate = { release: () => {}, crash: () => {} };
  try {
    const sms = new Map<NodeId, KvStateMachine>();
    const failed: NodeId[] = [];
    const l = await threeWithLeader(h, sms, { asyncWrites: true });
    const leader = h.nodes.get(l)!;
    const [healthy, broken] = [1, 2, 3].filter((id) => id !== l) as [NodeId, NodeId];
    // The broken follower receives x and fails writing it: it must not acknowledge it.
    const blog = internals(h.nodes.get(broken)!, G).log;
    blog.sync = () => Promise.reject(new Error('EIO: injected'));
    gate = holdSyncs(leader);
    const xIndex = leader.status(G).lastIndex + 1;
    const x = proposeWatched(leader, put('k', 'x'));
    await h.until(() => !h.nodes.get(broken)!.hasGroup(G) || failedGroup(h.nodes.get(broken)!), 'the broken follower stops', 5_000, [l]);
    failed.push(broken);
    // Two seconds of heartbeats: x is on one disk besides the leader's unfinished write.
    for (let i = 0; i < 20; i++) {
      await h.idle([l]);
      await h.time.advance(100);
    }
    assert.equal(x.answer, undefined, 'x was answered though only one follower holds it and the leader has not written it');
    assert.ok(h.nodes.get(healthy)!.status(G).lastIndex >= xIndex);
    const prog = leader.status(G).progress!;
    assert.ok(prog.find((p) => p.id === broken)!.match < xIndex, 'the failed follower acknowledged x');
    assert.ok(leader.status(G).commit < xIndex, 'x committed without a quorum of durable copies');
    // The leader's write completes: leader + healthy follower are a quorum.
    gate.release();
    await h.until(() => x.answer !== undefined, 'x answered', 10_000, [broken]);
    assert.equal(x.answer, 'ok');
    assert.deepEqual(failed, [broken]);
  } finally {
    gate.release();
    await h.stop();
  }
});

/** True when group G on `n` stopped (its status throws STORAGE_INTERNAL_ERROR). */
function failedGroup(n: RaftNode): boolean {
  try {
    n.status(G);
    return false;
  } catch (e) {
    return isCurveError(e, StatusCode.STORAGE_INTERNAL_ERROR);
  }
}
