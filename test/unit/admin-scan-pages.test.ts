// The partition scans behind fsck, gc and dump (src/metaserver/scan-service.ts): paging through
// every inode and every dentry of a partition with any page size gives each exactly once, in
// order, across page-store boundaries (1024 slots) and across directories; bad cursors are
// refused. And the dump format (src/admin/dump-format.ts): a dump reads back record for record
// in both forms, and any single flipped byte, a cut anywhere, or bytes after the trailer is a
// DumpFormatError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { StatusCode, CurveError } from '../../src/common/index.ts';
import { DumpEntrySchema, InodeSchema } from '../../src/gen/metaserver_pb.ts';
import { listDentriesPage, listInodesPage } from '../../src/metaserver/scan-service.ts';
import { DumpFormatError, DumpWriter, readDump, type DumpFormat, type DumpRecord } from '../../src/admin/index.ts';
import { mkdir, mkfile, newPartition } from '../helpers/partition.ts';

function build() {
  const p = newPartition();
  const dirs = [1, mkdir(p, 1, 'a'), mkdir(p, 1, 'b')];
  // 2500 inodes: past two store pages of 1024 slots.
  for (let i = 0; i < 2500; i++) mkfile(p, dirs[i % 3]!, `f${String(i).padStart(4, '0')}`);
  return { p, dirs };
}

test('ListInodes pages give every inode once, in id order, whatever the page size', () => {
  const { p } = build();
  const all: number[] = [];
  for (let id = 0; id < 4000; id++) if (p.getInodeAttr(id).status === StatusCode.OK) all.push(id);
  assert.equal(all.length, 2503);
  for (const size of [1, 7, 1000, 0]) {
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = listInodesPage(p, after, size);
      seen.push(...page.inodes.map((i) => i.attr!.inodeId!));
      if (!page.more) break;
      after = seen[seen.length - 1]!;
    }
    assert.deepEqual(seen, all, `page size ${size}`);
  }
  assert.throws(() => listInodesPage(p, -1, 10), (e) => e instanceof CurveError && e.status === StatusCode.PARAM_ERROR);
  assert.throws(() => listInodesPage(p, 0, 1.5), (e) => e instanceof CurveError && e.status === StatusCode.PARAM_ERROR);
});

test('ListDentries pages give every dentry once, by (parent, name), across directories', () => {
  const { p, dirs } = build();
  const all: string[] = [];
  for (const d of [...dirs].sort((x, y) => x - y)) {
    for (const e of (p.listDentry(d) as { entries: { name: string }[] }).entries) all.push(`${d}/${e.name}`);
  }
  assert.equal(all.length, 2502);
  for (const size of [1, 3, 834, 0]) {
    const seen: string[] = [];
    let afterParent = 0;
    let afterName = '';
    for (;;) {
      const page = listDentriesPage(p, afterParent, afterName, size);
      seen.push(...page.dentrys.map((d) => `${d.parentInodeId}/${d.name}`));
      if (!page.more) break;
      const last = page.dentrys[page.dentrys.length - 1]!;
      afterParent = last.parentInodeId!;
      afterName = last.name!;
    }
    assert.deepEqual(seen, all, `page size ${size}`);
  }
});

async function* chunksOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function writeDump(format: DumpFormat): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const w = new DumpWriter(format, async (b) => void parts.push(b.slice()));
  await w.header({ fsName: 'x', fsId: 3, chunkSize: 64 << 20, blockSize: 4 << 20, createdAt: '2026-01-01T00:00:00.000Z' });
  await w.root(create(InodeSchema, { attr: { inodeId: 1, type: 1, mode: 0o40755, nlink: 3 }, xattr: { 'user.k': new Uint8Array([0, 1, 255]) } }));
  for (let i = 0; i < 50; i++) {
    await w.entry(create(DumpEntrySchema, { parent: 1, name: `n${i}`, inodeId: 100 + i, type: 4, inode: create(InodeSchema, { attr: { inodeId: 100 + i, type: 4, length: i } }) }));
  }
  await w.entry(create(DumpEntrySchema, { parent: 1, name: 'link', inodeId: 100, type: 4 }));
  await w.end();
  return Buffer.concat(parts);
}

async function readAll(bytes: Uint8Array, chunk = 97): Promise<DumpRecord[]> {
  const out: DumpRecord[] = [];
  for await (const r of readDump(chunksOf(bytes, chunk))) out.push(r);
  return out;
}

test('a dump reads back record for record in both forms; every damage is refused', async () => {
  for (const format of ['binary', 'json'] as const) {
    const bytes = await writeDump(format);
    const recs = await readAll(bytes);
    assert.equal(recs.length, 53);
    assert.equal(recs[0]!.kind, 'header');
    const root = recs[1]!;
    assert.ok(root.kind === 'root' && Buffer.from(root.inode.xattr['user.k']!).equals(Buffer.from([0, 1, 255])));
    const link = recs[52]!;
    assert.ok(link.kind === 'entry' && link.entry.inode === undefined && link.entry.inodeId === 100);
    // Every single flipped bit position (one per byte, a few bits) and every cut is refused.
    for (let i = 0; i < bytes.length; i += format === 'json' ? 7 : 3) {
      const bad = Buffer.from(bytes);
      bad[i]! ^= 1 << (i % 7);
      await assert.rejects(readAll(bad), DumpFormatError, `${format}: byte ${i} flipped`);
    }
    for (const cut of [0, 5, 12, Math.floor(bytes.length / 2), bytes.length - 1]) {
      await assert.rejects(readAll(bytes.subarray(0, cut)), DumpFormatError, `${format}: cut at ${cut}`);
    }
    await assert.rejects(readAll(Buffer.concat([bytes, Buffer.from('\n')])), DumpFormatError, `${format}: bytes after the trailer`);
  }
});
