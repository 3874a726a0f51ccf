// Huge directories: a page of a listing costs the same work in a directory of a thousand entries
// and in one of a million (work counted — names visited and binary-search steps — not timed), and
// a directory cursor of the mount keeps a bounded number of names however long the listing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Directory, LEAF_MAX } from '../../src/metaserver/partition/directory.ts';
import { Cow } from '../../src/metaserver/partition/inode-store.ts';
import { DirCursor, MAX_MARKS, RECENT_COOKIES } from '../../src/vfs/dir-cursor.ts';
import { FileType } from '../../src/metaserver/partition/types.ts';

function nameOf(i: number): string {
  return `f${String(i).padStart(8, '0')}`;
}

function directoryOf(n: number): Directory {
  const d = new Directory(1);
  for (let i = 0; i < n; i++) d.appendSorted(nameOf(i), 100 + i, FileType.TYPE_FILE, 1);
  return d;
}

/** Work of every page of a listing of `d` in pages of `page` entries: [max, pages]. */
function pageWork(d: Directory, page: number, pages: number): number[] {
  const work: number[] = [];
  let after: string | undefined = undefined;
  for (let p = 0; p < pages; p++) {
    let n = 0;
    let last: string | undefined;
    work.push(
      d.scan(after, (name) => {
        if (n === page) return false;
        n++;
        last = name;
        return true;
      }),
    );
    after = last;
  }
  return work;
}

test('a page of a 1M-entry directory visits what a page of a 1k-entry one does (+ the binary searches)', () => {
  const page = 512;
  const small = directoryOf(1000);
  const big = directoryOf(1_000_000);
  const w1 = pageWork(small, page, 1)[0]!;
  // Later pages of the big directory start from a cursor name: two binary searches, then the page.
  const wBig = pageWork(big, page, 50);
  // One name past the page is looked at to tell "more".
  assert.equal(w1, page + 1);
  const leaves = Math.ceil(1_000_000 / LEAF_MAX);
  const searchBound = Math.ceil(Math.log2(leaves)) + Math.ceil(Math.log2(LEAF_MAX)) + 2;
  for (const w of wBig.slice(1)) assert.ok(w <= page + 1 + searchBound, `page work ${w} ≤ ${page + 1} + ${searchBound}`);
  // The same page from a cursor in the middle of the big directory.
  let n = 0;
  const mid = big.scan(nameOf(500_000), () => ++n <= page);
  assert.ok(mid <= page + 1 + searchBound);
});

test('a page after a cursor in a directory with removals and inserts still starts by search', () => {
  const cow = new Cow();
  const d = directoryOf(200_000);
  for (let i = 0; i < 200_000; i += 3) d.remove(nameOf(i), cow);
  d.insert('f00100000a', 9, FileType.TYPE_FILE, cow);
  const seen: string[] = [];
  const work = d.scan(nameOf(100_000), (name) => (seen.push(name), seen.length < 3));
  assert.deepEqual(seen, ['f00100000a', nameOf(100_001), nameOf(100_003)]);
  assert.ok(work < 3 + 40, `work ${work}`);
});

/** A directory as the metaserver lists it: sorted names, pages after a name by binary search. */
function sortedDir(names: string[], pageSize: number) {
  const sorted = names.slice().sort();
  let fetches = 0;
  const indexAfter = (after: string) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    sorted,
    fetches: () => fetches,
    fetch: async (after: string) => {
      fetches++;
      const i = indexAfter(after);
      const page = sorted.slice(i, i + pageSize);
      return { entries: page.map((name) => ({ name, ino: 7, type: 0o100000 })), more: i + pageSize < sorted.length };
    },
  };
}

test('a cursor listing 300k entries keeps a bounded number of names, and lists each once', async () => {
  const total = 300_000;
  const dir = sortedDir(Array.from({ length: total }, (_, i) => nameOf(i)), 512);
  const c = new DirCursor(5, 1, dir.fetch);
  let offset = 0;
  let count = 0;
  let prev = '';
  let most = 0;
  for (;;) {
    // The kernel consumes what its buffer holds (130 names) and resumes after the last.
    const got = (await c.list(offset, 130, false)).slice(0, 130);
    const entries = got.filter((e) => e.name !== '.' && e.name !== '..');
    if (got.length === 0) break;
    for (const e of entries) {
      assert.ok(e.name > prev, 'in order, no repeat');
      prev = e.name;
      count++;
    }
    offset = got[got.length - 1]!.cookie;
    most = Math.max(most, c.retained());
    if (entries.length === 0) break;
  }
  assert.equal(count, total);
  assert.ok(most <= RECENT_COOKIES + MAX_MARKS + 512 + 130, `retained ${most} names`);
});

test('seekdir to a cookie older than the exactly kept ones resumes after its name', async () => {
  const total = 50_000;
  const dir = sortedDir(Array.from({ length: total }, (_, i) => nameOf(i)), 512);
  const c = new DirCursor(5, 1, dir.fetch);
  const told = new Map<number, string>();
  let offset = 0;
  for (;;) {
    const got = await c.list(offset, 200, false);
    if (got.length === 0) break;
    for (const e of got) if (e.name !== '.' && e.name !== '..') told.set(e.cookie, e.name);
    offset = got[got.length - 1]!.cookie;
  }
  assert.equal(told.size, total);
  // telldir values from early in the listing, long out of the exact window.
  for (const i of [0, 1, 777, 1024, 4097, 20_000]) {
    const cookie = [...told.entries()][i]![0];
    const next = await c.list(cookie, 3, false);
    assert.deepEqual(next.slice(0, 3).map((e) => e.name), [nameOf(i + 1), nameOf(i + 2), nameOf(i + 3)], `seek to entry ${i}`);
  }
});
