// DirChangeAttrs (src/vfs/dir-attrs.ts): a directory's attributes from this mount's own change
// are kept for the attribute timeout, never from a change that overlapped another one of the
// same directory, and a change without attributes (or `drop`) forgets them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirChangeAttrs } from '../../src/vfs/dir-attrs.ts';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test('kept for the timeout, then forgotten', async () => {
  let now = 0;
  const d = new DirChangeAttrs<string>(1000, () => now);
  await d.change(5, async () => 'r', () => 'attrs-1');
  assert.equal(d.get(5), 'attrs-1');
  now = 1000;
  assert.equal(d.get(5), 'attrs-1');
  now = 1001;
  assert.equal(d.get(5), undefined);
  assert.equal(d.size, 0);
});

test('a change whose answer has no attributes, or that failed, forgets them', async () => {
  const d = new DirChangeAttrs<string>(1000, () => 0);
  await d.change(5, async () => 'r', () => 'attrs-1');
  await d.change(5, async () => 'r', () => undefined);
  assert.equal(d.get(5), undefined);
  await d.change(5, async () => 'r', () => 'attrs-2');
  await assert.rejects(d.change(5, async () => { throw new Error('refused'); }, () => 'never'));
  assert.equal(d.get(5), undefined);
  assert.equal(d.size, 0);
});

test('overlapping changes of one directory keep nothing (their answers may arrive in any order)', async () => {
  const d = new DirChangeAttrs<string>(1000, () => 0);
  const a = deferred<string>();
  const b = deferred<string>();
  const pa = d.change(5, () => a.promise, (r) => r);
  const pb = d.change(5, () => b.promise, (r) => r);
  b.resolve('from-b');
  await pb;
  assert.equal(d.get(5), undefined);
  a.resolve('from-a');
  await pa;
  assert.equal(d.get(5), undefined, 'b started while a ran');
  // Other directories are independent.
  await d.change(6, async () => 'x', () => 'attrs-6');
  assert.equal(d.get(6), 'attrs-6');
});

test('drop during a change keeps that change from storing its answer', async () => {
  const d = new DirChangeAttrs<string>(1000, () => 0);
  const a = deferred<string>();
  const pa = d.change(5, () => a.promise, (r) => r);
  d.drop(5);
  a.resolve('stale');
  await pa;
  assert.equal(d.get(5), undefined);
  await d.change(5, async () => 'fresh', (r) => r);
  d.drop(5);
  assert.equal(d.get(5), undefined);
  assert.equal(d.size, 0);
});
