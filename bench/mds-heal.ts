// Healing after a metaserver loss, end to end with real processes: one MDS (embedded store) and
// 4 real metaservers (src/metaserver). An fs with one partition gets N files (default 100 000)
// in one copyset of 3; then a follower of that copyset is killed with SIGKILL and we measure
//   detect   kill → the MDS sees the metaserver OFFLINE (bounded by --offline-after-ms)
//   member   kill → the MDS records the new membership (replica created, joined as a learner,
//            caught up by snapshot install + log, promoted, dead member removed)
//   caught   kill → the new replica has applied everything the leader had at the kill
// The leader promotes the learner only once it has caught up, so `caught` is at most a round
// trip after `member` (or before it).
// Baseline in the same run: the time it took to create the N files.
//
//   npx tsx bench/mds-heal.ts [--files 100000] [--offline-ms 3000] [--heal-timeout-ms 600000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileType } from '../src/gen/common_pb.ts';
import { CopysetService } from '../src/gen/metaserver_pb.ts';
import { OnlineState } from '../src/gen/topology_pb.ts';
import { MdsClient } from '../src/mds/index.ts';
import { waitFor } from '../test/helpers/etcd.ts';
import { MdsProcess } from '../test/helpers/mds-process.ts';
import { MetaserverCluster } from '../test/helpers/metaserver-cluster.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const FILES = arg('files', 100_000);
const OFFLINE_MS = arg('offline-ms', 3000);
const CONCURRENCY = 64;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-heal-bench-'));
  const mdsProc = await MdsProcess.spawn({
    etcd: [],
    dataDir: join(dir, 'mds'),
    journal: join(dir, 'mds.jsonl'),
    args: ['--unstable-after-ms', '1000', '--offline-after-ms', String(OFFLINE_MS), '--heal-delay-ms', '0', '--schedule-interval-ms', '500', '--partitions-per-fs', '1', '--min-writable-partitions', '1'],
  });
  const mds = new MdsClient({ addresses: [mdsProc.address], deadlineMs: 60_000 });
  const c = await MetaserverCluster.start({ n: 4, dir, mdsAddrs: [mdsProc.address] });
  try {
    await waitFor(async () => (await mds.topology.listMetaServer({})).metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE && m.lastHeartbeatMsAgo >= 0).length === 4, '4 metaservers', 60_000);
    const fs = (await mds.mds.createFs({ fsName: 'heal', dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } } })).fsInfo!;
    const part = (await mds.topology.listPartition({ fsId: fs.fsId })).partitionInfoList[0]!;
    const p = { poolId: part.poolId, copysetId: part.copysetId, partitionId: part.partitionId, fsId: fs.fsId };

    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < FILES; i = next++) {
          await c.call(p.poolId, p.copysetId, 'createFile', { p, rid: { clientId: 1, seq: i + 1 }, parent: 1, name: `f${i}`, type: FileType.TYPE_S3, mode: 0o644 });
        }
      }),
    );
    const createMs = performance.now() - t0;
    console.log(`created ${FILES} files in ${(createMs / 1000).toFixed(1)} s (${Math.round(FILES / (createMs / 1000))} creates/s)`);

    const cs = (await mds.topology.getCopysetsInfo({ copysetKeys: [{ poolId: p.poolId, copysetId: p.copysetId }] })).copysetValues[0]!;
    const leaderAddr = await c.waitLeader(p.poolId, p.copysetId);
    const lead = (await c.pool.client(CopysetService, leaderAddr).getCopysetStatus({ poolId: p.poolId, copysetId: p.copysetId })).status!;
    const victim = c.procs.find((x) => cs.peers.some((peer) => peer.id === x.id) && x.address !== leaderAddr)!;
    const members = cs.peers.map((x) => x.id);
    const tKill = performance.now();
    await c.kill(victim.index);
    await waitFor(async () => (await mds.topology.getMetaServer({ metaserverId: victim.id })).metaserverInfo?.onlineState === OnlineState.OFFLINE, 'OFFLINE', 120_000, 20);
    const detect = performance.now() - tKill;
    process.stderr.write(`offline after ${detect.toFixed(0)} ms\n`);
    const progress = setInterval(() => {
      void mds.topology
        .getCopysetsInfo({ copysetKeys: [{ poolId: p.poolId, copysetId: p.copysetId }] })
        .then((r) => {
          const v = r.copysetValues[0]!;
          process.stderr.write(`copyset: members ${v.peers.map((x) => x.id)} epoch ${v.epoch} leader ${v.leaderPeer?.id ?? '?'} change ${v.oldPeer?.id ?? '-'}→${v.candidatePeer?.id ?? '-'}\n`);
        })
        .catch(() => undefined);
    }, 5000);
    progress.unref();
    const after = await waitFor(
      async () => {
        const v = (await mds.topology.getCopysetsInfo({ copysetKeys: [{ poolId: p.poolId, copysetId: p.copysetId }] })).copysetValues[0]!;
        return v.peers.length === 3 && !v.peers.some((x) => x.id === victim.id) ? v : undefined;
      },
      'new membership',
      arg('heal-timeout-ms', 600_000),
      20,
    );
    const member = performance.now() - tKill;
    const added = after.peers.find((x) => !members.includes(x.id))!;
    const addedAddr = added.address.replace(/:0$/, '');
    await waitFor(
      async () => {
        const st = (await c.pool.client(CopysetService, addedAddr).getCopysetStatus({ poolId: p.poolId, copysetId: p.copysetId }, { timeoutMs: 2000 })).status!;
        return st.appliedIndex >= lead.lastIndex;
      },
      'the new replica to catch up',
      arg('heal-timeout-ms', 600_000),
      20,
    );
    const caught = performance.now() - tKill;
    console.log(`copyset of ${FILES} files, leader at index ${lead.lastIndex}; offline bound ${OFFLINE_MS} ms`);
    console.log(`detect OFFLINE ${detect.toFixed(0)} ms; new membership ${member.toFixed(0)} ms; new replica caught up ${caught.toFixed(0)} ms after the kill`);
    console.log(`catch-up after the membership change ${(caught - member).toFixed(0)} ms; heal after detection ${(caught - detect).toFixed(0)} ms = ${((caught - detect) / createMs).toFixed(3)} × the create time`);
    // The leader's own account of the change (raft-group.ts logs each step's duration).
    const steps = c.procs.flatMap((x) => x.stderr).find((l) => l.includes('caught up as a learner and promoted'));
    const m = steps && /"learnerMs":(\d+).*"catchUpMs":(\d+).*"promoteMs":(\d+)/.exec(steps);
    if (m) console.log(`at the leader: learner added ${m[1]} ms, learner caught up (snapshot install + log) ${m[2]} ms, promoted ${m[3]} ms`);
  } catch (e) {
    for (const x of c.procs.filter((q) => q.proc)) {
      const st = await c.pool
        .client(CopysetService, x.address)
        .getCopysetStatus({ poolId: 1, copysetId: 1 }, { timeoutMs: 2000 })
        .then((r) => r.status)
        .catch(() => undefined);
      if (st) process.stderr.write(`metaserver ${x.id}: ${st.state} term ${st.term} commit ${st.committedIndex} last ${st.lastIndex} peers ${st.peers.map((q) => `${q.id}@${q.address}`).join(' ')}\n`);
    }
    process.stderr.write(`MDS log:\n${mdsProc.logs().slice(-4000)}\n`);
    for (const x of c.procs) process.stderr.write(`metaserver ${x.index} (id ${x.id}):\n${x.stderr.slice(-30).join('\n')}\n`);
    throw e;
  } finally {
    await c.stop();
    mds.close();
    await mdsProc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
