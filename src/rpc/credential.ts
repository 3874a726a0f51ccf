// Where a process's RPC credential comes from when its code does not pass one: the token file
// named by $CURVEFS_TOKEN_FILE (set by the `curvefs` CLI from --token-file or its cluster
// directory, inherited by the processes it starts). Token files must be private to their owner.
import { readFileSync, statSync } from 'node:fs';

export const TOKEN_FILE_ENV = 'CURVEFS_TOKEN_FILE';

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
