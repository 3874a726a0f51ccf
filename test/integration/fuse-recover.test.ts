// Mount lifecycle across processes: SIGTERM unmounts cleanly; a server killed with SIGKILL leaves
// a dead mount ("Transport endpoint is not connected") that recoverStaleMount clears so the same
// directory mounts again without a reboot.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountInfo, recoverStaleMount, unmountDir } from '../../src/fuse/index.ts';
import { startMemFsServer, waitFor, type ServedMount } from '../helpers/fuse.ts';

describe('fuse mount lifecycle', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  test('SIGTERM to the server unmounts before it exits', async () => {
    const m = await startMemFsServer();
    cleanups.push(() => m.stop());
    await fsp.writeFile(join(m.dir, 'f'), 'x');
    assert.equal((await mountInfo(m.dir))?.fsType, 'fuse.curvefs');
    const exit = new Promise<[number | null, NodeJS.Signals | null]>((r) => m.child.once('exit', (c, sig) => r([c, sig])));
    m.child.kill('SIGTERM');
    const [code, sig] = await exit;
    assert.ok(sig === 'SIGTERM' || code === 0, `server ended by the signal or cleanly (code ${code}, signal ${sig})`);
    assert.equal(await mountInfo(m.dir), null, 'no mount left behind');
  });

  test('a mount whose server was killed is recovered and mounted again', async () => {
    const base = await mkdtemp(join(tmpdir(), 'curvefs-fuse-recover-'));
    const dir = join(base, 'mnt');
    await fsp.mkdir(dir);
    cleanups.push(async () => {
      if (await mountInfo(dir)) await unmountDir(dir, { lazy: true });
      await fsp.rm(base, { recursive: true, force: true });
    });

    const first = await startMemFsServer({}, dir);
    await fsp.writeFile(join(dir, 'f'), 'x');
    const dead = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await dead;
    await assert.rejects(fsp.stat(join(dir, 'f')), { code: 'ENOTCONN' });
    assert.equal(await recoverStaleMount(dir), true);
    assert.equal(await mountInfo(dir), null);

    let second: ServedMount | undefined;
    try {
      second = await startMemFsServer({}, dir);
      assert.equal(await recoverStaleMount(dir), false, 'a live mount is left alone');
      await fsp.writeFile(join(dir, 'g'), 'y');
      assert.deepEqual(await fsp.readdir(dir), ['g'], 'a fresh file system');
    } finally {
      await second?.stop();
    }
    await waitFor(async () => (await mountInfo(dir)) === null, 'second mount gone');
  });

  test('mountFuse refuses a missing mount point with a clear error', async () => {
    await assert.rejects(startMemFsServer({}, join(tmpdir(), 'curvefs-no-such-dir-x', 'mnt')), /cannot mount FUSE: mount of .* failed/);
  });
});
