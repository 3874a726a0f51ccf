// An MDS or metaserver started from the command line without a cluster key does not start
// unless told --insecure (docs/security.md, "Running without security"); --insecure with a key
// or certificates is a contradiction; an --insecure process says so loudly. Real `curvefs`
// processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterKey } from '../../src/mds/index.ts';
import { CURVEFS_BIN } from '../helpers/curvefs-mount-proc.ts';

let base: string;

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-insecure-'));
});

after(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

interface Outcome {
  /** Exit code, or 'serving' when it printed its ready line (it is stopped then). */
  result: number | 'serving';
  stderr: string;
}

/**
 * Runs `curvefs ARGS` until it exits or prints the line a serving MDS / metaserver prints; a
 * serving process is stopped with SIGTERM and waited for.
 */
function startOrRefuse(args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CURVEFS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CURVEFS_LOG: 'info' } });
    let stderr = '';
    let serving = false;
    p.stderr!.on('data', (d: Buffer) => (stderr += d));
    createInterface({ input: p.stdout! }).on('line', (l) => {
      if (/^(MDS listening on|METASERVER_READY)/.test(l) && !serving) {
        serving = true;
        p.kill('SIGTERM');
      }
    });
    p.once('error', reject);
    p.once('close', (code) => resolve({ result: serving ? 'serving' : (code ?? -1), stderr }));
  });
}

test('an MDS or metaserver without --auth-key-file and without --insecure does not start (exit 2, what to do)', async () => {
  const mdsDir = join(base, 'mds-refused');
  const mds = await startOrRefuse(['mds', '--listen', '127.0.0.1:0', '--data-dir', mdsDir]);
  assert.equal(mds.result, 2, mds.stderr);
  assert.match(mds.stderr, /no --auth-key-file: the mds would let anyone .* or say --insecure/);
  await assert.rejects(fsp.access(mdsDir), { code: 'ENOENT' }, 'nothing was created');

  const msDir = join(base, 'ms-refused');
  const ms = await startOrRefuse(['metaserver', '--listen', '127.0.0.1:0', '--data-dir', msDir, '--id', '1']);
  assert.equal(ms.result, 2, ms.stderr);
  assert.match(ms.stderr, /no --auth-key-file: the metaserver would let anyone/);
  await assert.rejects(fsp.access(msDir), { code: 'ENOENT' }, 'nothing was created');
});

test('--insecure together with a key or certificates is refused', async () => {
  const keyFile = join(base, 'cluster.key');
  ClusterKey.generate().save(keyFile);
  const withKey = await startOrRefuse(['mds', '--listen', '127.0.0.1:0', '--data-dir', join(base, 'never'), '--insecure', '--auth-key-file', keyFile]);
  assert.equal(withKey.result, 2, withKey.stderr);
  assert.match(withKey.stderr, /--insecure contradicts --auth-key-file/);
  const withTls = await startOrRefuse(['metaserver', '--listen', '127.0.0.1:0', '--data-dir', join(base, 'never'), '--id', '1', '--insecure', '--tls-dir', base, '--tls-name', 'x']);
  assert.equal(withTls.result, 2, withTls.stderr);
  assert.match(withTls.stderr, /--insecure contradicts --tls-dir/);
  await assert.rejects(fsp.access(join(base, 'never')), { code: 'ENOENT' });
});

test('with --insecure an MDS and a metaserver start and say loudly that they are open', async () => {
  const mds = await startOrRefuse(['mds', '--listen', '127.0.0.1:0', '--data-dir', join(base, 'mds-open'), '--insecure']);
  assert.equal(mds.result, 'serving', mds.stderr);
  assert.match(mds.stderr, /INSECURE mds \(--insecure\): no authentication, no TLS/);
  const ms = await startOrRefuse(['metaserver', '--listen', '127.0.0.1:0', '--data-dir', join(base, 'ms-open'), '--id', '1', '--insecure']);
  assert.equal(ms.result, 'serving', ms.stderr);
  assert.match(ms.stderr, /INSECURE metaserver \(--insecure\): no authentication, no TLS/);
});

test('with the cluster key an MDS starts without --insecure and without the warning', async () => {
  const keyFile = join(base, 'cluster2.key');
  ClusterKey.generate().save(keyFile);
  const mds = await startOrRefuse(['mds', '--listen', '127.0.0.1:0', '--data-dir', join(base, 'mds-keyed'), '--auth-key-file', keyFile]);
  assert.equal(mds.result, 'serving', mds.stderr);
  assert.doesNotMatch(mds.stderr, /INSECURE/);
});
