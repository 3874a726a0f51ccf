// Cluster credentials (docs/security.md): one secret key per cluster, held by its MDSes and
// metaservers, from which every bearer token is derived as an HMAC. A token names its role (and
// for an fs client its fs) and proves it without any table on the servers: a server holding the
// key recomputes the HMAC. Rotating the key revokes every token at once.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CurveError, StatusCode } from '../../common/index.ts';
import type { Principal } from '../../rpc/index.ts';

/** Format tag of tokens and key files: changing the derivation means a new tag. */
const TAG = 'cfs1';
const KEY_BYTES = 32;
const FS_NAME = /^[a-z0-9-]{1,128}$/;
/** Subject of the status page's read-only token (no RPC role). */
const VIEWER = 'viewer';

export class ClusterKey {
  private constructor(private readonly key: Buffer) {}

  static generate(): ClusterKey {
    return new ClusterKey(randomBytes(KEY_BYTES));
  }

  /** The key in `file` (written by `save`); refused when other users can read it. */
  static load(file: string): ClusterKey {
    let text: string;
    try {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) throw new Error(`mode ${mode.toString(8)} lets other users read it; chmod 600 ${file}`);
      text = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new Error(`cluster key ${file}: ${(e as Error).message}`);
    }
    const m = new RegExp(`^${TAG}-key ([0-9a-f]{${KEY_BYTES * 2}})$`).exec(text);
    if (!m) throw new Error(`cluster key ${file}: not a curvefs cluster key (want one line "${TAG}-key <${KEY_BYTES * 2} hex digits>")`);
    return new ClusterKey(Buffer.from(m[1]!, 'hex'));
  }

  /** Writes the key to `file`, readable by its owner only. */
  save(file: string): void {
    writeSecret(file, `${TAG}-key ${this.key.toString('hex')}\n`);
  }

  /** The bearer token of a principal. */
  token(p: Principal): string {
    const subject = subjectOf(p);
    return `${TAG}.${subject}.${this.mac(subject)}`;
  }

  /**
   * The token of the status page's read-only role: it opens the page, /api/status, /api/events
   * and /metrics, and nothing on any RPC port (docs/security.md, "The status page").
   */
  viewerToken(): string {
    return `${TAG}.${VIEWER}.${this.mac(VIEWER)}`;
  }

  /**
   * A 32-byte key for `purpose`, derived from the cluster key (HMAC in a domain of its own: no
   * token's MAC is ever a derived key). Used to seal secrets at rest (secret-seal.ts).
   */
  derive(purpose: string): Buffer {
    return createHmac('sha256', this.key).update(`${TAG}-derive\0${purpose}`).digest();
  }

  /** The principal a token names, or why it names none. */
  verify(token: string): Principal | { error: string } {
    const subject = this.verifiedSubject(token);
    if (typeof subject !== 'string') return subject;
    if (subject === VIEWER) return { error: 'a viewer token opens the status page only' };
    if (subject === 'admin' || subject === 'cluster') return { role: subject };
    const fs = /^fs:(.+)$/.exec(subject);
    if (fs && FS_NAME.test(fs[1]!)) return { role: 'fs', fsName: fs[1]! };
    return { error: `unknown token subject ${JSON.stringify(subject)}` };
  }

  /** Who may see the status page: the admin and viewer tokens (any other valid one: why not). */
  pageRole(token: string): 'admin' | 'viewer' | { error: string } {
    const subject = this.verifiedSubject(token);
    if (typeof subject !== 'string') return subject;
    if (subject === 'admin' || subject === VIEWER) return subject;
    const p = this.verify(token);
    return { error: `the status page needs the admin or viewer token; this one is ${'error' in p ? p.error : p.role === 'fs' ? `a client of fs ${p.fsName}` : `the ${p.role} role's`}` };
  }

  /** A token's subject when this key made it, or why not. */
  private verifiedSubject(token: string): string | { error: string } {
    const parts = token.split('.');
    if (parts[0] !== TAG || parts.length < 3 || parts.length > 4) return { error: 'not a curvefs token' };
    const subject = parts.slice(1, -1).join('.');
    const given = Buffer.from(parts[parts.length - 1]!, 'base64url');
    const want = Buffer.from(this.mac(subject), 'base64url');
    if (given.length !== want.length || !timingSafeEqual(given, want)) return { error: 'token not issued by this cluster (or the cluster key was rotated)' };
    return subject;
  }

  private mac(subject: string): string {
    return createHmac('sha256', this.key).update(`${TAG}\0${subject}`).digest('base64url');
  }
}

function subjectOf(p: Principal): string {
  if (p.role !== 'fs') return p.role;
  if (!p.fsName || !FS_NAME.test(p.fsName)) throw new CurveError(StatusCode.FSNAME_INVALID, `no token for fs name ${JSON.stringify(p.fsName)}`);
  return `fs:${p.fsName}`;
}

/** Writes `text` to `file` with mode 0600 (its directory 0700 when created). */
export function writeSecret(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode through writeFileSync
}
