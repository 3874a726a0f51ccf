// Differential POSIX test on a real curvefs mount: seeded random system-call sequences run on
// tmpfs (the kernel's own file system, the reference) and on a curvefs mount of a real cluster
// (an MDS and 3 metaservers, `curvefs mount` in its own process); every result, errno and the
// final trees must match.
// Replay one seed:
//   FSDIFF_SEED=7 FSDIFF_STEPS=300 node scripts/test.mjs test/e2e/fuse-curvefs-diff.test.ts
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountDir } from '../../src/fuse/index.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { MountProc } from '../helpers/curvefs-mount-proc.ts';
import { buildFsDiffHelper, clearDir, FsDiffSide, runDifferential } from '../helpers/fsdiff.ts';
import { sh } from '../helpers/fuse.ts';

const SEEDS = process.env.FSDIFF_SEED ? [Number(process.env.FSDIFF_SEED)] : [1, 2, 3, 4, 5, 6];
const STEPS = Number(process.env.FSDIFF_STEPS ?? 300);

describe('differential: curvefs mount vs tmpfs', () => {
  let base: string;
  let cluster: CurvefsCluster | undefined;
  let mount: MountProc | undefined;
  let mnt: string;
  let ref: string;
  let refMounted = false;
  let helperBin: string;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'curvefs-diff-'));
    await chmod(base, 0o755); // the unprivileged calls of the sequences must reach both trees
    cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
    await cluster.createFs('diff');
    mnt = join(base, 'mnt');
    ref = join(base, 'ref');
    await mkdir(mnt);
    await mkdir(ref);
    mount = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: 'diff', dir: mnt });
    await sh(`mount -t tmpfs -o size=256m,mode=0755 fsdiff-ref ${ref}`);
    refMounted = true;
    helperBin = await buildFsDiffHelper(base);
  });

  after(async () => {
    if (refMounted) await unmountDir(ref).catch(() => unmountDir(ref, { lazy: true }));
    await mount?.stop();
    await cluster?.stop();
    await rm(base, { recursive: true, force: true });
  });

  for (const seed of SEEDS) {
    test(`seed ${seed}: ${STEPS} calls give the same answers and the same tree`, async () => {
      await clearDir(ref);
      await clearDir(mnt);
      // Both roots alike: the fs root's mode is the MDS's choice.
      await chmod(ref, 0o755);
      await chmod(mnt, 0o755);
      const r = await runDifferential({
        seed,
        steps: STEPS,
        reference: new FsDiffSide('tmpfs', ref, helperBin),
        target: new FsDiffSide('curvefs', mnt, helperBin),
      });
      assert.equal(r.failure, null, `${r.failure}\nreplay: FSDIFF_SEED=${seed} FSDIFF_STEPS=${STEPS} node scripts/test.mjs test/e2e/fuse-curvefs-diff.test.ts`);
    });
  }
});
