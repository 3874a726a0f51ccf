// Root acts as root in the `curvefs` file commands only with the admin credential (issue [L],
// docs/security.md "Root squash"): the CLI run by root with an fs client's token acts as
// nobody (65534:65534), as an NFS export with root_squash treats a client's root; with the admin
// token root stays root. Real CLI processes against a real cluster started with a cluster key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { ClusterKey, writeSecret } from '../../src/mds/auth/index.ts';
import { NOBODY, squashRoot } from '../../src/mds/auth/root-squash.ts';
import { ChannelPool, TOKEN_FILE_ENV } from '../../src/rpc/index.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';

describe('squashRoot: the rule', () => {
  const root = { uid: 0, gid: 0, groups: [0, 5] };
  test('uid 0 with an fs or cluster token becomes nobody, without group 0', () => {
    for (const role of ['fs', 'cluster'] as const) {
      assert.deepEqual(squashRoot(root, role), { identity: { uid: NOBODY, gid: NOBODY, groups: [5] }, squashed: true });
    }
  });
  test('the admin token, or a cluster without authentication (no token), keeps root', () => {
    assert.deepEqual(squashRoot(root, 'admin'), { identity: root, squashed: false });
    assert.deepEqual(squashRoot(root, undefined), { identity: root, squashed: false });
  });
  test('other uids are left alone, whatever the token', () => {
    const user = { uid: 1000, gid: 0, groups: [0] };
    assert.deepEqual(squashRoot(user, 'fs'), { identity: user, squashed: false });
  });
});

describe('curvefs CLI as root: root only with the admin credential', () => {
  let base: string;
  let cluster: CurvefsCluster | undefined;
  let admin: Connection | undefined;
  let pool: ChannelPool | undefined;
  let mds: string;
  let fsToken: string;
  let adminToken: string;
  const cli = (token: string, ...args: string[]) => runCurvefs(['--mds', mds, '--fs', 'sq', '--token-file', token, ...args], { [TOKEN_FILE_ENV]: '' });

  before(async () => {
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-root-squash-'));
    const key = ClusterKey.generate();
    const keyFile = join(base, 'cluster.key');
    key.save(keyFile);
    adminToken = join(base, 'admin.token');
    fsToken = join(base, 'fs-sq.token');
    writeSecret(adminToken, key.token({ role: 'admin' }));
    writeSecret(fsToken, key.token({ role: 'fs', fsName: 'sq' }));
    process.env[TOKEN_FILE_ENV] = adminToken; // the helpers' pools act as the operator
    cluster = await CurvefsCluster.start({ dir: join(base, 'cluster'), mdsArgs: ['--auth-key-file', keyFile], metaserverArgs: () => ['--auth-key-file', keyFile] });
    await cluster.createFs('sq');
    delete process.env[TOKEN_FILE_ENV];
    mds = cluster.mdsAddrs.join(',');
    pool = new ChannelPool({ credential: key.token({ role: 'admin' }), tls: false });
    admin = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(pool, cluster.mdsAddrs, { callTimeoutMs: 10_000 })), fsName: 'sq', pool, entryTtlMs: 0, attrTtlMs: 0 });
    await admin.fs.writeFile('/secret', 'root only\n');
    await admin.fs.chmod('/secret', 0o600);
    await admin.fs.mkdir('/open');
    await admin.fs.chmod('/open', 0o777);
  });

  after(async () => {
    await admin?.close().catch(() => undefined);
    pool?.close();
    await cluster?.stop();
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  test('with the fs token, root cannot read or delete a root-owned 0600 file, and says why', async () => {
    const cat = await cli(fsToken, 'cat', '/secret');
    assert.equal(cat.code, 1, cat.stderr);
    assert.match(cat.stderr, /EACCES/);
    assert.match(cat.stderr, /acting as nobody \(65534:65534\).*admin credential/);
    assert.equal(cat.stdout, '');
    const rm = await cli(fsToken, 'rm', '/secret');
    assert.notEqual(rm.code, 0, rm.stderr);
    assert.equal(Buffer.from(await admin!.fs.readFile('/secret')).toString(), 'root only\n');
  });

  test('with the fs token, what root creates belongs to nobody', async () => {
    const mk = await cli(fsToken, 'mkdir', '/open/made');
    assert.equal(mk.code, 0, mk.stderr);
    const st = await admin!.fs.stat('/open/made');
    assert.deepEqual([st.uid, st.gid], [NOBODY, NOBODY]);
  });

  test('with the admin token, root is root', async () => {
    const cat = await cli(adminToken, 'cat', '/secret');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'root only\n');
    assert.doesNotMatch(cat.stderr, /acting as nobody/);
  });
});
