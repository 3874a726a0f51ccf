// How far each replica trails, for the status page's copyset table. Heartbeats do not carry the
// replicas' Raft indexes, so while someone watches the page (and only then: it costs one call per
// replica) the MDS asks each member of each copyset for its status every `intervalMs`, as
// `curvefs status` does. Lag = the highest commit index any replica reports − this replica's
// applied index; a member that does not answer is "unreachable".
import type { MdsStatus } from './types.ts';

export interface ReplicaState {
  state: string;
  committed: number;
  applied: number;
}

/** One replica's status from its metaserver (the MDS's RPC pool provides it). */
export type ReplicaProbe = (address: string, poolId: number, copysetId: number) => Promise<ReplicaState>;

/** Per copyset id ("pool:copyset"), per member id: its lag in entries, or why there is none. */
export type CopysetLag = Map<string, Map<number, number | 'unreachable'>>;

export class LagTracker {
  private latest: CopysetLag = new Map();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly probe: ReplicaProbe,
    private readonly status: () => MdsStatus,
    private readonly intervalMs = 2000,
    private readonly timeoutMs = 1500,
  ) {}

  /** The last round's figures (empty before the first round ends). */
  get current(): CopysetLag {
    return this.latest;
  }

  /** Rounds run while `watching` says someone looks; started by the first watcher. */
  start(watching: () => boolean): void {
    if (this.timer) return;
    void this.round();
    this.timer = setInterval(() => {
      if (watching()) void this.round();
      else this.stop();
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round over every copyset; overlapping rounds are skipped (a slow metaserver). */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const c = this.status().cluster;
      if (!c) {
        this.latest = new Map();
        return;
      }
      const address = new Map(c.metaservers.map((m) => [m.id, m.address]));
      const next: CopysetLag = new Map();
      await Promise.all(c.copysets.map(async (cs) => {
        const [poolId, copysetId] = cs.id.split(':').map(Number) as [number, number];
        const answers = await Promise.all(cs.members.map(async (id) => {
          const addr = address.get(id);
          if (!addr) return [id, undefined] as const;
          try {
            return [id, await withTimeout(this.probe(addr, poolId, copysetId), this.timeoutMs)] as const;
          } catch {
            return [id, undefined] as const;
          }
        }));
        const commit = Math.max(0, ...answers.map(([, a]) => a?.committed ?? 0));
        next.set(cs.id, new Map(answers.map(([id, a]) => [id, a ? Math.max(0, commit - a.applied) : 'unreachable'])));
      }));
      this.latest = next;
    } catch {
      // No status this round (the MDS is changing role): keep the last figures, try again.
    } finally {
      this.running = false;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out')), ms);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    }, (e: unknown) => {
      clearTimeout(t);
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}
