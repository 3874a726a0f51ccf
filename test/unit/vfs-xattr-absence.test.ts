// XattrAbsence: what a read said of an inode's extended attributes, trusted for the attribute
// timeout; this client's own changes are seen at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XattrAbsence } from '../../src/vfs/xattr-absence.ts';

test('"none" is trusted for the timeout only (another client\'s setxattr is seen after it)', () => {
  let t = 0;
  const x = new XattrAbsence(1000, () => t);
  assert.equal(x.has(5), false, 'nothing known');
  x.saw(5, false);
  assert.equal(x.has(5), true);
  t = 1000;
  assert.equal(x.has(5), true);
  t = 1001;
  assert.equal(x.has(5), false, 'expired with the attribute timeout');
  x.saw(5, false);
  x.saw(5, true);
  assert.equal(x.has(5), false, 'a later read that says "some" wins');
});

test('a change of our own drops what is known, and reads that may predate it are not believed', async () => {
  let t = 0;
  const x = new XattrAbsence(1000, () => t);
  x.saw(7, false);
  let release!: () => void;
  const inFlight = x.change(7, () => new Promise<void>((r) => (release = r)));
  assert.equal(x.has(7), false, 'dropped as the change starts');
  x.saw(7, false); // a read answered while the change is in flight
  assert.equal(x.has(7), false);
  t = 10;
  release();
  await inFlight;
  t = 500;
  x.saw(7, false); // may have been read before the change was applied
  assert.equal(x.has(7), false);
  t = 1011;
  x.saw(7, false); // surely after it
  assert.equal(x.has(7), true);
  x.forget(7);
  assert.equal(x.has(7), false);
});

test('timeout 0 (the SDK) keeps nothing', async () => {
  const x = new XattrAbsence(0);
  x.saw(1, false);
  assert.equal(x.has(1), false);
  assert.equal(await x.change(1, async () => 42), 42);
  assert.equal(x.size, 0);
});
