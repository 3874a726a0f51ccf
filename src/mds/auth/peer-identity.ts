// Which metaserver a Raft message really comes from (issue [L], docs/security.md "Node identity").
// With mutual TLS, a metaserver's certificate names it (its common name; `curvefs certs` makes
// `metaserverN`) and the metaserver registers with the MDS under that name: the MDS records it as
// the metaserver's host name and refuses a registration whose name is not the caller's
// certificate. A Raft batch (or snapshot chunk) that claims to come from metaserver X is accepted
// only over a connection whose certificate carries X's registered name. So the cluster token
// alone, or another metaserver's certificate, cannot speak for X in any Raft group.
import { CurveError, StatusCode } from '../../common/index.ts';

/** Looks up the certificate name metaserver `id` registered with (undefined: no such metaserver). */
export type NameLookup = (id: number) => Promise<string | undefined>;

/** Without an MDS (tests, tools): metaserver `id` must present the certificate `metaserver<id>`. */
export const fixedNames: NameLookup = async (id) => `metaserver${id}`;

export class RaftPeerIdentity {
  private readonly names = new Map<number, string>();
  /** Refusals since start (status pages, tests). */
  refused = 0;

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

  private compare(from: number, want: string, certName: string): void {
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
  if (certName === undefined) return;
  if (hostName !== certName) throw new CurveError(StatusCode.FORBIDDEN, `a metaserver registers under the name of its certificate: this one is "${certName}", the request says "${hostName}"`);
  for (const m of registered) {
    if (m.hostname === certName && (m.internalIp !== ip || m.internalPort !== port)) {
      throw new CurveError(StatusCode.FORBIDDEN, `the certificate name "${certName}" is already registered by the metaserver at ${m.internalIp}:${m.internalPort}; each metaserver needs its own certificate`);
    }
  }
}
