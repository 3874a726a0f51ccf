// How long an fs keeps removed files in its trash, as the metaserver sees it (docs/architecture.md
// §6c). The MDS stores it with the fs (FsInfo.recycle_time_hour; 0 = no trash); the leader asks
// here when it stamps an Unlink (to_trash) and when its expiry pass decides what to purge.
//
// The answer is cached per fs and refreshed in the background once it is older than `ttlMs`, so
// an unlink never waits for the MDS except the first one of an fs on this metaserver. A change
// (`fs set --trash-days`) is therefore seen within `ttlMs`; until then unlinks follow the old
// setting. A failed look-up keeps the last answer (or "no trash" when there is none yet): the
// trash is a safety net, never a reason to refuse an unlink.
import { createLogger, systemClock, type Clock } from '../common/index.ts';
import type { MdsClient } from '../mds/client.ts';

const log = createLogger('metaserver-trash');

export interface TrashRetention {
  /** Seconds a trashed name is kept in fs `fsId`; 0 = the fs keeps no trash. */
  retentionSec(fsId: number): number | Promise<number>;
}

/** No trash anywhere (a metaserver without an MDS, unless told otherwise). */
export const noTrash: TrashRetention = { retentionSec: () => 0 };

/** A fixed retention per fs (tests; single-process setups). */
export function staticRetention(table: Readonly<Record<number, number>>): TrashRetention {
  return { retentionSec: (fsId) => table[fsId] ?? 0 };
}

interface Cached {
  sec: number;
  at: number;
  refreshing?: Promise<number>;
}

/** Retention looked up with `lookup` (seconds) and cached for `ttlMs`. */
export class CachedRetention implements TrashRetention {
  private readonly cache = new Map<number, Cached>();

  constructor(
    private readonly lookup: (fsId: number) => Promise<number>,
    private readonly clock: Clock = systemClock,
    private readonly ttlMs = 5000,
  ) {}

  retentionSec(fsId: number): number | Promise<number> {
    const c = this.cache.get(fsId);
    if (c === undefined || c.at === -Infinity) return this.refresh(fsId); // never answered yet
    if (this.clock.now() - c.at > this.ttlMs) void this.refresh(fsId);
    return c.sec;
  }

  private refresh(fsId: number): Promise<number> {
    const c = this.cache.get(fsId);
    if (c?.refreshing) return c.refreshing;
    const p = this.lookup(fsId).then(
      (sec) => {
        this.cache.set(fsId, { sec, at: this.clock.now() });
        return sec;
      },
      (e: unknown) => {
        log.warn('cannot look up the trash retention of an fs', { fsId, error: String(e) });
        const last = this.cache.get(fsId);
        // Keep the last answer, retried after another ttl.
        this.cache.set(fsId, { sec: last?.sec ?? 0, at: this.clock.now() });
        return last?.sec ?? 0;
      },
    );
    if (c) c.refreshing = p;
    else this.cache.set(fsId, { sec: 0, at: -Infinity, refreshing: p });
    return p;
  }
}

/** Retention from the MDS's fs record. */
export function mdsRetention(mds: MdsClient, clock?: Clock): CachedRetention {
  return new CachedRetention(async (fsId) => {
    const r = await mds.mds.getFsInfo({ fsId });
    return (r.fsInfo?.recycleTimeHour ?? 0) * 3600;
  }, clock);
}
