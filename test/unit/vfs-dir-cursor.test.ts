// Directory cursors of the curvefs mount: kernel offsets resume after names, stable under changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirCursor } from '../../src/vfs/dir-cursor.ts';

function fakeDir(names: Set<string>, pageSize = 2) {
  let fetches = 0;
  const fetch = async (after: string) => {
    fetches++;
    const sorted = [...names].filter((n) => Buffer.compare(Buffer.from(n), Buffer.from(after)) > 0).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = sorted.slice(0, pageSize);
    return { entries: page.map((name, i) => ({ name, ino: 100 + i, type: 0o100000 })), more: sorted.length > pageSize };
  };
  return { fetch, count: () => fetches };
}

test('lists ".", ".." and every name, resuming from the cookie the kernel hands back', async () => {
  const names = new Set(['a', 'b', 'c', 'd', 'e']);
  const d = fakeDir(names);
  const c = new DirCursor(5, 1, d.fetch);
  const first = await c.list(0, 3, false);
  assert.deepEqual(first.slice(0, 3).map((e) => e.name), ['.', '..', 'a']);
  // The kernel consumed up to "a"; "b" is removed and "aa" added before it asks again.
  names.delete('b');
  names.add('aa');
  const cookieA = first.find((e) => e.name === 'a')!.cookie;
  const rest = await c.list(cookieA, 10, false);
  const listed = rest.map((e) => e.name);
  // Buffered entries may still show "b" (POSIX leaves changes after opendir unspecified),
  // but nothing repeats and nothing after the cursor is lost.
  assert.ok(!listed.includes('a'));
  for (const n of ['c', 'd', 'e']) assert.ok(listed.includes(n), `${n} listed`);
  assert.equal(new Set(listed).size, listed.length);
});

test('offset 0 starts afresh; unknown cookies list nothing', async () => {
  const names = new Set(['x', 'y']);
  const d = fakeDir(names, 10);
  const c = new DirCursor(5, 1, d.fetch);
  await c.list(0, 10, false);
  names.add('z');
  const again = await c.list(0, 10, false);
  assert.deepEqual(again.map((e) => e.name), ['.', '..', 'x', 'y', 'z']);
  assert.deepEqual(await c.list(9999, 10, false), []);
});

test('a page fetched beyond one kernel buffer serves the next call without a fetch', async () => {
  const names = new Set(Array.from({ length: 20 }, (_, i) => `n${String(i).padStart(2, '0')}`));
  const d = fakeDir(names, 20);
  const c = new DirCursor(5, 1, d.fetch);
  const first = await c.list(0, 5, false);
  const fetches = d.count();
  const next = await c.list(first[4]!.cookie, 5, false);
  assert.equal(d.count(), fetches);
  assert.equal(next[0]!.name, first[5]!.name);
});
