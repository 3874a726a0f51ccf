// Root acts as root in the `curvefs` file commands and the SDK's path API only with the admin
// credential (issue [L], docs/security.md "Root squash"): run by root (or, in the SDK, with no
// identity or uid 0) with an fs client's token they act as nobody (65534:65534), as an NFS export
// with root_squash treats a client's root; with the admin token root stays root. Real CLI
// processes and SDK clients against a real cluster started with a cluster key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { ClusterKey, writeSecret } from '../../src/mds/auth/index.ts';
import { NOBODY, squashRoot } from '../../src/mds/auth/root-squash.ts';
import { ChannelPool, TOKEN_FILE_ENV, readTokenFile } from '../../src/rpc/index.ts';
import type { CurveError } from '../../src/common/index.ts';
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

  /** An SDK client of fs sq presenting the token in `tokenFile`, acting as `identity` if given. */
  async function sdkWith(tokenFile: string, identity?: { uid: number; gid: number; groups?: number[] }) {
    const p = new ChannelPool({ credential: readTokenFile(tokenFile), tls: false });
    const c = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(p, cluster!.mdsAddrs, { callTimeoutMs: 10_000 })), fsName: 'sq', pool: p, entryTtlMs: 0, attrTtlMs: 0, identity });
    return { c, close: async () => { await c.close(); p.close(); } };
  }
  const errno = (code: string) => (e: unknown) => (e as CurveError).code === code;

  test('SDK: with the fs token, root (the default identity) cannot read or delete a root-owned 0600 file', async () => {
    const s = await sdkWith(fsToken);
    try {
      await assert.rejects(s.c.fs.readFile('/secret'), errno('EACCES'));
      await assert.rejects(s.c.fs.open('/secret', 'r'), errno('EACCES'));
      // The fs's root directory is 1777: the sticky rule keeps nobody from removing root's file.
      await assert.rejects(s.c.fs.unlink('/secret'), errno('EPERM'));
      assert.deepEqual(s.c.identity, { uid: NOBODY, gid: NOBODY, groups: [] });
      assert.equal(s.c.rootSquashed, true);
      // What it creates belongs to nobody.
      await s.c.fs.mkdir('/open/sdk-made');
      const st = await admin!.fs.stat('/open/sdk-made');
      assert.deepEqual([st.uid, st.gid], [NOBODY, NOBODY]);
    } finally {
      await s.close();
    }
    assert.equal(Buffer.from(await admin!.fs.readFile('/secret')).toString(), 'root only\n');
  });

  test('SDK: with the fs token an explicit uid 0 is squashed too (group 0 dropped); other uids are kept', async () => {
    const asRoot = await sdkWith(fsToken, { uid: 0, gid: 0, groups: [0, 5] });
    const asUser = await sdkWith(fsToken, { uid: 1000, gid: 0, groups: [0] });
    try {
      await assert.rejects(asRoot.c.fs.readFile('/secret'), errno('EACCES'));
      assert.deepEqual(asRoot.c.identity, { uid: NOBODY, gid: NOBODY, groups: [5] });
      assert.deepEqual([asUser.c.identity, asUser.c.rootSquashed], [{ uid: 1000, gid: 0, groups: [0] }, false]);
    } finally {
      await asRoot.close();
      await asUser.close();
    }
  });

  test('SDK: with the admin token, root is root (how trusted code acts as root)', async () => {
    const s = await sdkWith(adminToken);
    try {
      assert.equal(Buffer.from(await s.c.fs.readFile('/secret')).toString(), 'root only\n');
      assert.deepEqual([s.c.identity, s.c.rootSquashed], [{ uid: 0, gid: 0, groups: [] }, false]);
    } finally {
      await s.close();
    }
  });
});
