// Bad input to the `curvefs` CLI, as an operator or a script meets it: every case a precise
// message and the exit code `curvefs --help` lists (0 ok, 1 error, 2 usage, 3 not found,
// 4 exists, 5 unavailable, 6 invalid/corrupt), JSON errors under --json, quiet exit when the
// reader of a pipe goes away. Real processes against a real cluster.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../../src/common/index.ts';
import { mountInfo } from '../../src/fuse/index.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { CURVEFS_BIN, MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';

/** Runs the CLI with its stdout pipe closed by the reader before the first byte (`| head -0`). */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CURVEFS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.destroy();
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d));
    p.once('error', reject);
    p.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** A port nothing listens on: bound by the OS, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('curvefs CLI: bad input, precise errors, exit codes', () => {
  let base: string;
  let cluster: CurvefsCluster | undefined;
  let mds: string;
  const cleanups: (() => Promise<unknown>)[] = [];
  const cli = (...args: string[]) => runCurvefs(['--mds', mds, '--fs', 'errfs', ...args]);

  before(async () => {
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-cli-errors-'));
    cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
    await cluster.createFs('errfs');
    mds = cluster.mdsAddrs.join(',');
    // Enough entries that ls and tree write more than one line.
    for (const d of ['a', 'b', 'c', 'a/x', 'a/y']) assert.equal((await cli('mkdir', `/${d}`)).code, 0);
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await cluster?.stop();
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  for (const args of [['ls', '-l', '/'], ['tree', '/'], ['--json', 'ls', '/']]) {
    test(`\`${args.join(' ')} | head\`: the reader closing the pipe ends the command quietly with 0`, async () => {
      const r = await runWithClosedStdout(['--mds', mds, '--fs', 'errfs', ...args]);
      assert.equal(r.stderr, '', 'no stack trace, no message');
      assert.equal(r.signal, null);
      assert.equal(r.code, 0);
    });
  }

  test('a foreground mount whose output pipes are closed still unmounts cleanly on SIGTERM', async () => {
    const dir = join(base, 'mnt-closed-pipes');
    await fsp.mkdir(dir);
    const p = spawn(process.execPath, [CURVEFS_BIN, '--mds', mds, 'mount', 'errfs', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    cleanups.push(async () => {
      p.kill('SIGKILL');
      if (await mountInfo(dir)) await runCurvefs(['umount', '--lazy', dir]);
    });
    await pollUntil('the mount', 60_000, async () => ((await mountInfo(dir)) ? true : undefined));
    p.stdout!.destroy();
    p.stderr!.destroy();
    p.kill('SIGTERM'); // the mount reports it on stderr, now a broken pipe
    assert.equal(await exited, 0);
    assert.equal(await mountInfo(dir), null, 'unmounted, not left dead');
  });

  test('--json: a failing command reports one JSON object on stderr with the exit code', async () => {
    const r = await cli('--json', 'stat', '/no/such/entry');
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    const e = JSON.parse(r.stderr) as { error: { message: string; code: string; exitCode: number } };
    assert.equal(e.error.code, 'ENOENT');
    assert.equal(e.error.exitCode, 3);
    assert.match(e.error.message, /\S/);
  });

  test('a local file missing is "not found" (3) like a missing path in the fs', async () => {
    const r = await cli('--json', 'put', join(base, 'no-such-local-file'), '/');
    assert.equal(r.code, 3, r.stderr);
    const e = JSON.parse(r.stderr) as { error: { message: string; code: string; exitCode: number } };
    assert.deepEqual([e.error.code, e.error.exitCode], ['ENOENT', 3]);
    const text = await cli('put', join(base, 'no-such-local-file'), '/');
    assert.equal(text.code, 3);
    assert.match(text.stderr, /^curvefs: ENOENT: no such file or directory, lstat '.*no-such-local-file'\n$/);
  });

  test('--json: a usage error is JSON too, exit 2', async () => {
    const r = await runCurvefs(['--json', 'tree', '-L', 'abc']);
    assert.equal(r.code, 2);
    const e = JSON.parse(r.stderr) as { error: { message: string; code: string; exitCode: number } };
    assert.deepEqual([e.error.code, e.error.exitCode], ['usage', 2]);
    assert.match(e.error.message, /--level.*'abc' is invalid/);
  });

  test('mkdir -m 999 is refused (not octal) and creates nothing; -m 700 works', async () => {
    const r = await cli('mkdir', '-m', '999', '/bad-mode');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--mode <octal>.*'999' is invalid\. Expected permission bits in octal/);
    assert.equal((await cli('stat', '/bad-mode')).code, 3, 'nothing was created');
    assert.equal((await cli('mkdir', '-m', '700', '/good-mode')).code, 0);
    const st = JSON.parse((await cli('--json', 'stat', '/good-mode')).stdout) as { mode: string };
    assert.equal(st.mode, '700');
  });

  test('numbers are parsed strictly: tree -L abc, mds --offline-after-ms 30s, metaserver --heartbeat-ms 1s, up --metaservers 0, …', async () => {
    for (const [args, pattern] of [
      [['tree', '-L', 'abc'], /--level <n>.*'abc' is invalid\. Expected a depth: a whole number >= 1\./],
      [['tree', '-L', '2x'], /'2x' is invalid/],
      [['mds', '--offline-after-ms', '30s', '--data-dir', join(base, 'never')], /--offline-after-ms <ms>.*'30s' is invalid\. Expected milliseconds/],
      [['up', '--metaservers', '0', '--dir', join(base, 'never')], /--metaservers <n>.*'0' is invalid/],
      [['metaserver', '--heartbeat-ms', '1s', '--data-dir', join(base, 'never')], /--heartbeat-ms <ms>.*'1s' is invalid\. Expected milliseconds/],
      [['fs', 'create', 'x', '--block-size', '4Q'], /--block-size <size>.*'4Q' is invalid/],
      [['mount', 'errfs', base, '--attr-timeout', '-1'], /--attr-timeout <sec>.*'-1' is invalid/],
    ] as const) {
      const r = await runCurvefs([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    await assert.rejects(fsp.access(join(base, 'never')), { code: 'ENOENT' }, 'nothing started');
  });

  test('help and version: `mds --help` and `metaserver --help` print help and exit 0; --version', async () => {
    for (const role of ['mds', 'metaserver']) {
      const r = await runCurvefs([role, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Usage: curvefs ${role} \\[options\\]`));
      assert.doesNotMatch(r.stderr, /outputHelp/);
    }
    const v = await runCurvefs(['--version']);
    assert.equal(v.code, 0, v.stderr);
    const pkg = JSON.parse(await fsp.readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    assert.equal(v.stdout.trim().split(' ').slice(0, 2).join(' '), `curvefs ${pkg.version}`);
  });

  test('inspect: exit 6 for a corrupt file, 3 for a missing one, as the help says', async () => {
    const help = await runCurvefs(['inspect', '--help']);
    assert.match(help.stdout, /exit 6:\s+corrupt,\s+3:\s+missing/);
    const bad = join(base, 'not-a-snapshot');
    await fsp.writeFile(bad, 'definitely not a CURVEFS snapshot file');
    const r = await runCurvefs(['inspect', bad]);
    assert.equal(r.code, 6, r.stdout + r.stderr);
    assert.match(r.stdout, /INVALID \(bad-magic/);
    const missing = await runCurvefs(['inspect', join(base, 'missing.snap')]);
    assert.equal(missing.code, 3, missing.stdout + missing.stderr);
    assert.match(missing.stdout, /UNREADABLE: ENOENT/);
  });

  test('a command against a dead cluster fails at once with what to do (exit 5)', async () => {
    const port = await deadPort();
    for (const args of [['ls', '/'], ['status'], ['fs', 'list']]) {
      const r = await runCurvefs(['--mds', `127.0.0.1:${port}`, ...args]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, new RegExp(`no MDS reachable \\(127\\.0\\.0\\.1:${port}: ECONNREFUSED\\); is the cluster running\\? Start one with \`curvefs up\``));
    }
  });

  test('mount onto a directory that is already mounted is refused (exit 4) and stacks nothing', async () => {
    const dir = join(base, 'mnt');
    await fsp.mkdir(dir);
    const m = await MountProc.start({ mdsAddrs: cluster!.mdsAddrs, fsName: 'errfs', dir });
    cleanups.push(() => m.stop());
    const r = await runCurvefs(['--mds', mds, 'mount', 'errfs', dir]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /is already a mount point \(fuse\.curvefs errfs\); unmount it first/);
    const stacked = (await fsp.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === dir);
    assert.equal(stacked.length, 1, 'one mount at the directory');
    assert.equal((await mountInfo(dir))?.fsType, 'fuse.curvefs');
    // The same refusal for --daemon, before anything is forked.
    const d = await runCurvefs(['--mds', mds, 'mount', 'errfs', dir, '--daemon', '--pid-file', join(base, 'd.pid'), '--log-file', join(base, 'd.log')]);
    assert.equal(d.code, 4, d.stderr);
    assert.equal(await m.stop(), 0);
  });
});
