// The per-partition trash (docs/architecture.md §6c): an unlink stamped toTrash keeps the last
// name's inode linked and hidden; restore puts the name back; purge hands it to the reclaimer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileType, SetAttr, StatusCode, loadSnapshotBytes, encodeSnapshot, partitionDigest, type Partition } from '../../src/metaserver/partition/index.ts';
import { Crc64 } from '../../src/common/index.ts';
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

// ---- removed directories (issue 11 item 3) --------------------------------------------------

const trashRmdir = (p: Partition, parent: number, name: string, sec = 10) =>
  p.apply({ kind: 'deleteDentry', fsId: FS, parent, name, expectDir: true, unlinkInode: true, toTrash: true, time: at(sec) });

test('rmdir into the trash keeps the directory (links, place), sealed; restore puts it back and unseals it', async () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const sub = mkdir(p, d, 'sub');
  const f = mkfile(p, sub, 'f');
  const rootLinks = ok(p.getInodeAttr(1)).inode.nlink;
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: d, name: 'sub', expectDir: true, unlinkInode: true, toTrash: true, time: at(9) }, StatusCode.DIRECTORY_NOT_EMPTY);
  // rm -rf d: children first
  ok(trashUnlink(p, sub, 'f', 10));
  ok(trashRmdir(p, d, 'sub', 11));
  ok(trashRmdir(p, 1, 'd', 12));
  assert.equal(p.getDentry(1, 'd').status, StatusCode.NOT_FOUND);
  assert.equal(ok(p.getInodeAttr(1)).inode.nlink, rootLinks - 1, "the parent's link count drops as for any rmdir");
  assert.equal(ok(p.getInodeAttr(d)).inode.nlink, 2, 'the directory keeps its links');
  assert.equal(p.deletionList().length, 0, 'nothing for the reclaimer');
  assert.deepEqual(p.trashList().map((t) => [t.ino, t.parent, t.name, t.type]), [
    [d, 1, 'd', FileType.TYPE_DIRECTORY],
    [sub, d, 'sub', FileType.TYPE_DIRECTORY],
    [f, sub, 'f', FileType.TYPE_S3],
  ]);
  // a trashed directory takes no entry, and its children cannot go back before it
  rejects(p, { kind: 'createFile', fsId: FS, parent: d, name: 'x', type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: at(13) }, StatusCode.DIRECTORY_REMOVED);
  rejects(p, { kind: 'trashRestore', fsId: FS, ino: sub, time: at(13) }, StatusCode.DIRECTORY_REMOVED);

  // the trash and the seals survive a snapshot
  const q = (await loadSnapshotBytes(snapshot(p))).get(1)!;
  assert.equal(partitionDigest(q), partitionDigest(p));
  assert.deepEqual(q.trashList(), p.trashList());

  for (const part of [p, q]) {
    const back = ok(part.apply({ kind: 'trashRestore', fsId: FS, ino: d, time: at(20) }));
    assert.equal(back.remote, undefined, 'a directory of this partition needs no follow-up');
    ok(part.apply({ kind: 'trashRestore', fsId: FS, ino: sub, time: at(21) }));
    ok(part.apply({ kind: 'trashRestore', fsId: FS, ino: f, time: at(22) }));
    assert.equal(ok(part.getDentry(sub, 'f')).dentry.ino, f);
    assert.equal(ok(part.getInodeAttr(1)).inode.nlink, rootLinks);
    assert.equal(ok(part.dirStats(d)).sealed, false);
    mkfile(part, d, 'new'); // takes entries again
    assert.equal(part.trashList().length, 0);
  }
});

test('purge of a trashed directory drops it for the reclaimer; its trashed children can still go elsewhere', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, d, 'f');
  ok(trashUnlink(p, d, 'f', 10));
  ok(trashRmdir(p, 1, 'd', 11));
  const purged = ok(p.apply({ kind: 'trashPurge', fsId: FS, ino: d, time: at(30) }));
  assert.equal(purged.inode?.nlink, 0);
  assert.deepEqual(p.deletionList(), [{ ino: d, dtime: at(30).sec }]);
  rejects(p, { kind: 'trashRestore', fsId: FS, ino: f, time: at(31) }, StatusCode.NOT_FOUND);
  ok(p.apply({ kind: 'trashRestore', fsId: FS, ino: f, parent: 1, time: at(32) }));
  assert.equal(ok(p.getDentry(1, 'f')).dentry.ino, f);
});

test('a name whose inode lives in another partition: the entry is kept here, restore and purge say what to do there', async () => {
  const p = newPartition([0, 9999]);
  const d = mkdir(p, 1, 'd');
  const remoteDir = 20_000;
  const remoteFile = 20_001;
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: d, name: 'rd', ino: remoteDir, type: FileType.TYPE_DIRECTORY, time: at(1) }));
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: d, name: 'rf', ino: remoteFile, type: FileType.TYPE_S3, length: 10, time: at(1) }));
  const dLinks = ok(p.getInodeAttr(d)).inode.nlink;
  // the commits of the rmdir and unlink transactions (their shares there keep the links)
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: 'rd', ino: remoteDir, expectDir: true, toTrash: true, time: at(5) }));
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: 'rf', ino: remoteFile, move: true, length: 10, toTrash: true, time: at(5) }));
  assert.equal(ok(p.getInodeAttr(d)).inode.nlink, dLinks - 1);
  assert.deepEqual(p.trashList().map((t) => [t.ino, t.name]), [[remoteDir, 'rd'], [remoteFile, 'rf']]);
  const q = (await loadSnapshotBytes(snapshot(p))).get(1)!;
  assert.deepEqual(q.trashList(), p.trashList(), 'entries of remote inodes load (snapshot version 6)');

  rejects(p, { kind: 'trashRestore', fsId: FS, ino: remoteDir, parent: 1, time: at(6) }, StatusCode.CROSS_DEVICE);
  const back = ok(p.apply({ kind: 'trashRestore', fsId: FS, ino: remoteDir, time: at(6) }));
  assert.deepEqual(back.remote, { ino: remoteDir, unlinkParent: 0, linkParent: 0, unseal: true });
  assert.equal(ok(p.getInodeAttr(d)).inode.nlink, dLinks);
  const moved = ok(p.apply({ kind: 'trashRestore', fsId: FS, ino: remoteFile, parent: 1, name: 'rf2', time: at(6) }));
  assert.deepEqual(moved.remote, { ino: remoteFile, unlinkParent: d, linkParent: 1, unseal: false });

  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: 'rd', ino: remoteDir, expectDir: true, toTrash: true, time: at(7) }));
  const gone = ok(p.apply({ kind: 'trashPurge', fsId: FS, ino: remoteDir, time: at(8) }));
  assert.equal(gone.inode, undefined);
  assert.deepEqual(gone.remote, { ino: remoteDir, unlinkParent: d, linkParent: 0, unseal: false });
  assert.equal(p.trashList().length, 0);
});

test('a version-5 snapshot with a directory in its trash is refused; version-5 file entries still load', async () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  mkfile(p, d, 'f');
  ok(trashUnlink(p, d, 'f', 10));
  const e = mkdir(p, 1, 'e');
  ok(trashRmdir(p, 1, 'e', 11));
  const v6 = snapshot(p);
  /** The same bytes under another header version, checksum recomputed (what an old writer's header says). */
  const asVersion = (bytes: Uint8Array, version: number): Uint8Array => {
    const b = bytes.slice();
    const view = new DataView(b.buffer, b.byteOffset, b.length);
    view.setUint32(7, version, true);
    view.setBigUint64(b.length - 8, new Crc64().update(b.subarray(0, b.length - 8)).digest(), true);
    return b;
  };
  assert.equal(new DataView(v6.buffer, v6.byteOffset).getUint32(7, true), 6);
  await assert.rejects(loadSnapshotBytes(asVersion(v6, 5)), new RegExp(`trash entry of inode ${e}: bad type ${FileType.TYPE_DIRECTORY}`));
  // a version-5 snapshot (file entries only, as version 5 wrote them) still loads
  ok(p.apply({ kind: 'trashRestore', fsId: FS, ino: e, time: at(12) }));
  const q = (await loadSnapshotBytes(asVersion(snapshot(p), 5))).get(1)!;
  assert.deepEqual(q.trashList(), p.trashList());
  assert.equal(partitionDigest(q), partitionDigest(p));
});
