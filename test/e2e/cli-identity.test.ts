// The `curvefs` file commands act as a caller, not as root (issue 13, finding F4): the invoking
// user by default, root's `--as UID:GID[:G1,...]` otherwise, and the SDK's VFS checks POSIX
// permissions for that caller as the mount does. Real CLI processes (one run as an unprivileged
// uid) against a real cluster; the setup and the checks of owners go through the SDK as root.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { connectFs, MdsAdapter, type Connection } from '../../src/client/index.ts';
import { OptionValueError } from '../../src/common/index.ts';
import { callerIdentity, parseIdentity } from '../../src/cli/identity.ts';
import { CliError } from '../../src/cli/output.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { CURVEFS_BIN, runCurvefs } from '../helpers/curvefs-mount-proc.ts';

/** An unprivileged user for the runs as non-root (exists on the test machine: see setup). */
const USER = { uid: 1000, gid: 1000 };

const REPO = resolve(import.meta.dirname, '..', '..');
/**
 * The checkout as `USER` can reach it: a clone may sit below a directory other users cannot enter
 * (such as /root), so the test bind-mounts it at a temporary directory anyone can traverse.
 */
let repoView: string | undefined;

async function openRepoView(): Promise<void> {
  const view = await fsp.mkdtemp(join(tmpdir(), 'curvefs-repo-view-'));
  await fsp.chmod(view, 0o755);
  execFileSync('mount', ['--bind', REPO, view]);
  repoView = view;
}

async function closeRepoView(): Promise<void> {
  if (!repoView) return;
  execFileSync('umount', [repoView]);
  await fsp.rmdir(repoView);
  repoView = undefined;
}

/** Runs the CLI as `USER` (the test runs as root, so it may start a process as anyone). */
function runAsUser(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const bin = join(repoView ?? REPO, relative(REPO, CURVEFS_BIN));
    const p = spawn(process.execPath, [bin, ...args], {
      uid: USER.uid,
      gid: USER.gid,
      // A home and tmp the user can write (tsx keeps its cache under the tmp directory), and a
      // working directory it can enter (esbuild, started by tsx, runs in the caller's).
      env: { ...process.env, HOME: tmpdir() },
      cwd: tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d));
    p.stderr!.on('data', (d: Buffer) => (stderr += d));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('curvefs CLI acts as its caller: permissions checked like the mount', () => {
  let base: string;
  let cluster: CurvefsCluster | undefined;
  let root: Connection | undefined;
  let mds: string;
  let local: string;
  const cli = (...args: string[]) => runCurvefs(['--mds', mds, '--fs', 'idfs', ...args]);

  let savedUmask = 0;

  before(async () => {
    // The fs keeps its blocks in a local directory standing in for S3, which every client
    // reaches whoever runs it: with umask 0 what root's clients create there (and the source
    // file of the uploads) stays usable by the unprivileged runs, so only the fs's own
    // permission checks decide.
    savedUmask = process.umask(0);
    await openRepoView();
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-cli-identity-'));
    await fsp.chmod(base, 0o777);
    local = join(base, 'payload.txt');
    await fsp.writeFile(local, 'hello from uid 1000\n', { mode: 0o644 });
    cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
    await cluster.createFs('idfs');
    // The cluster's directory is private to root; its block directory is what S3 would be.
    await fsp.chmod(join(base, 'cluster'), 0o755);
    await fsp.mkdir(join(base, 'cluster', 'data-idfs'), { recursive: true, mode: 0o777 });
    mds = cluster.mdsAddrs.join(',');
    root = await connectFs({ mds: new MdsAdapter(cluster.mds), fsName: 'idfs', pool: cluster.pool, entryTtlMs: 0, attrTtlMs: 0 });
    const { fs } = root;
    for (const [dir, mode] of [['/locked', 0o755], ['/open', 0o777], ['/sticky', 0o1777]] as const) {
      await fs.mkdir(dir);
      await fs.chmod(dir, mode);
    }
    await fs.writeFile('/sticky/roots', 'root owns this\n');
    await fs.chmod('/sticky/roots', 0o666);
    await fs.writeFile('/secret', 'root only\n');
    await fs.chmod('/secret', 0o600);
  });

  after(async () => {
    await root?.close().catch(() => undefined);
    await cluster?.stop();
    await closeRepoView();
    process.umask(savedUmask);
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  test('--as 1000:1000 put into a root-owned 0755 directory: permission denied, exit 1, nothing created', async () => {
    const r = await cli('--as', '1000:1000', 'put', local, '/locked/f');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /EACCES/);
    assert.equal(await root!.fs.exists('/locked/f'), false);
  });

  test('--as 1000:1000 put into a 0777 directory succeeds and the file belongs to 1000:1000', async () => {
    const r = await cli('--as', '1000:1000', 'put', local, '/open/f');
    assert.equal(r.code, 0, r.stderr);
    const st = await root!.fs.stat('/open/f');
    assert.deepEqual([st.uid, st.gid], [1000, 1000]);
    assert.equal(Buffer.from(await root!.fs.readFile('/open/f')).toString(), 'hello from uid 1000\n');
  });

  test("--as 1000:1000 rm of root's file in a sticky 1777 directory is refused and the file stays", async () => {
    const r = await cli('--as', '1000:1000', 'rm', '/sticky/roots');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /EPERM|EACCES/);
    assert.equal(await root!.fs.exists('/sticky/roots'), true);
  });

  test('--as with supplementary groups: group permission granted through a listed group', async () => {
    await root!.fs.mkdir('/team');
    await root!.fs.chown('/team', 0, 2000);
    await root!.fs.chmod('/team', 0o770);
    const without = await cli('--as', '1000:1000', 'put', local, '/team/f');
    assert.equal(without.code, 1, without.stderr);
    const withGroup = await cli('--as', '1000:1000:2000', 'put', local, '/team/f');
    assert.equal(withGroup.code, 0, withGroup.stderr);
    assert.equal((await root!.fs.stat('/team/f')).uid, 1000);
  });

  test('root without --as still acts as root', async () => {
    const r = await cli('put', local, '/locked/by-root');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await root!.fs.stat('/locked/by-root')).uid, 0);
  });

  test('an unprivileged user acts as itself by default: cannot read a 0600 root file, cannot write in 0755 root dir', async () => {
    const cat = await runAsUser(['--mds', mds, '--fs', 'idfs', 'cat', '/secret']);
    assert.equal(cat.code, 1, cat.stderr);
    assert.match(cat.stderr, /EACCES/);
    assert.equal(cat.stdout, '');
    const rm = await runAsUser(['--mds', mds, '--fs', 'idfs', 'rm', '/secret']);
    assert.equal(rm.code, 1, rm.stderr);
    assert.equal(await root!.fs.exists('/secret'), true);
    const put = await runAsUser(['--mds', mds, '--fs', 'idfs', 'put', local, '/open/mine']);
    assert.equal(put.code, 0, put.stderr);
    const st = await root!.fs.stat('/open/mine');
    assert.deepEqual([st.uid, st.gid], [USER.uid, USER.gid]);
  });

  test('an unprivileged user asking for another identity is refused with exit 2 before anything runs', async () => {
    const r = await runAsUser(['--mds', mds, '--fs', 'idfs', '--as', '0:0', 'rm', '/secret']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /only root may act as another user: uid 0 is not yours \(1000\)/);
    assert.equal(await root!.fs.exists('/secret'), true);
    const json = await runAsUser(['--json', '--mds', mds, '--fs', 'idfs', '--as', '1000:0', 'ls', '/']);
    assert.equal(json.code, 2, json.stderr);
    assert.deepEqual(JSON.parse(json.stderr).error.exitCode, 2);
    assert.match(json.stderr, /group 0 is not one of yours/);
  });

  for (const bad of ['1000', '1000:', ':1000', '1000:1000:', 'a:b', '1000:1000:x', '-1:0', '0x10:0', '1000:1000:1:2:3', ' 1:1', '4294967295:0']) {
    test(`--as ${JSON.stringify(bad)} is a usage error (exit 2) naming the expected form`, async () => {
      const r = await cli('--as', bad, 'ls', '/');
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /option '--as <uid:gid\[:groups\]>' argument .* is invalid\. Expected/);
    });
  }
});

describe('caller identity rules (pure)', () => {
  test('parseIdentity reads UID:GID and UID:GID:G1,G2 (duplicates dropped)', () => {
    assert.deepEqual(parseIdentity('1000:100'), { uid: 1000, gid: 100, groups: [] });
    assert.deepEqual(parseIdentity('0:0:4,27,4'), { uid: 0, gid: 0, groups: [4, 27] });
    assert.throws(() => parseIdentity('1000'), OptionValueError);
    assert.throws(() => parseIdentity('1000:+1'), OptionValueError);
  });

  test('no --as: the process identity, its primary group not repeated among the supplementary', () => {
    assert.deepEqual(callerIdentity(undefined, { uid: 1000, gid: 1000, groups: [1000, 27] }), { uid: 1000, gid: 1000, groups: [27] });
  });

  test('root may be anyone; others may only narrow their own identity', () => {
    const as = { uid: 5, gid: 6, groups: [7] };
    assert.deepEqual(callerIdentity(as, { uid: 0, gid: 0, groups: [0] }), as);
    const self = { uid: 1000, gid: 1000, groups: [1000, 27] };
    assert.deepEqual(callerIdentity({ uid: 1000, gid: 27, groups: [] }, self), { uid: 1000, gid: 27, groups: [] });
    assert.throws(() => callerIdentity({ uid: 1001, gid: 1000, groups: [] }, self), (e: unknown) => e instanceof CliError && e.exitCode === 2);
    assert.throws(() => callerIdentity({ uid: 1000, gid: 1000, groups: [0] }, self), /group 0 is not one of yours/);
  });
});
