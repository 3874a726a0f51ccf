// `curvefs fs create` probes the data store (issue [K] item 4): against a real MDS process and a
// real S3 server (s3rver), an fs whose store refuses connections, names a bucket that does not
// exist, carries an unknown access key, accepts connections and never answers, or is a read-only directory is refused at once with the store's
// own error and exit 6, and nothing is created; a usable store gets its fs and keeps no probe
// object.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { MdsClient } from '../../src/mds/index.ts';
import { blockStoreConfigOf, openBlockStore } from '../../src/data/index.ts';
import { DataStoreSchema } from '../../src/gen/mds_pb.ts';
import { freePort } from '../helpers/etcd.ts';
import { FakeMetaserver, FakeWorld, startFakeMetaservers } from '../helpers/fake-metaserver.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';

let dir: string;
let mds: MdsProcess;
let s3: S3rverHandle;
let client: MdsClient;
let readOnly: string | undefined;
const world = new FakeWorld();
const fakes: FakeMetaserver[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-probe-'));
  s3 = await startS3rver();
  mds = await MdsProcess.spawn({ etcd: [], dataDir: join(dir, 'mds'), journal: join(dir, 'journal') });
  client = new MdsClient({ addresses: [mds.address], deadlineMs: 10_000 });
  fakes.push(...(await startFakeMetaservers(world, 3, { mds: [mds.address], heartbeatMs: 100 }, client)));
});

after(async () => {
  for (const f of fakes) await f.close();
  client?.close();
  await mds?.stop();
  await s3?.stop();
  if (readOnly) execFileSync('umount', [readOnly]);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `curvefs --mds <this MDS>` with `args` in the test's directory, without the caller's S3 keys. */
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCurvefs(['--mds', mds.address, ...args], { AWS_SECRET_ACCESS_KEY: '', AWS_ACCESS_KEY_ID: '', CURVEFS_LOG: 'warn', ...env }, dir);

const fsNames = async () => (await client.mds.listClusterFsInfo({})).fsInfo.map((f) => f.fsName).sort();

const s3Args = (name: string, endpoint: string, bucket: string, ak: string) => ['fs', 'create', name, '--s3-endpoint', endpoint, '--s3-bucket', bucket, '--s3-access-key', ak, '--s3-path-style'];

async function refusedWith(args: string[], env: Record<string, string>, message: RegExp): Promise<void> {
  const before = await fsNames();
  const r = await cli(args, env);
  assert.equal(r.code, 6, `exit code: ${r.stderr}`);
  assert.match(r.stderr, /data store unusable: /);
  assert.match(r.stderr, message);
  assert.match(r.stderr, /no fs was created/);
  assert.deepEqual(await fsNames(), before, 'nothing was created');
}

test('an S3 endpoint nobody listens on is refused at fs create, exit 6, nothing created', async () => {
  const endpoint = `http://127.0.0.1:${await freePort()}`;
  await refusedWith(s3Args('dead-endpoint', endpoint, 'b', 'AK'), { AWS_SECRET_ACCESS_KEY: 'SK' }, new RegExp(`S3 bucket b at ${endpoint}: cannot write a probe object .*ECONNREFUSED`));
});

test('an S3 endpoint that accepts connections and never answers is refused within the probe budget', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((sock) => void sockets.add(sock)); // reads nothing, answers nothing
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    await refusedWith(s3Args('silent-endpoint', endpoint, 'b', 'AK'), { AWS_SECRET_ACCESS_KEY: 'SK' }, /cannot write a probe object .*(no answer within 3000 ms|TimeoutError|timed out)/i);
  } finally {
    for (const sock of sockets) sock.destroy();
    await new Promise((r) => silent.close(r));
  }
});

test('a bucket that does not exist and an unknown access key are refused with what S3 said', async () => {
  const { accessKeyId, secretAccessKey } = s3.credentials;
  await refusedWith(s3Args('no-bucket', s3.endpoint, 'no-such-bucket', accessKeyId), { AWS_SECRET_ACCESS_KEY: secretAccessKey }, /cannot write a probe object .*NoSuchBucket/);
  // (s3rver checks the access key, not a V4 signature: a wrong secret would pass it.)
  await refusedWith(s3Args('bad-key', s3.endpoint, s3.bucket, 'NO-SUCH-KEY'), { AWS_SECRET_ACCESS_KEY: 'a-secret-of-the-test' }, /cannot write a probe object .*InvalidAccessKeyId/);
  const r = await cli(s3Args('bad-key', s3.endpoint, s3.bucket, 'NO-SUCH-KEY'), { AWS_SECRET_ACCESS_KEY: 'a-secret-of-the-test' });
  assert.ok(!r.stderr.includes('a-secret-of-the-test'), 'the refusal does not echo the secret');
});

test('a read-only local directory is refused (EROFS), nothing created', async () => {
  readOnly = join(dir, 'ro');
  mkdirSync(readOnly);
  // Root writes through permission bits: only a read-only mount makes a directory unwritable.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'curvefs-probe-ro', readOnly]);
  await refusedWith(['fs', 'create', 'read-only', '--local-dir', readOnly], {}, new RegExp(`local directory ${readOnly}: cannot write in it: EROFS`));
});

test('usable stores (S3, a local directory) get their fs and keep no probe object', async () => {
  const { accessKeyId, secretAccessKey } = s3.credentials;
  const a = await cli(s3Args('on-s3', s3.endpoint, s3.bucket, accessKeyId), { AWS_SECRET_ACCESS_KEY: secretAccessKey });
  assert.equal(a.code, 0, a.stderr);
  const local = join(dir, 'blocks');
  const b = await cli(['fs', 'create', 'on-disk', '--local-dir', local]);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(await fsNames(), ['on-disk', 'on-s3']);

  const bucket = await openBlockStore(
    blockStoreConfigOf(create(DataStoreSchema, { kind: { case: 's3', value: { endpoint: s3.endpoint, bucketName: s3.bucket, ak: accessKeyId, sk: secretAccessKey, pathStyle: true } } }))!,
  );
  const keys: string[] = [];
  for await (const e of bucket.list('')) keys.push(e.key);
  await bucket.close();
  assert.deepEqual(keys, [], 'the probe object was deleted from the bucket');
  const files = readdirSync(join(local, 'objects'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  assert.deepEqual(files.map((e) => e.name), [], 'the probe object was deleted from the directory');
});
