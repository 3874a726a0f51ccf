// How CLI commands talk to people and scripts: readable tables, --json, progress on stderr, and
// exit codes scripts can branch on.
import { CommanderError } from 'commander';
import { CurveError, StatusCode } from '../common/index.ts';

/** Exit codes of every `curvefs` command (also listed in `curvefs --help`). */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  EXISTS: 4,
  UNAVAILABLE: 5,
  INVALID: 6,
} as const;

export const EXIT_HELP = `Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 already exists, 5 cluster unavailable, 6 invalid input or corrupt file.
With --json, an error is one JSON object on stderr: {"error": {"message", "code", "exitCode"}}.`;

/** An error whose exit code the command chose (a refused mount point, a corrupt file). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode: number, readonly code = 'error') {
    super(message);
  }
}

/** Whether errors are written as JSON: set by main from --json before any command runs. */
export const errorFormat = { json: false };

export function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  if (e instanceof CommanderError) return commanderExitCode(e);
  // A local file's error (put of a missing source, get into a missing directory) means the same
  // as the fs's: ENOENT is "not found" whichever side it came from.
  const local = !(e instanceof CurveError) && typeof (e as NodeJS.ErrnoException)?.syscall === 'string';
  if (!(e instanceof CurveError) && !local) return EXIT.ERROR;
  switch ((e as { code?: string }).code) {
    case 'ENOENT':
      return EXIT.NOT_FOUND;
    case 'EEXIST':
      return EXIT.EXISTS;
    case 'EINVAL':
    case 'ENAMETOOLONG':
    case 'ENOTDIR':
    case 'EISDIR':
      return EXIT.INVALID;
  }
  if (local) return EXIT.ERROR;
  switch ((e as CurveError).status) {
    case StatusCode.UNAVAILABLE:
    case StatusCode.TIMEOUT:
    case StatusCode.NOT_LEADER:
      return EXIT.UNAVAILABLE;
  }
  return EXIT.ERROR;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
}

/** A plain aligned table. */
export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const [n, r] of cells.entries()) {
    process.stdout.write(r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
    if (n === 0) process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  }
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A progress line on stderr: only when stderr is a terminal and `enabled` (off for --json). */
export class Progress {
  private last = 0;
  private readonly tty: boolean;
  constructor(private readonly label: string, private readonly total: number, enabled = true) {
    this.tty = enabled && process.stderr.isTTY === true;
  }
  update(done: number, extra = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const pct = this.total > 0 ? Math.min(100, Math.floor((done / this.total) * 100)) : 100;
    const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
    process.stderr.write(`\r${this.label} [${bar}] ${pct}% ${extra}`);
  }
  done(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

/** Help and --version end a command successfully; every other commander error is a usage error. */
export function commanderExitCode(e: CommanderError): number {
  return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? EXIT.OK : EXIT.USAGE;
}

/** Writes an error as the user asked (text or --json) on stderr. */
export function reportError(message: string, code: string, exitCode: number): void {
  if (errorFormat.json) process.stderr.write(JSON.stringify({ error: { message, code, exitCode } }) + '\n');
  else process.stderr.write(`curvefs: ${message}${code === 'error' || code === 'usage' || message.startsWith(code) ? '' : ` (${code})`}\n`);
}

export function fail(e: unknown): never {
  const exitCode = exitCodeOf(e);
  if (e instanceof CommanderError) {
    // Commander printed help or its own message already (as JSON under --json: see main.ts).
    process.exit(exitCode);
  }
  const msg = e instanceof Error ? e.message : String(e);
  reportError(msg, errorCodeOf(e), exitCode);
  process.exit(exitCode);
}

/** The short code of an error for scripts: an errno name (ENOENT …), 'usage', or 'error'. */
function errorCodeOf(e: unknown): string {
  if (e instanceof CurveError || e instanceof CliError) return e.code;
  const local = e as NodeJS.ErrnoException;
  return typeof local?.syscall === 'string' && typeof local.code === 'string' ? local.code : 'error';
}

/**
 * A reader that stops early (`curvefs ls -l / | head`) closes the pipe: the next write fails
 * with EPIPE, which is the reader's choice, not an error. Without a handler Node prints a stack
 * trace. File commands end quietly with 0 (like `ls` dying of SIGPIPE, minus the noise); a
 * long-running command (up, mount) replaces the action to keep serving.
 */
export const brokenPipe = { onClosed: (): void => process.exit(EXIT.OK) };

export function handleBrokenPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') return brokenPipe.onClosed();
      throw e;
    });
  }
}
