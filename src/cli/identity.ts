// Who the file commands act as. The SDK checks POSIX permissions for a caller identity
// (src/vfs); the CLI gives it the invoking user's, so `curvefs cat` refuses what `cat` on the
// mount refuses. Root may name another identity with `--as UID:GID[:G1,G2,...]` (to act for a
// user, or to test permissions); anyone else may only narrow their own.
//
// The identity is advisory, as in NFS AUTH_SYS: the servers cannot verify it, and a user who
// holds the fs token could run a modified client. The token is the boundary (docs/security.md).
import { OptionValueError, parseIntStrict } from '../common/index.ts';
import { CliError, EXIT } from './output.ts';

export interface CallerIdentity {
  uid: number;
  gid: number;
  groups: number[];
}

/** The largest uid/gid POSIX systems use (32 bits; 2^32-1 is "no id", (uid_t)-1). */
const MAX_ID = 0xfffffffe;

function parseId(s: string, what: string): number {
  // Digits only: no sign, no blanks, no "0x" (parseIntStrict would take " 7" and "-0").
  if (!/^\d+$/.test(s)) throw new OptionValueError(`Expected ${what}: a whole number from 0 to ${MAX_ID}.`);
  return parseIntStrict(s, what, { min: 0, max: MAX_ID });
}

/** `--as` value: "UID:GID" or "UID:GID:G1,G2,..." in decimal, nothing else. */
export function parseIdentity(value: string): CallerIdentity {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3) throw new OptionValueError('Expected UID:GID or UID:GID:G1,G2,... (decimal ids).');
  const uid = parseId(parts[0]!, 'a uid');
  const gid = parseId(parts[1]!, 'a gid');
  const groups = parts.length === 3 ? parts[2]!.split(',').map((g) => parseId(g, 'a supplementary gid')) : [];
  return { uid, gid, groups: [...new Set(groups)] };
}

/** What the process knows of its user (injected for tests; `processIdentity()` in the CLI). */
export interface ProcessIdentity {
  uid: number;
  gid: number;
  groups: number[];
}

export function processIdentity(): ProcessIdentity {
  // getuid and friends are missing on Windows only; the CLI runs where FUSE does.
  return { uid: process.getuid!(), gid: process.getgid!(), groups: process.getgroups!() };
}

/**
 * The identity the file commands use: `--as` when given (root: any; others: only their own uid
 * with groups they have — a narrowing, which grants nothing), else the process's own.
 */
export function callerIdentity(as: CallerIdentity | undefined, self: ProcessIdentity): CallerIdentity {
  if (!as) return { uid: self.uid, gid: self.gid, groups: self.groups.filter((g) => g !== self.gid) };
  if (self.uid === 0) return as;
  const own = new Set([self.gid, ...self.groups]);
  const foreign = [as.gid, ...as.groups].filter((g) => !own.has(g));
  if (as.uid !== self.uid || foreign.length > 0) {
    const why = as.uid !== self.uid ? `uid ${as.uid} is not yours (${self.uid})` : `group ${foreign[0]} is not one of yours`;
    throw new CliError(`--as ${as.uid}:${as.gid}: only root may act as another user: ${why}`, EXIT.USAGE, 'usage');
  }
  return as;
}
