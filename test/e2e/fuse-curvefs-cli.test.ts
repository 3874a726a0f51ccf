// `curvefs mount` / `curvefs umount` as an operator uses them, on a real cluster: foreground mount
// ended by SIGTERM, --daemon with pid and log files, umount waiting for the daemon, kill -9 of a
// mount process and recovery by mounting again (no reboot), umount of a dead mount, and a clear
// refusal without root.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { processAlive as alive } from '../../src/common/index.ts';
import { mountInfo } from '../../src/fuse/index.ts';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { CURVEFS_BIN, MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { run } from '../helpers/fuse.ts';

const CHECKOUT = join(import.meta.dirname, '..', '..');


describe('curvefs mount and umount', () => {
  let base: string;
  let cluster: CurvefsCluster | undefined;
  let mds: string;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-cli-'));
    await fsp.chmod(base, 0o755);
    cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
    await cluster.createFs('clifs');
    mds = cluster.mdsAddrs.join(',');
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await cluster?.stop();
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  async function mountDir(name: string): Promise<string> {
    const dir = join(base, name);
    await fsp.mkdir(dir, { recursive: true });
    // Whatever a test leaves mounted goes at the end, even when it failed half way.
    cleanups.push(async () => {
      if (await mountInfo(dir)) await runCurvefs(['umount', '--lazy', dir]);
    });
    return dir;
  }

  test('foreground mount: serves until SIGTERM, then unmounts cleanly and exits 0', async () => {
    const dir = await mountDir('fg');
    const m = await MountProc.start({ mdsAddrs: cluster!.mdsAddrs, fsName: 'clifs', dir });
    cleanups.push(() => m.kill());
    assert.equal((await mountInfo(dir))?.fsType, 'fuse.curvefs');
    await fsp.writeFile(join(dir, 'fg.txt'), 'foreground');
    assert.equal(await m.stop(), 0);
    assert.equal(await mountInfo(dir), null);
  });

  test('--daemon returns once mounted; umount waits for the daemon to save and exit', async () => {
    const dir = await mountDir('daemon');
    const pidFile = join(base, 'daemon.pid');
    const logFile = join(base, 'daemon.log');
    const r = await runCurvefs(['--mds', mds, 'mount', 'clifs', dir, '--daemon', '--pid-file', pidFile, '--log-file', logFile, '--log-format', 'json'], { CURVEFS_LOG: 'info' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mounted at/);
    const pid = Number((await fsp.readFile(pidFile, 'utf8')).trim());
    cleanups.push(async () => alive(pid) && process.kill(pid, 'SIGKILL'));
    assert.ok(alive(pid));
    // Written and closed through the daemon's mount...
    await fsp.writeFile(join(dir, 'daemon.txt'), 'from the daemon mount');
    const u = await runCurvefs(['umount', dir, '--pid-file', pidFile]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(alive(pid), false, 'umount returns after the daemon exited');
    assert.equal(await mountInfo(dir), null);
    await assert.rejects(fsp.access(pidFile), { code: 'ENOENT' });
    const logged = (await fsp.readFile(logFile, 'utf8')).split('\n');
    assert.ok(logged.includes(`unmounted ${dir}`), 'the daemon\'s last stdout line is in its log');
    // The daemon's log lines, written by the daemon itself in the format asked for.
    const json = logged.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; component: string; msg: string; mountpoint?: string });
    assert.ok(json.some((o) => o.msg === 'mounted' && o.level === 'info' && o.mountpoint === dir), logged.join('\n'));
    assert.ok(json.some((o) => o.msg === 'unmounted' && o.mountpoint === dir), logged.join('\n'));
    // ... and there for the next mount.
    const m = await MountProc.start({ mdsAddrs: cluster!.mdsAddrs, fsName: 'clifs', dir });
    cleanups.push(() => m.kill());
    assert.equal(await fsp.readFile(join(dir, 'daemon.txt'), 'utf8'), 'from the daemon mount');
    await m.stop();
  });

  test('kill -9 of the mount process: the dead mount is recovered by mounting again', async () => {
    const dir = await mountDir('killed');
    const m = await MountProc.start({ mdsAddrs: cluster!.mdsAddrs, fsName: 'clifs', dir });
    await fsp.writeFile(join(dir, 'before-kill.txt'), 'saved at close');
    await m.kill();
    await assert.rejects(fsp.stat(dir), { code: 'ENOTCONN' });
    const again = await MountProc.start({ mdsAddrs: cluster!.mdsAddrs, fsName: 'clifs', dir });
    cleanups.push(() => again.kill());
    assert.equal(await fsp.readFile(join(dir, 'before-kill.txt'), 'utf8'), 'saved at close');
    await again.stop();
  });

  test('umount of a mount whose process died detaches it', async () => {
    const dir = await mountDir('dead');
    const m = await MountProc.start({ mdsAddrs: cluster!.mdsAddrs, fsName: 'clifs', dir });
    await m.kill();
    const u = await runCurvefs(['umount', dir]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /its process had died/);
    await waitUntil('the dead mount is gone', 10_000, async () => ((await mountInfo(dir)) === null ? true : undefined));
    await fsp.stat(dir);
  });

  test('umount of a directory with nothing mounted says so', async () => {
    const dir = await mountDir('empty');
    const u = await runCurvefs(['umount', dir]);
    assert.equal(u.code, 3);
    assert.match(u.stderr, /nothing is mounted/);
  });

  test('mount without root fails with a clear message and exit code 1', async () => {
    const dir = await mountDir('nonroot');
    // As nobody (uid 65534): no root, no capabilities. nobody must be able to read curvefs
    // itself, and a checkout under /root or in a 0700 directory is closed to it (the test then
    // failed on "Cannot find module" instead of on what it checks). A user who runs curvefs can
    // read its install; here a read-only bindfs view of the checkout, world-readable, stands in
    // for that. (A capability such as CAP_DAC_READ_SEARCH does not do: module resolution uses
    // access(2), which checks the real uid without capabilities.)
    const view = join(base, 'checkout-view');
    await fsp.mkdir(view);
    const b = await run('bindfs', ['-r', '--perms=a+rX', CHECKOUT, view]);
    assert.equal(b.code, 0, b.stderr);
    cleanups.push(() => run('umount', [view]));
    const bin = join(view, relative(CHECKOUT, CURVEFS_BIN));
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
    const r = await run('setpriv', [...asNobody, process.execPath, bin, '--mds', mds, 'mount', 'clifs', dir], {
      // Started in a directory nobody may enter (this one) esbuild, which tsx spawns with its
      // cwd, fails with EACCES: a real user runs curvefs from a directory of its own.
      cwd: view,
      env: { ...process.env, HOME: '/tmp' },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot mount FUSE: mounting needs root/);
  });

  test('mount of an unknown fs, or on a missing directory, fails with the matching exit code', async () => {
    const dir = await mountDir('unknown');
    const r = await runCurvefs(['--mds', mds, 'mount', 'no-such-fs', dir]);
    assert.equal(r.code, 3, r.stderr);
    const missing = await runCurvefs(['--mds', mds, 'mount', 'clifs', join(base, 'does-not-exist')]);
    assert.equal(missing.code, 6, missing.stderr);
    assert.match(missing.stderr, /mount point/);
  });
});
