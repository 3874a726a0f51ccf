// Space accounting, the pure parts: a partition's count of file bytes (the sum of its regular
// files' lengths, kept through every length change, unlink and reclaim, and rebuilt by a snapshot
// load), and the client's SpaceGuard (capacity checks without asking the MDS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileType, SetAttr, StatusCode, encodeSnapshot, loadSnapshotBytes, type Partition } from '../../src/metaserver/partition/index.ts';
import { SpaceGuard } from '../../src/client/index.ts';
import { isCurveError } from '../../src/common/index.ts';
import { at, concat, FS, mkdir, mkfile, newPartition, ok } from '../helpers/partition.ts';

const slice = (chunkId: number, offset: number, len: number) => ({ chunkId, compaction: 0, offset, len, size: len, zero: false });

function reloaded(p: Partition): Promise<Partition> {
  const v = p.freeze();
  try {
    return loadSnapshotBytes(concat([...encodeSnapshot([v])])).then((m) => m.get(p.partitionId)!);
  } finally {
    v.release();
  }
}

test('a partition counts the lengths of its regular files until the reclaimer deletes them', async () => {
  const p = newPartition();
  assert.equal(p.stats().fileBytes, 0);
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, d, 'f');
  const g = mkfile(p, 1, 'g');
  // Directories, symlinks and devices hold no file data: their lengths are not counted.
  mkfile(p, 1, 'link', FileType.TYPE_SYM_LINK, { symlink: 'a/long/target' });
  mkfile(p, 1, 'dev', FileType.TYPE_CHAR_DEVICE, { rdev: 1 });
  assert.equal(p.stats().fileBytes, 0);
  // appendChunks grows the length to the end of its slices (or minLength).
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [slice(1, 0, 1000)] }], time: at(1) }));
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: g, chunks: [{ index: 0, slices: [slice(2, 0, 10)] }], minLength: 5000, time: at(1) }));
  assert.equal(p.stats().fileBytes, 6000);
  // An overwrite inside the length changes nothing.
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [slice(3, 100, 200)] }], time: at(2) }));
  assert.equal(p.stats().fileBytes, 6000);
  // Truncate both ways.
  ok(p.apply({ kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.SIZE, length: 400, time: at(3) }));
  assert.equal(p.stats().fileBytes, 5400);
  ok(p.apply({ kind: 'setattr', fsId: FS, ino: g, mask: SetAttr.SIZE, length: 1 << 30, time: at(3) }));
  assert.equal(p.stats().fileBytes, 400 + (1 << 30));
  // A refused op changes nothing.
  assert.equal(p.apply({ kind: 'setattr', fsId: FS, ino: d, mask: SetAttr.SIZE, length: 7, time: at(3) }).status, StatusCode.IS_DIRECTORY);
  assert.equal(p.stats().fileBytes, 400 + (1 << 30));
  // The last name goes: the blocks are still stored until the reclaimer deletes the inode.
  ok(p.apply({ kind: 'unlink', fsId: FS, ino: g, parent: 1, time: at(4) }));
  assert.equal(p.stats().fileBytes, 400 + (1 << 30));
  assert.equal((await reloaded(p)).stats().fileBytes, 400 + (1 << 30), 'a snapshot load rebuilds the count');
  ok(p.apply({ kind: 'deleteInode', fsId: FS, ino: g }));
  assert.equal(p.stats().fileBytes, 400);
  const q = await reloaded(p);
  assert.equal(q.stats().fileBytes, 400);
  assert.equal(q.stats().inodes, p.stats().inodes);
});

test('SpaceGuard: writes past the capacity are refused with ENOSPC; growth counts until the MDS has seen it', () => {
  const s = new SpaceGuard(1000);
  s.update({ capacity: 1000, usedBytes: 600, usedInodes: 5, complete: true });
  assert.equal(s.free, 400);
  s.admit(0); // a write inside a file's length: never refused
  s.admit(300);
  assert.equal(s.used, 900);
  const e = (() => {
    try {
      s.admit(101);
    } catch (x) {
      return x;
    }
    return undefined;
  })();
  assert.ok(isCurveError(e, StatusCode.NO_SPACE), String(e));
  assert.equal(e.errno, 28, 'ENOSPC');
  assert.equal(s.used, 900, 'a refused write takes nothing');
  s.admit(100);
  // A failed write gives its admission back; a committed one is kept until two reports passed.
  s.release(100);
  s.settle(300);
  assert.equal(s.used, 900);
  // The MDS's report may not include the commit yet (a heartbeat behind): still counted.
  s.update({ capacity: 1000, usedBytes: 600, usedInodes: 5, complete: true });
  assert.equal(s.used, 900);
  s.update({ capacity: 1000, usedBytes: 900, usedInodes: 6, complete: true });
  assert.equal(s.used, 900);
  assert.equal(s.usedInodes, 6);
  // An incomplete sum (a partition not yet reported to a new MDS leader) is not believed.
  s.update({ capacity: 1000, usedBytes: 10, usedInodes: 1, complete: false });
  assert.equal(s.used, 900);
  // Deletes free space once the MDS reports them; capacity changes take effect at once.
  s.update({ capacity: 2000, usedBytes: 100, usedInodes: 2, complete: true });
  assert.equal(s.free, 1900);
  // Unlimited: nothing is refused.
  const u = new SpaceGuard(0);
  u.admit(2 ** 52);
  assert.equal(u.free, Infinity);
});

/** One partition holding inode ids 1..999 whose leader last reported `nextId` and `used` inodes. */
const inodeReport = (used: number, nextId: number, maxInodes = 6) => ({ capacity: 0, usedBytes: 0, usedInodes: used, complete: true, maxInodes, nextIds: [{ start: 1, end: 999, nextId }] });
const refused = (x: unknown) => isCurveError(x, StatusCode.NO_SPACE);

/** Admits and completes the create of inode `ino` (what FsCore does around a create). */
function create(s: SpaceGuard, ino: number): void {
  s.admitInode();
  s.settleInode(ino);
}

test('SpaceGuard: own creates count until the MDS count includes them, never twice', () => {
  const s = new SpaceGuard(0);
  s.update(inodeReport(1, 2)); // the root (id 1)
  create(s, 2);
  create(s, 3);
  assert.equal(s.inodes, 3);
  // A report that includes both (a refresh between creates): they are not counted again.
  s.update(inodeReport(3, 4));
  assert.equal(s.inodes, 3, 'creates the MDS counted are not counted twice');
  create(s, 4);
  create(s, 5);
  create(s, 6);
  assert.equal(s.inodes, 6);
  assert.throws(() => s.admitInode(), refused, 'the 7th inode is past the limit');
});

test('SpaceGuard: a lagging MDS count keeps own creates counted, for as many reports as it lags', () => {
  const s = new SpaceGuard(0);
  s.update(inodeReport(1, 2));
  create(s, 2);
  create(s, 3);
  // The leader's heartbeat has not reached the MDS yet, twice: both still count.
  s.update(inodeReport(1, 2));
  s.update(inodeReport(1, 2));
  assert.equal(s.inodes, 3);
  // It has seen one of them.
  s.update(inodeReport(2, 3));
  assert.equal(s.inodes, 3);
  // An incomplete sum changes nothing.
  s.update({ ...inodeReport(0, 0), complete: false });
  assert.equal(s.inodes, 3);
  s.update(inodeReport(3, 4));
  assert.equal(s.inodes, 3);
  // Other clients' creates and the reclaimer's deletes show through the MDS's figure.
  s.update(inodeReport(2, 9));
  assert.equal(s.inodes, 2);
});

test('SpaceGuard: a create in flight counts; one the report already includes when it answers is not added', () => {
  const s = new SpaceGuard(0);
  s.update(inodeReport(5, 6));
  s.admitInode();
  assert.equal(s.inodes, 6, 'in flight: counted');
  assert.throws(() => s.admitInode(), refused);
  // The create (id 6) was applied and reported before its answer came back.
  s.update(inodeReport(6, 7));
  assert.equal(s.inodes, 7, 'still in flight: the guard cannot tell it is the one reported');
  s.settleInode(6);
  assert.equal(s.inodes, 6, 'answered: the report included it');
  // A failed create gives its admission back.
  s.update(inodeReport(4, 7));
  s.admitInode();
  s.releaseInode();
  assert.equal(s.inodes, 4);
});

test('SpaceGuard: from an MDS that sends no id watermarks, own creates count for two reports', () => {
  const s = new SpaceGuard(0);
  s.update({ capacity: 0, usedBytes: 0, usedInodes: 3, complete: true, maxInodes: 5 });
  create(s, 10);
  create(s, 11);
  assert.throws(() => s.admitInode(), refused);
  s.update({ capacity: 0, usedBytes: 0, usedInodes: 5, complete: true, maxInodes: 5 });
  assert.equal(s.inodes, 7, 'counted until a second report (the first may not include them)');
  s.update({ capacity: 0, usedBytes: 0, usedInodes: 4, complete: true, maxInodes: 5 });
  assert.equal(s.inodes, 4);
});
