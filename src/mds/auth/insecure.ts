// `--insecure` (docs/security.md, "Running without security"): an MDS or metaserver started
// from the command line runs without authentication only when told so in words. Without a
// cluster key and without --insecure it does not start — forgetting --auth-key-file on a real
// cluster is an error with instructions, not a warning scrolling past. --insecure means no
// tokens and no TLS (tests, benchmarks, a throw-away cluster on one machine); it is logged loudly
// at start and it cannot be combined with a key or certificates, so a command line never says
// both.
import { createLogger } from '../../common/index.ts';

const log = createLogger('security');

export const INSECURE_HELP = 'run WITHOUT authentication and TLS: anyone who reaches the ports may do anything (tests and benchmarks only; docs/security.md)';

/** Flags that bear on it, as the command line gave them. */
export interface SecurityFlags {
  insecure?: boolean;
  authKeyFile?: string;
  tlsDir?: string;
}

/** Why the flags are refused, or undefined when they are consistent. */
export function securityFlagsProblem(who: 'mds' | 'metaserver', f: SecurityFlags): string | undefined {
  if (f.insecure && (f.authKeyFile || f.tlsDir)) {
    return `--insecure contradicts ${f.authKeyFile ? '--auth-key-file' : '--tls-dir'}: give the cluster key and certificates, or --insecure, not both`;
  }
  if (!f.insecure && !f.authKeyFile) {
    return (
      `no --auth-key-file: the ${who} would let anyone who reaches its port do anything. Give it the cluster key ` +
      '(`curvefs auth key FILE` makes one; docs/security.md) — and --tls-dir/--tls-name for TLS — or say --insecure ' +
      'to run without authentication (tests, benchmarks)'
    );
  }
  return undefined;
}

/** The start-up warning of an --insecure process (one line per fact, at warn level). */
export function logInsecure(who: 'mds' | 'metaserver', address: string): void {
  log.warn(`INSECURE ${who} (--insecure): no authentication, no TLS`, { address });
  log.warn(`INSECURE: anyone who can reach ${address} may read, change and delete every file system and the topology`);
}
