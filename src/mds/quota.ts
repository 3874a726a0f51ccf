// Directory quotas of one leadership term: the records (limits and recursive usage of the tree
// under a directory) and the clients' usage deltas (SyncQuota). The MDS only adds up what the
// clients report; the clients decide what a change costs and refuse past a limit (EDQUOT) from
// the figures the last sync answered (docs/architecture.md "Directory quotas").
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../common/index.ts';
import { QuotaSchema, type Quota, type QuotaDelta } from '../gen/mds_pb.ts';
import type { FencedStore } from './fenced-store.ts';
import { keys } from './keys.ts';
import { KeyedMutex } from './mutex.ts';

/** Clients whose last sync seq is remembered (one per connection; connections come and go). */
const MAX_CLIENTS = 100_000;

function fsIdOfKey(key: string): number {
  return Number(key.slice(keys.quotaPrefix.length).split('/')[0]);
}

function checkLimit(x: number, what: string): void {
  if (!(Number.isSafeInteger(x) && x >= 0)) throw new CurveError(StatusCode.PARAM_ERROR, `${what} ${x} must be a non-negative integer`);
}

export class QuotaManager {
  /** fsId → directory inode → record. */
  private readonly byFs = new Map<number, Map<number, Quota>>();
  private readonly locks = new KeyedMutex();
  /** client → highest sync seq applied (a retried sync is applied once). */
  private readonly applied = new Map<string, number>();

  private constructor(private readonly store: FencedStore) {}

  static async load(store: FencedStore): Promise<QuotaManager> {
    const m = new QuotaManager(store);
    for (const e of await store.list(keys.quotaPrefix)) {
      const q = fromBinary(QuotaSchema, e.value);
      m.quotasOf(fsIdOfKey(e.key)).set(q.dirInodeId, q);
    }
    return m;
  }

  private quotasOf(fsId: number): Map<number, Quota> {
    let m = this.byFs.get(fsId);
    if (!m) this.byFs.set(fsId, (m = new Map()));
    return m;
  }

  list(fsId: number): Quota[] {
    return [...(this.byFs.get(fsId)?.values() ?? [])].sort((a, b) => a.dirInodeId - b.dirInodeId);
  }

  get(fsId: number, dirIno: number): Quota {
    const q = this.byFs.get(fsId)?.get(dirIno);
    if (!q) throw new CurveError(StatusCode.NOT_FOUND, `no quota on directory inode ${dirIno}`);
    return q;
  }

  /** Sets a quota's limits (and its usage when `setUsage`, else a new quota starts at 0). */
  async set(fsId: number, q: Quota, setUsage: boolean): Promise<Quota> {
    if (!(Number.isSafeInteger(q.dirInodeId) && q.dirInodeId > 0)) throw new CurveError(StatusCode.PARAM_ERROR, `invalid directory inode ${q.dirInodeId}`);
    checkLimit(q.maxBytes, 'byte limit');
    checkLimit(q.maxInodes, 'inode limit');
    return this.locks.run(String(fsId), async () => {
      const old = this.byFs.get(fsId)?.get(q.dirInodeId);
      const next = create(QuotaSchema, {
        dirInodeId: q.dirInodeId,
        path: q.path || old?.path || '',
        maxBytes: q.maxBytes,
        maxInodes: q.maxInodes,
        usedBytes: setUsage ? q.usedBytes : (old?.usedBytes ?? 0),
        usedInodes: setUsage ? q.usedInodes : (old?.usedInodes ?? 0),
      });
      await this.store.commit([{ type: 'put', key: keys.quota(fsId, next.dirInodeId), value: toBinary(QuotaSchema, next) }]);
      this.quotasOf(fsId).set(next.dirInodeId, next);
      return next;
    });
  }

  delete(fsId: number, dirIno: number): Promise<void> {
    return this.locks.run(String(fsId), async () => {
      this.get(fsId, dirIno);
      await this.store.commit([{ type: 'delete', key: keys.quota(fsId, dirIno) }]);
      this.byFs.get(fsId)?.delete(dirIno);
    });
  }

  /**
   * Deletes the quotas of file systems that no longer exist (the fs reclaimer removed them; their
   * names were freed at DeleteFs, so no call can reach these records any more). The MDS runs it
   * after each reclaim pass. At most 64 deletes per store transaction (etcd's limit is 128 ops).
   */
  async dropGone(exists: (fsId: number) => boolean): Promise<number> {
    let dropped = 0;
    for (const fsId of [...this.byFs.keys()]) {
      if (exists(fsId)) continue;
      await this.locks.run(String(fsId), async () => {
        const inos = [...(this.byFs.get(fsId)?.keys() ?? [])];
        for (let i = 0; i < inos.length; i += 64) {
          await this.store.commit(inos.slice(i, i + 64).map((ino) => ({ type: 'delete' as const, key: keys.quota(fsId, ino) })));
        }
        this.byFs.delete(fsId);
        dropped += inos.length;
      });
    }
    return dropped;
  }

  /**
   * Adds a client's deltas (once per (client, seq)) in one store transaction and answers every
   * quota of the fs. Deltas of quotas deleted meanwhile are dropped.
   */
  sync(fsId: number, deltas: QuotaDelta[], client: string, seq: number): Promise<Quota[]> {
    return this.locks.run(String(fsId), async () => {
      const fresh = !client || seq > (this.applied.get(client) ?? 0);
      const quotas = this.byFs.get(fsId);
      const changed = new Map<number, Quota>();
      if (fresh && quotas) {
        for (const d of deltas) {
          const q = changed.get(d.dirInodeId) ?? quotas.get(d.dirInodeId);
          if (!q || (d.bytes === 0 && d.inodes === 0)) continue;
          changed.set(d.dirInodeId, create(QuotaSchema, { ...q, usedBytes: q.usedBytes + d.bytes, usedInodes: q.usedInodes + d.inodes }));
        }
      }
      if (changed.size > 0) {
        await this.store.commit([...changed.values()].map((q) => ({ type: 'put' as const, key: keys.quota(fsId, q.dirInodeId), value: toBinary(QuotaSchema, q) })));
        for (const q of changed.values()) quotas!.set(q.dirInodeId, q);
      }
      if (fresh && client) {
        // Most recently synced last; the oldest forgotten past the cap (a client silent that
        // long has no reply outstanding).
        this.applied.delete(client);
        this.applied.set(client, seq);
        if (this.applied.size > MAX_CLIENTS) this.applied.delete(this.applied.keys().next().value!);
      }
      return this.list(fsId);
    });
  }
}
