// Which metaserver a Raft message really comes from (issue [L], docs/security.md "Node identity").
// With mutual TLS, a metaserver's certificate names it (its common name; `curvefs certs` makes
// `metaserverN`) and the metaserver registers with the MDS under that name: the MDS records it as
// the metaserver's host name and refuses a registration whose name is not the caller's
// certificate. A Raft batch (or snapshot chunk) that claims to come from metaserver X is accepted
// only over a connection whose certificate carries X's registered name. So the cluster token
// alone, or another metaserver's certificate, cannot speak for X in any Raft group.
//
// The registered name is `cert:<certificate name>`, so that a name bound to a certificate is told
// apart from the machine host name that metaservers registered with before (and without TLS).
// Such older registrations are not checked (logged once per metaserver): the cluster keeps
// working, and re-registering the metaserver under TLS brings it under the check.
import { CurveError, StatusCode, createLogger } from '../../common/index.ts';

const log = createLogger('raft-identity');

/** Prefix of a registered name that a certificate vouches for. */
export const CERT_NAME_PREFIX = 'cert:';

/** The registration name of the holder of certificate `certName`. */
export function certRegistrationName(certName: string): string {
  return CERT_NAME_PREFIX + certName;
}

/** Looks up the name metaserver `id` registered with (undefined: no such metaserver). */
export type NameLookup = (id: number) => Promise<string | undefined>;

/** Without an MDS (tests, tools): metaserver `id` must present the certificate `metaserver<id>`. */
export const fixedNames: NameLookup = async (id) => certRegistrationName(`metaserver${id}`);

export class RaftPeerIdentity {
  private readonly names = new Map<number, string>();
  /** Refusals since start (status pages, tests). */
  refused = 0;
  /** Senders registered before names were bound to certificates, whose messages pass unchecked. */
  readonly unchecked = new Set<number>();

  constructor(private readonly lookup: NameLookup) {}

  /** Throws FORBIDDEN unless `certName` is the certificate of metaserver `from`; synchronous
   *  (no promise) once the name of `from` is known. */
  check(from: number, certName: string | undefined): void | Promise<void> {
    if (certName === undefined) this.refuse(`a Raft message claiming to be from metaserver ${from} came without a TLS client certificate`);
    const known = this.names.get(from);
    if (known !== undefined) return this.compare(from, known, certName);
    return this.lookup(from).then((want) => {
      if (want === undefined) this.refuse(`a Raft message claims to be from metaserver ${from}, which is not registered (certificate "${certName}")`);
      // Only known names are kept: a metaserver that registers later must still be found.
      this.names.set(from, want);
      this.compare(from, want, certName);
    });
  }

  private compare(from: number, registered: string, certName: string): void {
    if (!registered.startsWith(CERT_NAME_PREFIX)) {
      if (!this.unchecked.has(from)) {
        this.unchecked.add(from);
        log.warn('metaserver registered without a certificate name: its Raft identity is not checked; delete and re-register it under TLS', { metaserver: from, registeredAs: registered });
      }
      return;
    }
    const want = registered.slice(CERT_NAME_PREFIX.length);
    if (want !== certName) this.refuse(`a Raft message claims to be from metaserver ${from} (certificate "${want}") but came over a connection with certificate "${certName}"`);
  }

  private refuse(why: string): never {
    this.refused++;
    throw new CurveError(StatusCode.FORBIDDEN, why);
  }
}

/**
 * The MDS's check of a metaserver registration: with TLS the name registered must be the
 * caller's certificate name, and no other metaserver may hold it (two metaservers with one name
 * could speak for each other).
 */
export function checkRegistrationName(hostName: string, certName: string | undefined, registered: Iterable<{ hostname: string; internalIp: string; internalPort: number }>, ip: string, port: number): void {
  if (certName === undefined) {
    if (hostName.startsWith(CERT_NAME_PREFIX)) throw new CurveError(StatusCode.FORBIDDEN, `only a TLS connection with that certificate may register the name "${hostName}"`);
    return;
  }
  const want = certRegistrationName(certName);
  if (hostName !== want) throw new CurveError(StatusCode.FORBIDDEN, `a metaserver registers under the name of its certificate: this one is "${want}", the request says "${hostName}"`);
  for (const m of registered) {
    if (m.hostname === want && (m.internalIp !== ip || m.internalPort !== port)) {
      throw new CurveError(StatusCode.FORBIDDEN, `the certificate name "${certName}" is already registered by the metaserver at ${m.internalIp}:${m.internalPort}; each metaserver needs its own certificate`);
    }
  }
}
