// `curvefs bench` (issue [K] item 3) against the FUSE mount of a `curvefs up` cluster (and with
// --sdk through the SDK on its fs): every phase
// runs the asked number of operations through the mount, reports ops/s and p50 ≤ p99, is set
// beside the tmpfs floor as a ratio, and leaves nothing behind in the mount. Bad input: a missing
// directory is exit 3, a regular file exit 6, a bad count exit 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { PHASES, type PhaseResult } from '../../src/cli/commands/bench-run.ts';
import { defaultFloor } from '../../src/cli/commands/bench.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { startUpInTemp, stopUpInTemp, type UpInTemp } from '../helpers/up-proc.ts';

let cluster: UpInTemp | undefined;
let base: string;
let dir: string;

before(async () => {
  cluster = await startUpInTemp('curvefs-bench-');
  ({ base, dir } = cluster);
});

after(() => stopUpInTemp(cluster));

type Phase = PhaseResult & { floorOpsPerSec?: number; ratioToFloor?: number };

test('bench on a curvefs mount: every phase, its latencies, the floor ratio; nothing left behind', async () => {
  const mnt = join(dir, 'mnt');
  const before = await fsp.readdir(mnt);
  const r = await runCurvefs(['--json', 'bench', mnt, '--files', '30', '--file-size', '8KiB', '--big-file-size', '2MiB', '--block-size', '256KiB']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { dir: string; floor?: string; loadAverage: number[]; phases: Phase[] };
  assert.equal(doc.dir, mnt);
  assert.equal(doc.loadAverage.length, 3);
  assert.deepEqual(doc.phases.map((p) => p.phase), [...PHASES]);
  const want: Record<string, number> = { create: 30, write: 30, stat: 30, read: 30, unlink: 30, 'big-write': 8, 'big-read': 8 };
  const floor = defaultFloor();
  assert.equal(doc.floor, floor);
  for (const p of doc.phases) {
    assert.equal(p.ops, want[p.phase], p.phase);
    assert.ok(p.opsPerSec > 0 && p.seconds > 0, `${p.phase}: ${JSON.stringify(p)}`);
    assert.ok(p.p50Ms > 0 && p.p50Ms <= p.p99Ms, `${p.phase}: p50 ${p.p50Ms} p99 ${p.p99Ms}`);
    assert.equal(p.mibPerSec !== undefined, ['write', 'read', 'big-write', 'big-read'].includes(p.phase), p.phase);
    if (floor !== undefined) assert.ok(p.floorOpsPerSec! > 0 && p.ratioToFloor === p.opsPerSec / p.floorOpsPerSec!, `${p.phase}: ${JSON.stringify(p)}`);
  }
  assert.deepEqual(await fsp.readdir(mnt), before, 'the work directory is removed from the mount');

  const table = await runCurvefs(['bench', mnt, '--files', '5', '--big-file-size', '256KiB', '--block-size', '64KiB', '--no-floor']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^curvefs bench .*5 files of 4\.0 KiB.*floor: none; load average/m);
  for (const phase of PHASES) assert.match(table.stdout, new RegExp(`^${phase} +\\d+ +\\d+ +[\\d.]+ +[\\d.]+ +[-\\d.]+ +- +-$`, 'm'));
});

test('bench --sdk runs the same phases through the SDK on the fs, and leaves nothing in it', async () => {
  const mnt = join(dir, 'mnt');
  const before = await fsp.readdir(mnt);
  const r = await runCurvefs(['--dir', dir, '--json', 'bench', '--sdk', '/', '--files', '10', '--big-file-size', '512KiB', '--block-size', '128KiB', '--no-floor']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { dir: string; via: string; phases: Phase[] };
  assert.equal(doc.via, 'sdk');
  assert.deepEqual(doc.phases.map((p) => [p.phase, p.ops]), [...PHASES].map((p) => [p, p.startsWith('big') ? 4 : 10]));
  for (const p of doc.phases) assert.ok(p.opsPerSec > 0 && p.p50Ms > 0 && p.p50Ms <= p.p99Ms && p.ratioToFloor === undefined, `${p.phase}: ${JSON.stringify(p)}`);
  assert.deepEqual(await fsp.readdir(mnt), before, 'the work directory is removed from the fs');
  const missing = await runCurvefs(['--dir', dir, 'bench', '--sdk', '/no-such-dir']);
  assert.equal(missing.code, 3, missing.stderr);
});

test('bench refuses bad input precisely: missing directory 3, a file 6, a bad count 2', async () => {
  const missing = await runCurvefs(['bench', join(base, 'nope')]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /directory .*nope does not exist/);
  const file = join(base, 'a-file');
  await fsp.writeFile(file, 'x');
  const notDir = await runCurvefs(['bench', file]);
  assert.equal(notDir.code, 6, notDir.stderr);
  assert.match(notDir.stderr, /a-file is not a directory/);
  const count = await runCurvefs(['bench', base, '--files', '0']);
  assert.equal(count.code, 2, count.stderr);
  assert.match(count.stderr, /--files <n>/);
});
