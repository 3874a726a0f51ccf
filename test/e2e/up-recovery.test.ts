// `curvefs up` (what `npm start` runs) recovers by itself from how it was last stopped: after a
// kill -9 of `up` alone its children are left running (they hold the ports and data
// directories) and are stopped; after a kill -9 of every process the dead FUSE mount
// (ENOTCONN or ECONNABORTED, on which even mkdir fails) is cleared and mounted again; a second `up` on a
// running cluster is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountInfo } from '../../src/fuse/index.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { alive, kill9, pidRecords, processesMentioning, UpProc } from '../helpers/up-proc.ts';

describe('curvefs up: recovery after kill -9', () => {
  let base: string;
  let dir: string;
  const ups: UpProc[] = [];

  before(async () => {
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-up-recovery-'));
    dir = join(base, 'cluster');
  });

  after(async () => {
    for (const u of ups) await u.interrupt().catch(() => undefined);
    // Whatever a failed test left behind.
    for (const pid of processesMentioning(dir)) process.kill(pid, 'SIGKILL');
    if (await mountInfo(join(dir, 'mnt'))) await runCurvefs(['umount', '--lazy', join(dir, 'mnt')]);
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  test('kill -9 of up alone: the next up stops the orphans and starts afresh', async () => {
    const first = UpProc.start(dir);
    ups.push(first);
    await first.waitUp();
    await fsp.writeFile(join(dir, 'mnt', 'kept.txt'), 'across every restart');
    const children = [...pidRecords(dir).values()].filter((r) => r.name !== 'up');
    assert.equal(children.length, 5, 'mds, 3 metaservers, mount');
    await first.kill9();
    for (const r of children) assert.ok(alive(r), `${r.name} outlives a kill -9 of up`);

    const second = UpProc.start(dir);
    ups.push(second);
    await second.waitUp();
    for (const r of children) {
      assert.match(second.output, new RegExp(`^${r.name} +(stopped|killed) pid ${r.pid}, left running by a \`curvefs up\` that died$`, 'm'));
      assert.equal(alive(r), false);
    }
    assert.equal(await fsp.readFile(join(dir, 'mnt', 'kept.txt'), 'utf8'), 'across every restart');

    // While it runs, another up on the same directory is refused and changes nothing.
    const third = UpProc.start(dir);
    assert.equal(await third.exited, 1);
    assert.match(third.output, new RegExp(`^curvefs: \`curvefs up\` is already running for ${dir} \\(pid ${second.pid}\\)`, 'm'));
    assert.equal(pidRecords(dir).get('up')?.pid, second.pid);
  });

  test('kill -9 of every process: the next up clears the dead mount and serves the same files', async () => {
    const records = [...pidRecords(dir).values()];
    // up first, so that nothing is restarted behind our back.
    for (const r of records.sort((a, b) => (a.name === 'up' ? -1 : b.name === 'up' ? 1 : 0))) await kill9(r);
    // A dead FUSE mount answers ENOTCONN, or ECONNABORTED when a request was cut off mid-way.
    // (readdir, not stat: a stat within the attribute timeout is answered from the kernel's cache
    // without asking the dead server.)
    await assert.rejects(fsp.readdir(join(dir, 'mnt')), (e: NodeJS.ErrnoException) => e.code === 'ENOTCONN' || e.code === 'ECONNABORTED');

    const again = UpProc.start(dir);
    ups.push(again);
    await again.waitUp();
    assert.match(again.output, /^mount +cleared the dead mount at .*\/mnt \(its process had died\)$/m);
    assert.equal(await fsp.readFile(join(dir, 'mnt', 'kept.txt'), 'utf8'), 'across every restart');
    assert.equal(await again.interrupt(), 0, again.output);
    assert.deepEqual(processesMentioning(dir), []);
  });
});
