// Replicated transaction state of one copyset (docs/rename.md §2): coordinator records,
// participant prepare records, abort tombstones, the locks they hold, and the outcomes of
// finished transactions by request id. Pure data: changed only by applied log entries, so every
// replica holds the same locks; part of the copyset snapshot.
import { TxState, type TxId, type TxPart, type TxPrepared, type TxRecord } from '../../gen/metaserver_pb.ts';
import type { StatusCode } from '../../common/index.ts';

export type LockRole = 'coordinator' | 'participant';

export interface LockHolder {
  tx: string;
  role: LockRole;
}

export interface InodeLockHolder extends LockHolder {
  seal: boolean;
}

/** Outcome of a finished transaction, kept so a retried request gets it again. */
export interface TxOutcome {
  status: StatusCode;
  movedInode: number;
  replacedInode: number;
}

/** Bound of the outcomes loaded from a version-1 image (no new ones are added). */
export const MAX_OUTCOMES = 8192;

export function txKey(id: TxId | undefined): string {
  return id ? `${id.partitionId}:${id.index}` : '0:0';
}

export function ridKey(clientId: number, seq: number): string {
  return `${clientId}:${seq}`;
}

export function dentryLockKey(fsId: number, parent: number, name: string): string {
  return `${fsId}:${parent}:${name}`;
}

function dirKey(fsId: number, parent: number): string {
  return `${fsId}:${parent}`;
}

function bump(m: Map<string, number>, k: string, d: number): void {
  const n = (m.get(k) ?? 0) + d;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}

function inodeKey(fsId: number, ino: number): string {
  return `${fsId}:${ino}`;
}

/** Key of a participant record: the participant partition and the tx. */
export function preparedKey(partitionId: number, id: TxId | undefined): string {
  return `${partitionId}@${txKey(id)}`;
}

export class TxStore {
  /** Coordinator records by tx key. */
  readonly records = new Map<string, TxRecord>();
  /** Coordinator records by request id (in-progress and decided-but-not-forgotten). */
  private readonly byRid = new Map<string, string>();
  /** Participant records by preparedKey. */
  readonly prepared = new Map<string, TxPrepared>();
  /**
   * Participant tombstones of finished transactions (preparedKey → which), oldest first. Never
   * evicted by count (a resent decision or a duplicated Prepare may arrive any time before the
   * coordinator forgets the transaction): a tombstone goes when its coordinator's floor passes it.
   */
  readonly tombstones = new Map<string, { partitionId: number; id: TxId }>();
  /** The same tombstone keys by coordinator partition, for pruning at a floor. */
  private readonly tombstonesByCoordinator = new Map<number, Set<string>>();
  /**
   * Per coordinator partition: every one of its transactions with a log index at or below this
   * is decided and acknowledged by all its participants (the coordinator says so in each
   * Prepare and decision it sends), so it counts as finished here without a tombstone.
   */
  readonly floors = new Map<number, number>();
  /**
   * Outcomes of transactions forgotten before version 2 (loaded from an old image). Outcomes
   * now live in the coordinator partition's request table, recorded at the commit.
   */
  readonly outcomes = new Map<string, TxOutcome & { clientId: number; seq: number }>();

  private readonly dentryLocks = new Map<string, LockHolder>();
  private readonly dirLockCount = new Map<string, number>();
  /** Same, participant locks only (their old values may no longer be true: readers wait). */
  private readonly dirParticipantLockCount = new Map<string, number>();
  private readonly inodeLocks = new Map<string, InodeLockHolder>();
  private readonly fsLocks = new Map<number, string>();

  // ---- locks -----------------------------------------------------------------------------

  dentryLock(fsId: number, parent: number, name: string): LockHolder | undefined {
    return this.dentryLocks.get(dentryLockKey(fsId, parent, name));
  }

  /** True when some key under directory `parent` is locked (an entry may be arriving). */
  hasLocksUnder(fsId: number, parent: number): boolean {
    return (this.dirLockCount.get(dirKey(fsId, parent)) ?? 0) > 0;
  }

  /** True when a participant lock is held on a key under `parent` (listings wait). */
  hasParticipantLocksUnder(fsId: number, parent: number): boolean {
    return (this.dirParticipantLockCount.get(dirKey(fsId, parent)) ?? 0) > 0;
  }

  inodeLock(fsId: number, ino: number): InodeLockHolder | undefined {
    return this.inodeLocks.get(inodeKey(fsId, ino));
  }

  fsLock(fsId: number): string | undefined {
    return this.fsLocks.get(fsId);
  }

  get lockCount(): number {
    return this.dentryLocks.size + this.inodeLocks.size + this.fsLocks.size;
  }

  /**
   * The first lock of `part` held by another transaction than `tx`, as a description, or
   * undefined when `part` can be locked by `tx`.
   */
  conflict(fsId: number, part: TxPart, tx: string): string | undefined {
    for (const d of part.dentries) {
      const h = this.dentryLock(fsId, d.parent, d.name);
      if (h && h.tx !== tx) return `dentry (${d.parent}, ${JSON.stringify(d.name)}) is locked by tx ${h.tx}`;
    }
    for (const i of part.inodes) {
      const h = this.inodeLock(fsId, i.inode);
      if (h && h.tx !== tx) return `inode ${i.inode} is locked by tx ${h.tx}`;
    }
    if (part.fsLock) {
      const h = this.fsLocks.get(fsId);
      if (h !== undefined && h !== tx) return `the rename lock of fs ${fsId} is held by tx ${h}`;
    }
    return undefined;
  }

  lockPart(fsId: number, part: TxPart, tx: string, role: LockRole): void {
    for (const d of part.dentries) {
      const k = dentryLockKey(fsId, d.parent, d.name);
      if (this.dentryLocks.has(k)) continue;
      this.dentryLocks.set(k, { tx, role });
      const dk = dirKey(fsId, d.parent);
      bump(this.dirLockCount, dk, 1);
      if (role === 'participant') bump(this.dirParticipantLockCount, dk, 1);
    }
    for (const i of part.inodes) this.inodeLocks.set(inodeKey(fsId, i.inode), { tx, role, seal: i.seal });
    if (part.fsLock) this.fsLocks.set(fsId, tx);
  }

  unlockPart(fsId: number, part: TxPart, tx: string): void {
    for (const d of part.dentries) {
      const k = dentryLockKey(fsId, d.parent, d.name);
      const h = this.dentryLocks.get(k);
      if (h?.tx !== tx) continue;
      this.dentryLocks.delete(k);
      const dk = dirKey(fsId, d.parent);
      bump(this.dirLockCount, dk, -1);
      if (h.role === 'participant') bump(this.dirParticipantLockCount, dk, -1);
    }
    for (const i of part.inodes) {
      const k = inodeKey(fsId, i.inode);
      if (this.inodeLocks.get(k)?.tx === tx) this.inodeLocks.delete(k);
    }
    if (part.fsLock && this.fsLocks.get(fsId) === tx) this.fsLocks.delete(fsId);
  }

  // ---- coordinator records -----------------------------------------------------------------

  addRecord(rec: TxRecord): void {
    const k = txKey(rec.id);
    this.records.set(k, rec);
    if (rec.rid) this.byRid.set(ridKey(rec.rid.clientId, rec.rid.seq), k);
  }

  /** The live (undecided or committed) record of a request; aborted ones do not count. */
  recordByRid(clientId: number, seq: number): TxRecord | undefined {
    const k = this.byRid.get(ridKey(clientId, seq));
    const rec = k === undefined ? undefined : this.records.get(k);
    return rec && rec.state !== TxState.TX_ABORTED ? rec : undefined;
  }

  /**
   * Drops a finished record. A committed one leaves its outcome for retries; an aborted one
   * leaves nothing (nothing was applied, so a retry runs again).
   */
  forget(k: string): void {
    const rec = this.records.get(k);
    if (!rec) return;
    this.records.delete(k);
    if (rec.rid) {
      const rk = ridKey(rec.rid.clientId, rec.rid.seq);
      if (this.byRid.get(rk) === k) this.byRid.delete(rk);
    }
  }

  /** Marks a participant of a decided record as having applied the decision. */
  ack(k: string, partitionId: number): boolean {
    const rec = this.records.get(k);
    if (!rec || rec.state === TxState.TX_PREPARING) return false;
    let changed = false;
    for (const pp of rec.participants) {
      if (pp.part?.p?.partitionId === partitionId && !pp.acked) {
        pp.acked = true;
        changed = true;
      }
    }
    return changed;
  }

  remember(clientId: number, seq: number, outcome: TxOutcome): void {
    const rk = ridKey(clientId, seq);
    this.outcomes.delete(rk);
    this.outcomes.set(rk, { ...outcome, clientId, seq });
    if (this.outcomes.size > MAX_OUTCOMES) this.outcomes.delete(this.outcomes.keys().next().value!);
  }

  outcome(clientId: number, seq: number): TxOutcome | undefined {
    return this.outcomes.get(ridKey(clientId, seq));
  }

  // ---- participant records -------------------------------------------------------------------

  addPrepared(partitionId: number, rec: TxPrepared): void {
    this.prepared.set(preparedKey(partitionId, rec.id), rec);
  }

  removePrepared(partitionId: number, id: TxId | undefined): TxPrepared | undefined {
    const k = preparedKey(partitionId, id);
    const rec = this.prepared.get(k);
    this.prepared.delete(k);
    return rec;
  }

  addTombstone(partitionId: number, id: TxId | undefined): void {
    if (!id || this.belowFloor(id)) return;
    const k = preparedKey(partitionId, id);
    this.tombstones.set(k, { partitionId, id });
    let set = this.tombstonesByCoordinator.get(id.partitionId);
    if (!set) this.tombstonesByCoordinator.set(id.partitionId, (set = new Set()));
    set.add(k);
  }

  /** True when tx `id` finished at participant `partitionId` (a tombstone, or below its coordinator's floor). */
  isTombstoned(partitionId: number, id: TxId | undefined): boolean {
    return (id !== undefined && this.belowFloor(id)) || this.tombstones.has(preparedKey(partitionId, id));
  }

  private belowFloor(id: TxId): boolean {
    return id.index <= (this.floors.get(id.partitionId) ?? 0);
  }

  /**
   * Raises coordinator `coordinator`'s floor (never lowers it: a deposed leader may send an older
   * one) and drops the tombstones it covers. Records still prepared are kept: they wait for
   * their decision whatever the floor says.
   */
  advanceFloor(coordinator: number, floor: number): void {
    if (!Number.isSafeInteger(floor) || floor <= (this.floors.get(coordinator) ?? 0)) return;
    this.floors.set(coordinator, floor);
    const set = this.tombstonesByCoordinator.get(coordinator);
    if (!set) return;
    for (const k of set) {
      const t = this.tombstones.get(k);
      if (t && t.id.index <= floor) {
        this.tombstones.delete(k);
        set.delete(k);
      }
    }
    if (set.size === 0) this.tombstonesByCoordinator.delete(coordinator);
  }

  /** Re-takes the locks of every undecided record (after loading a snapshot). */
  relock(fsOf: (partitionId: number) => number | undefined): void {
    for (const [k, rec] of this.records) {
      const fsId = rec.local?.p ? fsOf(rec.local.p.partitionId) : undefined;
      if (!rec.local || fsId === undefined) continue;
      if (rec.state === TxState.TX_PREPARING) this.lockPart(fsId, rec.local, k, 'coordinator');
      // A decided record keeps the fs rename lock until it is forgotten.
      else if (rec.local.fsLock) this.lockPart(fsId, { ...rec.local, dentries: [], inodes: [] }, k, 'coordinator');
    }
    for (const rec of this.prepared.values()) {
      const fsId = rec.part?.p ? fsOf(rec.part.p.partitionId) : undefined;
      if (rec.part && fsId !== undefined) this.lockPart(fsId, rec.part, txKey(rec.id), 'participant');
    }
  }

  /** Drops everything a deleted partition held. */
  dropPartition(partitionId: number, fsId: number): void {
    for (const [k, rec] of [...this.records]) {
      if (rec.id?.partitionId === partitionId) {
        if (rec.local) this.unlockPart(fsId, rec.local, k);
        this.forget(k);
      }
    }
    for (const [k, rec] of [...this.prepared]) {
      if (rec.part?.p?.partitionId === partitionId) {
        this.unlockPart(fsId, rec.part, txKey(rec.id));
        this.prepared.delete(k);
      }
    }
  }
}
