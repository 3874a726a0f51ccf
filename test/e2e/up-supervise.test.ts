// `curvefs up` keeps its cluster running and stops it cleanly: a child that dies on its own
// (metaserver, MDS, mount) is restarted and logged; Ctrl-C at the terminal is a clean stop, reported
// as one; a start that fails stops everything it started.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../../src/common/index.ts';
import { mountInfo } from '../../src/fuse/index.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { alive, kill9, pidRecords, processesMentioning, UpProc } from '../helpers/up-proc.ts';

describe('curvefs up: restarts and stops', () => {
  let base: string;
  const ups: UpProc[] = [];

  before(async () => {
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-up-'));
  });

  after(async () => {
    for (const u of ups) await u.interrupt().catch(() => undefined);
    // Whatever a failed test left behind.
    for (const d of ['a', 'b']) for (const pid of processesMentioning(join(base, d))) process.kill(pid, 'SIGKILL');
    if (await mountInfo(join(base, 'a', 'mnt'))) await runCurvefs(['umount', '--lazy', join(base, 'a', 'mnt')]);
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  test('a crashed metaserver, MDS and mount are restarted; Ctrl-C stops everything cleanly', async () => {
    const dir = join(base, 'a');
    const up = UpProc.start(dir);
    ups.push(up);
    await up.waitUp();
    const mnt = join(dir, 'mnt');
    assert.match(up.output, new RegExp(`^mount {7}${mnt} \\(fs curvefs`, 'm'));
    await fsp.writeFile(join(mnt, 'f.txt'), 'written before the crashes');

    const ms2 = pidRecords(dir).get('metaserver2')!;
    await kill9(ms2);
    await up.waitForLine(/^metaserver2 exited unexpectedly \(signal SIGKILL\); restarting in [\d.]+ s \(restart 1\)/);
    const [, newPid] = await up.waitForLine(/^metaserver2 restarted \(pid (\d+)\)$/);
    assert.equal(pidRecords(dir).get('metaserver2')!.pid, Number(newPid));
    await pollUntil('3 metaservers online', 60_000, async () => {
      const r = await runCurvefs(['--dir', dir, '--json', 'status']);
      const doc = JSON.parse(r.stdout) as { metaservers: Array<{ state: string }> };
      return doc.metaservers.filter((m) => m.state === 'ONLINE').length === 3 ? true : undefined;
    });

    await kill9(pidRecords(dir).get('mds')!);
    await up.waitForLine(/^mds exited unexpectedly \(signal SIGKILL\); restarting in/);
    await up.waitForLine(/^mds restarted \(pid \d+\)$/);
    await pollUntil('the restarted MDS answering, 3 metaservers online', 60_000, async () => {
      const r = await runCurvefs(['--dir', dir, '--json', 'status']);
      if (r.code !== 0) return undefined;
      const doc = JSON.parse(r.stdout) as { metaservers: Array<{ state: string }> };
      return doc.metaservers.filter((m) => m.state === 'ONLINE').length === 3 ? true : undefined;
    });

    await kill9(pidRecords(dir).get('mount')!);
    await up.waitForLine(/^mount exited unexpectedly \(signal SIGKILL\)/);
    await up.waitForLine(/^mount restarted \(pid \d+\)$/);
    // The restarted mount clears the dead one (ENOTCONN until then) and serves the same files.
    const text = await pollUntil('the remount', 60_000, async () => await fsp.readFile(join(mnt, 'f.txt'), 'utf8'));
    assert.equal(text, 'written before the crashes');

    const running = [...pidRecords(dir).values()];
    assert.deepEqual(running.map((r) => r.name).sort(), ['mds', 'metaserver1', 'metaserver2', 'metaserver3', 'mount', 'up']);
    const sigint = up.lines.length;
    assert.equal(await up.interrupt(), 0, up.output);
    const after = up.lines.slice(sigint).join('\n');
    assert.match(after, /^SIGINT: stopping the cluster\ncluster stopped$/);
    assert.doesNotMatch(after, /unexpectedly/);
    for (const r of running) assert.equal(alive(r), false, `${r.name} (pid ${r.pid}) stopped`);
    assert.equal(pidRecords(dir).size, 0, 'no pid files left');
    assert.equal(await mountInfo(mnt), null, 'unmounted');
  });

  test('a start that fails (an unusable mount point) stops what it started and exits 1', async () => {
    const dir = join(base, 'b');
    await fsp.mkdir(dir, { recursive: true });
    const notADir = join(dir, 'not-a-dir');
    await fsp.writeFile(notADir, '');
    const up = UpProc.start(dir, ['--mount-dir', notADir]);
    ups.push(up);
    assert.equal(await up.exited, 1, up.output);
    assert.match(up.output, /^curvefs: cannot mount at .*not-a-dir: not a directory$/m);
    assert.deepEqual(processesMentioning(dir), [], 'no process of the cluster is left');
    assert.equal(pidRecords(dir).size, 0);
  });
});
