// Idempotence: results of recent mutations per client, so a retried request (same client id and
// sequence) gets the first result back instead of being applied twice. Part of the replicated
// state (and of snapshots), so every replica answers a retry the same way.
//
// Lifetime: a client id is its MDS mount session id. A client's window lives exactly as long as
// its session: it is never evicted to make room for other clients (an LRU bound would let a
// retry that arrives after enough other clients apply twice — issue [H] scenario 1), and it is
// dropped when the copyset learns, through a replicated ExpireSessions entry, that the session
// ended (docs/architecture.md §2 "Idempotent mutations"). From then on the session's requests are
// refused with SESSION_EXPIRED: the client re-registers with a new session id and cannot retry
// an old request, because nobody can tell any more whether it was applied.
//
// Bound: `window` results per client (the first applied is evicted first and raises the
// client's `floor`: a retry at or below the floor is answered STALE, because we can no longer
// tell whether it was applied). Memory is therefore window × live sessions. A client keeps its
// mutations in flight within half the window (src/client/request-window.ts), so a retry it can
// still send always finds its result.
import { RESULTS_KEPT_PER_CLIENT } from '../../common/index.ts';
import type { Cow } from './inode-store.ts';
import type { OpResult } from './types.ts';

export interface RequestTableLimits {
  window: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestTableLimits = { window: RESULTS_KEPT_PER_CLIENT };

/**
 * What a copyset knows of the MDS's mount sessions (replicated: changed only by ExpireSessions
 * entries). Session ids are handed out in increasing order and never reused, so a session at or
 * below `max` that is not in `live` has ended for good; an id above `max` is newer than anything
 * the copyset was told and counts as live.
 */
export class SessionView {
  max = 0;
  live = new Set<number>();

  expired(clientId: number): boolean {
    return clientId <= this.max && !this.live.has(clientId);
  }

  /** Adopts the MDS's list; `max` never goes down (a restarted MDS may report a lower one). */
  update(max: number, live: Iterable<number>): void {
    if (max > this.max) this.max = max;
    this.live = new Set([...live].filter((id) => id <= this.max));
  }
}

export class ClientWindow {
  constructor(
    public epoch: number,
    /** Highest evicted sequence; requests at or below it are STALE. */
    public floor: number,
    /** seq → first result, in insertion order. */
    public results: Map<number, OpResult>,
  ) {}
}

export type Lookup =
  | { kind: 'new' }
  | { kind: 'duplicate'; result: OpResult }
  | { kind: 'stale' }
  | { kind: 'expired' };

export class RequestTable {
  /** clientId → window. */
  clients = new Map<number, ClientWindow>();
  /** Shared with the other partitions of the copyset (set by the copyset state machine). */
  sessions = new SessionView();

  constructor(
    readonly limits: RequestTableLimits,
    private readonly cow: Cow,
  ) {}

  lookup(clientId: number, seq: number): Lookup {
    const w = this.clients.get(clientId);
    if (w === undefined) return this.sessions.expired(clientId) ? EXPIRED : NEW;
    const r = w.results.get(seq);
    if (r !== undefined) return { kind: 'duplicate', result: r };
    if (seq <= w.floor) return STALE;
    return NEW;
  }

  record(clientId: number, seq: number, result: OpResult): void {
    let w = this.clients.get(clientId);
    if (w === undefined) {
      w = new ClientWindow(this.cow.epoch, 0, new Map());
      this.clients.set(clientId, w);
    } else if (w.epoch !== this.cow.epoch) {
      if (this.cow.liveViews > 0) {
        w = new ClientWindow(this.cow.epoch, w.floor, new Map(w.results));
        this.clients.set(clientId, w);
      }
      w.epoch = this.cow.epoch;
    }
    w.results.set(seq, result);
    if (w.results.size > this.limits.window) {
      const oldest = w.results.keys().next().value!;
      w.results.delete(oldest);
      if (oldest > w.floor) w.floor = oldest;
    }
  }

  /** Drops the windows of clients whose session ended; returns how many. */
  dropExpired(): number {
    let n = 0;
    for (const id of [...this.clients.keys()]) {
      if (this.sessions.expired(id)) {
        this.clients.delete(id);
        n++;
      }
    }
    return n;
  }

  /** Frozen list of (clientId, window), sorted by client id; windows are copy-on-write. */
  freeze(): [number, ClientWindow][] {
    return [...this.clients].sort((a, b) => a[0] - b[0]);
  }

  /** Rebuilds the table from snapshot records (any order). */
  load(entries: [number, ClientWindow][]): void {
    this.clients = new Map(entries.sort((a, b) => a[0] - b[0]));
  }
}

const NEW: Lookup = { kind: 'new' };
const STALE: Lookup = { kind: 'stale' };
const EXPIRED: Lookup = { kind: 'expired' };
