// Differential POSIX test: seeded random system-call sequences run on tmpfs (the kernel's own
// file system, the reference) and on the MemFs FUSE mount; every result, errno and the final
// trees must match. Replay one seed:
//   FSDIFF_SEED=7 FSDIFF_STEPS=500 node scripts/test.mjs test/integration/fuse-diff.test.ts
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { unmountDir } from '../../src/fuse/index.ts';
import { buildFsDiffHelper, clearDir, FsDiffSide, runDifferential } from '../helpers/fsdiff.ts';
import { sh, startMemFsServer, type ServedMount } from '../helpers/fuse.ts';

const SEEDS = process.env.FSDIFF_SEED ? [Number(process.env.FSDIFF_SEED)] : [1, 2, 3, 4, 5];
const STEPS = Number(process.env.FSDIFF_STEPS ?? 200);

describe('differential: memfs over FUSE vs tmpfs', () => {
  let m: ServedMount;
  let ref: string;
  let refMounted = false;
  let helperBin: string;

  before(async () => {
    m = await startMemFsServer();
    ref = join(m.base, 'ref');
    await mkdir(ref);
    await sh(`mount -t tmpfs -o size=256m,mode=0755 fsdiff-ref ${ref}`);
    refMounted = true;
    helperBin = await buildFsDiffHelper(m.base);
  });
  after(async () => {
    if (refMounted) await unmountDir(ref).catch(() => unmountDir(ref, { lazy: true }));
    await m?.stop();
  });

  for (const seed of SEEDS) {
    test(`seed ${seed}: ${STEPS} calls give the same answers and the same tree`, async () => {
      await clearDir(ref);
      await clearDir(m.dir);
      const r = await runDifferential({
        seed,
        steps: STEPS,
        reference: new FsDiffSide('tmpfs', ref, helperBin),
        target: new FsDiffSide('fuse-memfs', m.dir, helperBin),
      });
      assert.equal(r.failure, null, `${r.failure}\nreplay: FSDIFF_SEED=${seed} FSDIFF_STEPS=${STEPS} node scripts/test.mjs test/integration/fuse-diff.test.ts`);
    });
  }
});
