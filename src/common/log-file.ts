// A log file that its own process writes and rotates (`--log-file` of `curvefs mds`,
// `metaserver`, `mount`). Each line is written whole with one synchronous write(2) — as Node
// writes stderr to a file — so a line is on disk before the call returns and a crash loses
// nothing that was logged. When the next line would take the file past `maxBytes`, the file is
// renamed to `<file>.1` (older copies shift to .2 … .keep, the oldest goes) and a new file is
// opened: rename, not copy-and-truncate, so no line is ever lost in between (the one writer is
// this process). SIGHUP reopens the path, for an outside rotation (logrotate's default rename).
// Time and the file system are plain node:fs; tests inject a small bound.
import { closeSync, existsSync, fstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

export interface LogRotation {
  /** Rotate once the file is at least this large. */
  maxBytes: number;
  /** Rotated copies kept (`<file>.1` newest … `<file>.<keep>` oldest). */
  keep: number;
}

/** 10 MiB per file, 3 old copies: at most 40 MiB per process. */
export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/**
 * Makes room for a new `<file>.1`: deletes `<file>.<keep>` and renames `.i` to `.i+1` for every
 * older copy, newest last. Shared by both rotations (this one and `curvefs up`'s copytruncate).
 */
export function shiftRotatedCopies(file: string, keep: number): void {
  const old = (i: number) => `${file}.${i}`;
  if (existsSync(old(keep))) unlinkSync(old(keep));
  for (let i = keep - 1; i >= 1; i--) if (existsSync(old(i))) renameSync(old(i), old(i + 1));
}

export class RotatingLogFile {
  private fd: number;
  private size: number;

  /** Opens (appends to) `file`; throws a precise error when it cannot be opened. */
  constructor(
    readonly file: string,
    private readonly policy: LogRotation = DEFAULT_LOG_ROTATION,
  ) {
    if (!Number.isSafeInteger(policy.maxBytes) || policy.maxBytes < 1) throw new Error(`log rotation: maxBytes must be a whole number >= 1, not ${policy.maxBytes}`);
    if (!Number.isSafeInteger(policy.keep) || policy.keep < 1) throw new Error(`log rotation: keep must be a whole number >= 1, not ${policy.keep}`);
    this.fd = RotatingLogFile.open(file);
    this.size = fstatSync(this.fd).size;
  }

  /** Appends one line (with its newline), rotating first when it would not fit. */
  write(line: string): void {
    const bytes = Buffer.from(line);
    // A line longer than the bound goes alone into a fresh file: lines are never split.
    if (this.size > 0 && this.size + bytes.length > this.policy.maxBytes) this.rotate();
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off);
    this.size += bytes.length;
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * Opens `file` anew (SIGHUP): after an outside tool (logrotate without copytruncate) renamed
   * it, lines go to a fresh file at the path; the renamed one gets no more. Lines already written
   * stay where they are. Throws, keeping the old descriptor, when the path cannot be opened.
   */
  reopen(): void {
    const fresh = RotatingLogFile.open(this.file);
    closeSync(this.fd);
    this.fd = fresh;
    this.size = fstatSync(fresh).size;
  }

  /** The old descriptor is closed last: if a step fails (the write then throws), it is still
   *  open and the next line tries again, instead of every later write failing with EBADF. */
  private rotate(): void {
    shiftRotatedCopies(this.file, this.policy.keep);
    renameSync(this.file, `${this.file}.1`);
    const fresh = RotatingLogFile.open(this.file);
    closeSync(this.fd);
    this.fd = fresh;
    this.size = 0;
  }

  private static open(file: string): number {
    try {
      return openSync(file, 'a', 0o640);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new Error(`cannot open log file ${file}: ${err.code ?? err.message}`, { cause: e });
    }
  }
}
