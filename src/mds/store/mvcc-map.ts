// The in-memory state of a single-node store with etcd's revision semantics. Pure: no I/O.
// Used by the embedded (file-backed) store and by the memory store of unit tests.
import type { KvCompare, KvEntry, KvOp, TxnRequest } from './types.ts';

interface Cell {
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

export class MvccMap {
  private cells = new Map<string, Cell>();
  private sortedKeys: string[] | undefined;
  revision = 0;

  get(key: string): KvEntry | undefined {
    const c = this.cells.get(key);
    return c ? { key, value: c.value, createRevision: c.createRevision, modRevision: c.modRevision, version: c.version } : undefined;
  }

  list(prefix: string): KvEntry[] {
    if (!this.sortedKeys) this.sortedKeys = [...this.cells.keys()].sort(compareKeys);
    const keys = this.sortedKeys;
    // Binary search for the first key >= prefix, then walk while keys share the prefix.
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(keys[mid]!, prefix) < 0) lo = mid + 1;
      else hi = mid;
    }
    const out: KvEntry[] = [];
    for (let i = lo; i < keys.length && keys[i]!.startsWith(prefix); i++) out.push(this.get(keys[i]!)!);
    return out;
  }

  /** 'fence' / 'compare' when the request's guards fail against the current state, else undefined. */
  check(req: TxnRequest, view: (key: string) => KvEntry | undefined = (k) => this.get(k)): 'fence' | 'compare' | undefined {
    if (req.fence) {
      const e = view(req.fence.key);
      if (!e || e.createRevision !== req.fence.revision) return 'fence';
    }
    for (const c of req.compares ?? []) if (!compareHolds(c, view(c.key))) return 'compare';
    return undefined;
  }

  apply(ops: KvOp[], revision: number): void {
    for (const op of ops) {
      if (op.type === 'put') {
        const old = this.cells.get(op.key);
        if (!old) this.sortedKeys = undefined;
        this.cells.set(op.key, {
          value: op.value,
          createRevision: old ? old.createRevision : revision,
          modRevision: revision,
          version: old ? old.version + 1 : 1,
        });
      } else if (this.cells.delete(op.key)) {
        this.sortedKeys = undefined;
      }
    }
    this.revision = revision;
  }

  /** Loads a snapshot's cells (replacing everything). */
  load(revision: number, entries: KvEntry[]): void {
    this.cells = new Map(entries.map((e) => [e.key, { value: e.value, createRevision: e.createRevision, modRevision: e.modRevision, version: e.version }]));
    this.sortedKeys = undefined;
    this.revision = revision;
  }

  entries(): KvEntry[] {
    return this.list('');
  }
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareHolds(c: KvCompare, e: KvEntry | undefined): boolean {
  switch (c.target) {
    case 'createRevision':
      return (e?.createRevision ?? 0) === c.equals;
    case 'modRevision':
      return (e?.modRevision ?? 0) === c.equals;
    case 'version':
      return (e?.version ?? 0) === c.equals;
    case 'value': {
      if (!e) return false;
      const a = e.value;
      const b = c.equals;
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
      return true;
    }
  }
}

/**
 * A view of `base` with `ops` applied on top (used to check later transactions of one group
 * commit against the effects of earlier ones, before anything is applied for real).
 */
export class Overlay {
  private readonly changes = new Map<string, KvEntry | null>();
  constructor(private readonly base: MvccMap) {}
  get = (key: string): KvEntry | undefined => {
    const c = this.changes.get(key);
    if (c === null) return undefined;
    return c ?? this.base.get(key);
  };
  apply(ops: KvOp[], revision: number): void {
    for (const op of ops) {
      if (op.type === 'put') {
        const old = this.get(op.key);
        this.changes.set(op.key, {
          key: op.key,
          value: op.value,
          createRevision: old ? old.createRevision : revision,
          modRevision: revision,
          version: old ? old.version + 1 : 1,
        });
      } else {
        this.changes.set(op.key, null);
      }
    }
  }
}
