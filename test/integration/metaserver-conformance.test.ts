// The partition semantics through the service on a 3-replica copyset of 3 processes, checked
// op by op against the same requests on an in-process single-replica metaserver (the reference:
// the partition state machine without replication): a random workload of every mutation and read
// kind, including bad input (invalid names, ids out of range, wrong types, missing entries), must
// give the same status and the same data on both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, SeededRandom, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MetaServer } from '../../src/metaserver/server.ts';
import { localGroupFactory } from '../../src/metaserver/copyset/manager.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-conf-'));
let c: MetaserverCluster;
let ref: MetaServer;
const pool = new ChannelPool();
const P: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId: 1 };
const T = (k: number) => ({ sec: 1_700_000_000 + k, nsec: k });
const NO_RECLAIM_MS = 24 * 3600 * 1000;

before(async () => {
  // No reclaim pass during the test: it removes unlinked inodes on a timer, so when it runs in one
  // service and not yet in the other, an unlinked directory is still listable in one only.
  c = await MetaserverCluster.start({ n: 3, dir, args: () => ['--reclaim-interval-ms', String(NO_RECLAIM_MS)] });
  await c.createCopyset(1, 1);
  await c.createPartition({ fsId: 1, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 9999 });
  ref = new MetaServer({ listen: '127.0.0.1:0', id: 1, groups: () => localGroupFactory, reclaim: { intervalMs: NO_RECLAIM_MS } });
  await ref.start();
  const admin = pool.client(CopysetService, ref.address);
  await admin.createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [ref.self()] }] });
  await admin.createPartition({ partition: { fsId: 1, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 9999 } });
});

after(async () => {
  pool.close();
  await ref?.stop();
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Outcome = { status: string; body?: unknown };

function normalise(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : typeof x === 'bigint' ? x.toString() : x)));
}

async function both(method: string, req: Record<string, unknown>): Promise<[Outcome, Outcome]> {
  const run = async (f: () => Promise<unknown>): Promise<Outcome> => {
    try {
      return { status: 'OK', body: normalise(await f()) };
    } catch (e) {
      if (e instanceof CurveError) return { status: StatusCode[e.status]! };
      throw e;
    }
  };
  const local = pool.client(MetaServerService, ref.address) as unknown as Record<string, (r: unknown) => Promise<unknown>>;
  const a = await run(() => local[method]!(req));
  const b = await run(() => c.call(1, 1, method as never, req as never));
  return [a, b];
}

test('random workload: replicated service answers exactly like the reference', async () => {
  const rnd = new SeededRandom(2024);
  let seq = 0;
  const rid = () => ({ clientId: 3, seq: ++seq });
  const names = ['a', 'b', 'c', 'dir1', 'dir2', 'x'.repeat(256), 'bad/name', '.', 'ü-ñ'];
  const inos = [1, 3, 4, 5, 6, 7, 8, 9, 10, 12, 20, 10_000, 2 ** 53];
  const pick = <X>(l: X[]): X => l[rnd.int(0, l.length)]!;
  const kinds = new Map<string, number>();
  const [r0a, r0b] = await both('createRootInode', { p: P, mode: 0o755, time: T(0) });
  assert.deepEqual(r0a, r0b);
  for (let k = 1; k <= 400; k++) {
    const t = T(k);
    const op = rnd.int(0, 16);
    let method = '';
    let req: Record<string, unknown> = {};
    switch (op) {
      case 0:
      case 1:
        method = 'createFile';
        req = { p: P, rid: rid(), parent: pick(inos), name: pick(names), type: pick([FileType.TYPE_S3, FileType.TYPE_DIRECTORY, FileType.TYPE_SYM_LINK, FileType.TYPE_FIFO]), mode: 0o644, symlink: rnd.next() < 0.5 ? 'target' : '', time: t };
        break;
      case 2:
        method = 'createInode';
        req = { p: P, rid: rid(), parent: pick(inos), type: pick([FileType.TYPE_S3, FileType.TYPE_DIRECTORY]), mode: 0o755, time: t };
        break;
      case 3:
        method = 'createDentry';
        req = { p: P, rid: rid(), dentry: { fsId: 1, inodeId: pick(inos), parentInodeId: pick(inos), name: pick(names), type: pick([FileType.TYPE_S3, FileType.TYPE_DIRECTORY]) }, time: t };
        break;
      case 4:
        method = 'unlink';
        req = { p: P, rid: rid(), parentInodeId: pick(inos), name: pick(names), time: t };
        break;
      case 5:
        method = 'rmdir';
        req = { p: P, rid: rid(), parentInodeId: pick(inos), name: pick(names), time: t };
        break;
      case 6:
        method = 'rename';
        req = { p: P, rid: rid(), oldParent: pick(inos), oldName: pick(names), newP: P, newParent: pick(inos), newName: pick(names), flags: pick([0, 0, 1, 2, 3]), time: t };
        break;
      case 7:
        method = 'linkInode';
        req = { p: P, rid: rid(), inodeId: pick(inos), newParent: pick(inos), time: t };
        break;
      case 8:
        method = 'unlinkInode';
        req = { p: P, rid: rid(), inodeId: pick(inos), parent: pick(inos), time: t };
        break;
      case 9:
        method = 'updateInode';
        req = { p: P, rid: rid(), inodeId: pick(inos), mask: rnd.int(0, 128), mode: 0o600, uid: 5, gid: 6, length: rnd.int(0, 5000), atime: t, mtime: t, ctime: t, time: t };
        break;
      case 10:
        method = 'setXAttr';
        req = { p: P, rid: rid(), inodeId: pick(inos), name: pick(['user.a', 'user.b', 'bogus', 'trusted.x']), value: new Uint8Array([k & 255]), flags: pick([0, 1, 2]), time: t };
        break;
      case 11:
        method = 'appendChunks';
        req = { p: P, rid: rid(), inodeId: pick(inos), slices: [{ chunkId: k, offset: rnd.int(0, 1 << 27), len: 4096, size: 4096 }], minLength: 0, time: t };
        break;
      case 12:
        method = 'getDentry';
        req = { p: P, parentInodeId: pick(inos), name: pick(names), withAttr: rnd.next() < 0.5, withChunks: rnd.next() < 0.3 };
        break;
      case 13:
        method = 'listDentry';
        req = { p: P, dirInodeId: pick(inos), last: rnd.next() < 0.3 ? 'a' : '', count: rnd.int(0, 3), withAttr: true };
        break;
      case 14:
        method = 'getInode';
        req = { p: P, inodeId: pick(inos) };
        break;
      default:
        method = 'batchGetInodeAttr';
        req = { p: P, inodeId: [pick(inos), pick(inos)] };
    }
    const [a, b] = await both(method, req);
    assert.deepEqual(b, a, `op ${k} ${method} ${JSON.stringify(normalise(req))}`);
    kinds.set(`${method}:${a.status}`, (kinds.get(`${method}:${a.status}`) ?? 0) + 1);
  }
  // The workload reached successes and failures of most kinds.
  const oks = [...kinds.keys()].filter((k) => k.endsWith(':OK')).length;
  const errs = [...kinds.keys()].filter((k) => !k.endsWith(':OK')).length;
  assert.ok(oks >= 10 && errs >= 10, `coverage: ${JSON.stringify([...kinds])}`);
});

test('GetDentry with_attr answers the inode read with the dentry (with_chunks: and its block map, never xattrs)', async () => {
  const [created] = await both('createFile', { p: P, rid: { clientId: 4, seq: 1 }, parent: 1, name: 'probe', type: FileType.TYPE_S3, mode: 0o644, time: T(1000) });
  assert.equal(created.status, 'OK');
  const ino = (created.body as { inode: { inodeId: number } }).inode.inodeId;
  await both('appendChunks', { p: P, rid: { clientId: 4, seq: 2 }, inodeId: ino, slices: [{ chunkId: 9, offset: 0, len: 4096, size: 4096 }], minLength: 0, time: T(1001) });
  await both('setXAttr', { p: P, rid: { clientId: 4, seq: 3 }, inodeId: ino, name: 'user.k', value: new Uint8Array([1]), flags: 0, time: T(1002) });
  const [whole] = await both('getInode', { p: P, inodeId: ino });
  const inode = (whole.body as { inode: { attr: unknown; chunks: unknown } }).inode;
  for (const [req, want] of [
    [{}, undefined],
    // The attributes say the inode has xattrs (has_xattrs), without carrying them.
    [{ withAttr: true }, { $typeName: 'curvefs.metaserver.Inode', attr: { ...(inode.attr as object), hasXattrs: true }, chunks: {}, xattr: {} }],
    [{ withAttr: true, withChunks: true }, { $typeName: 'curvefs.metaserver.Inode', attr: { ...(inode.attr as object), hasXattrs: true }, chunks: inode.chunks, xattr: {} }],
  ] as const) {
    const [a, b] = await both('getDentry', { p: P, parentInodeId: 1, name: 'probe', ...req });
    assert.deepEqual(b, a);
    assert.deepEqual((a.body as { inode?: unknown }).inode, want, JSON.stringify(req));
  }
});
