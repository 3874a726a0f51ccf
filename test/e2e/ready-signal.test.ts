// A server's "ready" line on stdout is the moment supervisors and tests act on — including by
// signalling it. Its SIGTERM handler must already be installed then: when the line came first, a
// SIGTERM sent as soon as it was read could land before the handler, where the default action
// kills the process outright (no clean stop, exit by signal) — 3–7 of 15 starts on a loaded
// 2-core machine. Each server is started and signalled at its ready line several times; every
// run must stop cleanly with exit code 0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CURVEFS_BIN } from '../helpers/curvefs-mount-proc.ts';
import { freePort } from '../helpers/free-port.ts';

const RUNS = 8;
let base: string;
before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-ready-signal-'));
});
after(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

/** Starts `curvefs ARGS`, sends SIGTERM the moment a stdout line matches `ready`; its exit. */
async function signalAtReady(args: string[], ready: RegExp): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const proc = spawn(process.execPath, [CURVEFS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  let sawReady = false;
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    if (!sawReady && ready.test(l)) {
      sawReady = true;
      proc.kill('SIGTERM');
    }
  });
  const r = await exit;
  assert.ok(sawReady, `curvefs ${args[0]} exited (${r.code ?? r.signal}) before its ready line: ${stderr}`);
  return { ...r, stderr };
}

test('a metaserver signalled at its METASERVER_READY line stops cleanly, every time', async () => {
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort();
    const r = await signalAtReady(['metaserver', '--insecure', '--id', '1', '--listen', `127.0.0.1:${port}`, '--data-dir', join(base, `ms${i}`)], /^METASERVER_READY/);
    assert.deepEqual([r.code, r.signal], [0, null], `run ${i}: ${r.stderr.slice(-500)}`);
  }
});

test('an MDS signalled at its "MDS listening" line stops cleanly, every time', async () => {
  for (let i = 0; i < RUNS; i++) {
    const [port, dash] = [await freePort(), await freePort()];
    const r = await signalAtReady(['mds', '--insecure', '--listen', `127.0.0.1:${port}`, '--dashboard-port', String(dash), '--data-dir', join(base, `mds${i}`)], /^MDS listening on /);
    assert.deepEqual([r.code, r.signal], [0, null], `run ${i}: ${r.stderr.slice(-500)}`);
  }
});
