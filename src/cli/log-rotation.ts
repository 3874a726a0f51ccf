// Size-bounded log files for the children of `curvefs up`. A child writes its output straight to
// its log file (an O_APPEND descriptor it inherited), so it keeps logging when `up` itself dies;
// rotation therefore copies and truncates (logrotate's "copytruncate"): the file is copied to
// `<file>.1` (older copies shift to .2, .3 … and the oldest beyond `keep` is deleted), then cut to
// zero length, and the child's next append lands at the start of the empty file. Lines written
// between the copy and the cut are lost — at most a few lines per rotation, the price of a
// child that does not depend on `up` to write its log.
import { copyFileSync, existsSync, renameSync, statSync, truncateSync, unlinkSync } from 'node:fs';

export interface LogRotation {
  /** Rotate once the file is at least this large. */
  maxBytes: number;
  /** Rotated copies kept (`<file>.1` newest … `<file>.<keep>` oldest). */
  keep: number;
}

/** 10 MiB per file, 3 old copies: at most 40 MiB per process. */
export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/** Rotates `file` when it has reached the bound; true when it did. A missing file is not an error. */
export function rotateIfLarge(file: string, policy: LogRotation): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  if (size < policy.maxBytes) return false;
  if (policy.keep < 1) {
    truncateSync(file, 0);
    return true;
  }
  const old = (i: number) => `${file}.${i}`;
  if (existsSync(old(policy.keep))) unlinkSync(old(policy.keep));
  for (let i = policy.keep - 1; i >= 1; i--) if (existsSync(old(i))) renameSync(old(i), old(i + 1));
  copyFileSync(file, old(1));
  truncateSync(file, 0);
  return true;
}
