// Who may call which MDS method (docs/security.md). Roles: admin (operators: everything),
// cluster (MDSes and metaservers: registration, heartbeats, reading any fs to reclaim its data),
// fs (mounts and SDK clients of one fs). A method missing from the table is admin-only, so a new
// method is closed until someone decides otherwise.
import { CurveError, StatusCode } from '../../common/index.ts';
import type { CallContext, Principal, RpcAuth } from '../../rpc/index.ts';
import type { ClusterKey } from './credentials.ts';

/**
 * admin: admin only. cluster: admin or cluster. fs: admin, cluster, or a client of the fs the
 * request names (the handler checks which, with `FsAccess`). member: any valid credential.
 */
export type Rule = 'admin' | 'cluster' | 'fs' | 'member';

const MDS = 'curvefs.mds.MdsService/';
const TOPO = 'curvefs.mds.topology.TopologyService/';

export const MDS_RULES: Record<string, Rule> = {
  [MDS + 'CreateFs']: 'admin',
  [MDS + 'DeleteFs']: 'admin',
  [MDS + 'UpdateFsInfo']: 'admin',
  [MDS + 'ListClusterFsInfo']: 'cluster',
  [MDS + 'GetFsInfo']: 'fs',
  [MDS + 'MountFs']: 'fs',
  [MDS + 'UmountFs']: 'fs',
  [MDS + 'RefreshSession']: 'fs',
  [MDS + 'AllocateS3Chunk']: 'fs',
  // Directory quotas: operators set and delete them (admin, the default); clients read them and
  // report their usage deltas.
  [MDS + 'GetQuota']: 'fs',
  [MDS + 'ListQuota']: 'fs',
  [MDS + 'SyncQuota']: 'fs',
  [TOPO + 'RegistMetaServer']: 'cluster',
  [TOPO + 'CreatePartition']: 'fs',
  // Routing and status reads: every client needs them, and they hold no secrets.
  [TOPO + 'ListMetaServer']: 'member',
  [TOPO + 'GetMetaServer']: 'member',
  [TOPO + 'GetServer']: 'member',
  [TOPO + 'ListZoneServer']: 'member',
  [TOPO + 'GetZone']: 'member',
  [TOPO + 'ListPoolZone']: 'member',
  [TOPO + 'GetPool']: 'member',
  [TOPO + 'ListPool']: 'member',
  [TOPO + 'GetMetaServerListInCopysets']: 'member',
  [TOPO + 'ListPartition']: 'member',
  [TOPO + 'GetCopysetOfPartition']: 'member',
  [TOPO + 'GetCopysetsInfo']: 'member',
  [TOPO + 'ListCopysetInfo']: 'member',
  [TOPO + 'ListTopology']: 'member',
  ['curvefs.mds.heartbeat.HeartbeatService/MetaServerHeartbeat']: 'cluster',
};

/**
 * The metaserver's methods. The data path is open to any credential of the cluster here; once a
 * request is decoded, a client of one fs is held to that fs's partitions by
 * src/metaserver/authz.ts.
 */
export const METASERVER_RULES: Record<string, Rule> = {
  'curvefs.metaserver.MetaServerService/*': 'member',
  // Copyset creation, membership and leadership: the MDS (cluster) or an operator (admin).
  'curvefs.metaserver.CopysetService/*': 'cluster',
  'curvefs.metaserver.CopysetService/GetLeader': 'member',
  'curvefs.metaserver.CopysetService/GetCopysetStatus': 'member',
  'curvefs.metaserver.CopysetService/ListCopysets': 'member',
  'curvefs.metaserver.MetaServerInternalService/*': 'cluster',
  'curvefs.raft.RaftService/*': 'cluster',
};

/** The rule of `method`: its own entry, else its service's "Service/*" entry, else admin only. */
export function ruleOf(rules: Record<string, Rule>, method: string): Rule {
  return rules[method] ?? rules[method.slice(0, method.indexOf('/') + 1) + '*'] ?? 'admin';
}

function allowed(rule: Rule, p: Principal): boolean {
  switch (rule) {
    case 'admin':
      return p.role === 'admin';
    case 'cluster':
      return p.role === 'admin' || p.role === 'cluster';
    case 'fs':
    case 'member':
      return true;
  }
}

/** An RpcAuth that checks tokens with the cluster key against a rule table. */
export function tokenAuth(key: ClusterKey, rules: Record<string, Rule>): RpcAuth {
  return {
    authenticate: (credential) => key.verify(credential),
    authorize(method, principal, failure) {
      if (!principal) {
        throw new CurveError(StatusCode.UNAUTHENTICATED, failure ? `${method}: credential refused: ${failure}` : `${method} needs a credential (a cluster token; see docs/security.md)`);
      }
      const rule = ruleOf(rules, method);
      if (!allowed(rule, principal)) {
        throw new CurveError(StatusCode.FORBIDDEN, `${method} needs the ${rule === 'admin' ? 'admin' : 'admin or cluster'} role; this credential is ${describe(principal)}`);
      }
    },
  };
}

export function describe(p: Principal): string {
  return p.role === 'fs' ? `a client of fs ${p.fsName}` : p.role;
}

/**
 * The fs-scoped half of the policy, used by handlers once they know which fs a request names.
 * With auth off (no cluster key) every check passes.
 */
export class FsAccess {
  constructor(readonly enabled: boolean) {}

  /** Whether the caller is entitled to `fsName`'s data (and so its store credentials). */
  mayUse(ctx: CallContext | undefined, fsName: string): boolean {
    if (!this.enabled) return true;
    const p = ctx?.principal;
    if (!p) return false;
    return p.role === 'admin' || p.role === 'cluster' || (p.role === 'fs' && p.fsName === fsName);
  }

  /** Throws FORBIDDEN unless the caller may use `fsName`. */
  check(ctx: CallContext | undefined, fsName: string, method: string): void {
    if (this.mayUse(ctx, fsName)) return;
    const p = ctx?.principal;
    if (!p) throw new CurveError(StatusCode.UNAUTHENTICATED, `${method} needs a credential`);
    throw new CurveError(StatusCode.FORBIDDEN, `${method} on fs ${fsName}: this credential is ${describe(p)}`);
  }
}
