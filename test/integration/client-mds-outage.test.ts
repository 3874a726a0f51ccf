// Issue [H] scenario 6, "writes stall while the MDS is down", done in the right order:
//  1. overlapping slices are ordered by the metaserver's append sequence, not by chunk id, so a
//     write carrying a lower chunk id than an earlier one (ids from a range leased earlier) still
//     reads as the later write;
//  2. chunk ids come from ranges each client leases from the MDS ahead of need, so writes go on
//     while the MDS is stopped, and no id is ever handed to two clients.
// Real processes: an MDS on its embedded store, 3 metaservers, SDK clients over loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsClient } from '../../src/mds/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { waitFor } from '../helpers/wait.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';
import { MountProc } from '../helpers/curvefs-mount-proc.ts';
import { DescendingChunkIds } from '../helpers/descending-chunk-ids.ts';

const FS = 'outage';
const dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-outage-'));
let mdsProc: MdsProcess;
let mds: MdsClient;
let ms: MetaserverCluster;
const pool = new ChannelPool({ connectTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 200 } });
const conns: Connection[] = [];
let mount: MountProc | undefined;

before(async () => {
  mdsProc = await MdsProcess.spawn({ etcd: [], dataDir: join(dir, 'mds'), journal: join(dir, 'mds.jsonl') });
  mds = new MdsClient({ addresses: [mdsProc.address], deadlineMs: 60_000 });
  ms = await MetaserverCluster.start({ n: 3, dir, mdsAddrs: [mdsProc.address] });
  await waitFor(async () => (await mds.topology.listMetaServer({})).metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE).length === 3, '3 metaservers online', 60_000);
  await mds.mds.createFs({ fsName: FS, dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } } });
});

after(async () => {
  await mount?.stop();
  for (const c of conns) await c.close().catch(() => undefined);
  await ms?.stop();
  mds?.close();
  await mdsProc?.stop();
  pool.close();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(adapter = new MdsAdapter(new RotatingMdsConnector(pool, [mdsProc.address]))): Promise<Connection> {
  const c = await connectFs({ mds: adapter, fsName: FS, pool, entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(c);
  return c;
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = (k * 31 + seed) & 0xff;
  return b;
}


test('a later write with a lower chunk id reads as the later write (slices ordered by append, not by id)', async () => {
  const writer = await connect(new DescendingChunkIds(new RotatingMdsConnector(pool, [mdsProc.address])));
  const first = pattern(32 * 1024, 1);
  await writer.fs.writeFile('/order', first);
  const fh = await writer.fs.open('/order', 'r+');
  await fh.write(4096, pattern(4096, 2));
  await fh.close();
  const want = Buffer.from(first);
  pattern(4096, 2).copy(want, 4096);
  // Through the writer's own view and through another client that reads the stored block map.
  assert.ok(Buffer.from(await writer.fs.readFile('/order')).equals(want), 'the writer reads its second write');
  const reader = await connect();
  assert.ok(Buffer.from(await reader.fs.readFile('/order')).equals(want), 'another client reads the second write');
});

/** Every chunk id a file's block map names. */
async function chunkIdsOf(c: Connection, path: string): Promise<number[]> {
  const inode = await c.core.getInode((await c.fs.stat(path)).ino);
  return Object.values(inode.chunks).flatMap((l) => l.slices.map((s) => s.chunkId));
}

async function writeFsynced(c: Connection, path: string, data: Uint8Array): Promise<void> {
  const fh = await c.fs.open(path, 'w');
  try {
    await fh.write(0, data);
    await fh.flush();
  } finally {
    await fh.close();
  }
}

test('with the MDS stopped, a client writes and fsyncs 100 files and reads them back; with it back all are intact and no chunk id was used twice', async () => {
  const adapters = [0, 1].map(() => new MdsAdapter(new RotatingMdsConnector(pool, [mdsProc.address])));
  const [a, b] = [await connect(adapters[0]), await connect(adapters[1])];
  await a.fs.mkdir('/outage');
  await mdsProc.kill9();
  // 100 files from one client and 20 from another, each written and fsynced, while no MDS runs.
  for (let i = 0; i < 100; i++) await writeFsynced(a, `/outage/a${i}`, pattern(10_000 + i, i));
  for (let i = 0; i < 20; i++) await writeFsynced(b, `/outage/b${i}`, pattern(5_000 + i, 100 + i));
  for (let i = 0; i < 100; i++) assert.ok(Buffer.from(await a.fs.readFile(`/outage/a${i}`)).equals(pattern(10_000 + i, i)), `a${i} during the outage`);
  await mdsProc.start();
  await waitFor(async () => (await mds.mds.getFsInfo({ fsName: FS })).fsInfo !== undefined, 'the MDS to serve again', 60_000);
  // A client that starts after the restart, and the first two going on.
  const c = await connect();
  for (let i = 0; i < 20; i++) await writeFsynced(c, `/outage/c${i}`, pattern(3_000 + i, 200 + i));
  for (let i = 0; i < 20; i++) await writeFsynced(a, `/outage/a-after${i}`, pattern(2_000 + i, 300 + i));
  const files: [string, Buffer][] = [
    ...Array.from({ length: 100 }, (_, i): [string, Buffer] => [`/outage/a${i}`, pattern(10_000 + i, i)]),
    ...Array.from({ length: 20 }, (_, i): [string, Buffer] => [`/outage/b${i}`, pattern(5_000 + i, 100 + i)]),
    ...Array.from({ length: 20 }, (_, i): [string, Buffer] => [`/outage/c${i}`, pattern(3_000 + i, 200 + i)]),
    ...Array.from({ length: 20 }, (_, i): [string, Buffer] => [`/outage/a-after${i}`, pattern(2_000 + i, 300 + i)]),
  ];
  const seen = new Map<number, string>();
  for (const [path, want] of files) {
    assert.ok(Buffer.from(await c.fs.readFile(path)).equals(want), `${path} after the outage`);
    for (const id of await chunkIdsOf(c, path)) {
      assert.equal(seen.get(id), undefined, `chunk id ${id} used by ${seen.get(id)} and ${path}`);
      seen.set(id, path);
    }
  }
  // The writers leased ranges, they did not ask the MDS per write.
  for (const ad of adapters) assert.ok(ad.chunkIdLease(a.view.fsId).leases <= 2, `${ad.chunkIdLease(a.view.fsId).leases} leases`);
});

test('once the MDS has been gone longer than the leased ids last, a write fails with EIO; with the MDS back, writes go on', async () => {
  await mdsProc.start(); // (a no-op when it runs)
  // A small range (4 ids; a 10 KB write takes one) and a short wait for the MDS.
  const adapter = new MdsAdapter(new RotatingMdsConnector(pool, [mdsProc.address], { callTimeoutMs: 10_000 }), { rangeSize: 4, waitMs: 1000 });
  const conn = await connect(adapter);
  await conn.fs.mkdir('/short');
  await writeFsynced(conn, '/short/before', pattern(10_000, 1));
  await mdsProc.kill9();
  const outcomes: string[] = [];
  for (let i = 0; i < 40 && !outcomes.some((o) => o !== 'OK'); i++) {
    outcomes.push(await writeFsynced(conn, `/short/s${i}`, pattern(10_000, 10 + i)).then(() => 'OK', (e: unknown) => (e as { code?: string }).code ?? String(e)));
  }
  // Writes ride on the ids held, then the first failure is EIO, never a stall into EAGAIN.
  const firstFailure = outcomes.findIndex((o) => o !== 'OK');
  assert.ok(firstFailure >= 1, `writes went on from the ids held first: ${outcomes.join(',')}`);
  assert.equal(outcomes[firstFailure], 'EIO', outcomes.join(','));
  for (let i = 0; i < firstFailure; i++) assert.ok(Buffer.from(await conn.fs.readFile(`/short/s${i}`)).equals(pattern(10_000, 10 + i)), `/short/s${i}`);
  await mdsProc.start();
  await writeFsynced(conn, '/short/after', pattern(10_000, 99));
  assert.ok(Buffer.from(await conn.fs.readFile('/short/after')).equals(pattern(10_000, 99)));
});

test('cp of a 100 KB file into a running FUSE mount succeeds while the only MDS is down', async () => {
  await mdsProc.start(); // (a no-op when it runs)
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  mount = await MountProc.start({ mdsAddrs: [mdsProc.address], fsName: FS, dir: mnt });
  const src = join(dir, 'src-100k');
  await writeFile(src, pattern(100 * 1024, 1));
  const run = promisify(execFile);
  await run('cp', [src, join(mnt, 'cp-before')]);
  await mdsProc.kill9();
  await run('cp', [src, join(mnt, 'cp-during')]);
  await writeFile(join(mnt, 'cp-during-2'), pattern(100 * 1024, 2));
  assert.ok((await readFile(join(mnt, 'cp-during'))).equals(pattern(100 * 1024, 1)));
  assert.ok((await readFile(join(mnt, 'cp-during-2'))).equals(pattern(100 * 1024, 2)));
  await mdsProc.start();
  await run('cp', [src, join(mnt, 'cp-after')]);
  assert.ok((await readFile(join(mnt, 'cp-after'))).equals(pattern(100 * 1024, 1)));
});
