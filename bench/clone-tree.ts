// `curvefs clone` of a tree of small files against `cp -r` of the same tree through the mount
// (issue 11 item 7). One side cluster (an MDS and 3 metaserver processes, test/helpers), one fs
// mounted by a `curvefs mount` process. The tree (D directories of F files of S bytes) is
// written once through the mount; each round then copies it with `cp -r` (through the mount)
// and clones it with `curvefs clone` (the CLI, a process of its own, as an operator runs it), in
// the order cp, clone, clone, cp, ... (ABBA, so drift in the machine's load falls on both).
// Prints files/s of each (the clone's also without the CLI's start: the seconds it reports), the
// metaservers' CPU per file, and the clone/cp ratios.
//
//   npx tsx bench/clone-tree.ts [--dirs 10] [--files 1000] [--size 1024] [--rounds 2]
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, chmod, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurvefsCluster } from '../test/helpers/curvefs-cluster.ts';
import { cpuSec, numberArg } from './proc-cpu.ts';
import { MountProc, runCurvefs } from '../test/helpers/curvefs-mount-proc.ts';

const arg = numberArg;
const DIRS = arg('dirs', '10');
const FILES = arg('files', '1000');
const SIZE = arg('size', '1024');
const ROUNDS = arg('rounds', '2');
const FS = 'clonebench';

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'curvefs-clone-bench-'));
  await chmod(base, 0o755);
  const cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  let mount: MountProc | undefined;
  try {
    await cluster.createFs(FS);
    const mnt = join(base, 'mnt');
    await mkdir(mnt);
    mount = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: FS, dir: mnt });
    const n = DIRS * FILES;
    const bytes = Buffer.alloc(SIZE, 7);
    for (let d = 0; d < DIRS; d++) {
      await mkdir(join(mnt, 'src', `d${d}`), { recursive: true });
      for (let f = 0; f < FILES; f++) await writeFile(join(mnt, 'src', `d${d}`, `f${f}`), bytes);
    }
    const metaPids = cluster.metaservers.procs.map((m) => m.proc!.pid!);
    const runs = { cp: { wall: 0, cpu: 0 }, clone: { wall: 0, cpu: 0, inside: 0 } };
    process.stdout.write(`tree: ${DIRS} dirs x ${FILES} files of ${SIZE} bytes = ${n} files; load ${load()}\n`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const how of round % 2 === 0 ? (['cp', 'clone'] as const) : (['clone', 'cp'] as const)) {
        const c0 = await cpuSec(metaPids);
        const t0 = performance.now();
        let inside = 0;
        if (how === 'cp') {
          const r = spawnSync('cp', ['-r', join(mnt, 'src'), join(mnt, `cp${round}`)], { stdio: 'inherit' });
          if (r.status !== 0) throw new Error('cp -r failed');
        } else {
          const r = await runCurvefs(['--mds', cluster.mdsAddrs.join(','), '--json', 'clone', FS, '/src', `/clone${round}`]);
          if (r.code !== 0) throw new Error(`clone failed: ${r.stderr}`);
          inside = (JSON.parse(r.stdout) as { seconds: number; files: number }).seconds;
        }
        const wall = (performance.now() - t0) / 1000;
        const cpu = (await cpuSec(metaPids)) - c0;
        runs[how].wall += wall;
        runs[how].cpu += cpu;
        if (how === 'clone') runs.clone.inside += inside;
        process.stdout.write(
          `round ${round} ${how.padEnd(5)}: ${wall.toFixed(2)} s wall = ${(n / wall).toFixed(0)} files/s` +
            (how === 'clone' ? ` (${(n / inside).toFixed(0)} files/s without the CLI's start)` : '') +
            `; metaservers ${((cpu / n) * 1e6).toFixed(0)} CPU µs/file; load ${load()}\n`,
        );
      }
    }
    const cp = runs.cp;
    const cl = runs.clone;
    process.stdout.write(
      `clone/cp: files/s ${(cp.wall / cl.wall).toFixed(2)} (without the CLI's start ${(cp.wall / cl.inside).toFixed(2)}), ` +
        `metaserver CPU per file ${(cl.cpu / cp.cpu).toFixed(2)}; load ${load()}\n`,
    );
  } finally {
    await mount?.stop().catch(() => mount?.kill());
    await cluster.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
