// S3 secret keys at rest (issue [L], docs/security.md "Secrets"): the MDS stores an fs's secret
// key sealed — AES-256-GCM under a key derived from the cluster key, bound to the fs id — so a
// copy of the store (the embedded store's files, an etcd backup) does not open the bucket
// without the cluster key. In memory, and to the callers entitled to it, the secret is plain.
//
// A sealed value is `cfs1-sealed:<base64url(iv 12 | ciphertext | tag 16)>` in place of the plain
// secret (the record's layout is unchanged). After a rotation of the cluster key the previous
// key opens what it sealed and the MDS seals it again with the new one (FsManager.load).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CurveError, StatusCode } from '../../common/index.ts';
import type { ClusterKey } from './credentials.ts';

const PREFIX = 'cfs1-sealed:';
const PURPOSE = 's3-secret-at-rest';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

export class SecretSeal {
  private readonly keys: Buffer[];

  /** `current` seals; `previous` (keys rotated out) only open. */
  constructor(current: ClusterKey, previous: ClusterKey[] = []) {
    this.keys = [current, ...previous].map((k) => k.derive(PURPOSE));
  }

  /** `plain` sealed for `context` (what it belongs to: opening it elsewhere fails). */
  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.keys[0]!, iv);
    c.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return PREFIX + Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url');
  }

  /**
   * The plain secret of a stored value, and whether it must be sealed again (it was plain, or
   * sealed with a previous key). Throws when no key opens it: the store was written with another
   * cluster key, or the value was altered.
   */
  open(stored: string, context: string): { plain: string; reseal: boolean } {
    if (!isSealed(stored)) return { plain: stored, reseal: stored !== '' };
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new CurveError(StatusCode.PARAM_ERROR, `sealed secret of ${context}: ${raw.length} bytes, too short`);
    for (const [i, key] of this.keys.entries()) {
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      d.setAAD(Buffer.from(context, 'utf8'));
      d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      try {
        const plain = Buffer.concat([d.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), d.final()]).toString('utf8');
        return { plain, reseal: i > 0 };
      } catch {
        // not this key: try the next
      }
    }
    throw new CurveError(
      StatusCode.PARAM_ERROR,
      `the S3 secret key of ${context} is sealed with another cluster key, or was altered: start the MDS with the key it was sealed with (after a rotation: --auth-previous-key-file OLD)`,
    );
  }
}

/** What an MDS without a cluster key (`--insecure`) does with a sealed value: refuse, precisely. */
export function refuseSealed(context: string): never {
  throw new CurveError(StatusCode.PARAM_ERROR, `the S3 secret key of ${context} is sealed: start the MDS with the cluster key (--auth-key-file) that sealed it`);
}
