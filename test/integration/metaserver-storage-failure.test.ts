// Issue [H] scenario 5, "a mount stuck on a failed replica": the leader of the root directory's
// copyset runs out of disk (its data directory is a small tmpfs the test fills; the next Raft log
// segment cannot be preallocated: ENOSPC) while a FUSE mount and an SDK client write through it.
// The replica must step down and say so (heartbeat → `curvefs status`: that replica BROKEN, the
// copyset not healthy), the other two elect a leader, and both clients must move to it — every
// operation succeeds, and none is applied twice (each file's link/unlink pairs leave nlink 1).
// Real MDS, 3 metaserver processes (each on its own tmpfs), a real `curvefs mount`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { link, open, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { MdsService } from '../../src/gen/mds_pb.ts';
import { TopologyService } from '../../src/gen/topology_pb.ts';

const FS = 'enospc';
const N = 3;
let dir: string;
let mnt: string;
const tmpfsMounts: string[] = [];
let cluster: CurvefsCluster | undefined;
let mount: MountProc | undefined;
let sdk: Connection | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-storage-failure-'));
  // Each metaserver keeps its files on a 48 MiB tmpfs of its own (MetaserverCluster: dir/ms<i>).
  for (let i = 0; i < N; i++) {
    const d = join(dir, `ms${i}`);
    mkdirSync(d);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0700', 'tmpfs', d]);
    tmpfsMounts.push(d);
  }
  // Small log segments: a new one is preallocated every 64 KiB of log, which a full disk refuses.
  cluster = await CurvefsCluster.start({ dir, metaservers: N, metaserverArgs: () => ['--raft-segment-bytes', '65536'] });
  await cluster.createFs(FS);
  mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  mount = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: FS, dir: mnt });
});

after(async () => {
  await sdk?.close().catch(() => undefined);
  await mount?.stop();
  await cluster?.stop();
  for (const d of tmpfsMounts) {
    try {
      execFileSync('umount', [d]);
    } catch {
      execFileSync('umount', ['-l', d]);
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Fills the filesystem holding `d` to the last byte. */
async function fill(d: string): Promise<void> {
  const fh = await open(join(d, 'filler'), 'w');
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const buf = Buffer.alloc(size, 1);
      for (;;) {
        try {
          await fh.write(buf);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function content(i: number, who: string): Buffer {
  const b = Buffer.alloc(100 * 1024);
  for (let k = 0; k < b.length; k += 4) b.writeUInt32LE((i * 2654435761 + k + who.length) >>> 0, k);
  return b;
}

interface StatusDoc {
  metaservers: Array<{ id: number; state: string; healthy: boolean; brokenReplicas: number }>;
  copysets: Array<{ copyset: string; leader: number; healthy: boolean; replicas: Array<{ id: number; state: string }> }>;
}

async function clusterStatus(): Promise<StatusDoc> {
  const r = await runCurvefs(['--mds', cluster!.mdsAddrs.join(','), 'status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusDoc;
}

test('a leader whose disk fills steps down, says so, and running clients move to the new leader without applying anything twice', async () => {
  const c = cluster!;
  const fsId = (await c.mds.client(MdsService).getFsInfo({ fsName: FS })).fsInfo!.fsId;
  const parts = (await c.mds.client(TopologyService).listPartition({ fsId })).partitionInfoList;
  const root = parts.find((p) => p.start <= 1 && 1 <= p.end)!;
  const leaderAddr = await c.metaservers.waitLeader(root.poolId, root.copysetId, 60_000);
  const victim = c.metaservers.procs.find((p) => p.address === leaderAddr)!;
  assert.ok(victim, `leader ${leaderAddr} is one of the metaservers`);
  sdk = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(c.pool, c.mdsAddrs, { callTimeoutMs: 10_000 })), fsName: FS, pool: c.pool });

  // Both clients write before the disk fills, so each has the leader cached.
  await writeFile(join(mnt, 'warm'), 'x');
  await sdk.fs.writeFile('/sdk-warm', 'y');
  await fill(victim.dir);

  const storageFailed = () => victim.stderr.some((l) => l.includes('storage failed'));
  let i = 0;
  let failedAt = -1;
  // Each round: a 100 KB file through the mount and one through the SDK, then a hard link made
  // and removed again — applied twice, the unlink would leave nlink 0 (or ENOENT on the retry).
  while (failedAt < 0 || i < failedAt + 20) {
    assert.ok(i < 3000, 'the failed leader stopped within 3000 rounds (its log needs a new segment every 64 KiB)');
    const m = join(mnt, `m${i}`);
    await writeFile(m, content(i, 'mount'));
    await link(m, join(mnt, `ml${i}`));
    await unlink(join(mnt, `ml${i}`));
    await sdk.fs.writeFile(`/s${i}`, content(i, 'sdk'));
    await sdk.fs.link(`/s${i}`, `/sl${i}`);
    await sdk.fs.unlink(`/sl${i}`);
    i++;
    if (failedAt < 0 && storageFailed()) failedAt = i;
  }

  // The other two elected a leader; the failed replica is reported, by the heartbeat, as broken.
  const newLeader = await c.metaservers.waitLeader(root.poolId, root.copysetId, 60_000);
  assert.notEqual(newLeader, victim.address);
  const st = await waitUntil('status to show the failed replica', 60_000, async () => {
    const s = await clusterStatus();
    const cs = s.copysets.find((x) => x.copyset === `${root.poolId}:${root.copysetId}`)!;
    return cs.replicas.find((r) => r.id === victim.id)?.state === 'BROKEN' ? s : undefined;
  });
  const cs = st.copysets.find((x) => x.copyset === `${root.poolId}:${root.copysetId}`)!;
  assert.equal(cs.healthy, false);
  assert.notEqual(cs.leader, victim.id);
  const ms = st.metaservers.find((m) => m.id === victim.id)!;
  assert.equal(ms.healthy, false, 'the metaserver whose disk failed is not healthy');
  assert.ok(ms.brokenReplicas >= 1);
  assert.ok(st.metaservers.filter((m) => m.id !== victim.id).every((m) => m.healthy), 'the other two are healthy');

  // Nothing lost, nothing applied twice.
  const names = (await readdir(mnt)).sort();
  for (let k = 0; k < i; k++) {
    assert.equal((await stat(join(mnt, `m${k}`))).nlink, 1, `m${k}`);
    assert.equal((await sdk.fs.stat(`/s${k}`)).nlink, 1, `s${k}`);
    assert.ok(Buffer.from(await readFile(join(mnt, `m${k}`))).equals(content(k, 'mount')), `m${k} content`);
    assert.ok(Buffer.from(await sdk.fs.readFile(`/s${k}`)).equals(content(k, 'sdk')), `s${k} content`);
  }
  assert.equal(names.filter((n) => n.startsWith('ml') || n.startsWith('sl')).length, 0);
  assert.equal(new Set(names).size, names.length);
});
