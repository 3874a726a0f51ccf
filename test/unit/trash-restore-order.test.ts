// `curvefs trash restore`'s rule for trees (docs/operations.md "Trash"): an entry restored in
// place brings its trashed ancestors back first, outermost first, each once; with --to, only the
// entries named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreOrder } from '../../src/admin/trash.ts';

// rm -rf /t (inode 10): /t/a (11), /t/a/b (12), files 20 in t, 21 in a, 22 in b; 30 elsewhere (parent 1, not trashed)
const items = new Map([
  [10, { parentInodeId: 1 }],
  [11, { parentInodeId: 10 }],
  [12, { parentInodeId: 11 }],
  [20, { parentInodeId: 10 }],
  [21, { parentInodeId: 11 }],
  [22, { parentInodeId: 12 }],
  [30, { parentInodeId: 1 }],
]);

test('a file deep in a trashed tree brings its directories back first, outermost first', () => {
  assert.deepEqual(restoreOrder([22], items, true), [10, 11, 12, 22]);
  assert.deepEqual(restoreOrder([30], items, true), [30]);
});

test('--all in any order: every directory before its children, each entry once', () => {
  const order = restoreOrder([22, 21, 20, 30, 12, 11, 10], items, true);
  assert.equal(new Set(order).size, items.size);
  assert.equal(order.length, items.size);
  for (const [ino, { parentInodeId }] of items) {
    if (items.has(parentInodeId)) assert.ok(order.indexOf(parentInodeId) < order.indexOf(ino), `${parentInodeId} before ${ino}`);
  }
});

test('--to restores only the entries named', () => {
  assert.deepEqual(restoreOrder([22, 21], items, false), [22, 21]);
});
