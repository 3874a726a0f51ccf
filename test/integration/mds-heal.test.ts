// Healing after a metaserver loss, with real processes and nobody stepping in: one MDS (embedded
// store, short offline bound) and 4 metaservers. An fs's copyset of 3 holds files; its leader is
// killed with SIGKILL (bench/mds-heal.ts kills a follower); the survivors elect a leader, the MDS
// notices the loss, creates a replica on the 4th metaserver and has the new leader run the change
// (learner → caught up → voter → dead member removed), while a writer keeps creating files.
// Afterwards a second original replica is killed: the group of the last original and the new
// replica must still commit (the new replica votes and acknowledges), and every file written
// before, during and after the heal must be readable at the new replica once it leads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { PeerSchema, FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { MdsClient } from '../../src/mds/index.ts';
import { waitFor } from '../helpers/etcd.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { MetaserverCluster, type MetaserverProcess } from '../helpers/metaserver-cluster.ts';

// Generous: the CI machine may be busy; nothing here asserts how long anything took.
const LONG = 240_000;

const dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-heal-'));
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
    args: ['--unstable-after-ms', '1000', '--offline-after-ms', '2000', '--heal-delay-ms', '0', '--schedule-interval-ms', '300', '--partitions-per-fs', '1', '--min-writable-partitions', '1'],
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

async function members(): Promise<number[]> {
  const v = (await mds.topology.getCopysetsInfo({ copysetKeys: [{ poolId: p.poolId, copysetId: p.copysetId }] })).copysetValues[0]!;
  return v.peers.map((x) => x.id).sort((a, b) => a - b);
}

async function status(m: MetaserverProcess) {
  return (await c.pool.client(CopysetService, m.address).getCopysetStatus({ poolId: p.poolId, copysetId: p.copysetId }, { timeoutMs: 2000 })).status!;
}

/** Every name in the root directory, with its attributes, read at replica `m` (which must lead). */
async function listAt(m: MetaserverProcess): Promise<{ names: string[]; attrs: number }> {
  const cl = c.pool.client(MetaServerService, m.address);
  const names: string[] = [];
  let attrs = 0;
  let last = '';
  for (;;) {
    const r = await cl.listDentry({ p, dirInodeId: 1, last, count: 500, withAttr: true }, { timeoutMs: 10_000 });
    names.push(...r.dentrys.map((d) => d.name));
    attrs += r.attrs.length;
    if (r.dentrys.length === 0) break;
    last = r.dentrys[r.dentrys.length - 1]!.name;
  }
  return { names: names.sort(), attrs };
}

test('a lost replica is replaced on the spare metaserver while writes continue; the new replica holds everything', async () => {
  await waitFor(async () => (await mds.topology.listMetaServer({})).metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE && m.lastHeartbeatMsAgo >= 0).length === 4, '4 metaservers online', LONG, 100);
  const fs = (await mds.mds.createFs({ fsName: 'heal', dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } } })).fsInfo!;
  const part = (await mds.topology.listPartition({ fsId: fs.fsId })).partitionInfoList[0]!;
  p = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: part.poolId, copysetId: part.copysetId, partitionId: part.partitionId, fsId: fs.fsId };
  for (let i = 0; i < 300; i++) await createFile(`before-${i}`);

  const original = await members();
  assert.equal(original.length, 3);
  const leaderAddr = await c.waitLeader(p.poolId, p.copysetId, LONG);
  // The leader itself: the survivors elect a new one, which then runs the change for the MDS.
  const victim = c.procs.find((x) => x.address === leaderAddr)!;
  assert.ok(original.includes(victim.id));
  const spare = c.procs.find((x) => !original.includes(x.id))!;

  // A writer that keeps going through the heal; any write that fails for good fails the test.
  let stop = false;
  let during = 0;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      await createFile(`during-${i}`);
      during++;
    }
  })();

  await c.kill(victim.index);
  const healed = await waitFor(
    async () => {
      const m = await members();
      return m.length === 3 && !m.includes(victim.id) && m.includes(spare.id) ? m : undefined;
    },
    'the MDS to record the healed membership',
    LONG,
    200,
  );
  assert.deepEqual(healed, original.filter((id) => id !== victim.id).concat(spare.id).sort((a, b) => a - b));
  // Writes went on through the heal and go on after it.
  const atHeal = during;
  await waitFor(() => during >= atHeal + 20, 'writes after the heal', LONG, 50);
  stop = true;
  await writer;
  for (let i = 0; i < 50; i++) await createFile(`after-${i}`);

  // The new replica has applied every file (root inode + files).
  await waitFor(async () => (await status(spare)).partitions[0]?.inodeNum === written.length + 1, 'the new replica to catch up', LONG, 100);
  const st = await status(spare);
  assert.deepEqual(st.peers.map((x) => x.id).sort((a, b) => a - b), healed);

  // Kill a second original member: the last original and the new replica must form a quorum.
  const survivors = c.procs.filter((x) => original.includes(x.id) && x.id !== victim.id);
  await c.kill(survivors[0]!.index);
  for (let i = 0; i < 20; i++) await createFile(`last-${i}`);

  // Read everything at the new replica: make it the leader, then list with attributes there.
  await waitFor(
    async () => {
      if ((await status(spare)).state === 'leader') return true;
      await c.admin(p.poolId, p.copysetId, (cl, o) => cl.transferLeader({ poolId: p.poolId, copysetId: p.copysetId, transferee: create(PeerSchema, { id: spare.id, address: `${spare.address}:0` }) }, o));
      return false;
    },
    'the new replica to lead',
    LONG,
    500,
  );
  const seen = await listAt(spare);
  assert.deepEqual(seen.names, [...written].sort());
  assert.equal(seen.attrs, written.length);
  assert.ok(written.some((n) => n.startsWith('during-')));
});
