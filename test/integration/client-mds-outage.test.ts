// Issue [H] scenario 6, "writes stall while the MDS is down", done in the right order:
//  1. overlapping slices are ordered by the metaserver's append sequence, not by chunk id, so a
//     write carrying a lower chunk id than an earlier one (ids from a range leased earlier) still
//     reads as the later write;
//  2. chunk ids come from ranges each client leases from the MDS ahead of need, so writes go on
//     while the MDS is stopped, and no id is ever handed to two clients.
// Real processes: an MDS on its embedded store, 3 metaservers, SDK clients over loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsClient } from '../../src/mds/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { waitFor } from '../helpers/wait.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

const FS = 'outage';
const dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-outage-'));
let mdsProc: MdsProcess;
let mds: MdsClient;
let ms: MetaserverCluster;
const pool = new ChannelPool({ connectTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 200 } });
const conns: Connection[] = [];

before(async () => {
  mdsProc = await MdsProcess.spawn({ etcd: [], dataDir: join(dir, 'mds'), journal: join(dir, 'mds.jsonl') });
  mds = new MdsClient({ addresses: [mdsProc.address], deadlineMs: 60_000 });
  ms = await MetaserverCluster.start({ n: 3, dir, mdsAddrs: [mdsProc.address] });
  await waitFor(async () => (await mds.topology.listMetaServer({})).metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE).length === 3, '3 metaservers online', 60_000);
  await mds.mds.createFs({ fsName: FS, dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } } });
});

after(async () => {
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

/** An MDS whose chunk ids go down: every write gets a lower id than the one before it. */
class DescendingChunkIds extends MdsAdapter {
  private next = 1e12;
  override allocateChunkIds(_fsId: number, count: number): Promise<number> {
    this.next -= count;
    return Promise.resolve(this.next);
  }
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
