// Authentication and authorisation at the MDS (issue [L] finding 2), against a real MDS process
// started with a cluster key: callers without a credential (or with a forged one) are refused
// with UNAUTHENTICATED and change nothing; an fs client's token mounts its own fs and nothing
// else (FORBIDDEN); the cluster token registers metaservers; the admin token deletes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusCode } from '../../src/common/index.ts';
import { ClusterKey, MdsClient } from '../../src/mds/index.ts';
import { ChannelPool, TOKEN_FILE_ENV } from '../../src/rpc/index.ts';
import { FsStatus } from '../../src/gen/mds_pb.ts';
import { waitFor } from '../helpers/etcd.ts';
import { FakeMetaserver, FakeWorld, startFakeMetaservers } from '../helpers/fake-metaserver.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';
import { rejectsWithStatus as refused } from '../helpers/assert-status.ts';

const SECRET = 'sk-auth-test-secret';
let dir: string;
let key: ClusterKey;
let mds: MdsProcess;
let s3: S3rverHandle;
const world = new FakeWorld();
const fakes: FakeMetaserver[] = [];
const clients: MdsClient[] = [];

/** An MDS client presenting `credential` (none: undefined). */
function clientWith(credential: string | undefined): MdsClient {
  const c = new MdsClient({ addresses: [mds.address], pool: new ChannelPool({ credential, defaultTimeoutMs: 5000 }), deadlineMs: 10_000 });
  clients.push(c);
  return c;
}

let admin: MdsClient;
let anonymous: MdsClient;

before(async () => {
  delete process.env[TOKEN_FILE_ENV]; // this process's pools carry only what each test gives them
  dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-auth-'));
  key = ClusterKey.generate();
  key.save(join(dir, 'cluster.key'));
  mds = await MdsProcess.spawn({ etcd: [], dataDir: join(dir, 'mds'), journal: join(dir, 'journal'), args: ['--auth-key-file', join(dir, 'cluster.key')] });
  admin = clientWith(key.token({ role: 'admin' }));
  anonymous = clientWith(undefined);
  fakes.push(...(await startFakeMetaservers(world, 3, { mds: [mds.address], heartbeatMs: 100, credential: key.token({ role: 'cluster' }) }, admin)));
  // A store that answers: fs create writes, reads and deletes a probe object in it.
  s3 = await startS3rver({ bucket: 'b', extraKeys: [['AK', SECRET]] });
  for (const name of ['alpha', 'beta']) {
    await admin.mds.createFs({
      fsName: name,
      dataStore: { kind: { case: 's3', value: { endpoint: s3.endpoint, bucketName: 'b', ak: 'AK', sk: SECRET, pathStyle: true } } },
    });
  }
});

after(async () => {
  for (const f of fakes) await f.close();
  for (const c of clients) c.close();
  await mds?.stop();
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});


const mountpoint = { hostname: 'h', port: 1, path: '/mnt/alpha' };

/** The listing without the usage figures, which the metaservers' heartbeats move on their own. */
function withoutUsage(r: { fsInfo: object[] }): object[] {
  return r.fsInfo.map((f) => {
    const { usedBytes: _b, usedInodes: _i, usageComplete: _c, ...rest } = f as { usedBytes: number; usedInodes: number; usageComplete: boolean };
    return rest;
  });
}

test('without a credential DeleteFs, UmountFs, RegistMetaServer, CreateFs and listings are refused and change nothing', async () => {
  const alpha = clientWith(key.token({ role: 'fs', fsName: 'alpha' }));
  const session = await alpha.mds.mountFs({ fsName: 'alpha', mountpoint });
  const before = withoutUsage(await admin.mds.listClusterFsInfo({}));
  const metaservers = (await admin.topology.listMetaServer({})).metaserverInfos.length;

  await refused(anonymous.mds.deleteFs({ fsName: 'alpha' }), StatusCode.UNAUTHENTICATED, /DeleteFs needs a credential/);
  await refused(anonymous.mds.umountFs({ fsName: 'alpha', sessionId: session.sessionId }), StatusCode.UNAUTHENTICATED);
  await refused(
    anonymous.topology.registMetaServer({ hostName: 'evil', internalIp: '127.0.0.1', internalPort: 1, externalIp: '127.0.0.1', externalPort: 1 }),
    StatusCode.UNAUTHENTICATED,
  );
  await refused(anonymous.mds.createFs({ fsName: 'gamma', dataStore: { kind: { case: 'local', value: { dir: '/tmp/x' } } } }), StatusCode.UNAUTHENTICATED);
  await refused(anonymous.mds.listClusterFsInfo({}), StatusCode.UNAUTHENTICATED);
  await refused(anonymous.mds.getFsInfo({ fsName: 'alpha' }), StatusCode.UNAUTHENTICATED);
  await refused(anonymous.heartbeat.metaServerHeartbeat({ metaserverId: 1 }), StatusCode.UNAUTHENTICATED);

  assert.deepEqual(withoutUsage(await admin.mds.listClusterFsInfo({})), before);
  const fs = (await admin.mds.getFsInfo({ fsName: 'alpha' })).fsInfo!;
  assert.equal(fs.status, FsStatus.FS_INITED);
  assert.deepEqual(fs.mountpoints.map((m) => m.sessionId), [session.sessionId]);
  assert.equal((await admin.topology.listMetaServer({})).metaserverInfos.length, metaservers);
  await alpha.mds.umountFs({ fsName: 'alpha', sessionId: session.sessionId });
});

test('a forged token (another cluster key, a tampered subject) is refused with UNAUTHENTICATED', async () => {
  const other = ClusterKey.generate();
  await refused(clientWith(other.token({ role: 'admin' })).mds.deleteFs({ fsName: 'alpha' }), StatusCode.UNAUTHENTICATED, /not issued by this cluster/);
  const beta = key.token({ role: 'fs', fsName: 'beta' });
  const tampered = beta.replace('fs:beta', 'admin');
  await refused(clientWith(tampered).mds.deleteFs({ fsName: 'alpha' }), StatusCode.UNAUTHENTICATED);
  await refused(clientWith('garbage').mds.listClusterFsInfo({}), StatusCode.UNAUTHENTICATED, /not a curvefs token/);
  assert.equal((await admin.mds.listClusterFsInfo({})).fsInfo.length, 2);
});

test("an fs client's token mounts and reads its own fs (with its store credentials) and nothing else", async () => {
  const alpha = clientWith(key.token({ role: 'fs', fsName: 'alpha' }));
  const m = await alpha.mds.mountFs({ fsName: 'alpha', mountpoint });
  assert.ok(m.sessionId > 0);
  const ds = m.fsInfo!.dataStore!.kind;
  assert.equal(ds.case === 's3' && ds.value.sk, SECRET, 'a client of the fs gets its store credentials');
  assert.equal((await alpha.mds.getFsInfo({ fsName: 'alpha' })).fsInfo!.fsName, 'alpha');
  await alpha.mds.refreshSession({ fsName: 'alpha', sessionId: m.sessionId, mountpoint });

  await refused(alpha.mds.getFsInfo({ fsName: 'beta' }), StatusCode.FORBIDDEN, /client of fs alpha/);
  await refused(alpha.mds.mountFs({ fsName: 'beta', mountpoint }), StatusCode.FORBIDDEN);
  await refused(alpha.mds.deleteFs({ fsName: 'alpha' }), StatusCode.FORBIDDEN, /needs the admin role/);
  await refused(alpha.mds.listClusterFsInfo({}), StatusCode.FORBIDDEN);
  await refused(
    alpha.topology.registMetaServer({ hostName: 'evil', internalIp: '127.0.0.1', internalPort: 1, externalIp: '127.0.0.1', externalPort: 1 }),
    StatusCode.FORBIDDEN,
  );
  const betaId = (await admin.mds.getFsInfo({ fsName: 'beta' })).fsInfo!.fsId;
  await refused(alpha.mds.allocateS3Chunk({ fsId: betaId, chunkIdNum: 1 }), StatusCode.FORBIDDEN);
  await refused(alpha.topology.createPartition({ fsId: betaId, count: 1 }), StatusCode.FORBIDDEN);
  // Routing reads are open to every credential.
  assert.equal((await alpha.topology.listMetaServer({})).metaserverInfos.length, 3);
  await alpha.mds.umountFs({ fsName: 'alpha', sessionId: m.sessionId });
});

test('the cluster token registers metaservers but cannot delete file systems; the admin token deletes', async () => {
  const cluster = clientWith(key.token({ role: 'cluster' }));
  await refused(cluster.mds.deleteFs({ fsName: 'beta' }), StatusCode.FORBIDDEN);
  await admin.mds.deleteFs({ fsName: 'beta' });
  await waitFor(async () => !(await admin.mds.listClusterFsInfo({})).fsInfo.some((f) => f.fsName === 'beta' && f.status !== FsStatus.FS_DELETING), 'beta deleted');
});
