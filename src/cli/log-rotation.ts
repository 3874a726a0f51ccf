// Size-bounded log files for the children of `curvefs up`. A child writes its output straight to
// its log file (an O_APPEND descriptor it inherited), so it keeps logging when `up` itself dies;
// rotation therefore copies and truncates (logrotate's "copytruncate"): the file is copied to
// `<file>.1` (older copies shift to .2, .3 … and the oldest beyond `keep` is deleted), then cut to
// zero length, and the child's next append lands at the start of the empty file. Lines written
// between the copy and the cut are lost — at most a few lines per rotation, the price of a
// child that does not depend on `up` to write its log.
// A standalone process with `--log-file` rotates its own file instead, losing nothing
// (src/common/log-file.ts).
import { copyFileSync, statSync, truncateSync } from 'node:fs';
import { shiftRotatedCopies, type LogRotation } from '../common/log-file.ts';

export { DEFAULT_LOG_ROTATION, type LogRotation } from '../common/log-file.ts';

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
  shiftRotatedCopies(file, policy.keep);
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}
