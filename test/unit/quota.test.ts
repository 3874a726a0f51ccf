// Directory, user and group quota accounting: the client's tracker (src/vfs/quota.ts) — which quotas a change
// is charged to, refusals at a limit, renames between trees (nested quotas), the deltas sent
// once per seq even when a reply is lost, parents trusted for a while — and the MDS's records
// (src/mds/quota.ts): limits, usage kept across a new term, a retried sync applied once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clone, create } from '@bufbuild/protobuf';
import { CurveError, quotaId, StatusCode } from '../../src/common/index.ts';
import { QuotaKind, QuotaSchema, type Quota, type QuotaDelta } from '../../src/gen/mds_pb.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { FencedStore } from '../../src/mds/fenced-store.ts';
import { QuotaManager } from '../../src/mds/quota.ts';
import { MemoryStore } from '../../src/mds/store/memory.ts';
import { ownerUsage, QuotaTracker, statfsOfQuota, treeUsage, type TreeReader } from '../../src/vfs/quota.ts';
import { ManualTime } from '../helpers/manual-time.ts';

const te = new TextEncoder();

// The tree:  1 (root) ─ 10 (quota A) ─ 11 ─ 12 (quota B)
//                     └ 20 (quota C)
const PARENT = new Map([[10, 1], [11, 10], [12, 11], [20, 1], [30, 1]]);

function quota(dir: number, maxBytes: number, maxInodes: number, usedBytes = 0, usedInodes = 0): Quota {
  return create(QuotaSchema, { dirInodeId: dir, path: `/q${dir}`, maxBytes, maxInodes, usedBytes, usedInodes });
}

/** A tracker over PARENT whose "MDS" applies each seq once (like src/mds/quota.ts) and can lose a reply. */
function tracker(quotas: Quota[], time = new ManualTime()) {
  const mds = new Map(quotas.map((q) => [quotaId(q), clone(QuotaSchema, q)]));
  const applied = new Set<number>();
  const sent: { seq: number; deltas: QuotaDelta[] }[] = [];
  let parentCalls = 0;
  let loseReply = false;
  const t = new QuotaTracker({
    parentOf: async (dir) => {
      parentCalls++;
      return PARENT.get(dir) ?? 0;
    },
    sync: async (deltas, seq) => {
      sent.push({ seq, deltas });
      if (!applied.has(seq)) {
        applied.add(seq);
        for (const d of deltas) {
          const q = mds.get(quotaId(d));
          if (q) {
            q.usedBytes += d.bytes;
            q.usedInodes += d.inodes;
          }
        }
      }
      if (loseReply) throw new CurveError(StatusCode.TIMEOUT, 'reply lost');
      return [...mds.values()].map((q) => clone(QuotaSchema, q));
    },
    parentTtlMs: 1000,
    clock: time,
  });
  return {
    t,
    mds,
    sent,
    time,
    parentCalls: () => parentCalls,
    loseReplies: (v: boolean) => (loseReply = v),
  };
}

/** An MDS store behind a fence, as a term's QuotaManager gets it. */
async function fencedStore(): Promise<FencedStore> {
  const mem = new MemoryStore();
  const put = await mem.txn({ ops: [{ type: 'put', key: 'fence', value: te.encode('x') }] });
  assert.ok(put.ok);
  return new FencedStore(mem, { key: 'fence', revision: put.revision });
}

function quotaExceeded(e: unknown): boolean {
  return e instanceof CurveError && e.status === StatusCode.QUOTA_EXCEEDED;
}

test('a change is charged to every quota above it (nested), and refused at the tightest limit', async () => {
  const h = tracker([quota(10, 1000, 0), quota(12, 0, 2), quota(20, 50, 0)]);
  await h.t.flush();
  assert.deepEqual(await h.t.quotasAt(12), ['d12', 'd10']);
  assert.deepEqual(await h.t.quotasAt(30), [], 'a tree without a quota');
  await h.t.admit(12, { bytes: 600, inodes: 2 });
  assert.deepEqual([h.t.usage('d10')?.bytes, h.t.usage('d10')?.inodes, h.t.usage('d12')?.inodes], [600, 2, 2]);
  await assert.rejects(h.t.admit(12, { bytes: 0, inodes: 1 }), quotaExceeded); // B's inode limit
  await assert.rejects(h.t.admit(11, { bytes: 401, inodes: 0 }), quotaExceeded); // A's byte limit
  await h.t.admit(11, { bytes: 400, inodes: 0 }); // exactly the limit is allowed
  await h.t.admit(11, { bytes: -1000, inodes: 0 }); // giving back is never refused, even when over
  const c = await h.t.admit(20, { bytes: 50, inodes: 0 });
  c.undo();
  assert.equal(h.t.usage('d20')?.bytes, 0, 'an undone charge is given back');
});

test('with no quota nothing is walked or charged', async () => {
  const h = tracker([]);
  await h.t.flush();
  assert.equal(h.t.active, false);
  await h.t.admit(12, { bytes: 1e12, inodes: 1e9 });
  assert.equal(h.parentCalls(), 0);
  await h.t.flush();
  assert.deepEqual(h.sent.at(-1)!.deltas, []);
});

test('a rename moves usage only between quotas that differ, refusing a tree without room', async () => {
  const h = tracker([quota(10, 0, 0, 500, 5), quota(12, 0, 0, 100, 1), quota(20, 300, 0, 0, 0)]);
  await h.t.flush();
  // 11 → 12's tree: both under A, so only B gains.
  await h.t.move(11, 12, async () => ({ bytes: 100, inodes: 1 }));
  assert.deepEqual([h.t.usage('d10')?.bytes, h.t.usage('d12')?.bytes], [500, 200]);
  // 12 → 20: A and B lose, C gains; C has room for 300 only.
  let asked = 0;
  await assert.rejects(h.t.move(12, 20, async () => (asked++, { bytes: 301, inodes: 2 })), quotaExceeded);
  assert.deepEqual([h.t.usage('d10')?.bytes, h.t.usage('d12')?.bytes, h.t.usage('d20')?.bytes], [500, 200, 0], 'a refused rename charges nothing');
  const c = await h.t.move(12, 20, async () => ({ bytes: 200, inodes: 2 }));
  assert.deepEqual([h.t.usage('d10')?.bytes, h.t.usage('d12')?.bytes, h.t.usage('d20')?.bytes], [300, 0, 200]);
  c.undo();
  assert.deepEqual([h.t.usage('d10')?.bytes, h.t.usage('d12')?.bytes, h.t.usage('d20')?.bytes], [500, 200, 0]);
  // Within one directory: no usage asked for (no walk of a moved tree).
  asked = 0;
  await h.t.move(12, 12, async () => (asked++, { bytes: 1, inodes: 1 }));
  assert.equal(asked, 0);
});

test('deltas reach the MDS once: a batch whose reply was lost is resent with its seq', async () => {
  const h = tracker([quota(10, 0, 0)]);
  await h.t.flush();
  await h.t.admit(11, { bytes: 10, inodes: 1 });
  h.loseReplies(true);
  await assert.rejects(h.t.flush());
  await h.t.admit(11, { bytes: 5, inodes: 0 }); // charged while the batch is unacknowledged
  assert.equal(h.t.usage('d10')?.bytes, 15);
  h.loseReplies(false);
  await h.t.flush(); // the lost batch again, same seq: applied once
  assert.equal(h.sent.at(-1)!.seq, h.sent.at(-2)!.seq);
  assert.equal(h.mds.get('d10')!.usedBytes, 10);
  assert.equal(h.t.usage('d10')?.bytes, 15, 'the new charge is still counted locally');
  await h.t.flush();
  assert.deepEqual([h.mds.get('d10')!.usedBytes, h.mds.get('d10')!.usedInodes, h.t.usage('d10')?.bytes], [15, 1, 15]);
});

test("a directory's parent is trusted for the TTL; this client's own rename updates it at once", async () => {
  const h = tracker([quota(10, 0, 0), quota(20, 0, 0)]);
  await h.t.flush();
  await h.t.quotasAt(12);
  const calls = h.parentCalls();
  await h.t.quotasAt(12);
  assert.equal(h.parentCalls(), calls, 'remembered');
  h.t.setParent(11, 20); // 11 moved under 20 by this client
  assert.deepEqual(await h.t.quotasAt(12), ['d20']);
  await h.time.advance(1001);
  assert.deepEqual(await h.t.quotasAt(12), ['d10'], 'after the TTL the servers are asked again');
});

test('statfs inside a quota: its limits and usage, the fs figures where no limit is set', () => {
  const fs = { blocks: 1e9, bfree: 9e8, bavail: 9e8, files: 1e6, ffree: 9e5, bsize: 4096, namelen: 255, frsize: 4096 };
  const s = statfsOfQuota(fs, { maxBytes: 8 * 4096, maxInodes: 0, bytes: 4097, inodes: 3 });
  assert.deepEqual([s.blocks, s.bfree, s.bavail, s.files, s.ffree], [8, 6, 6, 1e6, 9e5]);
  const t = statfsOfQuota(fs, { maxBytes: 0, maxInodes: 10, bytes: 0, inodes: 12 });
  assert.deepEqual([t.blocks, t.files, t.ffree], [1e9, 10, 0]);
});

test('treeUsage adds up names (a hard link at each name) and file lengths, page by page', async () => {
  // 1: a (file 10), d (dir) → d: b (file 5), l (symlink), a2 (another name of a's inode)
  const tree = new Map([
    [1, [{ inodeId: 2, name: 'a', type: FileType.TYPE_S3 }, { inodeId: 3, name: 'd', type: FileType.TYPE_DIRECTORY }]],
    [3, [{ inodeId: 4, name: 'b', type: FileType.TYPE_S3 }, { inodeId: 5, name: 'l', type: FileType.TYPE_SYM_LINK }, { inodeId: 2, name: 'a2', type: FileType.TYPE_S3 }]],
  ]);
  const attrs = new Map([[2, 10], [4, 5], [5, 4]].map(([ino, len]) => [ino!, { inodeId: ino!, length: len!, type: ino === 5 ? FileType.TYPE_SYM_LINK : FileType.TYPE_S3 }]));
  const reader: TreeReader = {
    async listPage(dir, cursor) {
      const all = tree.get(dir) ?? [];
      const from = cursor ? all.findIndex((e) => e.name === cursor) + 1 : 0;
      const entries = all.slice(from, from + 2); // pages of 2
      return { entries, attrs: [], more: from + 2 < all.length };
    },
    async batchGetattr(inos) {
      return new Map(inos.map((i) => [i, attrs.get(i)!]));
    },
  };
  assert.deepEqual(await treeUsage(reader, 1), { bytes: 25, inodes: 5 });
});

test('the MDS keeps quotas across terms and applies a retried sync once', async () => {
  const store = await fencedStore();
  const m = await QuotaManager.load(store);
  await m.set(1, quota(10, 100, 5, 7, 7), false);
  assert.deepEqual([m.get(1, { dirInodeId: 10 }).usedBytes, m.get(1, { dirInodeId: 10 }).maxBytes], [0, 100], 'a new quota without set_usage starts at 0');
  await m.set(1, quota(10, 200, 5, 40, 2), true);
  await m.set(1, quota(10, 300, 5, 999, 999), false);
  assert.deepEqual([m.get(1, { dirInodeId: 10 }).usedBytes, m.get(1, { dirInodeId: 10 }).maxBytes], [40, 300], 'limits change, usage kept');
  const d = [{ dirInodeId: 10, bytes: 5, inodes: 1 }, { dirInodeId: 99, bytes: 1, inodes: 1 }] as QuotaDelta[];
  await m.sync(1, d, 'c1', 1);
  const again = await m.sync(1, d, 'c1', 1);
  assert.deepEqual([again[0]!.usedBytes, again[0]!.usedInodes], [45, 3], 'the retry is not applied again; unknown quotas dropped');
  await m.sync(1, d, 'c2', 1);
  assert.equal(m.get(1, { dirInodeId: 10 }).usedBytes, 50, 'another client with the same seq is applied');
  const next = await QuotaManager.load(store);
  assert.deepEqual(next.list(1).map((q) => [q.dirInodeId, q.maxBytes, q.usedBytes]), [[10, 300, 50]]);
  assert.deepEqual(next.list(2), []);
  await next.delete(1, { dirInodeId: 10 });
  assert.throws(() => next.get(1, { dirInodeId: 10 }), (e) => e instanceof CurveError && e.status === StatusCode.NOT_FOUND);
  await assert.rejects(next.set(1, quota(10, -1, 0), false), (e) => e instanceof CurveError && e.status === StatusCode.PARAM_ERROR);
  assert.deepEqual((await QuotaManager.load(store)).list(1), []);
});

test('the quotas of a file system that is gone are deleted from the store (in transactions of at most 64)', async () => {
  const store = await fencedStore();
  const m = await QuotaManager.load(store);
  for (let ino = 10; ino < 10 + 130; ino++) await m.set(1, quota(ino, 100, 5), false);
  await m.set(2, quota(10, 100, 5), false);
  assert.equal(await m.dropGone((fsId) => fsId === 2), 130);
  assert.deepEqual(m.list(1), []);
  assert.equal(m.list(2).length, 1);
  const next = await QuotaManager.load(store);
  assert.deepEqual(next.list(1), [], 'gone from the store too');
  assert.equal(next.list(2).length, 1, 'a live fs keeps its quota');
  assert.equal(await next.dropGone(() => true), 0);
});

// ---- user and group quotas ----

function ownerQuota(kind: QuotaKind, ownerId: number, maxBytes: number, maxInodes: number): Quota {
  return create(QuotaSchema, { kind, ownerId, maxBytes, maxInodes });
}

test("a change is charged to its owner's user and group quotas, found without walking parents", async () => {
  const h = tracker([ownerQuota(QuotaKind.QUOTA_USER, 1000, 100, 2), ownerQuota(QuotaKind.QUOTA_GROUP, 50, 0, 0)]);
  await h.t.flush();
  assert.ok(h.t.ownersActive);
  assert.deepEqual(await h.t.quotasAt(12, { uid: 1000, gid: 50 }), ['u1000', 'g50']);
  assert.deepEqual(await h.t.quotasAt(12, { uid: 7, gid: 7 }), [], "another owner's change counts nowhere");
  assert.equal(h.parentCalls(), 0, 'no directory quota: no parent is read');
  await h.t.admit(12, { bytes: 60, inodes: 1 }, { uid: 1000, gid: 50 });
  await assert.rejects(h.t.admit(11, { bytes: 41, inodes: 0 }, { uid: 1000, gid: 9 }), quotaExceeded);
  await h.t.admit(11, { bytes: 40, inodes: 1 }, { uid: 1000, gid: 9 }); // exactly the limits
  assert.deepEqual([h.t.usage('u1000')?.bytes, h.t.usage('u1000')?.inodes, h.t.usage('g50')?.bytes], [100, 2, 60]);
  await h.t.flush();
  assert.deepEqual(h.sent.at(-1)!.deltas.map((d) => [d.kind, d.ownerId, d.dirInodeId, d.bytes, d.inodes]), [
    [QuotaKind.QUOTA_USER, 1000, 0, 100, 2],
    [QuotaKind.QUOTA_GROUP, 50, 0, 60, 1],
  ]);
  assert.deepEqual([h.mds.get('u1000')!.usedBytes, h.mds.get('g50')!.usedInodes], [100, 1]);
});

test('chown moves usage between owners (refused past the new limit); only a last name frees the owner', async () => {
  const h = tracker([ownerQuota(QuotaKind.QUOTA_USER, 1, 0, 1), ownerQuota(QuotaKind.QUOTA_USER, 2, 0, 1)]);
  await h.t.flush();
  await h.t.admit(0, { bytes: 0, inodes: 1 }, { uid: 1, gid: 0 });
  await h.t.admit(0, { bytes: 0, inodes: 1 }, { uid: 2, gid: 0 });
  assert.throws(() => h.t.transfer({ uid: 1, gid: 0 }, { uid: 2, gid: 0 }, { bytes: 5, inodes: 1 }), quotaExceeded);
  assert.deepEqual([h.t.usage('u1')?.inodes, h.t.usage('u2')?.inodes], [1, 1], 'a refused chown moves nothing');
  const c = h.t.transfer({ uid: 2, gid: 0 }, { uid: 3, gid: 0 }, { bytes: 5, inodes: 1 });
  assert.equal(h.t.usage('u2')?.inodes, 0);
  c.undo();
  assert.equal(h.t.usage('u2')?.inodes, 1);
  const file = { type: FileType.TYPE_S3, uid: 1, gid: 0 };
  assert.deepEqual(h.t.freedBy({ ...file, nlink: 2 }), [], 'another name keeps the inode');
  assert.deepEqual(h.t.freedBy({ ...file, nlink: 1 }), ['u1']);
  assert.deepEqual(h.t.freedBy({ type: FileType.TYPE_DIRECTORY, uid: 2, gid: 0, nlink: 2 }), ['u2'], 'a directory has one name');
});

test('ownerUsage counts each inode once for its uid and gid, the root included', async () => {
  // 1 (root, 0:0): a (file 10, 5:6), d (dir, 5:7) → d: a2 (a's other name), b (file 3, 0:6)
  const tree = new Map([
    [1, [{ inodeId: 2, name: 'a', type: FileType.TYPE_S3 }, { inodeId: 3, name: 'd', type: FileType.TYPE_DIRECTORY }]],
    [3, [{ inodeId: 2, name: 'a2', type: FileType.TYPE_S3 }, { inodeId: 4, name: 'b', type: FileType.TYPE_S3 }]],
  ]);
  const attrs = new Map([
    [1, { inodeId: 1, length: 0, type: FileType.TYPE_DIRECTORY, uid: 0, gid: 0 }],
    [2, { inodeId: 2, length: 10, type: FileType.TYPE_S3, uid: 5, gid: 6 }],
    [3, { inodeId: 3, length: 0, type: FileType.TYPE_DIRECTORY, uid: 5, gid: 7 }],
    [4, { inodeId: 4, length: 3, type: FileType.TYPE_S3, uid: 0, gid: 6 }],
  ]);
  const reader: TreeReader = {
    async listPage(dir) {
      return { entries: tree.get(dir) ?? [], attrs: [], more: false };
    },
    async batchGetattr(inos) {
      return new Map(inos.map((i) => [i, attrs.get(i)!]));
    },
  };
  const u = await ownerUsage(reader);
  assert.deepEqual(Object.fromEntries(u), {
    u0: { bytes: 3, inodes: 2 },
    g0: { bytes: 0, inodes: 1 },
    u5: { bytes: 10, inodes: 2 },
    g6: { bytes: 13, inodes: 2 },
    g7: { bytes: 0, inodes: 1 },
  });
});

test('the MDS keeps user and group quotas apart from directory quotas, by owner id', async () => {
  const store = await fencedStore();
  const m = await QuotaManager.load(store);
  await m.set(1, quota(1000, 10, 0), false);
  await m.set(1, ownerQuota(QuotaKind.QUOTA_USER, 1000, 20, 0), false);
  await m.set(1, ownerQuota(QuotaKind.QUOTA_GROUP, 1000, 30, 0), false);
  await m.sync(1, [{ kind: QuotaKind.QUOTA_USER, ownerId: 1000, dirInodeId: 0, bytes: 4, inodes: 1 }] as QuotaDelta[], 'c', 1);
  const again = await QuotaManager.load(store);
  assert.deepEqual(again.list(1).map((q) => [q.kind, q.dirInodeId, q.ownerId, q.maxBytes, q.usedBytes]), [
    [QuotaKind.QUOTA_DIRECTORY, 1000, 0, 10, 0],
    [QuotaKind.QUOTA_USER, 0, 1000, 20, 4],
    [QuotaKind.QUOTA_GROUP, 0, 1000, 30, 0],
  ]);
  await again.delete(1, { kind: QuotaKind.QUOTA_USER, dirInodeId: 0, ownerId: 1000 });
  assert.throws(() => again.get(1, { kind: QuotaKind.QUOTA_USER, dirInodeId: 0, ownerId: 1000 }), (e) => e instanceof CurveError && e.status === StatusCode.NOT_FOUND);
  assert.equal(again.get(1, { kind: QuotaKind.QUOTA_GROUP, dirInodeId: 0, ownerId: 1000 }).maxBytes, 30);
  await assert.rejects(again.set(1, ownerQuota(QuotaKind.QUOTA_USER, 2 ** 32, 1, 0), false), (e) => e instanceof CurveError && e.status === StatusCode.PARAM_ERROR);
});
