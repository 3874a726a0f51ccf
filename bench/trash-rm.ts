// `rm -rf` of a tree into the trash against the same `rm -rf` without one (issue 11: "no slower
// than today's delete"). One side cluster (an MDS and 3 metaserver processes, test/helpers),
// two file systems — `plain` (no trash) and `trashy` (1 day) — each mounted by its own
// `curvefs mount` process. Each round builds the same tree in both (D directories of F empty
// files, written through the mount by a child `sh`), then removes it with `rm -rf`, in the order
// plain, trashy, trashy, plain, ... (ABBA, so drift in the machine's load falls on both). Prints
// each rm's wall time, the metaservers' CPU seconds it cost, and the trash/plain ratios. After
// plain's rm it waits for the reclaimer to delete plain's inodes, so that work (which the trash
// defers) does not fall into the next rm's window.
//
//   npx tsx bench/trash-rm.ts [--dirs 20] [--files 500] [--rounds 2]
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, chmod } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurvefsCluster, waitUntil } from '../test/helpers/curvefs-cluster.ts';
import { MdsService } from '../src/gen/mds_pb.ts';
import { cpuSec, numberArg } from './proc-cpu.ts';
import { MountProc } from '../test/helpers/curvefs-mount-proc.ts';

const arg = numberArg;
const DIRS = arg('dirs', '20');
const FILES = arg('files', '500');
const ROUNDS = arg('rounds', '2');

function buildTree(root: string): void {
  const script = `for d in $(seq 1 ${DIRS}); do mkdir -p ${root}/d$d; cd ${root}/d$d; touch $(seq -f f%g 1 ${FILES}); done`;
  const r = spawnSync('sh', ['-c', script], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building the tree failed');
}

/** The fs's used inodes from a complete usage report. */
async function usedInodes(cluster: CurvefsCluster, fsName: string): Promise<number> {
  return waitUntil(`a complete usage report of ${fsName}`, 600_000, async () => {
    const f = (await cluster.mds.client(MdsService).getFsInfo({ fsName })).fsInfo!;
    return f.usageComplete ? f.usedInodes : undefined;
  });
}

/** Waits until the fs is back at `base` inodes (its removed inodes reclaimed). */
async function reclaimed(cluster: CurvefsCluster, fsName: string, base: number): Promise<void> {
  await waitUntil(`${fsName}'s inodes to be reclaimed`, 600_000, async () => ((await usedInodes(cluster, fsName)) <= base ? true : undefined));
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'curvefs-trash-bench-'));
  await chmod(base, 0o755);
  const cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  const mounts: MountProc[] = [];
  try {
    const dirs: Record<string, string> = {};
    for (const [fs, hours] of [['plain', 0], ['trashy', 24]] as const) {
      await cluster.createFs(fs, { trashHours: hours });
      dirs[fs] = join(base, `mnt-${fs}`);
      await mkdir(dirs[fs]);
      mounts.push(await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: fs, dir: dirs[fs] }));
    }
    const metaPids = cluster.metaservers.procs.map((m) => m.proc!.pid!);
    const results: Record<string, { wall: number[]; cpu: number[] }> = { plain: { wall: [], cpu: [] }, trashy: { wall: [], cpu: [] } };
    process.stdout.write(`rm -rf of ${DIRS} dirs x ${FILES} files = ${DIRS * FILES} files; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    const baseInodes: Record<string, number> = {};
    for (const fs of ['plain', 'trashy']) baseInodes[fs] = await usedInodes(cluster, fs);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['plain', 'trashy'] : ['trashy', 'plain'];
      for (const fs of order) buildTree(join(dirs[fs]!, `t${round}`));
      for (const fs of order) {
        const c0 = await cpuSec(metaPids);
        const t0 = performance.now();
        const r = spawnSync('rm', ['-rf', join(dirs[fs]!, `t${round}`)], { stdio: 'inherit' });
        const wall = (performance.now() - t0) / 1000;
        const cpu = (await cpuSec(metaPids)) - c0;
        if (r.status !== 0) throw new Error(`rm -rf failed on ${fs}`);
        results[fs]!.wall.push(wall);
        results[fs]!.cpu.push(cpu);
        process.stdout.write(`round ${round} ${fs.padEnd(6)}: rm -rf ${wall.toFixed(2)} s wall, metaservers ${cpu.toFixed(2)} CPU s\n`);
        // plain's removed inodes are reclaimed after the grace: let that finish before the next
        // rm, or its work lands in that rm's window (the trash defers it to purge or expiry).
        if (fs === 'plain') await reclaimed(cluster, fs, baseInodes[fs]!);
      }
    }
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const p = results.plain!;
    const t = results.trashy!;
    process.stdout.write(
      `trash/plain: wall ${(sum(t.wall) / sum(p.wall)).toFixed(2)}, metaserver CPU ${(sum(t.cpu) / sum(p.cpu)).toFixed(2)}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
    );
  } finally {
    for (const m of mounts) await m.stop().catch(() => m.kill());
    await cluster.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
