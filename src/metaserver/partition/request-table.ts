// Idempotence: results of recent mutations per client, so a retried request (same client id and
// sequence) gets the first result back instead of being applied twice. Part of the replicated
// state (and of snapshots), so every replica answers a retry the same way.
//
// Bounds: `window` results per client (the oldest sequence is evicted first and raises the
// client's `floor`: a retry at or below the floor is answered STALE, because we can no longer
// tell whether it was applied) and `maxClients` clients (the least recently used client is
// evicted; its retries would apply again, so the window should cover a mount's session).
// Recency is an op counter, not a clock, so eviction is deterministic.
import type { Cow } from './inode-store.ts';
import type { OpResult } from './types.ts';

export interface RequestTableLimits {
  maxClients: number;
  window: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestTableLimits = { maxClients: 1024, window: 64 };

export class ClientWindow {
  constructor(
    public epoch: number,
    /** Highest evicted sequence; requests at or below it are STALE. */
    public floor: number,
    /** Value of the table's use counter when this client was last seen. */
    public lastUse: number,
    /** seq → first result, in insertion order. */
    public results: Map<number, OpResult>,
  ) {}
}

export type Lookup = { kind: 'new' } | { kind: 'duplicate'; result: OpResult } | { kind: 'stale' };

export class RequestTable {
  /** clientId → window, least recently used first. */
  clients = new Map<number, ClientWindow>();
  useClock = 0;

  constructor(
    readonly limits: RequestTableLimits,
    private readonly cow: Cow,
  ) {}

  lookup(clientId: number, seq: number): Lookup {
    const w = this.clients.get(clientId);
    if (w === undefined) return NEW;
    const r = w.results.get(seq);
    if (r !== undefined) return { kind: 'duplicate', result: r };
    if (seq <= w.floor) return STALE;
    return NEW;
  }

  record(clientId: number, seq: number, result: OpResult): void {
    let w = this.clients.get(clientId);
    if (w === undefined) {
      w = new ClientWindow(this.cow.epoch, 0, 0, new Map());
    } else {
      this.clients.delete(clientId);
      if (w.epoch !== this.cow.epoch) {
        w = this.cow.liveViews > 0 ? new ClientWindow(this.cow.epoch, w.floor, w.lastUse, new Map(w.results)) : w;
        w.epoch = this.cow.epoch;
      }
    }
    w.lastUse = ++this.useClock;
    w.results.set(seq, result);
    if (w.results.size > this.limits.window) {
      const oldest = w.results.keys().next().value!;
      w.results.delete(oldest);
      if (oldest > w.floor) w.floor = oldest;
    }
    this.clients.set(clientId, w);
    if (this.clients.size > this.limits.maxClients) {
      this.clients.delete(this.clients.keys().next().value!);
    }
  }

  /** Frozen list of (clientId, window), sorted by client id; windows are copy-on-write. */
  freeze(): [number, ClientWindow][] {
    return [...this.clients].sort((a, b) => a[0] - b[0]);
  }

  /** Rebuilds the table from snapshot records (any order). */
  load(entries: [number, ClientWindow][], useClock: number): void {
    entries.sort((a, b) => a[1].lastUse - b[1].lastUse);
    this.clients = new Map(entries);
    this.useClock = useClock;
  }
}

const NEW: Lookup = { kind: 'new' };
const STALE: Lookup = { kind: 'stale' };
