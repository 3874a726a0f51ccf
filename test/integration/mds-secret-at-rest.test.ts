// S3 secret keys encrypted at rest (issue [L], docs/security.md "Secrets"): a real MDS process
// with a cluster key keeps an fs's secret key in its store sealed with that key — no file of the
// store holds it in plain text — and serves it to the admin after a restart; after a rotation of
// the cluster key, the previous key given with --auth-previous-key-file opens it once and the
// MDS seals it again with the new key, so the old key can go; an MDS with a key that did not
// seal it serves nothing, says why, and changes nothing in the store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterKey, MdsClient } from '../../src/mds/index.ts';
import { ChannelPool, TOKEN_FILE_ENV } from '../../src/rpc/index.ts';
import { waitFor } from '../helpers/etcd.ts';
import { FakeMetaserver, FakeWorld, startFakeMetaservers } from '../helpers/fake-metaserver.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';

const SECRET = 'sk-at-rest-Do-Not-Store-Plain-41c9';
let dir: string;
const keys: Record<'first' | 'second' | 'stranger', ClusterKey> = { first: ClusterKey.generate(), second: ClusterKey.generate(), stranger: ClusterKey.generate() };
let mds: MdsProcess | undefined;
let s3: S3rverHandle | undefined;
const clients: MdsClient[] = [];

const keyFile = (name: keyof typeof keys) => join(dir, `${name}.key`);

async function startMds(args: string[]): Promise<MdsProcess> {
  await mds?.stop();
  mds = await MdsProcess.spawn({ etcd: [], dataDir: join(dir, 'mds'), journal: join(dir, 'journal'), args });
  return mds;
}

function adminOf(key: ClusterKey): MdsClient {
  const c = new MdsClient({ addresses: [mds!.address], pool: new ChannelPool({ credential: key.token({ role: 'admin' }), tls: false, defaultTimeoutMs: 5000 }), deadlineMs: 20_000 });
  clients.push(c);
  return c;
}

async function secretServed(key: ClusterKey): Promise<string> {
  const s3 = (await adminOf(key).mds.getFsInfo({ fsName: 'vault' })).fsInfo!.dataStore!.kind;
  assert.equal(s3.case, 's3');
  return s3.value!.sk;
}

/** Every file of the MDS's store, whole. */
function storeBytes(): Buffer {
  const root = join(dir, 'mds');
  const walk = (d: string): Buffer[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [readFileSync(join(d, n))]));
  return Buffer.concat(walk(root));
}

before(async () => {
  delete process.env[TOKEN_FILE_ENV];
  dir = mkdtempSync(join(tmpdir(), 'curvefs-secret-at-rest-'));
  for (const [name, key] of Object.entries(keys)) key.save(keyFile(name as keyof typeof keys));
  await startMds(['--auth-key-file', keyFile('first')]);
  const world = new FakeWorld();
  const admin = adminOf(keys.first);
  const fakes: FakeMetaserver[] = await startFakeMetaservers(world, 3, { mds: [mds!.address], heartbeatMs: 100, credential: keys.first.token({ role: 'cluster' }) }, admin);
  try {
    // A store that answers to the key: fs create writes, reads and deletes a probe object in it.
    s3 = await startS3rver({ bucket: 'b', extraKeys: [['AK', SECRET]] });
    await admin.mds.createFs({ fsName: 'vault', dataStore: { kind: { case: 's3', value: { endpoint: s3.endpoint, bucketName: 'b', ak: 'AK', sk: SECRET, pathStyle: true } } } });
  } finally {
    for (const f of fakes) await f.close();
  }
});

after(async () => {
  for (const c of clients) c.close();
  await mds?.stop();
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the store holds the secret key sealed; the admin is served it, also after a restart', async () => {
  assert.equal(await secretServed(keys.first), SECRET);
  assert.equal(storeBytes().includes(SECRET), false, 'the S3 secret key is in the MDS store in plain text');
  await startMds(['--auth-key-file', keyFile('first')]);
  assert.equal(await secretServed(keys.first), SECRET);
});

test('a key that did not seal it: the MDS serves nothing, says why, and leaves the sealed secret alone', async () => {
  const m = await startMds(['--auth-key-file', keyFile('stranger')]);
  await waitFor(() => /S3 secret key of fs \d+ is sealed with another cluster key.*--auth-previous-key-file/.test(m.log.join('')), 'the MDS to say why it cannot load');
  await assert.rejects(adminOf(keys.stranger).mds.getFsInfo({ fsName: 'vault' }, { deadlineMs: 2000 }));
  // Still sealed with the first key: the right key opens it.
  await startMds(['--auth-key-file', keyFile('first')]);
  assert.equal(await secretServed(keys.first), SECRET);
});

test('rotation: with the previous key the secret is sealed again with the new one, and the old key can go', async () => {
  await startMds(['--auth-key-file', keyFile('second'), '--auth-previous-key-file', keyFile('first')]);
  assert.equal(await secretServed(keys.second), SECRET);
  await startMds(['--auth-key-file', keyFile('second')]);
  assert.equal(await secretServed(keys.second), SECRET);
  assert.equal(storeBytes().includes(SECRET), false);
});
