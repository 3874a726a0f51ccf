// A synchronous in-memory cluster for the Raft unit tests (in the spirit of etcd-io/raft's
// `network` in raft_test.go): every node persists each Ready to an in-memory store, messages are
// delivered FIFO until the cluster is quiet, and links can be cut per direction.
import { SeededRandom } from '../../src/common/index.ts';
import {
  EntryType,
  MessageType,
  RawNode,
  Role,
  type Entry,
  type HardState,
  type NodeId,
  type RaftConfig,
  type RaftMessage,
  type ReadState,
  type RestartState,
  type Snapshot,
} from '../../src/raft/index.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}
export function str(b: Uint8Array): string {
  return dec.decode(b);
}

export interface Store {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

export class TestNode {
  raw: RawNode;
  store: Store;
  /** Commands applied, in order (empty no-ops and conf changes excluded). */
  applied: string[] = [];
  appliedIndex = 0;
  /** Every committed entry seen, by index (for state-machine safety checks). */
  appliedEntries = new Map<number, Entry>();
  readStates: ReadState[] = [];
  up = true;

  constructor(
    readonly id: NodeId,
    readonly cfg: Partial<RaftConfig>,
    start: RestartState,
  ) {
    this.store = {
      hardState: { ...start.hardState },
      snapshot: { meta: start.snapshotMeta, data: bytes(JSON.stringify([])) },
      entries: start.entries.slice(),
    };
    this.raw = new RawNode({ id, random: new SeededRandom(id * 7919), ...cfg }, start);
  }

  /** Restart from what was persisted (the harness persists every Ready fully). */
  restart(): void {
    const s = this.store;
    this.applied = JSON.parse(str(s.snapshot.data)) as string[];
    this.appliedIndex = s.snapshot.meta.index;
    this.raw = new RawNode(
      { id: this.id, random: new SeededRandom(this.id * 7919 + 1), ...this.cfg },
      { hardState: { ...s.hardState }, snapshotMeta: s.snapshot.meta, entries: s.entries.slice(), applied: s.snapshot.meta.index },
    );
  }

  logTerms(): string {
    return this.store.entries.map((e) => `${e.index}:${e.term}`).join(' ');
  }

  takeSnapshot(compactTo?: number): void {
    const meta = this.raw.snapshotMetaAt(this.appliedIndex);
    this.store.snapshot = { meta, data: bytes(JSON.stringify(this.applied)) };
    this.raw.compact(meta.index, compactTo ?? meta.index);
    const keepFrom = (compactTo ?? meta.index) + 1;
    this.store.entries = this.store.entries.filter((e) => e.index >= keepFrom);
  }
}

export function freshStart(voters: NodeId[]): RestartState {
  return {
    hardState: { term: 0, vote: 0, commit: 0 },
    snapshotMeta: { index: 0, term: 0, conf: { voters: voters.slice(), learners: [] } },
    entries: [],
    applied: 0,
  };
}

/** A start state from a list of terms, entry i+1 having terms[i] (like the paper's figures). */
export function logStart(voters: NodeId[], terms: number[], term: number, commit = 0): RestartState {
  const entries: Entry[] = terms.map((t, i) => ({ index: i + 1, term: t, type: EntryType.Normal, data: bytes(`e${i + 1}t${t}`) }));
  return {
    hardState: { term, vote: 0, commit },
    snapshotMeta: { index: 0, term: 0, conf: { voters: voters.slice(), learners: [] } },
    entries,
    applied: 0,
  };
}

export class Cluster {
  nodes = new Map<NodeId, TestNode>();
  private queue: RaftMessage[] = [];
  /** Directed links that drop messages: "from->to". */
  private cut = new Set<string>();
  /** Optional filter: return false to drop a message (it may also rewrite it). */
  filter: ((m: RaftMessage) => boolean) | undefined;
  delivered: RaftMessage[] = [];

  constructor(ids: NodeId[], cfg: Partial<RaftConfig> = {}, starts?: Map<NodeId, RestartState>) {
    for (const id of ids) this.nodes.set(id, new TestNode(id, cfg, starts?.get(id) ?? freshStart(ids)));
  }

  add(id: NodeId, cfg: Partial<RaftConfig> = {}, start?: RestartState): TestNode {
    const n = new TestNode(id, cfg, start ?? freshStart([]));
    this.nodes.set(id, n);
    return n;
  }

  node(id: NodeId): TestNode {
    return this.nodes.get(id)!;
  }

  leaders(): TestNode[] {
    return [...this.nodes.values()].filter((n) => n.up && n.raw.role === Role.Leader);
  }

  leader(): TestNode {
    const ls = this.leaders();
    if (ls.length !== 1) throw new Error(`expected one leader, found ${ls.map((n) => n.id).join(',') || 'none'}`);
    return ls[0]!;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  crash(id: NodeId): void {
    this.node(id).up = false;
  }

  restart(id: NodeId): void {
    const n = this.node(id);
    n.restart();
    n.up = true;
  }

  /** Processes every Ready and delivers every message until nothing moves. */
  settle(maxSteps = 100_000): void {
    for (let step = 0; step < maxSteps; step++) {
      let moved = false;
      for (const n of this.nodes.values()) {
        if (!n.up) continue;
        while (n.raw.hasReady()) {
          moved = true;
          this.handleReady(n);
        }
      }
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        moved = true;
        const to = this.nodes.get(m.to);
        if (!to || !to.up || this.cut.has(`${m.from}->${m.to}`)) continue;
        if (this.filter && !this.filter(m)) continue;
        this.delivered.push(m);
        to.raw.step(m);
      }
      if (!moved) return;
    }
    throw new Error('cluster did not settle');
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).raw.tick();
      this.settle();
    }
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) if (node.up) node.raw.tick();
      this.settle();
    }
  }

  /** Campaigns `id` (pre-vote and vote are delivered in full) and returns it. */
  elect(id: NodeId): TestNode {
    this.node(id).raw.campaign();
    this.settle();
    return this.node(id);
  }

  private handleReady(n: TestNode): void {
    const rd = n.raw.ready();
    const s = n.store;
    if (rd.snapshot) {
      s.snapshot = rd.snapshot;
      s.entries = []; // an installed snapshot replaces the whole log
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      s.entries = s.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) s.hardState = { ...rd.hardState };
    for (const m of rd.messages) {
      if (m.type === MessageType.Snapshot) {
        // The driver attaches the state-machine bytes of its stored snapshot.
        m.snapshot = { meta: m.snapshot!.meta, data: s.snapshot.data };
      }
      this.queue.push(m);
    }
    if (rd.snapshot) {
      n.applied = JSON.parse(str(rd.snapshot.data)) as string[];
      n.appliedIndex = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index !== n.appliedIndex + 1) throw new Error(`node ${n.id} applies ${e.index} after ${n.appliedIndex}`);
      n.appliedIndex = e.index;
      n.appliedEntries.set(e.index, e);
      if (e.type === EntryType.Normal && e.data.length > 0) n.applied.push(str(e.data));
    }
    n.readStates.push(...rd.readStates);
    n.raw.advance();
  }
}
