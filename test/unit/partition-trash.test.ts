// The per-partition trash (docs/architecture.md §6c): an unlink stamped toTrash keeps the last
// name's inode linked and hidden; restore puts the name back; purge hands it to the reclaimer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileType, SetAttr, StatusCode, loadSnapshotBytes, encodeSnapshot, partitionDigest, type Partition } from '../../src/metaserver/partition/index.ts';
import { at, concat, FS, mkdir, mkfile, newPartition, ok, rejects } from '../helpers/partition.ts';

const trashUnlink = (p: Partition, parent: number, name: string, sec = 10) =>
  p.apply({ kind: 'deleteDentry', fsId: FS, parent, name, expectDir: false, unlinkInode: true, toTrash: true, time: at(sec) });

function snapshot(p: Partition): Uint8Array {
  const v = p.freeze();
  try {
    return concat([...encodeSnapshot([v], 4096)]);
  } finally {
    v.release();
  }
}

test('an unlink into the trash hides the name, keeps the link and the bytes, and restores in place', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, d, 'f');
  ok(p.apply({ kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.SIZE, length: 5000, time: at(1) }));
  const bytesBefore = p.fileBytes;
  const r = ok(trashUnlink(p, d, 'f'));
  assert.equal(r.effect.unlinked, false);
  assert.equal(p.getDentry(d, 'f').status, StatusCode.NOT_FOUND);
  assert.equal(ok(p.getInodeAttr(f)).inode.nlink, 1);
  assert.equal(p.deletionList().length, 0, 'the reclaimer must not see it');
  assert.equal(p.fileBytes, bytesBefore, 'space in the trash is counted');
  assert.deepEqual(p.trashList(), [{ ino: f, parent: d, name: 'f', type: FileType.TYPE_S3, trashedAt: at(10).sec }]);

  // the name taken meanwhile: a precise refusal that changes nothing
  const taker = mkfile(p, d, 'f');
  rejects(p, { kind: 'trashRestore', fsId: FS, ino: f, time: at(11) }, StatusCode.DENTRY_EXIST);
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: 'f', unlinkInode: true, time: at(12) }));
  assert.equal(p.deletionList()[0]!.ino, taker);

  const back = ok(p.apply({ kind: 'trashRestore', fsId: FS, ino: f, time: at(13) }));
  assert.deepEqual(back.dentry, { parent: d, name: 'f', ino: f, type: FileType.TYPE_S3 });
  assert.equal(ok(p.getDentry(d, 'f')).dentry.ino, f);
  assert.equal(p.trashList().length, 0);
  rejects(p, { kind: 'trashRestore', fsId: FS, ino: f, time: at(14) }, StatusCode.NOT_FOUND);
});

test('purge drops the link (the reclaimer then deletes); hard links and directories are not trashed', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, d, 'f');
  ok(trashUnlink(p, d, 'f'));
  ok(p.apply({ kind: 'trashPurge', fsId: FS, ino: f, time: at(20) }));
  assert.equal(ok(p.getInodeAttr(f)).inode.nlink, 0);
  assert.deepEqual(p.deletionList(), [{ ino: f, dtime: at(20).sec }]);
  rejects(p, { kind: 'trashPurge', fsId: FS, ino: f, time: at(21) }, StatusCode.NOT_FOUND);

  const h = mkfile(p, d, 'h');
  ok(p.apply({ kind: 'link', fsId: FS, ino: h, parent: d, time: at(1) }));
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: d, name: 'h2', ino: h, type: FileType.TYPE_S3, time: at(1) }));
  ok(trashUnlink(p, d, 'h'));
  assert.equal(ok(p.getInodeAttr(h)).inode.nlink, 1, 'not the last name: an ordinary unlink');
  assert.equal(p.trashList().length, 0);

  // the directory the entry came from is gone: restore says so
  const e = mkdir(p, 1, 'e');
  const g = mkfile(p, e, 'g');
  ok(trashUnlink(p, e, 'g'));
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'e', expectDir: true, unlinkInode: true, time: at(30) }));
  rejects(p, { kind: 'trashRestore', fsId: FS, ino: g, time: at(31) }, StatusCode.NOT_FOUND);
});

test('restore into another directory of the partition: one step, the bytes and the parent move; refusals change nothing', async () => {
  const p = newPartition([0, 9999]);
  const e = mkdir(p, 1, 'e');
  const g = mkfile(p, e, 'g');
  ok(p.apply({ kind: 'setattr', fsId: FS, ino: g, mask: SetAttr.SIZE, length: 700, time: at(1) }));
  ok(trashUnlink(p, e, 'g'));
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'e', expectDir: true, unlinkInode: true, time: at(2) }));
  const to = mkdir(p, 1, 'to');
  mkfile(p, to, 'g');
  const restore = (parent: number, name?: string) => ({ kind: 'trashRestore', fsId: FS, ino: g, time: at(3), parent, name }) as const;
  rejects(p, restore(10_000), StatusCode.CROSS_DEVICE);
  rejects(p, restore(e), StatusCode.NOT_FOUND);
  rejects(p, restore(g), StatusCode.NOT_DIRECTORY);
  rejects(p, restore(to), StatusCode.DENTRY_EXIST);
  rejects(p, restore(to, '..'), StatusCode.INVALID_NAME);

  const back = ok(p.apply(restore(to, 'g.1')));
  assert.deepEqual(back.dentry, { parent: to, name: 'g.1', ino: g, type: FileType.TYPE_S3 });
  assert.deepEqual(ok(p.getInodeAttr(g)).inode.parent, [to]);
  assert.equal(ok(p.dirStats(to)).stats.bytes, 700, "the new directory counts the file's bytes");
  assert.equal(p.trashList().length, 0);
  const q = (await loadSnapshotBytes(snapshot(p))).get(1)!;
  assert.equal(partitionDigest(q), partitionDigest(p));
});

test('the trash survives a snapshot round trip; a damaged trash record is refused', async () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, d, 'ünï');
  ok(trashUnlink(p, d, 'ünï'));
  const bytes = snapshot(p);
  const q = (await loadSnapshotBytes(bytes)).get(1)!;
  assert.deepEqual(q.trashList(), p.trashList());
  assert.equal(partitionDigest(q), partitionDigest(p));
  ok(q.apply({ kind: 'trashRestore', fsId: FS, ino: f, time: at(40) }));

  // the inode the trash record names gone: precise error from the loader
  const r = newPartition();
  const rd = mkdir(r, 1, 'd');
  mkfile(r, rd, 'x');
  const x2 = mkfile(r, rd, 'y');
  ok(trashUnlink(r, rd, 'y'));
  ok(r.apply({ kind: 'trashPurge', fsId: FS, ino: x2, time: at(1) }));
  r.trash.set(x2, { ino: x2, parent: rd, name: 'y', type: FileType.TYPE_S3, trashedAt: 1 });
  await assert.rejects(loadSnapshotBytes(snapshot(r)), /trash entry for unlinked inode/);
});
