// `curvefs fs delete --force` (issue [K]): an fs whose data store cannot be reached stays
// FS_DELETING for ever — each reclaim pass deletes its partitions, fails on the store and retries —
// until `--force` says to leave its blocks where they are; then its metadata is reclaimed and it
// is gone. `--force` on a live fs deletes it without touching its blocks (a local store keeps
// every object); an unknown name is exit 3 and changes nothing. An fs whose metaservers already
// opened its store (S3, then cut off) and keep failing to delete its files' blocks is also
// unstuck by `--force`: they ask the MDS again and drop its partitions without touching the
// blocks. Real etcd, MDS, metaservers, CLI, s3rver behind a TCP proxy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { DataStoreSchema, MdsService } from '../../src/gen/mds_pb.ts';
import { blockStoreConfigOf, openBlockStore } from '../../src/data/index.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { EtcdCluster } from '../helpers/etcd.ts';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

let base: string;
let etcd: EtcdCluster | undefined;
let cluster: CurvefsCluster | undefined;
let s3: S3rverHandle | undefined;
let proxy: TcpProxy | undefined;

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-fs-delete-'));
  etcd = await EtcdCluster.start({ baseDir: base });
  cluster = await CurvefsCluster.start({
    dir: join(base, 'cluster'),
    mdsArgs: ['--etcd', etcd.endpoints().join(','), '--fs-scan-ms', '200'],
    metaserverArgs: () => ['--reclaim-interval-ms', '200'],
  });
});

after(async () => {
  await proxy?.close();
  await s3?.stop();
  await cluster?.stop();
  await etcd?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCurvefs(['--mds', cluster!.mdsAddrs.join(','), ...args]);

async function listed(): Promise<Array<{ name: string; status: string; id: number }>> {
  const r = await cli('--json', 'fs', 'list');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Array<{ name: string; status: string; id: number }>;
}

/** An fs whose S3 endpoint then refuses every connection: created on an s3rver (fs create probes
 *  the store) that stops right after, leaving a port nobody listens on. */
async function createDeadS3Fs(name: string): Promise<number> {
  const gone = await startS3rver({ bucket: 'gone' });
  try {
    const res = await cluster!.mds.client(MdsService).createFs({
      fsName: name,
      dataStore: { kind: { case: 's3', value: { endpoint: gone.endpoint, bucketName: gone.bucket, ak: gone.credentials.accessKeyId, sk: gone.credentials.secretAccessKey, pathStyle: true } } },
    });
    return res.fsInfo!.fsId;
  } finally {
    await gone.stop();
  }
}

const reclaimFailures = (fsId: number) => cluster!.mdsLog.filter((l) => l.includes('fs reclaim pass failed') && l.includes(`"fsId":${fsId}`)).length;

test('an fs on an unreachable store stays FS_DELETING; --force then reclaims it, blocks left', async () => {
  const id = await createDeadS3Fs('dead-s3');
  const del = await cli('fs', 'delete', 'dead-s3');
  assert.equal(del.code, 0, del.stderr);
  // Pass after pass fails on the store, and the fs stays.
  await waitFor(() => reclaimFailures(id) >= 2, `two failed reclaim passes of fs ${id}:\n${cluster!.mdsLog.slice(-5).join('\n')}`);
  assert.deepEqual((await listed()).filter((f) => f.id === id).map((f) => f.status), ['FS_DELETING']);

  const force = await cli('fs', 'delete', '--force', 'dead-s3');
  assert.equal(force.code, 0, force.stderr);
  assert.match(force.stdout, /its blocks stay in its data store/);
  await waitFor(async () => !(await listed()).some((f) => f.id === id), `fs ${id} reclaimed after --force`);
});

test('--force on a live fs: deleted, its blocks untouched; an unknown name is exit 3', async () => {
  const id = await cluster!.createFs('kept-data');
  const local = join(base, 'payload.bin');
  await fsp.writeFile(local, Buffer.alloc(256 * 1024, 3));
  const put = await cli('--fs', 'kept-data', 'put', local, '/payload.bin');
  assert.equal(put.code, 0, put.stderr);
  const dataDir = join(cluster!.dir, 'data-kept-data');
  const objects = async () => (await fsp.readdir(dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
  const before = await objects();
  assert.ok(before.length > 0, 'the put wrote no block');

  const del = await cli('--json', 'fs', 'delete', '--force', 'kept-data');
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(JSON.parse(del.stdout), { deleted: 'kept-data', keepData: true });
  await waitFor(async () => !(await listed()).some((f) => f.id === id), `fs ${id} reclaimed`);
  // The MDS drops the record only once the metaservers have dropped every partition of the fs
  // (PARTITION_DELETING until then), which is when they delete the files' blocks if the MDS names
  // a data store: every block is still there.
  assert.deepEqual(await objects(), before);

  const others = await listed();
  const missing = await cli('fs', 'delete', '--force', 'no-such-fs');
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /fs no-such-fs not found/);
  assert.deepEqual(await listed(), others);
});

test('metaservers failing to delete blocks from a store they already opened: --force drops the fs, blocks kept', async () => {
  s3 = await startS3rver();
  proxy = await TcpProxy.start(s3.endpoint);
  const s3Store = { bucketName: s3.bucket, ak: s3.credentials.accessKeyId, sk: s3.credentials.secretAccessKey, pathStyle: true };
  const res = await cluster!.mds.client(MdsService).createFs({
    fsName: 'cut-s3',
    dataStore: { kind: { case: 's3', value: { endpoint: `http://127.0.0.1:${proxy.port}`, ...s3Store } } },
  });
  const id = res.fsInfo!.fsId;
  const local = join(base, 'cut-payload.bin');
  await fsp.writeFile(local, Buffer.alloc(256 * 1024, 5));
  const put = await cli('--fs', 'cut-s3', 'put', local, '/payload.bin');
  assert.equal(put.code, 0, put.stderr);
  // The objects, listed from s3rver directly (not through the proxy).
  const direct = await openBlockStore(blockStoreConfigOf(create(DataStoreSchema, { kind: { case: 's3', value: { endpoint: s3.endpoint, ...s3Store } } }))!);
  const objects = async () => {
    const keys: string[] = [];
    for await (const e of direct.list('')) keys.push(e.key);
    return keys.sort();
  };
  const before = await objects();
  assert.ok(before.length > 0, 'the put wrote no block');

  proxy.cut('reset');
  const failures = () => cluster!.metaservers.procs.flatMap((p) => p.stderr).filter((l) => l.includes('reclaim pass failed')).length;
  const failedBefore = failures();
  const del = await cli('fs', 'delete', 'cut-s3');
  assert.equal(del.code, 0, del.stderr);
  // The leader of the fs's partition opened the store and fails on it, pass after pass.
  await waitFor(() => failures() >= failedBefore + 2, `two failed metaserver reclaim passes of fs ${id}`);
  assert.deepEqual((await listed()).filter((f) => f.id === id).map((f) => f.status), ['FS_DELETING']);

  const force = await cli('fs', 'delete', '--force', 'cut-s3');
  assert.equal(force.code, 0, force.stderr);
  await waitFor(async () => !(await listed()).some((f) => f.id === id), `fs ${id} reclaimed after --force`);
  assert.deepEqual(await objects(), before);
  await direct.close();
});
