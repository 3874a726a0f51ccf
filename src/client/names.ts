// Name and path validation with the errno the kernel gives.
import { CurveError, StatusCode } from '../common/index.ts';

export const NAME_MAX = 255;
export const PATH_MAX = 4096;
const utf8 = new TextEncoder();

/** A single directory entry name: not empty, not "." or "..", no '/' or NUL, ≤ 255 bytes. */
export function checkName(name: string): void {
  if (name.length === 0 || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new CurveError(StatusCode.INVALID_NAME, `invalid name ${JSON.stringify(name)}`);
  }
  if (name.length > NAME_MAX / 4 && utf8.encode(name).length > NAME_MAX) {
    throw new CurveError(StatusCode.NAME_TOO_LONG, `name longer than ${NAME_MAX} bytes`);
  }
}

/**
 * Splits an absolute or relative (to the fs root) path into components, dropping empty and "."
 * parts but keeping ".." for the resolver. NUL → EINVAL; over PATH_MAX or a component over
 * NAME_MAX → ENAMETOOLONG (as the kernel).
 */
export function splitPath(path: string): string[] {
  if (path.includes('\0')) throw new CurveError(StatusCode.INVALID_NAME, 'path contains NUL');
  if (path.length === 0) throw new CurveError(StatusCode.NOT_FOUND, 'empty path');
  if (path.length >= PATH_MAX / 4 && utf8.encode(path).length >= PATH_MAX) {
    throw new CurveError(StatusCode.NAME_TOO_LONG, 'path too long');
  }
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part.length > NAME_MAX / 4 && utf8.encode(part).length > NAME_MAX) {
      throw new CurveError(StatusCode.NAME_TOO_LONG, `component longer than ${NAME_MAX} bytes`);
    }
    parts.push(part);
  }
  return parts;
}
