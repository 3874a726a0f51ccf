// Which fs a caller of the metaserver data path may touch (docs/security.md, "Authorisation").
// The RPC layer admits any valid token to MetaServerService before it decodes a request; once
// decoded, every request names its partition's fs (PartitionRef.fs_id, and a rename's
// destination too), and the partition state machine refuses a reference whose fs id is not the
// partition's own (FS_ID_MISMATCH). So checking the fs ids a request names against the fs its
// token names closes the data path: a client of fs beta cannot read or change fs alpha.
//
// Tokens name an fs by name, requests by id: the id's name is asked of the MDS once and kept (fs
// ids are never reused — the MDS allocates them from a persisted counter — and an fs keeps its
// name, so the answer never goes stale). Admin and cluster tokens pass without a look-up.
import { CurveError, StatusCode, createLogger } from '../common/index.ts';
import type { CallContext, Principal } from '../rpc/index.ts';
import type { Counter, Metrics } from '../metrics/index.ts';

const log = createLogger('metaserver-authz');

/** The name of fs `fsId` (undefined: no such fs), or a rejection when it cannot be learnt now. */
export type FsNameLookup = (fsId: number) => Promise<string | undefined>;

export interface FsScopeOptions {
  /** Asks the MDS; without an MDS (tests, tools with `--id`) no fs token can be placed. */
  fsNameOf?: FsNameLookup;
  metrics?: Metrics;
}

/** Checks the fs ids a data-path request names against its caller's token. */
export class FsScope {
  private readonly names = new Map<number, string>();
  private readonly pending = new Map<number, Promise<string | undefined>>();
  private readonly refusals: Counter<'op'> | undefined;

  constructor(private readonly opts: FsScopeOptions) {
    this.refusals = opts.metrics?.counter('curvefs_metaserver_fs_scope_refused_total', 'Data-path calls refused because the token is of another fs, by operation.', ['op']);
  }

  /**
   * Resolves (synchronously when it can: the common case costs a Map look-up) or throws
   * FORBIDDEN / UNAVAILABLE. `op` is the method's short name, for messages and metrics.
   */
  check(op: string, ctx: CallContext, req: object): void | Promise<void> {
    const p = ctx.principal;
    // Without a principal the RPC layer already refused (auth on) or there is no auth at all.
    if (!p || p.role !== 'fs') return;
    const refs = req as PartitionRefs;
    let pending: Promise<void>[] | undefined; // only while an fs name is being looked up
    try {
      for (const field of PARTITION_REF_FIELDS) {
        const ref = refs[field];
        const r = ref ? this.checkOne(op, p, ref.fsId) : undefined;
        if (r) (pending ??= []).push(r);
      }
    } catch (e) {
      // Refused at once: the pending answers have nobody waiting for them any more.
      for (const r of pending ?? []) r.catch(() => undefined);
      throw e;
    }
    if (!pending) return;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  private checkOne(op: string, p: Principal, fsId: number): void | Promise<void> {
    const name = this.names.get(fsId);
    if (name === undefined) return this.lookup(fsId).then((n) => (n === p.fsName ? undefined : this.refuse(op, p, fsId, n)));
    if (name !== p.fsName) this.refuse(op, p, fsId, name);
  }

  private refuse(op: string, p: Principal, fsId: number, name: string | undefined): never {
    this.refusals?.inc({ op });
    const which = name === undefined ? `fs ${fsId} (no such fs)` : `fs ${fsId} (${name})`;
    throw new CurveError(StatusCode.FORBIDDEN, `${op} on ${which}: this credential is a client of fs ${p.fsName}`);
  }

  private lookup(fsId: number): Promise<string | undefined> {
    const lookupFn = this.opts.fsNameOf;
    if (!lookupFn) {
      return Promise.reject(new CurveError(StatusCode.FORBIDDEN, 'this metaserver runs without an MDS and cannot tell which fs an fs token may use; use the cluster or admin token'));
    }
    let p = this.pending.get(fsId);
    if (!p) {
      p = lookupFn(fsId).then(
        (name) => {
          this.pending.delete(fsId);
          // Only a found fs is kept: an id not allocated yet may name an fs later.
          if (name !== undefined) this.names.set(fsId, name);
          return name;
        },
        (e: unknown) => {
          this.pending.delete(fsId);
          log.warn('cannot learn the name of an fs from the MDS', { fsId, error: (e as Error).message });
          throw new CurveError(StatusCode.UNAVAILABLE, `cannot learn the name of fs ${fsId} from the MDS to check the credential: ${(e as Error).message}`);
        },
      );
      this.pending.set(fsId, p);
    }
    return p;
  }
}

/**
 * Where data-path requests name partitions: every request's `p`, a rename's destination `newP`,
 * a trash entry's inode partition `inodeP` (test/unit/metaserver-authz.test.ts checks that no
 * request has another PartitionRef).
 */
export const PARTITION_REF_FIELDS = ['p', 'newP', 'inodeP'] as const;

type PartitionRefs = { [F in (typeof PARTITION_REF_FIELDS)[number]]?: { fsId: number } };

type Handler = (req: never, ctx: CallContext) => unknown;

/**
 * `impl` (MetaServerService's handlers) with `scope.check` run before each handler. Handlers
 * called inside the process (the transaction coordinator's local shortcut) are not wrapped.
 */
export function guardDataPath<T extends object>(impl: T, scope: FsScope): T {
  const out: Record<string, Handler> = {};
  for (const [name, fn] of Object.entries(impl as Record<string, Handler>)) {
    const op = name.charAt(0).toUpperCase() + name.slice(1);
    out[name] = (req: never, ctx: CallContext) => {
      const checked = scope.check(op, ctx, req as object);
      return checked ? checked.then(() => fn(req, ctx)) : fn(req, ctx);
    };
  }
  return out as T;
}
