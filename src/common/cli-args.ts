// Strict parsers for numeric command-line values, shared by every command (`curvefs`, `curvefs
// mds`, `curvefs metaserver`). Number('30s') is NaN and parseInt('12abc') is 12: both used to be
// accepted silently, so a typo became a broken setting. These accept only what the option's
// name promises and throw with the option's name otherwise; commander's argParser turns the throw
// into a usage error (exit 2).

/** Thrown for a value an option does not accept; commander reports it as "option ... is invalid". */
export class OptionValueError extends Error {
  override readonly name = 'OptionValueError';
  /** Same code as commander's InvalidArgumentError, so commander formats it as its own. */
  readonly code = 'commander.invalidArgument';
  /** A usage error: exit 2, like every other bad command line. */
  readonly exitCode = 2;
}

export interface IntRange {
  min?: number;
  max?: number;
}

/** A whole number in decimal (no sign unless negative values are allowed, no units, no exponent). */
export function parseIntStrict(value: string, what: string, range: IntRange = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const s = value.trim();
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  const bounds = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new OptionValueError(`Expected ${what}: a whole number ${bounds}.`);
  return n;
}

/** A non-negative decimal number (fractions allowed: seconds, MiB). */
export function parseNonNegative(value: string, what: string): number {
  const s = value.trim();
  const n = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n)) throw new OptionValueError(`Expected ${what}: a number >= 0.`);
  return n;
}

/**
 * Milliseconds for options named `--...-ms`: a whole number only. "30s" is refused rather than
 * read as 30 s, because the option's name says the unit and a second spelling would make
 * `--x-ms 30` and `--x-ms 30s` differ by a factor of 1000 for a one-character difference.
 */
export function parseMs(value: string): number {
  return parseIntStrict(value, 'milliseconds');
}

/** Permission bits in octal, as chmod takes them ("755", "0700", "1777"). */
export function parseOctalMode(value: string): number {
  const s = value.trim();
  if (!/^[0-7]{1,4}$/.test(s)) throw new OptionValueError('Expected permission bits in octal (e.g. 755).');
  return parseInt(s, 8);
}

/** A TCP port, 0 to 65535 (0: the OS chooses). */
export function parsePort(value: string): number {
  return parseIntStrict(value, 'a port', { min: 0, max: 65535 });
}

/** Commander argParser adapters: `.option('--x <n>', 'help', intArg('a count', { min: 1 }))`. */
export const intArg = (what: string, range?: IntRange) => (v: string) => parseIntStrict(v, what, range);
export const nonNegativeArg = (what: string) => (v: string) => parseNonNegative(v, what);
