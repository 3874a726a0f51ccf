// The strict number parsers every command's options go through (src/common/cli-args.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionValueError, parseIntStrict, parseMs, parseNonNegative, parseOctalMode, parsePort } from '../../src/common/index.ts';

test('parseIntStrict: whole decimal numbers within the range, nothing else', () => {
  assert.equal(parseIntStrict('42', 'n'), 42);
  assert.equal(parseIntStrict(' 7 ', 'n'), 7);
  assert.equal(parseIntStrict('0', 'n'), 0);
  for (const bad of ['', 'abc', '30s', '2x', '1.5', '1e3', '0x10', '+3', '-1', 'NaN', 'Infinity', '9007199254740993']) {
    assert.throws(() => parseIntStrict(bad, 'n'), OptionValueError, bad);
  }
  assert.throws(() => parseIntStrict('0', 'a depth', { min: 1 }), /Expected a depth: a whole number >= 1\./);
  assert.throws(() => parseIntStrict('70000', 'a port', { min: 0, max: 65535 }), /from 0 to 65535/);
  assert.equal(parseIntStrict('-3', 'n', { min: -5 }), -3);
});

test('parseMs refuses units: the option name says milliseconds', () => {
  assert.equal(parseMs('30000'), 30_000);
  assert.throws(() => parseMs('30s'), /Expected milliseconds: a whole number >= 0\./);
});

test('parseNonNegative takes fractions; parsePort and parseOctalMode their own ranges', () => {
  assert.equal(parseNonNegative('0.5', 's'), 0.5);
  assert.throws(() => parseNonNegative('-1', 's'), OptionValueError);
  assert.throws(() => parseNonNegative('1s', 's'), OptionValueError);
  assert.equal(parsePort('0'), 0);
  assert.throws(() => parsePort('65536'), OptionValueError);
  assert.equal(parseOctalMode('755'), 0o755);
  assert.equal(parseOctalMode('1777'), 0o1777);
  for (const bad of ['999', '8', '77777', 'rwx', '', '0o755']) assert.throws(() => parseOctalMode(bad), OptionValueError, bad);
});

test('errors are usage errors commander formats as its own (code and exit code 2)', () => {
  const e = (() => {
    try {
      parseMs('x');
    } catch (err) {
      return err as OptionValueError;
    }
    throw new Error('no error');
  })();
  assert.equal(e.code, 'commander.invalidArgument');
  assert.equal(e.exitCode, 2);
});
