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

test('processAlive and readPidFile: live and exited pids, valid and invalid pid files', async () => {
  const { processAlive, readPidFile } = await import('../../src/common/index.ts');
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  assert.equal(processAlive(process.pid), true);
  const exited = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
  assert.equal(processAlive(exited), false);
  const dir = mkdtempSync(join(tmpdir(), 'pidfile-'));
  try {
    const f = join(dir, 'pid');
    assert.equal(readPidFile(f), undefined);
    writeFileSync(f, '4242\n');
    assert.equal(readPidFile(f), 4242);
    for (const bad of ['', 'abc', '-3', '0', '1.5', '99999999999999999999']) {
      writeFileSync(f, bad);
      assert.equal(readPidFile(f), undefined, JSON.stringify(bad));
    }
  } finally {
    rmSync(dir, { recursive: true });
  }
});
