// Snapshots and membership on real processes: with tiny snapshot thresholds the copyset
// snapshots and compacts its log repeatedly; a replica that was down catches up by snapshot
// install; ChangePeers moves the copyset to a new metaserver (which catches up the same way) and
// the removed one drops its replica; a restart of every member restores the state from the
// newest snapshot plus the log; ChangePeers replaces a dead member without losing the quorum.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-member-'));
let c: MetaserverCluster;
const P: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId: 1 };
let seq = 0;
let files = 0;

before(async () => {
  c = await MetaserverCluster.start({ n: 4, dir, args: () => ['--snapshot-entries', '40', '--snapshot-keep', '5'] });
  await c.createCopyset(1, 1, [0, 1, 2]);
  await c.createPartition({ fsId: 1, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 1 << 20 });
  await c.call(1, 1, 'createRootInode', { p: P, mode: 0o755 });
});

after(async () => {
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createFiles(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await c.call(1, 1, 'createFile', { p: P, rid: { clientId: 3, seq: ++seq }, parent: 1, name: `f${files++}`, type: FileType.TYPE_S3, mode: 0o644 });
  }
}

/** Waits until replica i reports `inodes` inodes in the partition. */
async function caughtUp(i: number, inodes: number): Promise<void> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const st = await c.pool.client(CopysetService, c.procs[i]!.address).getCopysetStatus({ poolId: 1, copysetId: 1 }).catch(() => undefined);
    const n = st?.status?.partitions[0]?.inodeNum;
    if (n === inodes) return;
    if (performance.now() > deadline) assert.fail(`replica ${i} has ${n} inodes, expected ${inodes}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function names(): Promise<string[]> {
  const l = await c.call(1, 1, 'listDentry', { p: P, dirInodeId: 1 });
  return l.dentrys.map((d) => d.name).sort();
}

test('a replica that missed compacted entries catches up by snapshot install', async () => {
  await createFiles(60);
  await c.kill(2);
  await createFiles(120);
  const st = await c.pool.client(CopysetService, await c.waitLeader(1, 1)).getCopysetStatus({ poolId: 1, copysetId: 1 });
  assert.ok((st.status?.snapshotIndex ?? 0) > 60, 'the leader took snapshots');
  assert.ok((st.status?.firstIndex ?? 0) > 60, 'and compacted its log past what replica 2 has');
  await c.restart(2);
  await caughtUp(2, files + 1);
});

test('ChangePeers moves the copyset to a new metaserver; the removed one drops its replica', async () => {
  const peers = [c.peer(0), c.peer(1), c.peer(3)];
  // As the MDS does: open the copyset on the new member first, then change the membership.
  await c.pool.client(CopysetService, c.procs[3]!.address).createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers }] });
  await c.admin(1, 1, (cl, o) => cl.changePeers({ poolId: 1, copysetId: 1, newPeers: peers }, { ...o, timeoutMs: 20_000 }));
  c.setMembers(1, 1, [0, 1, 3]);
  await caughtUp(3, files + 1);
  const deadline = performance.now() + 30_000;
  for (;;) {
    const l = await c.pool.client(CopysetService, c.procs[2]!.address).listCopysets({});
    if (l.copysets.length === 0) break;
    if (performance.now() > deadline) assert.fail('replica 2 kept the copyset after its removal');
    await new Promise((r) => setTimeout(r, 100));
  }
  // The new membership keeps a quorum without member 0.
  await c.kill(0);
  await createFiles(10);
  await c.restart(0);
  await caughtUp(0, files + 1);
});

test('every member restarted: state comes back from snapshot plus log', async () => {
  const before = await names();
  for (const i of [0, 1, 3]) await c.kill(i);
  for (const i of [0, 1, 3]) await c.restart(i);
  assert.deepEqual(await names(), before);
  assert.equal(before.length, files);
});

test('ChangePeers replaces a dead member: the new one joins as a learner, catches up, and the group keeps its quorum', async () => {
  // Members are 0, 1, 3; member 1 dies and is replaced by 2 (whose old copy was dropped above).
  await c.kill(1);
  await createFiles(15).catch(async (e: unknown) => {
    for (const x of c.procs.filter((q) => q.proc)) {
      const st = await c.pool.client(CopysetService, x.address).getCopysetStatus({ poolId: 1, copysetId: 1 }, { timeoutMs: 2000 }).catch((err: unknown) => String(err));
      process.stderr.write(`replica ${x.index} (id ${x.id}): ${JSON.stringify(st, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 600)}\n${x.stderr.slice(-15).join('\n')}\n`);
    }
    throw e;
  });
  const peers = [c.peer(0), c.peer(2), c.peer(3)];
  await c.pool.client(CopysetService, c.procs[2]!.address).createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers }] });
  await c.admin(1, 1, (cl, o) => cl.changePeers({ poolId: 1, copysetId: 1, newPeers: peers }, { ...o, timeoutMs: 120_000 }));
  c.setMembers(1, 1, [0, 2, 3]);
  const st = await c.pool.client(CopysetService, await c.waitLeader(1, 1)).getCopysetStatus({ poolId: 1, copysetId: 1 });
  assert.deepEqual(st.status?.peers.map((p) => p.id).sort((a, b) => a - b), [c.procs[0]!.id, c.procs[2]!.id, c.procs[3]!.id].sort((a, b) => a - b));
  await caughtUp(2, files + 1);
  // The new member votes and acknowledges: with another original member gone, writes commit.
  await c.kill(0);
  await createFiles(10);
  await caughtUp(2, files + 1);
  assert.equal((await names()).length, files);
});
