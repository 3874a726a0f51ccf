// Ages on the command line: "90s", "30m", "1h", "2d", or plain milliseconds.
import { OptionValueError } from '../common/index.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] ?? 'ms']! : NaN;
  if (!Number.isSafeInteger(ms)) throw new OptionValueError('Expected a duration: a whole number with ms, s, m, h or d (e.g. 1h, 30m).');
  return ms;
}
