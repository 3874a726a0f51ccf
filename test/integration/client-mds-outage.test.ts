// Issue [H] scenario 6, "writes stall while the MDS is down": with the only MDS killed, `cp` of a
// 100 KB file into a running mount must succeed — data writes take their chunk ids from a range
// leased ahead (src/client/chunk-ids.ts), not from the MDS on every write. Once the MDS has been
// gone longer than the reserve lasts, a write fails with EIO (a definite error a program handles),
// not EAGAIN after a long stall; when the MDS is back, writes go on. Real MDS (embedded store),
// 3 metaserver processes, a real `curvefs mount` and an SDK client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MdsClient } from '../../src/mds/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector } from '../../src/client/index.ts';
import { CurveError } from '../../src/common/index.ts';
import { waitFor } from '../helpers/wait.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';
import { MountProc } from '../helpers/curvefs-mount-proc.ts';

const run = promisify(execFile);
const FS = 'outage';
const dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-outage-'));
const mnt = join(dir, 'mnt');
let mdsProc: MdsProcess;
let mds: MdsClient;
let ms: MetaserverCluster;
let mount: MountProc | undefined;
const pool = new ChannelPool({ connectTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 200 } });

before(async () => {
  mdsProc = await MdsProcess.spawn({ etcd: [], dataDir: join(dir, 'mds'), journal: join(dir, 'mds.jsonl') });
  mds = new MdsClient({ addresses: [mdsProc.address], deadlineMs: 60_000 });
  ms = await MetaserverCluster.start({ n: 3, dir, mdsAddrs: [mdsProc.address] });
  await waitFor(async () => (await mds.topology.listMetaServer({})).metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE).length === 3, '3 metaservers online', 60_000);
  await mds.mds.createFs({ fsName: FS, dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } } });
  mkdirSync(mnt);
  mount = await MountProc.start({ mdsAddrs: [mdsProc.address], fsName: FS, dir: mnt });
});

after(async () => {
  await mount?.stop();
  await ms?.stop();
  mds?.close();
  await mdsProc?.stop();
  pool.close();
  rmSync(dir, { recursive: true, force: true });
});

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = (k * 31 + seed) & 0xff;
  return b;
}

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof CurveError ? e.code : String(e);
  }
}

test('cp of a 100 KB file into a running mount succeeds while the only MDS is down', async () => {
  const src = join(dir, 'src-100k');
  await writeFile(src, pattern(100 * 1024, 1));
  // A first file with the MDS up: the mount is in use (and has leased its ids) before the outage.
  await run('cp', [src, join(mnt, 'before')]);
  await mdsProc.kill9();
  await run('cp', [src, join(mnt, 'during')]);
  await writeFile(join(mnt, 'during-2'), pattern(100 * 1024, 2));
  assert.ok((await readFile(join(mnt, 'during'))).equals(pattern(100 * 1024, 1)));
  assert.ok((await readFile(join(mnt, 'during-2'))).equals(pattern(100 * 1024, 2)));
  await mdsProc.start();
  await run('cp', [src, join(mnt, 'after')]);
  assert.ok((await readFile(join(mnt, 'after'))).equals(pattern(100 * 1024, 1)));
});

test('once the MDS has been gone longer than the leased ids last, a write fails with EIO; with the MDS back, writes go on', async () => {
  await mdsProc.start(); // (a no-op when it runs)
  // A small reserve (8 ids; a 100 KB write in one slice takes one) and a short MDS deadline.
  const adapter = new MdsAdapter(new RotatingMdsConnector(pool, [mdsProc.address], { callTimeoutMs: 10_000 }), { chunkIdReserve: 8, chunkIdDeadlineMs: 1000 });
  const conn = await connectFs({ mds: adapter, fsName: FS, pool });
  try {
    await conn.fs.writeFile('/s-before', pattern(100 * 1024, 3));
    await mdsProc.kill9();
    const outcomes: string[] = [];
    for (let i = 0; i < 40 && !outcomes.some((o) => o !== 'OK'); i++) {
      outcomes.push(await errnoOf(conn.fs.writeFile(`/s-${i}`, pattern(100 * 1024, 10 + i))));
    }
    // Some writes ride on the reserve, then the first failure is EIO, never EAGAIN.
    const firstFailure = outcomes.findIndex((o) => o !== 'OK');
    assert.ok(firstFailure >= 1, `writes went on from the reserve first: ${outcomes.join(',')}`);
    assert.equal(outcomes[firstFailure], 'EIO', outcomes.join(','));
    for (let i = 0; i < firstFailure; i++) assert.ok(Buffer.from(await conn.fs.readFile(`/s-${i}`)).equals(pattern(100 * 1024, 10 + i)), `/s-${i}`);
    await mdsProc.start();
    await waitFor(async () => (await errnoOf(conn.fs.writeFile('/s-after', pattern(100 * 1024, 99)))) === 'OK', 'writes to succeed with the MDS back', 60_000);
    assert.ok(Buffer.from(await conn.fs.readFile('/s-after')).equals(pattern(100 * 1024, 99)));
  } finally {
    await conn.close().catch(() => undefined);
  }
});
