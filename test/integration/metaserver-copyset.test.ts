// A 3-replica copyset of 3 real metaserver processes: the data path through the leader,
// NOT_LEADER redirects from followers, leader failover under kill -9, restart with replay, and
// replicas converging to the same state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-cs-'));
let c: MetaserverCluster;
const P: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId: 1 };
let seq = 0;
const rid = () => ({ clientId: 5, seq: ++seq });

before(async () => {
  c = await MetaserverCluster.start({ n: 3, dir });
  await c.createCopyset(1, 1);
  await c.createPartition({ fsId: 1, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 1 << 20 });
  await c.call(1, 1, 'createRootInode', { p: P, mode: 0o755 });
});

after(async () => {
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('followers redirect to the leader with its address', async () => {
  const leader = await c.waitLeader(1, 1);
  const follower = c.procs.find((p) => p.address !== leader)!;
  await assert.rejects(
    c.pool.client(MetaServerService, follower.address).getDentry({ p: P, parentInodeId: 1, name: 'x' }),
    (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_LEADER && e.leaderHint?.replace(/:0$/, '') === leader,
  );
  const gl = await c.pool.client(CopysetService, follower.address).getLeader({ poolId: 1, copysetId: 1 });
  assert.equal(gl.leader?.address.replace(/:0$/, ''), leader);
});

test('acknowledged creates survive the leader being killed; replicas converge', async () => {
  const names: string[] = [];
  for (let i = 0; i < 50; i++) {
    const name = `f${i}`;
    await c.call(1, 1, 'createFile', { p: P, rid: rid(), parent: 1, name, type: FileType.TYPE_S3, mode: 0o644 });
    names.push(name);
  }
  const leader = await c.waitLeader(1, 1);
  const li = c.procs.findIndex((p) => p.address === leader);
  await c.kill(li);
  for (let i = 50; i < 80; i++) {
    const name = `f${i}`;
    await c.call(1, 1, 'createFile', { p: P, rid: rid(), parent: 1, name, type: FileType.TYPE_S3, mode: 0o644 });
    names.push(name);
  }
  await c.restart(li);
  const list = await c.call(1, 1, 'listDentry', { p: P, dirInodeId: 1 });
  assert.deepEqual(list.dentrys.map((d) => d.name).sort(), [...names].sort());
  // The restarted replica catches up: wait until every replica applied the same index.
  const deadline = performance.now() + 20_000;
  for (;;) {
    const st = await Promise.all(c.procs.map((p) => c.pool.client(CopysetService, p.address).getCopysetStatus({ poolId: 1, copysetId: 1 }).catch(() => undefined)));
    const applied = st.map((s) => s?.status?.appliedIndex ?? -1);
    const inodes = st.map((s) => s?.status?.partitions[0]?.inodeNum ?? -1);
    if (applied.every((a) => a === applied[0]) && inodes.every((n) => n === 81)) break;
    if (performance.now() > deadline) assert.fail(`replicas did not converge: applied ${applied}, inodes ${inodes}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('metrics endpoint serves Prometheus text with Raft state', async () => {
  const text = await c.metricsText(0);
  assert.match(text, /# TYPE curvefs_copyset_term gauge/);
  assert.match(text, /curvefs_copyset_commit_index\{copyset="1-1"\} \d+/);
});
