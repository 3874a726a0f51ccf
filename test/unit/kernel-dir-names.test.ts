// The mount's record of where the kernel has each directory, and the notification it sends
// when a lookup finds a directory elsewhere (src/mount/kernel-dir-names.ts, src/fuse/abi.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeNotifyInvalEntry, FUSE_NOTIFY_INVAL_ENTRY } from '../../src/fuse/abi.ts';
import { KernelDirNames } from '../../src/mount/kernel-dir-names.ts';

test('FUSE_NOTIFY_INVAL_ENTRY bytes: header with unique 0 and the code as error, parent, name length, name, NUL', () => {
  const b = encodeNotifyInvalEntry(2 ** 40 + 7, 'dir');
  const dv = new DataView(b.buffer);
  assert.equal(b.length, 16 + 16 + 3 + 1);
  assert.equal(dv.getUint32(0, true), b.length);
  assert.equal(dv.getInt32(4, true), FUSE_NOTIFY_INVAL_ENTRY);
  assert.equal(dv.getBigUint64(8, true), 0n);
  assert.equal(dv.getBigUint64(16, true), BigInt(2 ** 40 + 7));
  assert.equal(dv.getUint32(24, true), 3);
  assert.equal(dv.getUint32(28, true), 0);
  assert.equal(Buffer.from(b.subarray(32, 35)).toString(), 'dir');
  assert.equal(b[35], 0);
});

test('a directory found in another directory drops its old entry; same place, same parent or forgotten: none', async () => {
  const sent: string[] = [];
  const names = new KernelDirNames();
  names.attach({ invalEntry: async (parent, name) => void sent.push(`${parent}/${name}`) });
  await names.moving(10, 1, 'd'); // first sight
  await names.moving(10, 1, 'd'); // same place
  await names.moving(10, 1, 'e'); // renamed within its directory: the kernel moves it itself
  assert.deepEqual(sent, []);
  await names.moving(10, 5, 'd'); // moved to another directory
  assert.deepEqual(sent, ['1/e']);
  names.listed(11, 5, 'x'); // first seen in a listing
  names.listed(11, 9, 'x'); // listed elsewhere: the kernel may have kept it at 5/x
  await names.moving(11, 6, 'x');
  assert.deepEqual(sent, ['1/e', '5/x']);
  names.forget(11);
  await names.moving(11, 7, 'x');
  assert.deepEqual(sent, ['1/e', '5/x']);
});

test('a notification the kernel refuses (ENOENT: no such dentry) does not fail the lookup', async () => {
  const names = new KernelDirNames();
  names.attach({ invalEntry: () => Promise.reject(Object.assign(new Error('gone'), { code: 'ENOENT' })) });
  names.made(3, 1, 'a');
  await names.moving(3, 2, 'a');
});
