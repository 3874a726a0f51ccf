// Issue G scenario 4, the cluster side: a metaserver whose copyset replica cannot open (one bit
// flipped in a Raft log record synced long ago) keeps running and says so; the MDS shows the
// replica as broken and replaces it from its peers like a dead member (CHANGE_PEER to the spare
// metaserver, caught up by snapshot install), then the broken files are deleted. One MDS
// (embedded store) and 4 metaservers as real processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { MdsClient } from '../../src/mds/index.ts';
import { copysetGroupId } from '../../src/metaserver/copyset/group-id.ts';
import { SEGMENT_HEADER_BYTES } from '../../src/raft/log/index.ts';
import { waitFor } from '../helpers/etcd.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { MetaserverCluster, type MetaserverProcess } from '../helpers/metaserver-cluster.ts';

// Generous: the CI machine may be busy; nothing here asserts how long anything took.
const LONG = 240_000;

const dir = mkdtempSync(join(tmpdir(), 'curvefs-broken-replica-'));
let mdsProc: MdsProcess;
let mds: MdsClient;
let c: MetaserverCluster;
let p: PartitionRef;
let seq = 0;
const written: string[] = [];

before(async () => {
  mdsProc = await MdsProcess.spawn({
    etcd: [],
    dataDir: join(dir, 'mds'),
    journal: join(dir, 'mds.jsonl'),
    args: ['--unstable-after-ms', '1000', '--offline-after-ms', '2000', '--schedule-interval-ms', '300', '--clean-follower-after-ms', '0', '--partitions-per-fs', '1', '--min-writable-partitions', '1'],
  });
  mds = new MdsClient({ addresses: [mdsProc.address], deadlineMs: 60_000 });
  // Small snapshot thresholds, so the new replica catches up by snapshot install plus log.
  c = await MetaserverCluster.start({ n: 4, dir, mdsAddrs: [mdsProc.address], args: () => ['--snapshot-entries', '100', '--snapshot-keep', '10'] });
});

after(async () => {
  await c?.stop();
  mds?.close();
  await mdsProc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createFile(name: string): Promise<void> {
  await c.call(p.poolId, p.copysetId, 'createFile', { p, rid: { clientId: 7, seq: ++seq }, parent: 1, name, type: FileType.TYPE_S3, mode: 0o644 }, LONG);
  written.push(name);
}

async function info() {
  return (await mds.topology.getCopysetsInfo({ copysetKeys: [{ poolId: p.poolId, copysetId: p.copysetId }] })).copysetValues[0]!;
}

async function status(m: MetaserverProcess) {
  return (await c.pool.client(CopysetService, m.address).getCopysetStatus({ poolId: p.poolId, copysetId: p.copysetId }, { timeoutMs: 2000 })).status!;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

test('a replica whose log is damaged mid-way is reported broken and rebuilt on the spare from its peers', async () => {
  await waitFor(async () => (await mds.topology.listMetaServer({})).metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE && m.lastHeartbeatMsAgo >= 0).length === 4, '4 metaservers online', LONG, 100);
  const fs = (await mds.mds.createFs({ fsName: 'broken', dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } } })).fsInfo!;
  const part = (await mds.topology.listPartition({ fsId: fs.fsId })).partitionInfoList[0]!;
  p = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: part.poolId, copysetId: part.copysetId, partitionId: part.partitionId, fsId: fs.fsId };
  for (let i = 0; i < 200; i++) await createFile(`before-${i}`);

  const original = (await info()).peers.map((x) => x.id);
  assert.equal(original.length, 3);
  const leaderAddr = await c.waitLeader(p.poolId, p.copysetId, LONG);
  const victim = c.procs.find((x) => original.includes(x.id) && x.address !== leaderAddr)!;
  const spare = c.procs.find((x) => !original.includes(x.id))!;

  // Stop the victim and flip one bit in the payload of the first record of its log: a record
  // synced long ago, followed by hundreds of good ones — not a torn write.
  await c.kill(victim.index);
  const groupDir = join(victim.dir, 'raft', `group-${copysetGroupId(p.poolId, p.copysetId)}`);
  const seg = join(groupDir, 'log', (await readdir(join(groupDir, 'log'))).filter((n) => n.endsWith('.seg')).sort()[0]!);
  const bytes = await readFile(seg);
  bytes[SEGMENT_HEADER_BYTES + 5 + 2]! ^= 0x08;
  await writeFile(seg, bytes);

  // The metaserver starts anyway (its other duties go on), and the MDS shows the replica broken.
  await c.restart(victim.index);
  const seenBroken = await waitFor(
    async () => {
      const v = await info();
      return v.brokenIds.includes(victim.id) || !v.peers.some((x) => x.id === victim.id) ? v : undefined;
    },
    'the MDS to learn that the replica is broken',
    LONG,
    100,
  );
  // Either seen while broken, or the heal was already through when we looked; the first is the
  // usual case and then the copyset is not healthy.
  if (seenBroken.brokenIds.includes(victim.id)) assert.equal(seenBroken.healthy, false);
  assert.ok(c.alive(victim.index), 'the metaserver with the broken replica keeps running');
  assert.ok(
    victim.stderr.some((l) => l.includes('ERROR') && l.includes('cannot open') && l.includes('offset')),
    `an ERROR line naming the damage:\n${victim.stderr.join('\n')}`,
  );

  // Healed: the broken member was replaced by the spare, and a write commits with the new group.
  const healed = await waitFor(
    async () => {
      const v = await info();
      const m = v.peers.map((x) => x.id).sort((a, b) => a - b);
      return !m.includes(victim.id) && m.includes(spare.id) && m.length === 3 ? v : undefined;
    },
    'the MDS to record the healed membership',
    LONG,
    200,
  );
  assert.deepEqual(healed.brokenIds, []);
  for (let i = 0; i < 20; i++) await createFile(`after-${i}`);
  // The new replica has every file (root inode + files), and the broken files are gone.
  await waitFor(async () => (await status(spare)).partitions[0]?.inodeNum === written.length + 1, 'the new replica to catch up', LONG, 100);
  await waitFor(async () => !(await exists(groupDir)), 'the broken replica files to be deleted', LONG, 100);
});
