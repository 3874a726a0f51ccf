// Root squash for the SDK/CLI path API (docs/security.md, "Root squash"), after NFS's
// root_squash: a caller claiming uid 0 acts as root only when its credential is the admin
// token; with an fs client's (or the cluster's) token it acts as nobody. The permission check
// runs in the client, so this is a rule the honest client keeps — the token stays the boundary —
// but it makes "root on some machine that holds an fs token" a file-system user like any other,
// and full control of the fs's files an operator's privilege.
import type { Principal } from '../../rpc/index.ts';

/** The uid and gid of nobody (Linux's overflow id, NFS's default anonuid/anongid). */
export const NOBODY = 65534;

export interface Identity {
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * `identity` as the credential's `role` allows it. `role` undefined means no credential: a
 * cluster without authentication, where everyone may do everything anyway, so root stays root.
 */
export function squashRoot(identity: Identity, role: Principal['role'] | undefined): { identity: Identity; squashed: boolean } {
  if (identity.uid !== 0 || role === undefined || role === 'admin') return { identity, squashed: false };
  return { identity: { uid: NOBODY, gid: NOBODY, groups: identity.groups.filter((g) => g !== 0) }, squashed: true };
}

/**
 * The role a token claims, read from its subject without checking its MAC (the client cannot:
 * it has no cluster key; a token it made up gets it refused by the servers anyway). Undefined
 * for no token; 'fs' for anything that is not plainly admin or cluster.
 */
export function claimedRole(token: string | undefined): Principal['role'] | undefined {
  if (!token) return undefined;
  const subject = token.split('.').slice(1, -1).join('.');
  return subject === 'admin' || subject === 'cluster' ? subject : 'fs';
}
