// Concurrent directory renames across partitions and copysets (a storm of mv between random
// directories, many racing into each other's subtrees), then a full walk: every directory is
// reachable from the root exactly once (no loop, nothing detached), its parent pointer matches
// the dentry that names it, link counts match, and no file was lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, SeededRandom, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import type { PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-storm-'));
let c: MetaserverCluster;
const SPAN = 1000;
// partition i holds [i*SPAN, (i+1)*SPAN - 1]; partitions 0 and 2 in copyset 1, 1 and 3 in copyset 2.
const PARTS: PartitionRef[] = [0, 1, 2, 3].map((i) => ({ $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: i % 2 === 0 ? 1 : 2, partitionId: i + 1, fsId: 1 }));
const partOf = (ino: number): PartitionRef => PARTS[Math.floor(ino / SPAN)]!;
let seq = 0;
const rid = () => ({ clientId: 11, seq: ++seq });
const dirs: number[] = [];

before(async () => {
  c = await MetaserverCluster.start({ n: 3, dir });
  await c.createCopyset(1, 1);
  await c.createCopyset(1, 2);
  for (let i = 0; i < 4; i++) {
    await c.createPartition({ fsId: 1, poolId: 1, copysetId: PARTS[i]!.copysetId, partitionId: i + 1, start: i * SPAN, end: (i + 1) * SPAN - 1 });
  }
  await c.call(1, 1, 'createRootInode', { p: PARTS[0]!, mode: 0o755 });
  // 40 directories in a random tree, inodes spread over the 4 partitions, each with one file.
  const rnd = new SeededRandom(7);
  const parents = [1];
  for (let k = 0; k < 40; k++) {
    const parent = parents[rnd.int(0, parents.length)]!;
    const where = PARTS[k % 4]!;
    const pp = partOf(parent);
    const ci = await c.call(1, where.copysetId, 'createInode', { p: where, rid: rid(), parent, type: FileType.TYPE_DIRECTORY, mode: 0o755 });
    const ino = ci.inode!.inodeId;
    await c.call(1, pp.copysetId, 'createDentry', { p: pp, rid: rid(), dentry: { fsId: 1, inodeId: ino, parentInodeId: parent, name: `d${ino}`, type: FileType.TYPE_DIRECTORY } });
    await c.call(1, where.copysetId, 'createFile', { p: where, rid: rid(), parent: ino, name: `f${ino}`, type: FileType.TYPE_S3, mode: 0o644 });
    dirs.push(ino);
    parents.push(ino);
  }
});

after(async () => {
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function parentOf(ino: number): Promise<number | undefined> {
  const p = partOf(ino);
  const r = await c.call(1, p.copysetId, 'batchGetInodeAttr', { p, inodeId: [ino] });
  return r.attr[0]?.parent[0];
}

test('a storm of concurrent cross-partition directory renames keeps one tree', async () => {
  const outcomes = new Map<string, number>();
  const workers = Array.from({ length: 8 }, (_, w) =>
    (async () => {
      const rnd = new SeededRandom(100 + w);
      for (let k = 0; k < 25; k++) {
        const a = dirs[rnd.int(0, dirs.length)]!;
        const b = rnd.next() < 0.15 ? 1 : dirs[rnd.int(0, dirs.length)]!;
        const from = await parentOf(a);
        if (from === undefined || from === b) continue;
        const p = partOf(from);
        try {
          await c.call(1, p.copysetId, 'rename', { p, rid: rid(), oldParent: from, oldName: `d${a}`, newP: partOf(b), newParent: b, newName: `d${a}` }, 60_000);
          outcomes.set('OK', (outcomes.get('OK') ?? 0) + 1);
        } catch (e) {
          if (!(e instanceof CurveError)) throw e;
          // Lost races and loops are expected answers; nothing else is.
          assert.ok([StatusCode.NOT_FOUND, StatusCode.INVALID_RENAME, StatusCode.DENTRY_EXIST].includes(e.status), `unexpected ${e.message}`);
          outcomes.set(StatusCode[e.status]!, (outcomes.get(StatusCode[e.status]!) ?? 0) + 1);
        }
      }
    })(),
  );
  await Promise.all(workers);
  assert.ok((outcomes.get('OK') ?? 0) > 20, `too few renames succeeded: ${JSON.stringify([...outcomes])}`);
  assert.ok((outcomes.get('INVALID_RENAME') ?? 0) > 0, `no loop was attempted: ${JSON.stringify([...outcomes])}`);

  // Walk from the root.
  const seen = new Map<number, number>();
  const queue = [1];
  while (queue.length > 0) {
    const d = queue.shift()!;
    const p = partOf(d);
    const list = await c.call(1, p.copysetId, 'listDentry', { p, dirInodeId: d });
    let subdirs = 0;
    for (const e of list.dentrys) {
      if (e.type !== FileType.TYPE_DIRECTORY) {
        assert.equal(e.name, `f${d}`, `file ${e.name} found in ${d}`);
        continue;
      }
      subdirs++;
      assert.ok(!seen.has(e.inodeId), `directory ${e.inodeId} reachable twice`);
      seen.set(e.inodeId, d);
      assert.equal(await parentOf(e.inodeId), d, `parent pointer of ${e.inodeId}`);
      queue.push(e.inodeId);
    }
    if (d !== 1) assert.ok(list.dentrys.some((e) => e.name === `f${d}`), `file of ${d} lost`);
    const a = (await c.call(1, p.copysetId, 'batchGetInodeAttr', { p, inodeId: [d] })).attr[0]!;
    assert.equal(a.nlink, 2 + subdirs, `nlink of ${d}`);
  }
  for (const d of dirs) assert.ok(seen.has(d), `directory ${d} detached from the tree`);
  assert.equal(seen.size, dirs.length);
});
