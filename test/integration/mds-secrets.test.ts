// S3 secrets (issue [L] finding 3): the MDS never lists them (ListClusterFsInfo, the status page,
// /metrics, /api/status), its embedded store files are readable by their owner only, and
// `curvefs fs create` refuses a secret on the command line (where `ps` shows it) and takes it
// from a file or the environment instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { MdsClient, runMds, type MdsHandle } from '../../src/mds/index.ts';
import { freePort } from '../helpers/etcd.ts';
import { FakeMetaserver, FakeWorld, startFakeMetaservers } from '../helpers/fake-metaserver.ts';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';

const SECRET = 'sk-Do-Not-Leak-7f3a9c';
const ACCESS = 'AKIA-VISIBLE-ONLY-TO-CLIENTS';

let dir: string;
let mds: MdsHandle;
let client: MdsClient;
let s3: S3rverHandle;
const world = new FakeWorld();
const fakes: FakeMetaserver[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-secrets-'));
  // A store that answers to these keys: fs create writes, reads and deletes a probe object in it.
  s3 = await startS3rver({ bucket: 'b', extraKeys: [[ACCESS, SECRET]] });
  mds = await runMds({ listen: `127.0.0.1:${await freePort()}`, dataDir: join(dir, 'mds'), dashboardPort: 0 });
  client = new MdsClient({ addresses: [mds.address], deadlineMs: 20_000 });
  fakes.push(...(await startFakeMetaservers(world, 3, { mds: [mds.address], heartbeatMs: 100 }, client)));
});

after(async () => {
  for (const f of fakes) await f.close();
  client?.close();
  await mds?.stop();
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function httpGet(address: string, path: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((res, rej) => {
    request({ host, port: Number(port), path }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => res(body));
    })
      .on('error', rej)
      .end();
  });
}

/** Runs `curvefs --mds <this MDS>` with `args` in the test's directory, without the caller's S3 keys. */
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCurvefs(['--mds', mds.address, ...args], { AWS_SECRET_ACCESS_KEY: '', AWS_ACCESS_KEY_ID: '', CURVEFS_LOG: 'warn', ...env }, dir);

const s3Args = (name: string) => ['fs', 'create', name, '--s3-endpoint', s3.endpoint, '--s3-bucket', 'b', '--s3-path-style', '--s3-access-key', ACCESS];

test('fs create refuses a secret key on the command line, names the alternatives, and creates nothing', async () => {
  const r = await cli([...s3Args('on-argv'), '--s3-secret-key', SECRET]);
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /--s3-secret-key-file/);
  assert.match(r.stderr, /AWS_SECRET_ACCESS_KEY/);
  assert.ok(!r.stderr.includes(SECRET), 'the refusal does not echo the secret');
  assert.deepEqual((await client.mds.listClusterFsInfo({})).fsInfo.map((f) => f.fsName), []);
});

test('fs create takes the secret key from a file or the environment', async () => {
  const file = join(dir, 'sk.txt');
  writeFileSync(file, SECRET + '\n', { mode: 0o600 });
  const a = await cli([...s3Args('from-file'), '--s3-secret-key-file', file]);
  assert.equal(a.code, 0, a.stderr);
  const b = await cli(s3Args('from-env'), { AWS_SECRET_ACCESS_KEY: SECRET });
  assert.equal(b.code, 0, b.stderr);
  for (const name of ['from-file', 'from-env']) {
    const s3 = (await client.mds.getFsInfo({ fsName: name })).fsInfo!.dataStore!.kind;
    assert.equal(s3.case, 's3');
    assert.equal(s3.value!.sk, SECRET, `${name}: the secret was stored (trailing newline of the file dropped)`);
  }
  const missing = await cli([...s3Args('missing-file'), '--s3-secret-key-file', join(dir, 'nope')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nope/);
});

test('ListClusterFsInfo, the status page, /api/status and /metrics never carry the secret key', async () => {
  const listed = (await client.mds.listClusterFsInfo({})).fsInfo;
  assert.equal(listed.length, 2);
  for (const f of listed) {
    const s3 = f.dataStore!.kind;
    assert.equal(s3.case, 's3');
    assert.equal(s3.value!.sk, '', `${f.fsName}: secret key listed`);
    assert.equal(s3.value!.ak, '', `${f.fsName}: access key listed`);
    assert.equal(s3.value!.bucketName, 'b', 'the rest of the data store is listed');
  }
  for (const path of ['/', '/api/status', '/metrics']) {
    const body = await httpGet(mds.dashboardAddress!, path);
    assert.ok(!body.includes(SECRET) && !body.includes(ACCESS), `${path} shows a credential`);
  }
  // The RPC bounds are counted where operators look (issue [L] finding 5).
  assert.match(await httpGet(mds.dashboardAddress!, '/metrics'), /^curvefs_mds_rpc_connections_closed_total\{reason="frame_timeout"\} 0$/m);
});

test("the embedded store's files are readable by their owner only", () => {
  for (const f of ['.', 'kv.log']) {
    const mode = statSync(join(dir, 'mds', f)).mode & 0o777;
    assert.equal((mode & 0o077).toString(8), '0', `${f} has mode ${mode.toString(8)}`);
  }
});
