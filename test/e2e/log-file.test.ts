// `--log-file` of the long-running commands, on real processes: a `curvefs mds` made to log (each
// connection that opens with garbage instead of the RPC preface costs it a warning) writes every
// line to its file, none to stderr, and rotates the file itself into FILE.1 … FILE.keep, each
// line one JSON object; a `curvefs metaserver` logs to its file in text. Bad log flags are usage
// errors (exit 2) before anything starts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CURVEFS_BIN, runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { freePort } from '../helpers/free-port.ts';
import { waitFor } from '../helpers/wait.ts';

let base: string;

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-logfile-e2e-'));
});

after(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

interface Started {
  proc: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `curvefs ARGS`; resolves once it printed a line matching `ready` on stdout. */
async function startServing(args: string[], ready: RegExp): Promise<Started> {
  const proc = spawn(process.execPath, [CURVEFS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CURVEFS_LOG: 'info' } });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (ready.test(l)) resolve();
    });
    void exit.then((code) => reject(new Error(`curvefs ${args[0]} exited (${code}) before serving: ${stderr}`)));
  });
  return { proc, stderr: () => stderr, exit };
}

/** One connection that sends bytes that are not the RPC preface; resolves when the server closes it. */
function garbageConnection(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('NOT-A-PREFACE-AT-ALL'));
    s.on('data', () => undefined);
    s.once('error', reject);
    s.once('close', () => resolve());
  });
}

const linesOf = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
/** Lines of a file the MDS may be rotating this instant (a missing file has none). */
const linesNow = (file: string): string[] => (existsSync(file) ? linesOf(file) : []);

test('curvefs mds --log-file: every line in the file, rotated by the MDS into .1 … .keep, each line JSON', async () => {
  const port = await freePort();
  const file = join(base, 'mds.log');
  const maxBytes = 800;
  const mds = await startServing(
    ['mds', '--insecure', '--listen', `127.0.0.1:${port}`, '--data-dir', join(base, 'mds'), '--log-file', file, '--log-format', 'json', '--log-max-bytes', String(maxBytes), '--log-keep', '2'],
    /^MDS listening on/,
  );
  // Each refused connection is one warning in the log: keep making them until the MDS has
  // rotated twice (FILE.2 exists) and then once more (FILE.1 is a newer copy).
  let made = 0;
  await waitFor(async () => {
    await garbageConnection(port);
    made++;
    return [`${file}.1`, `${file}.2`].every((f) => linesNow(f).some((l) => l.includes('protocol error')));
  }, 'the MDS log to rotate twice');
  mds.proc.kill('SIGTERM');
  assert.equal(await mds.exit, 0);

  assert.equal(mds.stderr(), '', 'no log line on stderr');
  assert.equal(existsSync(`${file}.3`), false, 'the copy beyond --log-keep was deleted');
  const refused: number[] = [];
  for (const f of [`${file}.2`, `${file}.1`, file]) {
    assert.ok(statSync(f).size <= maxBytes, `${f}: ${statSync(f).size} bytes`);
    for (const l of linesOf(f)) {
      const o = JSON.parse(l) as Record<string, unknown>;
      assert.deepEqual(Object.keys(o).slice(0, 4), ['time', 'level', 'component', 'msg'], l);
      assert.ok(!Number.isNaN(Date.parse(o.time as string)), l);
      if (o.msg === 'closing connection after protocol error') refused.push(Date.parse(o.time as string));
    }
  }
  assert.ok(refused.length > 0 && refused.length <= made, `${refused.length} of ${made} refusals kept`);
  assert.deepEqual(refused, [...refused].sort((a, b) => a - b), 'oldest copy first, in order');
  const last = JSON.parse(linesOf(file).at(-1)!) as Record<string, unknown>;
  assert.equal(last.msg, 'MDS stopped', 'the last line of the stop is in the current file');
});

test('curvefs metaserver --log-file: text lines in the file, none on stderr', async () => {
  const port = await freePort();
  const file = join(base, 'ms.log');
  const ms = await startServing(['metaserver', '--insecure', '--id', '1', '--listen', `127.0.0.1:${port}`, '--data-dir', join(base, 'ms'), '--log-file', file], /^METASERVER_READY/);
  ms.proc.kill('SIGTERM');
  assert.equal(await ms.exit, 0);
  assert.equal(ms.stderr(), '');
  const lines = linesOf(file);
  assert.ok(lines.some((l) => / WARN \[security\] INSECURE metaserver/.test(l)), lines.join('\n'));
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO|WARN|ERROR) \[[^\]]+\] /);
});

test('SIGHUP reopens the log file (logrotate renames it): the process lives on and writes to the new file', async () => {
  const port = await freePort();
  const file = join(base, 'hup.log');
  const ms = await startServing(['metaserver', '--insecure', '--id', '1', '--listen', `127.0.0.1:${port}`, '--data-dir', join(base, 'ms-hup'), '--log-file', file], /^METASERVER_READY/);
  renameSync(file, `${file}.1`);
  ms.proc.kill('SIGHUP');
  await waitFor(() => existsSync(file), 'the metaserver to reopen its log file');
  await garbageConnection(port); // one more line: the refused connection's warning
  await waitFor(() => linesNow(file).some((l) => l.includes('protocol error')), 'the warning in the new file');
  ms.proc.kill('SIGTERM');
  assert.equal(await ms.exit, 0, 'SIGHUP did not kill it, SIGTERM stopped it cleanly');
  assert.ok(linesOf(`${file}.1`).some((l) => / WARN \[security\] INSECURE metaserver/.test(l)), 'the start is in the renamed file');
  const after = linesOf(file);
  assert.ok(after.every((l) => !/INSECURE metaserver/.test(l)), after.join('\n'));
  assert.ok(!linesOf(`${file}.1`).some((l) => l.includes('protocol error')), 'nothing after the reopen in the renamed file');
  assert.equal(ms.stderr(), '');
});

test('bad log flags are usage errors (exit 2) of mds, metaserver and mount, before anything starts', async () => {
  const cases: [string[], RegExp][] = [
    [['mds', '--insecure', '--data-dir', join(base, 'no-mds'), '--log-file', join(base, 'x.log'), '--log-max-bytes', '10M'], /--log-max-bytes <n>.*'10M' is invalid/],
    [['mds', '--insecure', '--data-dir', join(base, 'no-mds'), '--log-level', 'loud'], /--log-level <level>.*'loud' is invalid/],
    [['metaserver', '--insecure', '--id', '1', '--data-dir', join(base, 'no-ms'), '--log-format', 'xml'], /--log-format <format>.*'xml' is invalid.*text or json/],
    [['metaserver', '--insecure', '--id', '1', '--data-dir', join(base, 'no-ms'), '--log-keep', '3'], /--log-keep needs --log-file/],
    [['mount', 'fs', base, '--log-file', join(base, 'm.log'), '--log-keep', '0'], /--log-keep <n>.*'0' is invalid/],
  ];
  for (const [args, message] of cases) {
    const r = await runCurvefs(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  for (const f of ['no-mds', 'no-ms', 'x.log', 'm.log']) assert.equal(existsSync(join(base, f)), false, `${f} not created`);
});
