// POSIX byte-range and flock lock semantics of the LockTable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { E, F_RDLCK, F_UNLCK, F_WRLCK, LockTable } from '../../src/fuse/index.ts';

const EOF = Number.MAX_SAFE_INTEGER;
const lk = (start: number, end: number, type: number, pid = 1) => ({ start, end, type, pid });
const noWait = { flock: false, sleep: false };

test('read locks share, write locks exclude, an owner never conflicts with itself', () => {
  const t = new LockTable();
  t.set(1, 1n, lk(0, 99, F_RDLCK), noWait);
  t.set(1, 2n, lk(50, 150, F_RDLCK), noWait);
  assert.throws(() => t.set(1, 3n, lk(90, 95, F_WRLCK), noWait), { errno: E.EAGAIN });
  t.set(1, 1n, lk(0, 10, F_WRLCK), noWait); // upgrade own range that nobody else covers
  assert.equal(t.test(1, 3n, lk(5, 5, F_RDLCK)).type, F_WRLCK);
  assert.equal(t.test(1, 1n, lk(5, 5, F_WRLCK)).type, F_UNLCK);
  assert.equal(t.test(1, 3n, lk(200, EOF, F_WRLCK)).type, F_UNLCK);
});

test('unlocking the middle of a range splits it; touching ranges of one type merge', () => {
  const t = new LockTable();
  t.set(1, 1n, lk(0, 99, F_WRLCK), noWait);
  t.set(1, 1n, lk(40, 59, F_UNLCK), noWait);
  assert.deepEqual(t.locksOf(1).posix.map((l) => [l.start, l.end]), [[0, 39], [60, 99]]);
  t.set(1, 1n, lk(40, 59, F_WRLCK), noWait);
  assert.deepEqual(t.locksOf(1).posix.map((l) => [l.start, l.end]), [[0, 99]]);
  t.set(1, 1n, lk(10, 19, F_RDLCK), noWait);
  assert.deepEqual(t.locksOf(1).posix.map((l) => [l.start, l.end, l.type]), [[0, 9, F_WRLCK], [10, 19, F_RDLCK], [20, 99, F_WRLCK]]);
});

test('a waiting lock is granted when the holder releases, and aborts with EINTR', async () => {
  const t = new LockTable();
  t.set(1, 1n, lk(0, EOF, F_WRLCK), noWait);
  const waited = t.set(1, 2n, lk(0, 0, F_WRLCK), { flock: false, sleep: true });
  assert.ok(waited instanceof Promise);
  const ac = new AbortController();
  const aborted = t.set(1, 3n, lk(0, 0, F_WRLCK), { flock: false, sleep: true, signal: ac.signal });
  ac.abort();
  await assert.rejects(aborted as Promise<void>, { errno: E.EINTR });
  t.releasePosixOwner(1, 1n);
  await waited;
  assert.equal(t.test(1, 9n, lk(0, 0, F_RDLCK)).type, F_WRLCK);
});

test('flock: shared by many, exclusive for one, released per open file', () => {
  const t = new LockTable();
  const fl = { flock: true, sleep: false };
  t.set(7, 10n, lk(0, 0, F_RDLCK), fl);
  t.set(7, 11n, lk(0, 0, F_RDLCK), fl);
  assert.throws(() => t.set(7, 12n, lk(0, 0, F_WRLCK), fl), { errno: E.EAGAIN });
  t.releaseFlockOwner(7, 10n);
  t.releaseFlockOwner(7, 11n);
  t.set(7, 12n, lk(0, 0, F_WRLCK), fl);
  // flock and POSIX locks do not see each other.
  t.set(7, 1n, lk(0, EOF, F_WRLCK), noWait);
});
