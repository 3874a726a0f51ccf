// Counters for round-trip tests and benches: every metaserver call of an SDK connection by
// method (its MetaClient's caller wrapped), and every kernel request a FUSE ops object serves
// by opcode (one per request the dispatcher hands on).
import type { Connection, MetaCaller } from '../../src/client/index.ts';
import type { FuseOps } from '../../src/fuse/index.ts';

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Counts `conn`'s metaserver calls by method into `counts` (from now on). */
export function countMetaCalls(conn: Connection, counts = new Map<string, number>()): Map<string, number> {
  const holder = conn.meta as unknown as { caller: MetaCaller };
  const inner = holder.caller;
  holder.caller = {
    call(address, method, req, opts) {
      bump(counts, method);
      return inner.call(address, method, req, opts);
    },
  };
  return counts;
}

/** `ops` with every method call counted into `counts` under its opcode name (LOOKUP, CREATE, ...). */
export function countingOps<T extends FuseOps>(ops: T, counts: Map<string, number>): T {
  return new Proxy(ops, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string' || prop === 'constructor') return v;
      return (...args: unknown[]) => {
        bump(counts, prop.toUpperCase());
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/**
 * Runs `fn` with `counters` cleared first; the open-handle releases of `conn` still in flight
 * (RELEASE comes after close returns) settle before the count starts and before it ends.
 * Answers the wall time of `fn` in ms.
 */
export async function countedPhase(conn: Connection, counters: Map<string, number>[], fn: () => Promise<void>): Promise<number> {
  await conn.core.opens?.settle();
  for (const c of counters) c.clear();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  await conn.core.opens?.settle();
  return ms;
}
