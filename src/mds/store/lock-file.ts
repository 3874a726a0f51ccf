// An exclusive lock on a data directory: a file created with O_EXCL that holds the owner's pid.
// Node has no flock(2); a lock left by a dead process (kill -9) is recognised because its pid no
// longer exists and is taken over.
import { openSync, writeSync, closeSync, unlinkSync, fsyncSync } from 'node:fs';
import { CurveError, StatusCode, processAlive, readPidFile } from '../../common/index.ts';

export class LockFile {
  private constructor(readonly path: string) {}

  static acquire(path: string): LockFile {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        writeSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
        closeSync(fd);
        return new LockFile(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = readPidFile(path);
      if (owner !== undefined && owner !== process.pid && processAlive(owner)) {
        throw new CurveError(StatusCode.BUSY, `${path} is held by running process ${owner}`);
      }
      if (owner === process.pid) throw new CurveError(StatusCode.BUSY, `${path} is already held by this process`);
      // Stale: its owner is gone. Remove and retry the exclusive create (another process may win).
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    throw new CurveError(StatusCode.BUSY, `could not take ${path}`);
  }

  release(): void {
    try {
      if (readPidFile(this.path) === process.pid) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

