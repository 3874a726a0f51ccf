import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, crc64, CurveError, StatusCode, SeededRandom, statusToErrno } from '../../src/common/index.ts';

test('crc32c matches the standard check value', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
});

test('crc64/xz matches the standard check value', () => {
  assert.equal(crc64(new TextEncoder().encode('123456789')), 0x995dc9bbdf1939fan);
});

test('status codes map to errno', () => {
  const e = new CurveError(StatusCode.NAME_TOO_LONG, 'x');
  assert.equal(e.code, 'ENAMETOOLONG');
  assert.equal(statusToErrno(StatusCode.DIRECTORY_NOT_EMPTY), 39);
  assert.equal(statusToErrno(StatusCode.UNKNOWN_ERROR), 5);
});

test('seeded random replays', () => {
  const a = new SeededRandom(42), b = new SeededRandom(42);
  for (let i = 0; i < 100; i++) assert.equal(a.next(), b.next());
});
