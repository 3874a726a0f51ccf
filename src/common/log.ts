// The one logger of every process. Level from CURVEFS_LOG (debug|info|warn|error|silent), or the
// long-running commands' --log-level (setLogLevel), which wins.
// Lines go to stderr by default, or — `--log-file` of `curvefs mds`, `metaserver`, `mount` — to a
// file the process rotates itself (log-file.ts), set once at start with `logToFile`. Two formats:
//   text  2026-12-07T16:32:07.123Z INFO [mds] MDS started {"address":"127.0.0.1:6700"}
//   json  {"time":"2026-12-07T16:32:07.123Z","level":"info","component":"mds","msg":"MDS started","address":"127.0.0.1:6700"}
// json is one object per line (for log shippers and `jq`): the fields sit beside time, level,
// component and msg; a field named like one of those is kept as "fields.<name>".
import { RotatingLogFile, type LogRotation } from './log-file.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogLevel = Level | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };
export const LOG_LEVELS = Object.keys(ORDER) as readonly LogLevel[];
let threshold = ORDER[(process.env.CURVEFS_LOG as LogLevel) ?? 'info'] ?? ORDER.info;

/** Lines below `level` are dropped from now on, in every logger of this process. */
export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level];
}

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** Where lines go and how they are written. */
interface LogOutput {
  format: LogFormat;
  write(line: string): void;
}

const toStderr = (line: string): void => void process.stderr.write(line);
let output: LogOutput = { format: 'text', write: toStderr };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

/** bigints as decimal strings, Errors as their message (JSON.stringify gives `{}` for an Error). */
function jsonValue(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return v.message;
  return v;
}

const RESERVED = new Set(['time', 'level', 'component', 'msg']);

/** One line, newline included, in `format`. */
export function formatLogLine(format: LogFormat, time: Date, level: Level, component: string, msg: string, fields?: Record<string, unknown>): string {
  if (format === 'json') {
    const o: Record<string, unknown> = { time: time.toISOString(), level, component, msg };
    for (const [k, v] of Object.entries(fields ?? {})) o[RESERVED.has(k) ? `fields.${k}` : k] = v;
    return JSON.stringify(o, jsonValue) + '\n';
  }
  const extra = fields ? ' ' + JSON.stringify(fields, jsonValue) : '';
  return `${time.toISOString()} ${level.toUpperCase()} [${component}] ${msg}${extra}\n`;
}

export function createLogger(component: string): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < threshold) return;
    output.write(formatLogLine(output.format, new Date(), level, component, msg, fields));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (c) => createLogger(`${component}/${c}`),
  };
}

/** Lines to stderr in `format` (the default output is text on stderr). */
export function logToStderr(format: LogFormat = 'text'): void {
  output = { format, write: toStderr };
}

/**
 * Every logger's lines go to `file` from now on, rotated by this process (log-file.ts); throws,
 * changing nothing, when the file cannot be opened. A line that cannot be written (disk full)
 * goes to stderr instead, with one note saying why, so it is not silently dropped.
 * Returns the file, to close it (tests).
 */
export function logToFile(file: string, rotation: LogRotation, format: LogFormat = 'text'): RotatingLogFile {
  const out = new RotatingLogFile(file, rotation);
  let failed = false;
  output = {
    format,
    write: (line) => {
      try {
        out.write(line);
      } catch (e) {
        if (!failed) toStderr(`log file ${file} cannot be written (${(e as NodeJS.ErrnoException).code ?? String(e)}): logging to stderr\n`);
        failed = true;
        toStderr(line);
      }
    },
  };
  return out;
}
