// Quotas of one leadership term: the records (limits and usage: the recursive usage of the tree
// under a directory, or what one uid or gid owns across the fs) and the clients' usage deltas
// (SyncQuota). The MDS only adds up what the
// clients report; the clients decide what a change costs and refuse past a limit (EDQUOT) from
// the figures the last sync answered (docs/architecture.md "Directory quotas", "User and group
// quotas"). Records are kept by quota id (src/common/quota-id.ts).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { compareQuotas, CurveError, quotaId, quotaLabel, StatusCode, type QuotaId, type QuotaTarget } from '../common/index.ts';
import { QuotaKind, QuotaSchema, type Quota, type QuotaDelta } from '../gen/mds_pb.ts';
import type { FencedStore } from './fenced-store.ts';
import { keys } from './keys.ts';
import { KeyedMutex } from './mutex.ts';

/** Clients whose last sync seq is remembered (one per connection; connections come and go). */
const MAX_CLIENTS = 100_000;

function fsIdOfKey(key: string): number {
  return Number(key.slice(keys.quotaPrefix.length).split('/')[0]);
}

/** uid/gid are 32-bit (POSIX id_t). */
const MAX_OWNER_ID = 0xffff_ffff;

function checkTarget(q: Quota): void {
  if (q.kind === QuotaKind.QUOTA_DIRECTORY) {
    if (!(Number.isSafeInteger(q.dirInodeId) && q.dirInodeId > 0)) throw new CurveError(StatusCode.PARAM_ERROR, `invalid directory inode ${q.dirInodeId}`);
  } else if (q.kind === QuotaKind.QUOTA_USER || q.kind === QuotaKind.QUOTA_GROUP) {
    if (!(Number.isSafeInteger(q.ownerId) && q.ownerId >= 0 && q.ownerId <= MAX_OWNER_ID)) throw new CurveError(StatusCode.PARAM_ERROR, `invalid ${q.kind === QuotaKind.QUOTA_USER ? 'uid' : 'gid'} ${q.ownerId}`);
  } else throw new CurveError(StatusCode.PARAM_ERROR, `unknown quota kind ${String(q.kind)}`);
}

function checkLimit(x: number, what: string): void {
  if (!(Number.isSafeInteger(x) && x >= 0)) throw new CurveError(StatusCode.PARAM_ERROR, `${what} ${x} must be a non-negative integer`);
}

export class QuotaManager {
  /** fsId → quota id → record. */
  private readonly byFs = new Map<number, Map<QuotaId, Quota>>();
  private readonly locks = new KeyedMutex();
  /** client → highest sync seq applied (a retried sync is applied once). */
  private readonly applied = new Map<string, number>();

  private constructor(private readonly store: FencedStore) {}

  static async load(store: FencedStore): Promise<QuotaManager> {
    const m = new QuotaManager(store);
    for (const e of await store.list(keys.quotaPrefix)) {
      const q = fromBinary(QuotaSchema, e.value);
      m.quotasOf(fsIdOfKey(e.key)).set(quotaId(q), q);
    }
    return m;
  }

  private quotasOf(fsId: number): Map<QuotaId, Quota> {
    let m = this.byFs.get(fsId);
    if (!m) this.byFs.set(fsId, (m = new Map()));
    return m;
  }

  list(fsId: number): Quota[] {
    return [...(this.byFs.get(fsId)?.values() ?? [])].sort(compareQuotas);
  }

  get(fsId: number, t: QuotaTarget): Quota {
    const q = this.byFs.get(fsId)?.get(quotaId(t));
    if (!q) throw new CurveError(StatusCode.NOT_FOUND, t.kind === QuotaKind.QUOTA_DIRECTORY ? `no quota on directory inode ${t.dirInodeId}` : `no quota of ${quotaLabel(t)}`);
    return q;
  }

  /** Sets a quota's limits (and its usage when `setUsage`, else a new quota starts at 0). */
  async set(fsId: number, q: Quota, setUsage: boolean): Promise<Quota> {
    checkTarget(q);
    checkLimit(q.maxBytes, 'byte limit');
    checkLimit(q.maxInodes, 'inode limit');
    return this.locks.run(String(fsId), async () => {
      const id = quotaId(q);
      const old = this.byFs.get(fsId)?.get(id);
      const owned = q.kind !== QuotaKind.QUOTA_DIRECTORY;
      const next = create(QuotaSchema, {
        kind: q.kind,
        dirInodeId: owned ? 0 : q.dirInodeId,
        ownerId: owned ? q.ownerId : 0,
        path: owned ? '' : q.path || old?.path || '',
        maxBytes: q.maxBytes,
        maxInodes: q.maxInodes,
        usedBytes: setUsage ? q.usedBytes : (old?.usedBytes ?? 0),
        usedInodes: setUsage ? q.usedInodes : (old?.usedInodes ?? 0),
      });
      await this.store.commit([{ type: 'put', key: keys.quota(fsId, id), value: toBinary(QuotaSchema, next) }]);
      this.quotasOf(fsId).set(id, next);
      return next;
    });
  }

  delete(fsId: number, t: QuotaTarget): Promise<void> {
    return this.locks.run(String(fsId), async () => {
      const id = quotaId(this.get(fsId, t));
      await this.store.commit([{ type: 'delete', key: keys.quota(fsId, id) }]);
      this.byFs.get(fsId)?.delete(id);
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
        const ids = [...(this.byFs.get(fsId)?.keys() ?? [])];
        for (let i = 0; i < ids.length; i += 64) {
          await this.store.commit(ids.slice(i, i + 64).map((id) => ({ type: 'delete' as const, key: keys.quota(fsId, id) })));
        }
        this.byFs.delete(fsId);
        dropped += ids.length;
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
      const changed = new Map<QuotaId, Quota>();
      if (fresh && quotas) {
        for (const d of deltas) {
          const id = quotaId(d);
          const q = changed.get(id) ?? quotas.get(id);
          if (!q || (d.bytes === 0 && d.inodes === 0)) continue;
          changed.set(id, create(QuotaSchema, { ...q, usedBytes: q.usedBytes + d.bytes, usedInodes: q.usedInodes + d.inodes }));
        }
      }
      if (changed.size > 0) {
        await this.store.commit([...changed].map(([id, q]) => ({ type: 'put' as const, key: keys.quota(fsId, id), value: toBinary(QuotaSchema, q) })));
        for (const [id, q] of changed) quotas!.set(id, q);
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
