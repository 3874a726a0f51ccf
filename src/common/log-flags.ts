// The logging flags shared by the long-running commands (`curvefs mds`, `curvefs metaserver`,
// `curvefs mount`): one definition, so the three spell, check and default them alike.
//   --log-file FILE       the process writes its log there and rotates it (log-file.ts)
//   --log-max-bytes N     rotate at this size (default DEFAULT_LOG_ROTATION: 10 MiB)
//   --log-keep N          rotated copies kept, FILE.1 … FILE.N (default 3)
//   --log-format F        text (default) or json (one object per line)
//   --log-level L         debug, info, warn, error or silent (default: CURVEFS_LOG, else info)
// SIGHUP reopens the file (an outside logrotate that renames it) and never stops the process.
import type { Command } from 'commander';
import { intArg, OptionValueError } from './cli-args.ts';
import { DEFAULT_LOG_ROTATION, type LogRotation } from './log-file.ts';
import { createLogger, LOG_FORMATS, LOG_LEVELS, logToFile, logToStderr, setLogLevel, type LogFormat, type LogLevel } from './log.ts';

const log = createLogger('log');

/** The flags as commander hands them over (numbers already checked). */
export interface LogFlags {
  logFile?: string;
  logMaxBytes?: number;
  logKeep?: number;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
}

/** Where and how a process logs, from its flags. */
export interface LogSettings {
  /** Undefined: stderr. */
  file?: string;
  rotation: LogRotation;
  format: LogFormat;
  /** Undefined: CURVEFS_LOG's level (else info). */
  level?: LogLevel;
}

function parseLogFormat(v: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new OptionValueError(`Expected a log format: ${LOG_FORMATS.join(' or ')}.`);
}

function parseLogLevel(v: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new OptionValueError(`Expected a log level: ${LOG_LEVELS.join(', ')}.`);
}

/** Adds the five flags to `cmd`; `fileHelp` overrides --log-file's help (the mount's daemon default). */
export function addLogFlags(cmd: Command, fileHelp = 'write the log to this file and rotate it (default: stderr)'): Command {
  return cmd
    .option('--log-file <file>', fileHelp)
    .option('--log-max-bytes <n>', `rotate the log file when the next line would pass this size (default ${DEFAULT_LOG_ROTATION.maxBytes})`, intArg('a size in bytes', { min: 1 }))
    .option('--log-keep <n>', `rotated copies kept: FILE.1 (newest) … FILE.N (default ${DEFAULT_LOG_ROTATION.keep})`, intArg('a count', { min: 1 }))
    .option('--log-format <format>', 'text (default) or json: one object per line with time, level, component, msg and the fields', parseLogFormat)
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')}: lines below it are not written (default: $CURVEFS_LOG, else info)`, parseLogLevel);
}

/**
 * The settings `cmd`'s log flags ask for; `defaultFile` is the file used without --log-file
 * (undefined: stderr). Rotation flags without a file to rotate are a usage error (exit 2 through
 * `cmd.error`): a value the operator gave must not be ignored silently.
 */
export function logSettingsOf(cmd: Command, defaultFile?: string): LogSettings {
  const o = cmd.opts<LogFlags>();
  const file = o.logFile ?? defaultFile;
  if (file === undefined) {
    const stray = o.logMaxBytes !== undefined ? '--log-max-bytes' : o.logKeep !== undefined ? '--log-keep' : undefined;
    if (stray) cmd.error(`error: ${stray} needs --log-file (without it the log goes to stderr, which is not rotated)`, { exitCode: 2, code: 'curvefs.logFlags' });
  }
  return {
    file,
    rotation: { maxBytes: o.logMaxBytes ?? DEFAULT_LOG_ROTATION.maxBytes, keep: o.logKeep ?? DEFAULT_LOG_ROTATION.keep },
    format: o.logFormat ?? 'text',
    level: o.logLevel,
  };
}

/**
 * Points every logger of this process where `s` says. Throws when the file cannot be opened.
 * SIGHUP reopens the file (an outside logrotate renamed it; `systemctl reload` sends it) and is
 * never fatal: its default action would stop the server, also without a file to reopen.
 */
export function applyLogSettings(s: LogSettings): void {
  if (s.level !== undefined) setLogLevel(s.level);
  if (s.file === undefined) {
    logToStderr(s.format);
    process.on('SIGHUP', () => log.info('SIGHUP: the log goes to stderr, nothing to reopen'));
    return;
  }
  const file = logToFile(s.file, s.rotation, s.format);
  process.on('SIGHUP', () => {
    try {
      file.reopen();
      log.info('SIGHUP: log file reopened', { file: s.file });
    } catch (e) {
      log.error('SIGHUP: the log file cannot be reopened; still writing the old one', { file: s.file, error: String(e) });
    }
  });
}
