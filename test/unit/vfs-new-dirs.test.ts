// NewDirs: a directory this client made answers the names it did not put there as absent,
// for the entry timeout counted from when its mkdir was sent — so another client's name in it
// stays unseen no longer than a negative entry read from the metaserver would hide it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NewDirs } from '../../src/vfs/new-dirs.ts';

test('unknown names are absent until the entry timeout after the mkdir was sent, and the kernel is told the time left', () => {
  let t = 100;
  const d = new NewDirs(1000, () => t);
  assert.equal(d.absentFor(7, 'a'), undefined, 'a directory not made here: ask');
  const sent = d.sending();
  t = 150; // the mkdir's answer
  d.made(7, sent);
  assert.equal(d.absentFor(7, 'a'), 950, 'the window counts from the send, not the answer');
  t = 1099;
  assert.equal(d.absentFor(7, 'b'), 1);
  t = 1100;
  assert.equal(d.absentFor(7, 'a'), undefined, 'expired: another client may have put it there');
  assert.equal(d.absentFor(8, 'a'), undefined);
});

test('names this client puts in the directory are always asked for (noted before the change is sent)', () => {
  let t = 0;
  const d = new NewDirs(1000, () => t);
  d.made(7, d.sending());
  d.adding(7, 'f');
  assert.equal(d.absentFor(7, 'f'), undefined, 'created (or being created) here');
  assert.equal(d.absentFor(7, 'g'), 1000);
  d.adding(9, 'f'); // a directory not made here: nothing to note
  assert.equal(d.absentFor(9, 'f'), undefined);
  t = 10;
  d.forget(7);
  assert.equal(d.absentFor(7, 'g'), undefined, 'forgotten with the inode');
});

test('a zero timeout (the SDK, or entry timeout 0) keeps nothing; expired directories are dropped as new ones come', () => {
  const off = new NewDirs(0, () => 0);
  off.made(7, off.sending());
  assert.equal(off.absentFor(7, 'a'), undefined);

  let t = 0;
  const d = new NewDirs(1000, () => t);
  d.made(1, d.sending());
  t = 500;
  d.made(2, d.sending());
  t = 1200;
  d.made(3, d.sending());
  assert.equal(d.absentFor(1, 'x'), undefined);
  assert.equal(d.absentFor(2, 'x'), 300);
  assert.equal(d.absentFor(3, 'x'), 1000);
});
