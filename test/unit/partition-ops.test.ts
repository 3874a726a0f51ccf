import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FileType,
  Partition,
  PartitionStatus,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  SetAttr,
  StatusCode,
  XATTR_CREATE,
  XATTR_REPLACE,
  S_IFDIR,
  S_IFREG,
} from '../../src/metaserver/partition/index.ts';
import { at, FS, mkdir, mkfile, newPartition, ok, rejects, T0 } from '../helpers/partition.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

test('createRootInode makes directory 1 and refuses twice or outside the range', () => {
  const p = newPartition();
  const root = ok(p.getInodeAttr(1)).inode;
  assert.equal(root.type, FileType.TYPE_DIRECTORY);
  assert.equal(root.nlink, 2);
  assert.equal(root.mode, S_IFDIR | 0o755);
  assert.deepEqual(root.parent, []);
  rejects(p, { kind: 'createRootInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: T0 }, StatusCode.INODE_EXIST);
  const q = new Partition({ partitionId: 2, fsId: FS, start: 1 << 20, end: (2 << 20) - 1 });
  rejects(q, { kind: 'createRootInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: T0 }, StatusCode.ID_OUT_OF_RANGE);
  ok(p.apply({ kind: 'createRecycleInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: T0 }));
  assert.deepEqual(ok(p.getInodeAttr(2)).inode.parent, [1]);
});

test('createInode hands out ids from max(start, 3) and flips READONLY at the end of the range', () => {
  const p = new Partition({ partitionId: 1, fsId: FS, start: 0, end: 5 });
  assert.equal(p.nextId, 3);
  const mk = () => p.apply({ kind: 'createInode', fsId: FS, parent: 1, type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0 });
  assert.equal(ok(mk()).inode.inodeId, 3);
  assert.equal(ok(mk()).inode.inodeId, 4);
  assert.equal(p.status, PartitionStatus.READWRITE);
  assert.equal(ok(mk()).inode.inodeId, 5);
  assert.equal(p.status, PartitionStatus.READONLY);
  rejects(p, { kind: 'createInode', fsId: FS, parent: 1, type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0 }, StatusCode.PARTITION_ALLOC_ID_FAIL);
  const q = new Partition({ partitionId: 2, fsId: FS, start: 100, end: 200 });
  assert.equal(ok(q.apply({ kind: 'createInode', fsId: FS, parent: 1, type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0 })).inode.inodeId, 100);
});

test('createInode of every type: nlink, mode bits, length, symlink, rdev', () => {
  const p = newPartition();
  const cases: [FileType, number][] = [
    [FileType.TYPE_DIRECTORY, 0o040000],
    [FileType.TYPE_S3, 0o100000],
    [FileType.TYPE_SYM_LINK, 0o120000],
    [FileType.TYPE_FIFO, 0o010000],
    [FileType.TYPE_SOCKET, 0o140000],
    [FileType.TYPE_CHAR_DEVICE, 0o020000],
    [FileType.TYPE_BLOCK_DEVICE, 0o060000],
  ];
  for (const [type, fmt] of cases) {
    const a = ok(
      p.apply({
        kind: 'createInode',
        fsId: FS,
        parent: 1,
        type,
        mode: 0o640,
        uid: 7,
        gid: 8,
        rdev: type === FileType.TYPE_CHAR_DEVICE ? 0x0501 : undefined,
        symlink: type === FileType.TYPE_SYM_LINK ? 'ünïcode/target' : undefined,
        time: at(1, 2),
      }),
    ).inode;
    assert.equal(a.mode, fmt | 0o640);
    assert.equal(a.nlink, type === FileType.TYPE_DIRECTORY ? 2 : 1);
    assert.deepEqual(a.parent, [1]);
    assert.equal(a.ctime, T0.sec + 1);
    assert.equal(a.mtimeNs, 2);
    if (type === FileType.TYPE_DIRECTORY) assert.equal(a.length, 4096);
    if (type === FileType.TYPE_SYM_LINK) {
      assert.equal(a.symlink, 'ünïcode/target');
      assert.equal(a.length, Buffer.byteLength('ünïcode/target'));
      assert.equal(ok(p.readlink(a.inodeId)).target, 'ünïcode/target');
    }
    if (type === FileType.TYPE_CHAR_DEVICE) assert.equal(a.rdev, 0x0501);
  }
  assert.equal(p.stats().inodes, 8);
  assert.deepEqual(p.stats().byType, { 1: 2, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1 });
});

test('createInode errors change nothing', () => {
  const p = newPartition();
  const base = { kind: 'createInode' as const, fsId: FS, parent: 1, type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0 };
  rejects(p, { ...base, type: FileType.TYPE_SYM_LINK }, StatusCode.SYM_LINK_EMPTY);
  rejects(p, { ...base, type: FileType.TYPE_SYM_LINK, symlink: '' }, StatusCode.SYM_LINK_EMPTY);
  rejects(p, { ...base, type: FileType.TYPE_SYM_LINK, symlink: 'x'.repeat(4097) }, StatusCode.NAME_TOO_LONG);
  rejects(p, { ...base, symlink: 'x' }, StatusCode.WRONG_TYPE);
  rejects(p, { ...base, fsId: 2 }, StatusCode.FS_ID_MISMATCH);
  rejects(p, { ...base, type: 99 as FileType }, StatusCode.PARAM_ERROR);
  rejects(p, { ...base, mode: S_IFDIR | 0o644 }, StatusCode.PARAM_ERROR);
  rejects(p, { ...base, uid: -1 }, StatusCode.PARAM_ERROR);
  rejects(p, { ...base, parent: 0 }, StatusCode.PARAM_ERROR);
  rejects(p, { ...base, time: { sec: 1, nsec: 1e9 } }, StatusCode.PARAM_ERROR);
  rejects(p, { ...base, length: 10 }, StatusCode.WRONG_TYPE);
});

test('createFile creates inode + dentry in one op and updates the parent', () => {
  const p = newPartition();
  const r = ok(p.apply({ kind: 'createFile', fsId: FS, parent: 1, name: 'a', type: FileType.TYPE_S3, mode: 0o644, uid: 1, gid: 2, time: at(5) }));
  assert.equal(r.inode.mode, S_IFREG | 0o644);
  assert.equal(r.parent.mtime, T0.sec + 5);
  assert.equal(r.parent.nlink, 2);
  const d = ok(p.apply({ kind: 'createFile', fsId: FS, parent: 1, name: 'd', type: FileType.TYPE_DIRECTORY, mode: 0o755, uid: 1, gid: 2, time: at(6) }));
  assert.equal(d.parent.nlink, 3);
  assert.deepEqual(ok(p.getDentry(1, 'a')).dentry, { parent: 1, name: 'a', ino: r.inode.inodeId, type: FileType.TYPE_S3 });
  assert.deepEqual(ok(p.dirStats(1)).stats, { entries: 2, files: 1, subdirs: 1, bytes: 0 });
  assert.equal(p.stats().dentries, 2);
});

test('name validation: each problem its own code, nothing changes', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const op = (name: string) => ({ kind: 'createFile' as const, fsId: FS, parent: 1, name, type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0 });
  for (const bad of ['', '.', '..', 'a/b', 'a\0b', '\ud800x']) rejects(p, op(bad), StatusCode.INVALID_NAME);
  rejects(p, op('x'.repeat(256)), StatusCode.NAME_TOO_LONG);
  rejects(p, op('é'.repeat(128)), StatusCode.NAME_TOO_LONG); // 256 bytes
  ok(p.apply(op('é'.repeat(127) + 'x'))); // 255 bytes
  ok(p.apply(op('x'.repeat(255))));
  rejects(p, op('f'), StatusCode.DENTRY_EXIST);
  rejects(p, { ...op('g'), parent: f }, StatusCode.NOT_DIRECTORY);
  rejects(p, { ...op('g'), parent: 999 }, StatusCode.NOT_FOUND);
  rejects(p, { ...op('g'), parent: 5 << 20 }, StatusCode.ID_OUT_OF_RANGE);
});

test('createDentry / deleteDentry maintain parent nlink, times and counts', () => {
  const p = newPartition();
  const child = ok(p.apply({ kind: 'createInode', fsId: FS, parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755, uid: 0, gid: 0, time: T0 })).inode.inodeId;
  const r = ok(p.apply({ kind: 'createDentry', fsId: FS, parent: 1, name: 'c', ino: child, type: FileType.TYPE_DIRECTORY, time: at(3) }));
  assert.equal(r.parent.nlink, 3);
  assert.equal(r.parent.ctime, T0.sec + 3);
  // Same dentry again is an idempotent success; another inode under the name is DENTRY_EXIST.
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: 1, name: 'c', ino: child, type: FileType.TYPE_DIRECTORY, time: at(3) }));
  rejects(p, { kind: 'createDentry', fsId: FS, parent: 1, name: 'c', ino: 5 << 20, type: FileType.TYPE_S3, time: at(4) }, StatusCode.DENTRY_EXIST);
  // A remote child (other partition) with a length hint.
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: 1, name: 'remote', ino: 5 << 20, type: FileType.TYPE_S3, length: 100, time: at(4) }));
  assert.deepEqual(ok(p.dirStats(1)).stats, { entries: 2, files: 1, subdirs: 1, bytes: 100 });
  // Local child must exist with the same type.
  rejects(p, { kind: 'createDentry', fsId: FS, parent: 1, name: 'x', ino: 1000, type: FileType.TYPE_S3, time: T0 }, StatusCode.NOT_FOUND);
  rejects(p, { kind: 'createDentry', fsId: FS, parent: 1, name: 'x', ino: child, type: FileType.TYPE_S3, time: T0 }, StatusCode.WRONG_TYPE);
  rejects(p, { kind: 'createDentry', fsId: FS, parent: 1, name: 'x', ino: 0, type: FileType.TYPE_S3, time: T0 }, StatusCode.PARAM_ERROR);
  rejects(p, { kind: 'createDentry', fsId: FS, parent: 1, name: 'x', ino: 1, type: FileType.TYPE_S3, time: T0 }, StatusCode.PARAM_ERROR);

  const del = ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'c', time: at(9) }));
  assert.deepEqual(del.dentry, { parent: 1, name: 'c', ino: child, type: FileType.TYPE_DIRECTORY });
  assert.equal(del.parent.nlink, 2);
  assert.equal(del.effect.unlinked, false);
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'remote', length: 100, time: at(9) }));
  assert.deepEqual(ok(p.dirStats(1)).stats, { entries: 0, files: 0, subdirs: 0, bytes: 0 });
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: 1, name: 'c', time: T0 }, StatusCode.NOT_FOUND);
});

test('deleteDentry checks: expectDir, ino, non-empty directory; unlinkInode drops the link', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, d, 'f');
  const g = mkfile(p, 1, 'g');
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: 1, name: 'd', time: T0 }, StatusCode.DIRECTORY_NOT_EMPTY);
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: 1, name: 'd', expectDir: false, time: T0 }, StatusCode.IS_DIRECTORY);
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: 1, name: 'g', expectDir: true, time: T0 }, StatusCode.NOT_DIRECTORY);
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: 1, name: 'g', ino: g + 1, time: T0 }, StatusCode.NOT_FOUND);
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: g, name: 'x', time: T0 }, StatusCode.NOT_DIRECTORY);
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: 1, name: '..', time: T0 }, StatusCode.INVALID_NAME);
  const r = ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: 'f', expectDir: false, unlinkInode: true, time: at(7) }));
  assert.equal(r.effect.unlinked, true);
  assert.equal(r.inode!.nlink, 0);
  assert.equal(r.inode!.dtime, T0.sec + 7);
  assert.deepEqual(p.deletionList(), [{ ino: f, dtime: T0.sec + 7 }]);
  const rd = ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'd', expectDir: true, unlinkInode: true, time: at(8) }));
  assert.equal(rd.inode!.nlink, 0);
  assert.equal(ok(p.getInodeAttr(1)).inode.nlink, 2);
  assert.deepEqual(
    p.deletionList().map((x) => x.ino),
    [d, f],
  );
});

test('link / unlink keep nlink and the parent list; nlink 0 goes to the deletion list', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, 1, 'f');
  let a = ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: d, time: at(1) })).inode;
  assert.equal(a.nlink, 2);
  assert.deepEqual(a.parent, [1], 'the answer names the first parent only (it must not grow with the links)');
  assert.deepEqual(ok(p.getInodeAttr(f)).inode.parent, [1, d]);
  a = ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: d, time: at(1) })).inode;
  assert.deepEqual(ok(p.getInodeAttr(f)).inode.parent, [1, d, d]);
  a = ok(p.apply({ kind: 'unlink', fsId: FS, ino: f, parent: 1, time: at(2) })).inode;
  assert.deepEqual(a.parent, [d]);
  assert.deepEqual(ok(p.getInodeAttr(f)).inode.parent, [d, d]);
  assert.equal(a.nlink, 2);
  assert.equal(a.ctime, T0.sec + 2);
  rejects(p, { kind: 'link', fsId: FS, ino: d, parent: 1, time: T0 }, StatusCode.NOT_PERMITTED);
  rejects(p, { kind: 'link', fsId: FS, ino: 999, parent: 1, time: T0 }, StatusCode.NOT_FOUND);
  rejects(p, { kind: 'link', fsId: FS, ino: 5 << 20, parent: 1, time: T0 }, StatusCode.ID_OUT_OF_RANGE);
  ok(p.apply({ kind: 'unlink', fsId: FS, ino: f, parent: d, time: at(3) }));
  a = ok(p.apply({ kind: 'unlink', fsId: FS, ino: f, parent: d, time: at(4) })).inode;
  assert.equal(a.nlink, 0);
  assert.equal(a.dtime, T0.sec + 4);
  assert.deepEqual(a.parent, []);
  rejects(p, { kind: 'unlink', fsId: FS, ino: f, parent: d, time: T0 }, StatusCode.NOT_FOUND);
  rejects(p, { kind: 'link', fsId: FS, ino: f, parent: d, time: T0 }, StatusCode.NOT_FOUND);
  // A directory goes straight to 0, and only when empty.
  mkfile(p, d, 'x');
  rejects(p, { kind: 'unlink', fsId: FS, ino: d, parent: 1, time: T0 }, StatusCode.DIRECTORY_NOT_EMPTY);
  // The inode stays readable until deleteInode removes it.
  assert.equal(ok(p.getInodeAttr(f)).inode.nlink, 0);
  rejects(p, { kind: 'deleteInode', fsId: FS, ino: d }, StatusCode.BUSY);
  ok(p.apply({ kind: 'deleteInode', fsId: FS, ino: f }));
  assert.equal(p.getInodeAttr(f).status, StatusCode.NOT_FOUND);
  assert.deepEqual(p.deletionList(), []);
  rejects(p, { kind: 'deleteInode', fsId: FS, ino: f }, StatusCode.NOT_FOUND);
});

test('link limit: TOO_MANY_LINKS', () => {
  const p = new Partition({ partitionId: 1, fsId: FS, start: 0, end: 1000, maxLinks: 100 });
  ok(p.apply({ kind: 'createRootInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: T0 }));
  assert.equal(new Partition({ partitionId: 1, fsId: FS, start: 0, end: 1 }).maxLinks, 65000);
  const f = mkfile(p, 1, 'f');
  for (let k = 1; k < 100; k++) ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: 1, time: T0 }));
  rejects(p, { kind: 'link', fsId: FS, ino: f, parent: 1, time: T0 }, StatusCode.TOO_MANY_LINKS);
});

test('replaceParent swaps one occurrence', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const a = ok(p.apply({ kind: 'replaceParent', fsId: FS, ino: f, oldParent: 1, newParent: 77, time: at(1) })).inode;
  assert.deepEqual(a.parent, [77]);
  rejects(p, { kind: 'replaceParent', fsId: FS, ino: f, oldParent: 1, newParent: 77, time: T0 }, StatusCode.NOT_FOUND);
});

test('setattr: mask, mode keeps the file type, size trims the block map, times', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const slice = (chunkId: number, offset: number, len: number) => ({ chunkId, compaction: 0, offset, len, size: len, zero: false });
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [slice(1, 0, 100), slice(2, 100, 100)] }, { index: 1, slices: [slice(3, 300, 50)] }], time: at(1) }));
  assert.equal(ok(p.getInodeAttr(f)).inode.length, 350);
  assert.equal(ok(p.dirStats(1)).stats.bytes, 350);
  const r = ok(p.apply({ kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.SIZE | SetAttr.MODE, mode: 0o600, length: 150, time: at(2) }));
  assert.equal(r.inode.length, 150);
  assert.equal(r.lengthDelta, -200);
  assert.equal(r.inode.mode, S_IFREG | 0o600);
  assert.equal(r.inode.mtime, T0.sec + 2);
  assert.equal(ok(p.dirStats(1)).stats.bytes, 150);
  const chunks = ok(p.getChunks(f)).chunks;
  assert.deepEqual([...chunks.keys()], [0]);
  assert.deepEqual(chunks.get(0), [{ ...slice(1, 0, 100), seq: 1 }, { ...slice(2, 100, 50), size: 100, seq: 2 }]);
  const t = ok(
    p.apply({
      kind: 'setattr',
      fsId: FS,
      ino: f,
      mask: SetAttr.UID | SetAttr.GID | SetAttr.ATIME | SetAttr.MTIME | SetAttr.CTIME,
      uid: 5,
      gid: 6,
      atime: { sec: 10, nsec: 11 },
      mtime: { sec: 12, nsec: 13 },
      ctime: { sec: 14, nsec: 15 },
      time: at(3),
    }),
  ).inode;
  assert.deepEqual([t.uid, t.gid, t.atime, t.atimeNs, t.mtime, t.mtimeNs, t.ctime, t.ctimeNs], [5, 6, 10, 11, 12, 13, 14, 15]);
  const d = mkdir(p, 1, 'd');
  rejects(p, { kind: 'setattr', fsId: FS, ino: d, mask: SetAttr.SIZE, length: 0, time: T0 }, StatusCode.IS_DIRECTORY);
  const s = mkfile(p, 1, 's', FileType.TYPE_SYM_LINK);
  rejects(p, { kind: 'setattr', fsId: FS, ino: s, mask: SetAttr.SIZE, length: 0, time: T0 }, StatusCode.WRONG_TYPE);
  rejects(p, { kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.MODE, mode: S_IFDIR | 0o700, time: T0 }, StatusCode.PARAM_ERROR);
  rejects(p, { kind: 'setattr', fsId: FS, ino: f, mask: 1024, time: T0 }, StatusCode.PARAM_ERROR);
  rejects(p, { kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.SIZE, length: -1, time: T0 }, StatusCode.PARAM_ERROR);
  rejects(p, { kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.ATIME, time: T0 }, StatusCode.PARAM_ERROR);
  rejects(p, { kind: 'setattr', fsId: FS, ino: 4242, mask: SetAttr.UID, uid: 1, time: T0 }, StatusCode.NOT_FOUND);
});

test('xattr set/get/list/remove with Linux flags and limits', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const set = (name: string, value: string | Uint8Array, flags = 0) =>
    ({ kind: 'setXattr', fsId: FS, ino: f, name, value: typeof value === 'string' ? bytes(value) : value, flags, time: at(1) }) as const;
  ok(p.apply(set('user.b', 'v1')));
  ok(p.apply(set('user.a', 'v2', XATTR_CREATE)));
  ok(p.apply(set('security.selinux', '')));
  assert.deepEqual(ok(p.listXattr(f)).names, ['security.selinux', 'user.a', 'user.b']);
  assert.deepEqual(ok(p.getXattr(f, 'user.b')).value, bytes('v1'));
  assert.equal(ok(p.getInodeAttr(f)).inode.ctime, T0.sec + 1);
  rejects(p, set('user.a', 'x', XATTR_CREATE), StatusCode.XATTR_EXIST);
  rejects(p, set('user.zz', 'x', XATTR_REPLACE), StatusCode.NO_XATTR);
  rejects(p, set('user.zz', 'x', 4), StatusCode.PARAM_ERROR);
  ok(p.apply(set('user.a', 'v3', XATTR_REPLACE)));
  assert.deepEqual(ok(p.getXattr(f, 'user.a')).value, bytes('v3'));
  rejects(p, set('noprefix', 'x'), StatusCode.NOT_SUPPORTED);
  rejects(p, set('user.', 'x'), StatusCode.INVALID_NAME);
  rejects(p, set('', 'x'), StatusCode.XATTR_RANGE);
  rejects(p, set('user.' + 'n'.repeat(251), 'x'), StatusCode.XATTR_RANGE);
  rejects(p, set('user.big', new Uint8Array(64 * 1024 + 1)), StatusCode.XATTR_RANGE);
  ok(p.apply(set('user.max', new Uint8Array(64 * 1024))));
  for (let k = 0; k < 14; k++) ok(p.apply(set(`user.fill${k}`, new Uint8Array(64 * 1024))));
  rejects(p, set('user.over', new Uint8Array(64 * 1024)), StatusCode.NO_SPACE);
  const s = mkfile(p, 1, 's', FileType.TYPE_SYM_LINK);
  rejects(p, { ...set('user.x', 'y'), ino: s }, StatusCode.NOT_PERMITTED);
  ok(p.apply({ ...set('trusted.x', 'y'), ino: s }));
  assert.equal(p.getXattr(f, 'user.nope').status, StatusCode.NO_XATTR);
  ok(p.apply({ kind: 'removeXattr', fsId: FS, ino: f, name: 'user.a', time: at(2) }));
  rejects(p, { kind: 'removeXattr', fsId: FS, ino: f, name: 'user.a', time: T0 }, StatusCode.NO_XATTR);
  rejects(p, { kind: 'removeXattr', fsId: FS, ino: f, name: 'bad', time: T0 }, StatusCode.NOT_SUPPORTED);
  // The value is copied in: changing the caller's buffer changes nothing.
  const buf = bytes('orig');
  ok(p.apply(set('user.copy', buf)));
  buf[0] = 0;
  assert.deepEqual(ok(p.getXattr(f, 'user.copy')).value, bytes('orig'));
});

test('rename inside the partition: plain, over file, over empty dir, and every refusal', () => {
  const p = newPartition();
  const a = mkdir(p, 1, 'a');
  const b = mkdir(p, 1, 'b');
  const f = mkfile(p, a, 'f');
  const g = mkfile(p, b, 'g');
  const e = mkdir(p, b, 'empty');
  const full = mkdir(p, b, 'full');
  mkfile(p, full, 'x');
  const ren = (srcParent: number, srcName: string, dstParent: number, dstName: string, flags = 0) =>
    ({ kind: 'rename', fsId: FS, srcParent, srcName, dstParent, dstName, flags, time: at(5) }) as const;
  rejects(p, ren(a, 'nope', b, 'x'), StatusCode.NOT_FOUND);
  rejects(p, ren(1, 'a', b, 'g'), StatusCode.NOT_DIRECTORY);
  rejects(p, ren(a, 'f', b, 'empty'), StatusCode.IS_DIRECTORY);
  rejects(p, ren(1, 'a', b, 'full'), StatusCode.DIRECTORY_NOT_EMPTY);
  rejects(p, ren(a, 'f', b, 'g', RENAME_NOREPLACE), StatusCode.DENTRY_EXIST);
  rejects(p, ren(a, 'f', b, 'zz', RENAME_EXCHANGE), StatusCode.NOT_FOUND);
  rejects(p, ren(a, 'f', b, 'zz', RENAME_EXCHANGE | RENAME_NOREPLACE), StatusCode.PARAM_ERROR);
  rejects(p, ren(1, 'a', a, 'self'), StatusCode.INVALID_RENAME);
  rejects(p, ren(a, 'f', g, 'x'), StatusCode.NOT_DIRECTORY);
  rejects(p, ren(a, 'f', b, 'a/b'), StatusCode.INVALID_NAME);

  // File over file: the replaced inode loses its link here.
  const r = ok(p.apply(ren(a, 'f', b, 'g')));
  assert.deepEqual(r.replaced, { ino: g, type: FileType.TYPE_S3, unlinked: true });
  assert.equal(ok(p.getInodeAttr(g)).inode.nlink, 0);
  assert.deepEqual(ok(p.getInodeAttr(f)).inode.parent, [b]);
  assert.equal(p.getDentry(a, 'f').status, StatusCode.NOT_FOUND);
  assert.equal(ok(p.getDentry(b, 'g')).dentry.ino, f);
  // Dir over empty dir: parent nlink follows subdirs.
  const nb = ok(p.getInodeAttr(b)).inode.nlink;
  const r2 = ok(p.apply(ren(1, 'a', b, 'empty')));
  assert.deepEqual(r2.replaced, { ino: e, type: FileType.TYPE_DIRECTORY, unlinked: true });
  assert.equal(ok(p.getInodeAttr(b)).inode.nlink, nb);
  assert.equal(ok(p.getInodeAttr(1)).inode.nlink, 3);
  assert.equal(ok(p.getInodeAttr(e)).inode.nlink, 0);
  assert.deepEqual(ok(p.getInodeAttr(a)).inode.parent, [b]);
  // Same inode on both sides: nothing happens.
  ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: b, time: T0 }));
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: b, name: 'hard', ino: f, type: FileType.TYPE_S3, time: T0 }));
  const before = ok(p.listDentry(b)).entries;
  assert.equal(ok(p.apply(ren(b, 'g', b, 'hard'))).noop, true);
  assert.deepEqual(ok(p.listDentry(b)).entries, before);
  assert.equal(ok(p.apply(ren(b, 'g', b, 'g'))).noop, true);
});

test('rename exchange swaps entries and fixes parent counts', () => {
  const p = newPartition();
  const a = mkdir(p, 1, 'a');
  const b = mkdir(p, 1, 'b');
  const sub = mkdir(p, a, 'sub');
  const f = mkfile(p, b, 'f');
  const r = ok(p.apply({ kind: 'rename', fsId: FS, srcParent: a, srcName: 'sub', dstParent: b, dstName: 'f', flags: RENAME_EXCHANGE, time: at(1) }));
  assert.deepEqual(r.exchanged, { ino: f, type: FileType.TYPE_S3, local: true });
  assert.equal(ok(p.getDentry(a, 'sub')).dentry.ino, f);
  assert.equal(ok(p.getDentry(b, 'f')).dentry.ino, sub);
  assert.equal(ok(p.getInodeAttr(a)).inode.nlink, 2);
  assert.equal(ok(p.getInodeAttr(b)).inode.nlink, 3);
  assert.deepEqual(ok(p.getInodeAttr(sub)).inode.parent, [b]);
  assert.deepEqual(ok(p.getInodeAttr(f)).inode.parent, [a]);
  assert.deepEqual(ok(p.dirStats(a)).stats, { entries: 1, files: 1, subdirs: 0, bytes: 0 });
  assert.deepEqual(ok(p.dirStats(b)).stats, { entries: 1, files: 0, subdirs: 1, bytes: 0 });
});

test('rename of a remote inode reports what the caller must fix elsewhere', () => {
  const p = newPartition();
  const remote = 5 << 20;
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: 1, name: 'r', ino: remote, type: FileType.TYPE_S3, time: T0 }));
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: 1, name: 'r2', ino: remote + 1, type: FileType.TYPE_S3, time: T0 }));
  const r = ok(p.apply({ kind: 'rename', fsId: FS, srcParent: 1, srcName: 'r', dstParent: 1, dstName: 'r2', flags: 0, time: T0 }));
  assert.deepEqual(r.moved, { ino: remote, type: FileType.TYPE_S3, local: false });
  assert.deepEqual(r.replaced, { ino: remote + 1, type: FileType.TYPE_S3, unlinked: false });
  rejects(p, { kind: 'rename', fsId: FS, srcParent: 1, srcName: 'r2', dstParent: 5 << 20, dstName: 'x', flags: 0, time: T0 }, StatusCode.ID_OUT_OF_RANGE);
});

test('block map: append, trim, replace (compare-and-swap), wrong types', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const d = mkdir(p, 1, 'd');
  const s = (chunkId: number, offset: number, len: number) => ({ chunkId, compaction: 0, offset, len, size: len, zero: false });
  const r = ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(1, 0, 10)] }], minLength: 4, time: at(1) }));
  assert.equal(r.inode.length, 10);
  assert.equal(r.lengthDelta, 10);
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(2, 5, 10)] }], minLength: 100, time: at(2) }));
  assert.equal(ok(p.getInodeAttr(f)).inode.length, 100);
  assert.deepEqual(ok(p.getChunks(f)).chunks.get(0), [{ ...s(1, 0, 10), seq: 1 }, { ...s(2, 5, 10), seq: 2 }]);
  rejects(p, { kind: 'appendChunks', fsId: FS, ino: d, chunks: [], time: T0 }, StatusCode.WRONG_TYPE);
  rejects(p, { kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [{ ...s(1, 0, 1), len: -1 }] }], time: T0 }, StatusCode.PARAM_ERROR);
  rejects(p, { kind: 'replaceChunks', fsId: FS, ino: f, index: 0, expected: [s(1, 0, 10)], slices: [] }, StatusCode.TX_WRITE_CONFLICT);
  ok(p.apply({ kind: 'replaceChunks', fsId: FS, ino: f, index: 0, expected: [s(1, 0, 10), s(2, 5, 10)], slices: [{ ...s(3, 0, 15), compaction: 1 }] }));
  // The merge keeps the newest sequence of the slices it replaced.
  assert.deepEqual(ok(p.getChunks(f)).chunks.get(0), [{ ...s(3, 0, 15), compaction: 1, seq: 2 }]);
  ok(p.apply({ kind: 'trimChunks', fsId: FS, ino: f, length: 12 }));
  assert.deepEqual(ok(p.getChunks(f)).chunks.get(0), [{ ...s(3, 0, 12), size: 15, compaction: 1, seq: 2 }]);
  assert.equal(ok(p.getInodeAttr(f)).inode.length, 100);
  ok(p.apply({ kind: 'trimChunks', fsId: FS, ino: f, length: 0 }));
  assert.equal(ok(p.getChunks(f)).chunks.size, 0);
  rejects(p, { kind: 'trimChunks', fsId: FS, ino: d, length: 0 }, StatusCode.WRONG_TYPE);
  assert.equal(p.getChunks(d).status, StatusCode.WRONG_TYPE);
  assert.equal(p.readlink(f).status, StatusCode.WRONG_TYPE);
});

test('sealed directories refuse new entries; seal needs an empty directory', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const e = mkdir(p, 1, 'e');
  mkfile(p, e, 'x');
  rejects(p, { kind: 'sealDirectory', fsId: FS, ino: e }, StatusCode.DIRECTORY_NOT_EMPTY);
  rejects(p, { kind: 'sealDirectory', fsId: FS, ino: mkfile(p, 1, 'f') }, StatusCode.NOT_DIRECTORY);
  ok(p.apply({ kind: 'sealDirectory', fsId: FS, ino: d }));
  assert.equal(ok(p.dirStats(d)).sealed, true);
  rejects(p, { kind: 'createFile', fsId: FS, parent: d, name: 'n', type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0 }, StatusCode.DIRECTORY_REMOVED);
  rejects(p, { kind: 'createDentry', fsId: FS, parent: d, name: 'n', ino: 5 << 20, type: FileType.TYPE_S3, time: T0 }, StatusCode.DIRECTORY_REMOVED);
  rejects(p, { kind: 'rename', fsId: FS, srcParent: e, srcName: 'x', dstParent: d, dstName: 'x', flags: 0, time: T0 }, StatusCode.DIRECTORY_REMOVED);
  ok(p.apply({ kind: 'unsealDirectory', fsId: FS, ino: d }));
  mkfile(p, d, 'n');
});

test('adjustDirStats and status transitions', () => {
  const p = newPartition();
  assert.deepEqual(ok(p.apply({ kind: 'adjustDirStats', fsId: FS, ino: 1, bytesDelta: 50 })).stats.bytes, 50);
  assert.deepEqual(ok(p.apply({ kind: 'adjustDirStats', fsId: FS, ino: 1, bytesDelta: -80 })).stats.bytes, 0);
  rejects(p, { kind: 'adjustDirStats', fsId: FS, ino: 1, bytesDelta: 0.5 }, StatusCode.PARAM_ERROR);
  ok(p.apply({ kind: 'setStatus', fsId: FS, status: PartitionStatus.READONLY }));
  rejects(p, { kind: 'setStatus', fsId: FS, status: PartitionStatus.READWRITE }, StatusCode.PARAM_ERROR);
  rejects(p, { kind: 'createInode', fsId: FS, parent: 1, type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0 }, StatusCode.PARTITION_ALLOC_ID_FAIL);
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: 1, name: 'still-ok', ino: 5 << 20, type: FileType.TYPE_S3, time: T0 }));
  ok(p.apply({ kind: 'setStatus', fsId: FS, status: PartitionStatus.DELETING }));
  rejects(p, { kind: 'deleteDentry', fsId: FS, parent: 1, name: 'still-ok', time: T0 }, StatusCode.PARTITION_DELETING);
  rejects(p, { kind: 'setStatus', fsId: FS, status: PartitionStatus.READONLY }, StatusCode.PARAM_ERROR);
});

test('listDentry pages in UTF-8 byte order with startAfter, limit and onlyDir', () => {
  const p = newPartition();
  const names = ['b', 'a', 'ab', 'Z', '\u{10000}x', '\uffff', 'é', '0'];
  for (const [k, n] of names.entries()) (k % 2 ? mkdir : mkfile)(p, 1, n);
  const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(
    ok(p.listDentry(1)).entries.map((e) => e.name),
    sorted,
  );
  const page1 = ok(p.listDentry(1, { limit: 3 }));
  assert.equal(page1.more, true);
  const page2 = ok(p.listDentry(1, { startAfter: page1.entries.at(-1)!.name, limit: 100 }));
  assert.equal(page2.more, false);
  assert.deepEqual([...page1.entries, ...page2.entries].map((e) => e.name), sorted);
  assert.deepEqual(
    ok(p.listDentry(1, { onlyDir: true })).entries.map((e) => e.name),
    sorted.filter((n) => names.indexOf(n) % 2 === 1),
  );
  assert.deepEqual(ok(p.listDentry(1, { startAfter: '\u{10ffff}' })).entries, []);
  assert.equal(p.listDentry(mkfile(p, 1, 'file')).status, StatusCode.NOT_DIRECTORY);
});

test('large directory: thousands of random inserts and deletes stay sorted', () => {
  const p = newPartition();
  const live = new Set<string>();
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let k = 0; k < 6000; k++) {
    const name = `n${Math.floor(rnd() * 3000)}`;
    if (live.has(name)) {
      ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name, unlinkInode: true, time: T0 }));
      live.delete(name);
    } else {
      mkfile(p, 1, name);
      live.add(name);
    }
  }
  const listed = ok(p.listDentry(1)).entries.map((e) => e.name);
  assert.deepEqual(listed, [...live].sort());
  assert.equal(ok(p.dirStats(1)).stats.entries, live.size);
});

test('requestId: a retried mutation returns the first result and applies once', () => {
  const p = newPartition();
  const op = { kind: 'createFile' as const, fsId: FS, parent: 1, name: 'f', type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: T0, requestId: { clientId: 9, seq: 1 } };
  const first = ok(p.apply(op));
  const again = ok(p.apply(op));
  assert.deepEqual(again, first);
  assert.equal(p.stats().inodes, 2);
  // An error is remembered too.
  const bad = { ...op, name: 'f', requestId: { clientId: 9, seq: 2 } };
  assert.equal(p.apply(bad).status, StatusCode.DENTRY_EXIST);
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'f', time: T0 }));
  assert.equal(p.apply(bad).status, StatusCode.DENTRY_EXIST);
});

test('requestId window: evicted sequences are STALE; clients are never evicted by other clients', () => {
  const p = new Partition({ partitionId: 1, fsId: FS, start: 0, end: 1000, requestLimits: { window: 3 } });
  ok(p.apply({ kind: 'createRootInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: T0 }));
  const op = (clientId: number, seq: number) =>
    ({ kind: 'adjustDirStats', fsId: FS, ino: 1, bytesDelta: 1, requestId: { clientId, seq } }) as const;
  for (let s = 1; s <= 4; s++) ok(p.apply(op(1, s)));
  assert.equal(p.apply(op(1, 1)).status, StatusCode.STALE);
  assert.equal(ok(p.apply(op(1, 2))).stats.bytes, 2); // retained: the first answer
  for (let c = 2; c < 50; c++) ok(p.apply(op(c, 1)));
  assert.equal(ok(p.apply(op(1, 2))).stats.bytes, 2);
  assert.equal(p.requests.clients.size, 49);
});

test('requestId and sessions: an ended session loses its window and its retries are refused', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'a');
  ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: 1, time: at(1) }));
  const unlink = { kind: 'unlink' as const, fsId: FS, ino: f, parent: 1, time: at(2), requestId: { clientId: 7, seq: 1 } };
  assert.equal(ok(p.apply(unlink)).inode.nlink, 1);
  // The MDS says sessions up to 9 exist and 8, 9 are live: 7 ended.
  p.requests.sessions.update(9, [8, 9]);
  assert.equal(p.requests.dropExpired(), 1);
  rejects(p, unlink, StatusCode.SESSION_EXPIRED);
  rejects(p, { ...unlink, requestId: { clientId: 7, seq: 2 } }, StatusCode.SESSION_EXPIRED);
  assert.equal(ok(p.getInodeAttr(f)).inode.nlink, 1);
  // Live sessions and sessions newer than the MDS's list are served.
  ok(p.apply({ kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.UID, uid: 5, time: at(3), requestId: { clientId: 8, seq: 1 } }));
  ok(p.apply({ kind: 'setattr', fsId: FS, ino: f, mask: SetAttr.UID, uid: 6, time: at(3), requestId: { clientId: 10, seq: 1 } }));
  // A restarted MDS may report a lower max: what the copyset knew ended stays ended.
  p.requests.sessions.update(8, [8]);
  assert.equal(p.requests.sessions.max, 9);
  assert.equal(p.requests.sessions.expired(9), true);
  assert.equal(p.requests.sessions.expired(8), false);
});

test('determinism: the same ops give the same digest on two replicas', async () => {
  const { partitionDigest } = await import('../../src/metaserver/partition/index.ts');
  const build = () => {
    const p = newPartition();
    const d = mkdir(p, 1, 'd');
    for (let k = 0; k < 100; k++) mkfile(p, d, `f${k}`);
    ok(p.apply({ kind: 'rename', fsId: FS, srcParent: d, srcName: 'f1', dstParent: 1, dstName: 'g', flags: 0, time: at(9) }));
    return partitionDigest(p);
  };
  assert.equal(build(), build());
});

test('deleteDentry move: a non-empty directory leaves without losing links', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  mkfile(p, d, 'inside');
  const r = ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'd', ino: d, move: true, unlinkInode: true, time: at(1) }));
  assert.equal(r.effect.unlinked, false);
  assert.equal(ok(p.getInodeAttr(d)).inode.nlink, 2);
  assert.equal(ok(p.getInodeAttr(1)).inode.nlink, 2);
  assert.equal(ok(p.dirStats(d)).stats.entries, 1);
  assert.deepEqual(p.deletionList(), []);
});

test('[H] scenario 1: a retried unlink, link or createInode after 1,024 other clients is not applied twice', () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, 1, 'a');
  ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: d, time: at(1) })); // two names: a and d/b
  const others = (): void => {
    for (let c = 1000; c < 1000 + 1024; c++) ok(p.apply({ kind: 'adjustDirStats', fsId: FS, ino: 1, bytesDelta: 0, requestId: { clientId: c, seq: 1 } }));
  };
  // rm a: nlink 2 -> 1, the reply is lost; 1,024 other clients write; the retry must not unlink again.
  const unlink = { kind: 'unlink' as const, fsId: FS, ino: f, parent: 1, time: at(2), requestId: { clientId: 7, seq: 1 } };
  assert.equal(ok(p.apply(unlink)).inode.nlink, 1);
  others();
  assert.equal(ok(p.apply(unlink)).inode.nlink, 1);
  assert.equal(ok(p.getInodeAttr(f)).inode.nlink, 1);
  assert.deepEqual(p.deletionList(), []);
  // A retried link must not leak a link.
  const link = { kind: 'link' as const, fsId: FS, ino: f, parent: 1, time: at(3), requestId: { clientId: 7, seq: 2 } };
  assert.equal(ok(p.apply(link)).inode.nlink, 2);
  others();
  assert.equal(ok(p.apply(link)).inode.nlink, 2);
  assert.equal(ok(p.getInodeAttr(f)).inode.nlink, 2);
  // A retried createInode must not make an orphan.
  const mk = { kind: 'createInode' as const, fsId: FS, parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755, uid: 0, gid: 0, time: at(4), requestId: { clientId: 7, seq: 3 } };
  const inodes = p.stats().inodes;
  const first = ok(p.apply(mk)).inode.inodeId;
  others();
  assert.equal(ok(p.apply(mk)).inode.inodeId, first);
  assert.equal(p.stats().inodes, inodes + 1);
});

test('slice order: each append is stamped after the chunk\'s newest, whatever its chunk id; a merge keeps its place', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const s = (chunkId: number, offset: number, len: number, seq?: number) => ({ chunkId, compaction: 0, offset, len, size: len, zero: false, ...(seq === undefined ? {} : { seq }) });
  // Ids from leased ranges: the later write has the lower id. What a request says as seq is ignored.
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(900, 0, 32, 77)] }], time: at(1) }));
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(5, 8, 8), s(4, 0, 4)] }, { index: 1, slices: [s(3, 64, 4)] }], time: at(2) }));
  const seqs = (index: number) => ok(p.getChunks(f)).chunks.get(index)!.map((x) => [x.chunkId, x.seq]);
  assert.deepEqual(seqs(0), [[900, 1], [5, 2], [4, 3]]);
  assert.deepEqual(seqs(1), [[3, 1]]);
  // Compaction of [900, 5] while 4 was appended would be refused (compare-and-swap); of all three
  // it stands where the newest stood, and the next append goes above it.
  const all = ok(p.getChunks(f)).chunks.get(0)!;
  ok(p.apply({ kind: 'replaceChunks', fsId: FS, ino: f, index: 0, expected: all, slices: [{ ...s(900, 0, 32), compaction: 1 }] }));
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(2, 0, 1)] }], time: at(3) }));
  assert.deepEqual(seqs(0), [[900, 3], [2, 4]]);
});

test('appendSetattr: the slices, then the attributes, in one op; every refusal changes nothing', () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const d = mkdir(p, 1, 'd');
  const s = (chunkId: number, offset: number, len: number) => ({ chunkId, compaction: 0, offset, len, size: len, zero: false });
  const op = (ino: number, mask: number, more: Record<string, unknown> = {}) => ({
    kind: 'appendSetattr' as const, fsId: FS,
    append: { ino, chunks: [{ index: 0, slices: [s(1, 0, 3000)] }], time: at(1) },
    setattr: { ino, mask, mode: 0o644, uid: 7, gid: 8, mtime: { sec: 100, nsec: 5 }, time: at(2), ...more },
  });
  const r = ok(p.apply(op(f, SetAttr.MTIME | SetAttr.MODE | SetAttr.UID | SetAttr.GID)));
  assert.equal(r.lengthDelta, 3000);
  const a = r.inode;
  assert.deepEqual([a.length, a.mode, a.uid, a.gid, a.mtime, a.mtimeNs, a.ctime], [3000, S_IFREG | 0o644, 7, 8, 100, 5, T0.sec + 2]);
  assert.deepEqual(ok(p.getChunks(f)).chunks.get(0), [{ ...s(1, 0, 3000), seq: 1 }]);
  assert.equal(ok(p.dirStats(1)).stats.bytes, 3000);
  // Without MTIME the append's time is the mtime; ctime is the attribute change's.
  const b = ok(p.apply({ ...op(f, SetAttr.MODE), append: { ino: f, chunks: [{ index: 0, slices: [s(2, 3000, 10)] }], time: at(3) }, setattr: { ino: f, mask: SetAttr.MODE, mode: 0o600, time: at(4) } })).inode;
  assert.deepEqual([b.length, b.mode, b.mtime, b.ctime], [3010, S_IFREG | 0o600, T0.sec + 3, T0.sec + 4]);

  rejects(p, op(f, SetAttr.SIZE, { length: 0 }), StatusCode.PARAM_ERROR);
  rejects(p, op(f, SetAttr.CTIME, { ctime: at(9) }), StatusCode.PARAM_ERROR);
  rejects(p, op(f, SetAttr.MODE, { mode: S_IFDIR | 0o755 }), StatusCode.PARAM_ERROR); // the setattr half is bad: no slice lands either
  rejects(p, op(f, SetAttr.ATIME), StatusCode.PARAM_ERROR);
  rejects(p, { ...op(f, SetAttr.MODE), append: { ino: f, chunks: [{ index: 0, slices: [{ ...s(3, 0, 1), len: -1 }] }], time: at(1) } }, StatusCode.PARAM_ERROR);
  rejects(p, { ...op(f, SetAttr.MODE), setattr: { ino: d, mask: SetAttr.MODE, mode: 0o700, time: at(2) } }, StatusCode.PARAM_ERROR);
  rejects(p, op(d, SetAttr.MODE), StatusCode.WRONG_TYPE);
  rejects(p, op(4242, SetAttr.MODE), StatusCode.NOT_FOUND);
});
