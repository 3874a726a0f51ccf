// Where a process's RPC credential and TLS certificate come from when its code does not pass
// them: the token file named by $CURVEFS_TOKEN_FILE and the certificate named by
// $CURVEFS_TLS_DIR + $CURVEFS_TLS_NAME (set by the `curvefs` CLI from its flags or its cluster
// directory, inherited by the processes it starts). Token files must be private to their owner.
import { readFileSync, statSync } from 'node:fs';
import { loadTlsConfig, type TlsConfig } from './tls.ts';

export const TOKEN_FILE_ENV = 'CURVEFS_TOKEN_FILE';
/** Directory of the cluster CA and certificates (`curvefs certs`), and which certificate to use. */
export const TLS_DIR_ENV = 'CURVEFS_TLS_DIR';
export const TLS_NAME_ENV = 'CURVEFS_TLS_NAME';

/** A token from a file (one line); refused when other users can read the file. */
export function readTokenFile(file: string): string {
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) throw new Error(`mode ${mode.toString(8)} lets other users read it; chmod 600 ${file}`);
    const t = readFileSync(file, 'utf8').trim();
    if (!t) throw new Error('the file is empty');
    return t;
  } catch (e) {
    throw new Error(`token file ${file}: ${(e as Error).message}`);
  }
}

/** The token of $CURVEFS_TOKEN_FILE, or undefined when it is not set. */
export function defaultCredential(): string | undefined {
  const file = process.env[TOKEN_FILE_ENV];
  return file ? readTokenFile(file) : undefined;
}

/** The certificate named by $CURVEFS_TLS_DIR / $CURVEFS_TLS_NAME, or undefined (plain TCP). */
export function defaultTls(): TlsConfig | undefined {
  const dir = process.env[TLS_DIR_ENV];
  if (!dir) return undefined;
  const name = process.env[TLS_NAME_ENV];
  if (!name) throw new Error(`${TLS_DIR_ENV} is set but ${TLS_NAME_ENV} (which certificate in it to use) is not`);
  return loadTlsConfig(dir, name);
}
