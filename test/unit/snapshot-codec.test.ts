import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeSnapshot,
  FileType,
  loadSnapshotBytes,
  Partition,
  partitionDigest,
  SetAttr,
  SnapshotFormatError,
  StatusCode,
  writeSnapshotViews,
} from '../../src/metaserver/partition/index.ts';
import { loadSnapshotFile, writeSnapshotFile } from '../../src/metaserver/snapshot/index.ts';
import { inspectCommand } from '../../src/cli/inspect.ts';
import { Crc64 } from '../../src/common/index.ts';
import { In, Out } from '../../src/metaserver/partition/bytes.ts';
import { RecordType, SnapshotParser } from '../../src/metaserver/partition/index.ts';
import { at, concat, FS, mkdir, mkfile, newPartition, ok, T0 } from '../helpers/partition.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const slice = (chunkId: number, offset: number, len: number) => ({ chunkId, compaction: 0, offset, len, size: len, zero: chunkId % 2 === 0 });

/** A partition using every kind of state the snapshot has to carry. */
function richPartition(partitionId = 1, range: [number, number] = [0, 1 << 20]): Partition {
  const p = new Partition({ partitionId, fsId: FS, start: range[0], end: range[1], requestLimits: { window: 4 } });
  if (range[0] <= 1) ok(p.apply({ kind: 'createRootInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: T0 }));
  const top = range[0] <= 1 ? 1 : ok(p.apply({ kind: 'createInode', fsId: FS, parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755, uid: 0, gid: 0, time: T0 })).inode.inodeId;
  const d = mkdir(p, top, 'dir');
  const f = mkfile(p, d, 'file');
  mkfile(p, d, 'ünï/cöde'.replace('/', '_'));
  mkfile(p, d, '\u{1F600}');
  mkfile(p, top, 'link', FileType.TYPE_SYM_LINK, { symlink: '../dir/file' });
  mkfile(p, top, 'dev', FileType.TYPE_CHAR_DEVICE, { rdev: 0x0102 });
  mkfile(p, top, 'fifo', FileType.TYPE_FIFO);
  const sealed = mkdir(p, top, 'sealed');
  ok(p.apply({ kind: 'sealDirectory', fsId: FS, ino: sealed }));
  ok(p.apply({ kind: 'setXattr', fsId: FS, ino: f, name: 'user.b', value: enc('bee'), flags: 0, time: at(1) }));
  ok(p.apply({ kind: 'setXattr', fsId: FS, ino: f, name: 'user.a', value: new Uint8Array([0, 255, 7]), flags: 0, time: at(1) }));
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [slice(1, 0, 4096), slice(2, 100, 50)] }, { index: 3, slices: [slice(9, 3 * 2 ** 26, 10)] }], time: at(2) }));
  // A clone, and a clone of the clone: slices naming their owner (SLICE_OWNER_VERSION).
  const c1 = ok(p.apply({ kind: 'cloneInode', fsId: FS, source: f, parent: d, name: 'clone', time: at(2) })).inode.inodeId;
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: c1, chunks: [{ index: 0, slices: [slice(11, 10, 20)] }], time: at(2) }));
  ok(p.apply({ kind: 'cloneInode', fsId: FS, source: c1, parent: top, name: 'clone2', time: at(2) }));
  ok(p.apply({ kind: 'link', fsId: FS, ino: f, parent: top, time: at(3) }));
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: top, name: 'hard', ino: f, type: FileType.TYPE_S3, time: at(3) }));
  ok(p.apply({ kind: 'createDentry', fsId: FS, parent: top, name: 'remote', ino: 2 ** 40, type: FileType.TYPE_S3, length: 77, time: at(3) }));
  const gone = mkfile(p, d, 'gone');
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: 'gone', unlinkInode: true, time: at(4) }));
  assert.equal(p.deletionList()[0]!.ino, gone);
  ok(p.apply({ kind: 'setattr', fsId: FS, ino: d, mask: SetAttr.MODE | SetAttr.UID, mode: 0o700, uid: 42, time: at(5), requestId: { clientId: 3, seq: 1 } }));
  for (let s = 1; s <= 6; s++) p.apply({ kind: 'adjustDirStats', fsId: FS, ino: d, bytesDelta: s, requestId: { clientId: 2 ** 40, seq: s } });
  for (let k = 0; k < 300; k++) mkfile(p, d, `many-${k}`);
  return p;
}

function snapshotBytes(parts: Partition[], chunkSize = 4096): Uint8Array {
  const views = parts.map((p) => p.freeze());
  try {
    return concat([...encodeSnapshot(views, chunkSize)]);
  } finally {
    for (const v of views) v.release();
  }
}

/** Everything observable through the read API, for equality checks. */
function observable(p: Partition): unknown {
  const inodes: unknown[] = [];
  const lists: unknown[] = [];
  for (let id = p.start; id < p.nextId; id++) {
    const r = p.getInode(id);
    if (r.status !== StatusCode.OK) continue;
    inodes.push({ ...r.inode, xattrs: [...r.inode.xattrs], chunks: [...r.inode.chunks] });
    if (r.inode.type === FileType.TYPE_DIRECTORY) lists.push(ok(p.listDentry(id)).entries, ok(p.dirStats(id)));
  }
  for (const id of [1, 2]) {
    const r = p.getInode(id);
    if (r.status === StatusCode.OK) inodes.push(r.inode.inodeId, ok(p.listDentry(id)).entries, ok(p.dirStats(id)));
  }
  const sharers = [...p.sharers].map(([o, s]) => [o, [...s].sort()]).sort();
  return { info: p.info(), stats: p.stats(), deleted: p.deletionList(), inodes, lists, maxLinks: p.maxLinks, sharers };
}

test('round trip: every kind of state survives a snapshot, in any chunking', async () => {
  const p = richPartition();
  const bytes = snapshotBytes([p]);
  for (const chunk of [1, 7, 64, 4096, bytes.length]) {
    const pieces: Uint8Array[] = [];
    for (let o = 0; o < bytes.length; o += chunk) pieces.push(bytes.subarray(o, o + chunk));
    const { loadSnapshot } = await import('../../src/metaserver/partition/index.ts');
    const loaded = await loadSnapshot(pieces);
    const q = loaded.get(1)!;
    assert.deepEqual(observable(q), observable(p));
    assert.equal(partitionDigest(q), partitionDigest(p));
  }
  // Writing with other chunk sizes gives the same bytes.
  assert.deepEqual(snapshotBytes([p], 100), bytes);
  assert.deepEqual(snapshotBytes([p], 1 << 20), bytes);
});

test('round trip keeps the request table: a retry after reload returns the first result', async () => {
  const p = richPartition();
  const q = (await loadSnapshotBytes(snapshotBytes([p]))).get(1)!;
  const retry = { kind: 'setattr' as const, fsId: FS, ino: 4, mask: SetAttr.UID, uid: 1, time: at(9), requestId: { clientId: 3, seq: 1 } };
  assert.deepEqual(q.apply(retry), p.apply(retry));
  // Evicted sequences stay STALE, retained ones answer the same on both.
  const stale = { kind: 'adjustDirStats' as const, fsId: FS, ino: 3, bytesDelta: 1, requestId: { clientId: 2 ** 40, seq: 1 } };
  assert.equal(q.apply(stale).status, StatusCode.STALE);
  assert.equal(p.apply(stale).status, StatusCode.STALE);
  // Further ops keep the replicas identical.
  for (let c = 10; c < 20; c++) {
    const op = { kind: 'adjustDirStats' as const, fsId: FS, ino: 3, bytesDelta: 1, requestId: { clientId: c, seq: 1 } };
    assert.deepEqual(q.apply(op), p.apply(op));
  }
  assert.equal(partitionDigest(q), partitionDigest(p));
});

test('a multi-partition snapshot loads back into the right partitions', async () => {
  const parts = [richPartition(9, [1 << 20, (2 << 20) - 1]), richPartition(3), new Partition({ partitionId: 5, fsId: 2, start: 2 << 20, end: (3 << 20) - 1 })];
  const loaded = await loadSnapshotBytes(snapshotBytes(parts));
  assert.deepEqual([...loaded.keys()].sort(), [3, 5, 9]);
  for (const p of parts) assert.deepEqual(observable(loaded.get(p.partitionId)!), observable(p));
  assert.equal(loaded.get(5)!.fsId, 2);
});

test('empty snapshot (no partitions) and empty partition round trip', async () => {
  assert.equal((await loadSnapshotBytes(snapshotBytes([]))).size, 0);
  const p = new Partition({ partitionId: 1, fsId: 1, start: 0, end: 10 });
  assert.deepEqual(observable((await loadSnapshotBytes(snapshotBytes([p]))).get(1)!), observable(p));
});

test('a frozen view is a point-in-time image while ops keep being applied', async () => {
  const p = richPartition();
  const before = snapshotBytes([p]);
  const view = p.freeze();
  const chunks: Uint8Array[] = [];
  let k = 0;
  // Mutate between every chunk the writer emits.
  await writeSnapshotViews([view], {
    write(chunk) {
      chunks.push(chunk);
      for (let j = 0; j < 20; j++, k++) {
        const d = 3;
        p.apply({ kind: 'createFile', fsId: FS, parent: d, name: `new-${k}`, type: FileType.TYPE_S3, mode: 0o644, uid: 0, gid: 0, time: at(k) });
        p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: `many-${k}`, unlinkInode: true, time: at(k) });
        p.apply({ kind: 'setattr', fsId: FS, ino: 4, mask: SetAttr.SIZE, length: k, time: at(k) });
        p.apply({ kind: 'setXattr', fsId: FS, ino: 4, name: `user.k${k}`, value: enc('v'), flags: 0, time: at(k) });
        p.apply({ kind: 'rename', fsId: FS, srcParent: 1, srcName: 'fifo', dstParent: 3, dstName: `fifo${k}`, flags: 0, time: at(k) });
        p.apply({ kind: 'rename', fsId: FS, srcParent: 3, srcName: `fifo${k}`, dstParent: 1, dstName: 'fifo', flags: 0, time: at(k) });
        p.apply({ kind: 'unsealDirectory', fsId: FS, ino: 10 });
        p.apply({ kind: 'adjustDirStats', fsId: FS, ino: 1, bytesDelta: 1, requestId: { clientId: 3, seq: 100 + k } });
      }
    },
  }, 512);
  view.release();
  assert.ok(chunks.length > 10);
  assert.deepEqual(concat(chunks), before);
  // The live partition has every change, and a new snapshot of it loads equal.
  assert.equal(ok(p.getDentry(3, 'new-0')).dentry.name, 'new-0');
  assert.equal(p.getDentry(3, 'many-0').status, StatusCode.NOT_FOUND);
  const q = (await loadSnapshotBytes(snapshotBytes([p]))).get(1)!;
  assert.deepEqual(observable(q), observable(p));
});

test('several live views at once each keep their own moment', async () => {
  const p = newPartition();
  mkfile(p, 1, 'a');
  const s1 = snapshotBytes([p]);
  const v1 = p.freeze();
  mkfile(p, 1, 'b');
  const s2 = snapshotBytes([p]);
  const v2 = p.freeze();
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'a', unlinkInode: true, time: T0 }));
  assert.deepEqual(concat([...encodeSnapshot([v2])]), s2);
  v2.release();
  mkfile(p, 1, 'c');
  assert.deepEqual(concat([...encodeSnapshot([v1])]), s1);
  v1.release();
  v1.release(); // idempotent
  mkfile(p, 1, 'd');
  assert.deepEqual(ok(p.listDentry(1)).entries.map((e) => e.name), ['b', 'c', 'd']);
});

test('every single-byte flip is detected, never loaded', async () => {
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  const f = mkfile(p, d, 'f');
  ok(p.apply({ kind: 'setXattr', fsId: FS, ino: f, name: 'user.x', value: enc('1'), flags: 0, time: T0 }));
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [slice(1, 0, 10)] }], time: T0 }));
  mkfile(p, d, 'g');
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: d, name: 'g', unlinkInode: true, time: T0 }));
  ok(p.apply({ kind: 'adjustDirStats', fsId: FS, ino: 1, bytesDelta: 1, requestId: { clientId: 1, seq: 1 } }));
  const good = snapshotBytes([p]);
  assert.ok(good.length < 2000, `small snapshot: ${good.length} bytes`);
  const reasons = new Map<string, number>();
  for (let i = 0; i < good.length; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = good.slice();
      bad[i]! ^= mask;
      await assert.rejects(loadSnapshotBytes(bad), (e: unknown) => {
        assert.ok(e instanceof SnapshotFormatError, `byte ${i}: ${String(e)}`);
        reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
        return true;
      });
    }
  }
  assert.ok(reasons.get('checksum-mismatch')! > 0);
  assert.ok(reasons.get('bad-magic')! > 0);
  assert.ok(reasons.get('unsupported-version')! > 0);
});

test('every truncation point is detected as truncated; trailing bytes are refused', async () => {
  const p = newPartition();
  mkfile(p, mkdir(p, 1, 'd'), 'f');
  const good = snapshotBytes([p]);
  for (let n = 0; n < good.length; n++) {
    await assert.rejects(loadSnapshotBytes(good.subarray(0, n)), (e: unknown) => e instanceof SnapshotFormatError && e.reason === 'truncated');
  }
  await assert.rejects(loadSnapshotBytes(concat([good, new Uint8Array([0])])), (e: unknown) => e instanceof SnapshotFormatError && e.reason === 'malformed-pair');
  await loadSnapshotBytes(good);
});

test('wrong magic and version have their own errors', async () => {
  const good = snapshotBytes([newPartition()]);
  const magic = good.slice();
  magic.set(enc('CURVEFX'), 0);
  await assert.rejects(loadSnapshotBytes(magic), /bad magic at byte 6/);
  const version = good.slice();
  version[7] = 7;
  await assert.rejects(loadSnapshotBytes(version), /unsupported version at byte 7: version 7/);
});

test('files: atomic write, load, inspect', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'snapshot-'));
  try {
    const p = richPartition();
    const file = join(dir, 'snap.curvefs');
    const summary = await writeSnapshotFile(file, [p]);
    assert.equal((await readFile(file)).length, summary.bytes);
    const q = (await loadSnapshotFile(file)).get(1)!;
    assert.deepEqual(observable(q), observable(p));

    const lines: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (lines.push(s), true)) as typeof process.stdout.write;
    let code: number;
    let codeBad: number;
    let codeJson: number;
    let codeImage: number;
    let jsonText = '';
    try {
      code = await inspectCommand(file, { dump: true });
      const bytes = await readFile(file);
      bytes[bytes.length - 3]! ^= 1;
      await writeFile(join(dir, 'bad'), bytes);
      codeBad = await inspectCommand(join(dir, 'bad'), {});
      const before = lines.length;
      codeJson = await inspectCommand(file, { json: true });
      jsonText = lines.slice(before).join('');
      // A copyset image: a CURVECS section (magic, version, length, body, crc) before the stream.
      const body = enc('extras');
      const pre = Buffer.alloc(15 + body.length + 4);
      pre.write('CURVECS', 0, 'latin1');
      pre.writeUInt32LE(1, 7);
      pre.writeUInt32LE(body.length, 11);
      pre.set(body, 15);
      await writeFile(join(dir, 'image'), Buffer.concat([pre, await readFile(file)]));
      codeImage = await inspectCommand(join(dir, 'image'), {});
    } finally {
      process.stdout.write = orig;
    }
    const text = lines.join('');
    assert.equal(code, 0);
    assert.equal(codeBad, 6); // corrupt, as `curvefs --help` lists the exit codes
    assert.equal(codeJson, 0);
    assert.equal(codeImage, 0);
    assert.match(text, /copyset image \(CURVECS extras skipped\)/);
    assert.match(text, /magic CURVEFS {2}version 6 {2}pairs \d+/);
    assert.match(text, /checksum CRC-64\/XZ 0x[0-9a-f]{16}: OK/);
    assert.match(text, /dentry p1 \{"parent":3,"name":"file"\} \{"ino":4,"type":"TYPE_S3"\}/);
    assert.match(text, /INVALID \(checksum-mismatch/);
    const json = JSON.parse(jsonText);
    assert.equal(json.valid, true);
    assert.equal(json.totals.inode, p.stats().inodes);
    assert.equal(json.totals.dentry, p.stats().dentries);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the writer hands back control during scans that write almost nothing (block maps, deletion list)', async () => {
  // 50,000 files with no data and nothing deleted: the chunk and deleted scans visit every slot
  // and write no record. With a chunk size larger than the whole image, every chunk but the
  // header's and the tail is such a hand-back; without them the encoder would run the whole
  // image in one step.
  const p = newPartition();
  const d = mkdir(p, 1, 'd');
  for (let k = 0; k < 50_000; k++) mkfile(p, d, `f${k}`);
  const v = p.freeze();
  try {
    const chunks = [...encodeSnapshot([v], 64 << 20)];
    const scans = 2; // chunks and deleted
    assert.ok(chunks.length >= scans * Math.floor(50_000 / 8192), `only ${chunks.length} chunks`);
    const loaded = await loadSnapshotBytes(concat(chunks));
    assert.equal(partitionDigest(loaded.get(p.partitionId)!), partitionDigest(p));
  } finally {
    v.release();
  }
});

/**
 * The same snapshot as version 2 wrote it: chunk records without the slices' append sequences
 * (the layout before SLICE_SEQ_VERSION), a new pair count and checksum.
 */
function asVersion2(bytes: Uint8Array): Uint8Array {
  const pairs: Uint8Array[] = [];
  const parser = new SnapshotParser({
    pair(buf, ks, ke, vs, ve) {
      const key = buf.slice(ks, ke);
      let value: Uint8Array = buf.slice(vs, ve);
      if (key[0] === RecordType.CHUNKS) {
        const v = new In(value, 0, value.length);
        const w = new Out(1024);
        w.reserve(value.length);
        const n = v.varint();
        w.varint(n);
        for (let k = 0; k < n; k++) {
          for (let f = 0; f < 5; f++) w.varint(v.varint());
          w.u8(v.u8());
          v.varint(); // the sequence: not in version 2
          v.varint(); // the owner (version 5): not in version 2
        }
        value = w.take();
      }
      const w = new Out(64);
      w.reserve(8 + key.length + value.length);
      w.u32le(key.length);
      w.bytes(key);
      w.u32le(value.length);
      w.bytes(value);
      pairs.push(w.take());
    },
  });
  parser.push(bytes);
  parser.end();
  const head = new Out(64);
  head.reserve(19);
  head.bytes(enc('CURVEFS'));
  head.u32le(2);
  head.u32le(pairs.length);
  head.u32le(0);
  const body = concat([head.take(), ...pairs, new Uint8Array([0xff])]);
  const crc = new Crc64();
  crc.update(body);
  const sum = crc.digest();
  const tail = new Uint8Array(8);
  new DataView(tail.buffer).setBigUint64(0, sum, true);
  return concat([body, tail]);
}

test('version 3 keeps each slice\'s append sequence; a version 2 snapshot loads with sequences in chunk-id order', async () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const s = (chunkId: number, offset: number, len: number) => ({ chunkId, compaction: 0, offset, len, size: len, zero: false });
  // Appended 90, then 5, then 40 (leased ranges: the ids say nothing about the order).
  for (const [k, id] of [90, 5, 40].entries()) ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(id, k, 8)] }], time: at(k) }));
  const order = (q: Partition) => ok(q.getChunks(f)).chunks.get(0)!.map((x) => [x.chunkId, x.seq]);
  assert.deepEqual(order(p), [[90, 1], [5, 2], [40, 3]]);
  const v3 = snapshotBytes([p]);
  assert.deepEqual(order((await loadSnapshotBytes(v3)).get(1)!), [[90, 1], [5, 2], [40, 3]]);
  // Version 2 ordered overlapping slices by chunk id: its slices get sequences in that order.
  const v2 = asVersion2(v3);
  assert.equal(new DataView(v2.buffer, v2.byteOffset).getUint32(7, true), 2);
  const old = (await loadSnapshotBytes(v2)).get(1)!;
  assert.deepEqual(order(old), [[5, 1], [40, 2], [90, 3]]);
  // …and the next append goes above them.
  ok(old.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(1, 0, 1)] }], time: at(9) }));
  assert.deepEqual(order(old).at(-1), [1, 4]);
});

test('a chunk record whose sequences do not grow is refused with a precise error', async () => {
  const p = newPartition();
  const f = mkfile(p, 1, 'f');
  const s = (chunkId: number, offset: number) => ({ chunkId, compaction: 0, offset, len: 4, size: 4, zero: false });
  ok(p.apply({ kind: 'appendChunks', fsId: FS, ino: f, chunks: [{ index: 0, slices: [s(7, 0), s(8, 4)] }], time: at(1) }));
  const bytes = snapshotBytes([p]).slice();
  // The two slices' sequences (1, 2) are the last byte of each slice: make the second 1 too.
  const at2 = bytes.findIndex((_, k) => bytes[k] === 8 && bytes[k + 1] === 0 && bytes[k + 2] === 4 && bytes[k + 3] === 4 && bytes[k + 4] === 4 && bytes[k + 5] === 0 && bytes[k + 6] === 2);
  assert.ok(at2 > 0);
  bytes[at2 + 6] = 1;
  // Fix the checksum so the record itself is what is refused.
  const crc = new Crc64();
  crc.update(bytes.subarray(0, bytes.length - 8));
  new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(bytes.length - 8, crc.digest(), true);
  await assert.rejects(loadSnapshotBytes(bytes), /chunk 0 of inode \d+: slice sequence 1 after 1/);
});

test('clones: slices name their owner, the sharers index follows clones and deletions and is rebuilt by a load', async () => {
  const { loadSnapshot } = await import('../../src/metaserver/partition/index.ts');
  const p = richPartition();
  const d = ok(p.getDentry(1, 'dir')).dentry.ino;
  const f = ok(p.getDentry(d, 'file')).dentry.ino;
  const c1 = ok(p.getDentry(d, 'clone')).dentry.ino;
  const c2 = ok(p.getDentry(1, 'clone2')).dentry.ino;
  const owners = (ino: number) => [...ok(p.getChunks(ino)).chunks.values()].flat().map((s) => s.owner ?? ino);
  assert.deepEqual(owners(f), [f, f, f]);
  assert.deepEqual(owners(c1), [f, f, c1, f]);
  assert.deepEqual(owners(c2), [f, f, c1, f]);
  assert.deepEqual([...p.sharers.get(f)!].sort(), [c1, c2].sort());
  assert.deepEqual([...p.sharers.get(c1)!], [c2]);
  // A clone onto a taken name, of a directory, or of a missing inode changes nothing.
  const digest = partitionDigest(p);
  assert.equal(p.apply({ kind: 'cloneInode', fsId: FS, source: f, parent: d, name: 'clone', time: at(9) }).status, StatusCode.DENTRY_EXIST);
  assert.equal(p.apply({ kind: 'cloneInode', fsId: FS, source: d, parent: 1, name: 'x', time: at(9) }).status, StatusCode.WRONG_TYPE);
  assert.equal(p.apply({ kind: 'cloneInode', fsId: FS, source: 99_999, parent: 1, name: 'x', time: at(9) }).status, StatusCode.NOT_FOUND);
  assert.equal(partitionDigest(p), digest);
  const q = (await loadSnapshot([snapshotBytes([p])])).get(1)!;
  assert.deepEqual(observable(q), observable(p));
  // Deleting a sharer drops it from its owners' sets; a deleted owner keeps its set.
  ok(p.apply({ kind: 'deleteDentry', fsId: FS, parent: 1, name: 'clone2', unlinkInode: true, time: at(10) }));
  ok(p.apply({ kind: 'deleteInode', fsId: FS, ino: c2 }));
  assert.deepEqual([...p.sharers.get(f)!], [c1]);
  assert.equal(p.sharers.get(c1), undefined);
});
