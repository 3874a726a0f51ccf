// Cluster-wide file locks (the partition-held table): POSIX byte-range semantics (conflicts,
// split, merge, upgrade, unlock of a middle range), flock whole-file locks in their own
// namespace, test-only queries, and session expiry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { FileLockSchema, LockType, type FileLock } from '../../src/gen/metaserver_pb.ts';
import { FileLockTable, LOCK_EOF } from '../../src/metaserver/copyset/file-locks.ts';

const L = (start: number, end: number, type: LockType, owner: number, sessionId = 1, flock = false): FileLock =>
  create(FileLockSchema, { start, end, type, owner, sessionId, flock });
const ranges = (t: FileLockTable, ino = 1) => t.locks(ino).map((l) => `${l.owner}:${l.start}-${l.end}:${LockType[l.type]}`);

test('read locks share, write locks exclude, the same owner never conflicts with itself', () => {
  const t = new FileLockTable();
  assert.equal(t.apply(1, L(0, 99, LockType.LOCK_READ, 1)).granted, true);
  assert.equal(t.apply(1, L(50, 150, LockType.LOCK_READ, 2)).granted, true);
  const w = t.apply(1, L(90, 95, LockType.LOCK_WRITE, 3));
  assert.equal(w.granted, false);
  assert.ok(w.conflict && [1, 2].includes(w.conflict.owner));
  assert.equal(t.apply(1, L(200, 300, LockType.LOCK_WRITE, 3)).granted, true, 'disjoint ranges');
  assert.equal(t.apply(1, L(0, 10, LockType.LOCK_WRITE, 1)).granted, true, 'upgrade of an own range nobody else holds');
  assert.deepEqual(ranges(t), ['1:0-10:LOCK_WRITE', '1:11-99:LOCK_READ', '2:50-150:LOCK_READ', '3:200-300:LOCK_WRITE']);
});

test('unlocking the middle splits a range; adjacent ranges of one type merge', () => {
  const t = new FileLockTable();
  t.apply(1, L(0, 99, LockType.LOCK_WRITE, 1));
  t.apply(1, L(40, 59, LockType.LOCK_UNLOCK, 1));
  assert.deepEqual(ranges(t), ['1:0-39:LOCK_WRITE', '1:60-99:LOCK_WRITE']);
  t.apply(1, L(40, 59, LockType.LOCK_WRITE, 1));
  assert.deepEqual(ranges(t), ['1:0-99:LOCK_WRITE']);
  t.apply(1, L(100, LOCK_EOF, LockType.LOCK_WRITE, 1));
  assert.deepEqual(ranges(t), [`1:0-${LOCK_EOF}:LOCK_WRITE`]);
  t.apply(1, L(0, LOCK_EOF, LockType.LOCK_UNLOCK, 1));
  assert.deepEqual(ranges(t), []);
});

test('flock locks cover the whole file and never meet fcntl locks', () => {
  const t = new FileLockTable();
  assert.equal(t.apply(1, L(0, 10, LockType.LOCK_WRITE, 1)).granted, true);
  assert.equal(t.apply(1, L(0, 0, LockType.LOCK_WRITE, 2, 1, true)).granted, true, 'flock ignores fcntl locks');
  assert.equal(t.apply(1, L(0, 0, LockType.LOCK_READ, 3, 1, true)).granted, false, 'but conflicts with another flock');
  assert.equal(t.test(1, L(0, 0, LockType.LOCK_READ, 3, 1, true)).granted, false);
  assert.equal(t.locks(1).length, 2, 'a test changes nothing');
});

test('expired sessions lose their locks', () => {
  const t = new FileLockTable();
  t.apply(1, L(0, 10, LockType.LOCK_WRITE, 1, 7));
  t.apply(2, L(0, 10, LockType.LOCK_WRITE, 1, 8));
  assert.equal(t.expireSessions(new Set([7])), 1);
  assert.deepEqual(ranges(t, 1), []);
  assert.equal(t.locks(2).length, 1);
  assert.equal(t.apply(1, L(0, 10, LockType.LOCK_WRITE, 2, 9)).granted, true);
});
