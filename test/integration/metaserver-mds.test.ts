// Metaservers with a real MDS process: registration (id + token kept in metaserver.dat across a
// restart), heartbeats (the MDS learns copysets, leaders and partitions), copysets, partitions and
// the root inode created by the MDS for a new fs, and the data path on them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileType } from '../../src/gen/common_pb.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { CopysetService } from '../../src/gen/metaserver_pb.ts';
import { MdsClient } from '../../src/mds/client.ts';
import { loadIdentity } from '../../src/metaserver/identity.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-mds-'));
let mdsProc: ChildProcess;
let mdsAddr = '';
let mds: MdsClient;
let c: MetaserverCluster;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  mkdirSync(join(dir, 'mds'), { recursive: true });
  mdsProc = spawn(process.execPath, ['--import', 'tsx', 'src/mds/main.ts', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'mds'), '--partitions-per-fs', '2', '--insecure'], { stdio: ['ignore', 'pipe', 'inherit'] });
  mdsAddr = await new Promise<string>((resolve, reject) => {
    createInterface({ input: mdsProc.stdout! }).on('line', (l) => {
      const m = /^MDS listening on (\S+)/.exec(l);
      if (m) resolve(m[1]!);
    });
    mdsProc.once('exit', (code) => reject(new Error(`mds exited ${code}`)));
  });
  mds = new MdsClient({ addresses: [mdsAddr] });
  c = await MetaserverCluster.start({ n: 3, dir, mdsAddrs: [mdsAddr] });
});

after(async () => {
  await c?.stop();
  mds?.close();
  mdsProc?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test('registration, heartbeats, and an fs created by the MDS', async () => {
  for (const p of c.procs) {
    const idn = await loadIdentity(p.dir);
    assert.ok(idn && idn.id === p.id && idn.token.length > 0, `metaserver.dat of replica ${p.index}`);
  }
  await until('3 online metaservers', async () => {
    const r = await mds.topology.listMetaServer({ serverId: 0 });
    const online = r.metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE);
    return online.length === 3 ? online : undefined;
  });
  const fs = await mds.mds.createFs({ fsName: 'msfs', dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } } });
  const fsId = fs.fsInfo!.fsId;
  const parts = (await mds.topology.listPartition({ fsId })).partitionInfoList;
  assert.ok(parts.length >= 2);
  const rootPart = parts.find((p) => p.start <= 1 && p.end >= 1)!;
  const p = { $typeName: 'curvefs.metaserver.PartitionRef' as const, poolId: rootPart.poolId, copysetId: rootPart.copysetId, partitionId: rootPart.partitionId, fsId };
  const root = await c.call(rootPart.poolId, rootPart.copysetId, 'getInode', { p, inodeId: 1 });
  assert.equal(root.inode!.attr!.type, FileType.TYPE_DIRECTORY);
  await c.call(rootPart.poolId, rootPart.copysetId, 'createFile', { p, rid: { clientId: 1, seq: 1 }, parent: 1, name: 'hello', type: FileType.TYPE_S3, mode: 0o644 });
  // The MDS learns the leader and partition counters from heartbeats.
  await until('leader reported to the MDS', async () => {
    const r = await mds.topology.getMetaServerListInCopysets({ poolId: rootPart.poolId, copysetId: [rootPart.copysetId] });
    return r.csInfo[0]?.leaderId ? r.csInfo[0] : undefined;
  });
  const hosted = await c.pool.client(CopysetService, c.procs[0]!.address).listCopysets({});
  assert.ok(hosted.copysets.length >= 1);
});

test('a restarted metaserver keeps its identity and rejoins', async () => {
  const before = await loadIdentity(c.procs[1]!.dir);
  await c.kill(1);
  await c.restart(1);
  assert.equal(c.procs[1]!.id, before!.id);
  assert.ok(existsSync(join(c.procs[1]!.dir, 'metaserver.dat')));
  await until('metaserver online again', async () => {
    const r = await mds.topology.listMetaServer({ serverId: 0 });
    return r.metaserverInfos.find((m) => m.metaserverId === before!.id && m.onlineState === OnlineState.ONLINE);
  });
});
