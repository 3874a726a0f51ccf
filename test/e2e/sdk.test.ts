// End to end through real processes (an MDS and 3 metaservers started by `curvefs up`'s code):
// the SDK against the kernel's own file system on random operation sequences (also across a
// kill -9 of a metaserver), the CLI, and bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, linkSync, symlinkSync, rmSync, readlinkSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { CURVEFS_BIN } from '../../src/cli/supervisor.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { generateOps, localTarget, runOp, sdkTarget, snapshotTree, type DiffTarget } from '../helpers/sdk-diff.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { CopysetService, MetaServerService } from '../../src/gen/metaserver_pb.ts';
import { RaftService } from '../../src/gen/raft_pb.ts';
import { StatusCode, pollUntil, type CurveError } from '../../src/common/index.ts';

let cluster: TestCluster;
let conn: Connection;
const scratch = mkdtempSync(join(tmpdir(), 'curvefs-e2e-local-'));

before(async () => {
  cluster = await startCluster({ fsName: 'e2e' });
  conn = await cluster.connect();
});

after(async () => {
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function differential(seed: number, count: number, during?: (i: number) => Promise<void>): Promise<void> {
  const localRoot = join(scratch, `seed${seed}`);
  mkdirSync(localRoot);
  await conn.fs.mkdir(`/seed${seed}`);
  const local: DiffTarget = localTarget(localRoot);
  const sdk: DiffTarget = sdkTarget(conn.fs, `/seed${seed}`);
  const ops = generateOps(seed, count);
  for (const [i, op] of ops.entries()) {
    await during?.(i);
    const want = await runOp(local, op);
    const got = await runOp(sdk, op);
    assert.equal(got, want, `seed ${seed} op ${i} ${JSON.stringify(op)}`);
  }
  assert.deepEqual(await snapshotTree(sdk), await snapshotTree(local), `seed ${seed}: final trees differ`);
}

describe('SDK against the kernel file system', () => {
  for (const seed of [1, 2, 3]) {
    test(`random sequence, seed ${seed}`, () => differential(seed, 150));
  }

  test('a metaserver killed with SIGKILL midway changes nothing in the outcome', async () => {
    await differential(4, 150, async (i) => {
      if (i === 50) await cluster.killMetaserver(2);
    });
  });
});

describe('bad input gets the kernel errno', () => {
  const codeOf = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return 'ok';
    } catch (e) {
      return (e as CurveError).code;
    }
  };

  test('names and paths', async () => {
    const fs = conn.fs;
    assert.equal(await codeOf(() => fs.mkdir('/bad\0name')), 'EINVAL');
    assert.equal(await codeOf(() => fs.mkdir('/' + 'n'.repeat(256))), 'ENAMETOOLONG');
    assert.equal(await codeOf(() => fs.writeFile('/' + 'n'.repeat(255), 'x')), 'ok');
    assert.equal(await codeOf(() => fs.stat('/missing/x')), 'ENOENT');
    await fs.writeFile('/plain', 'x');
    assert.equal(await codeOf(() => fs.stat('/plain/x')), 'ENOTDIR');
    assert.equal(await codeOf(() => fs.mkdir('/plain')), 'EEXIST');
    assert.equal(await codeOf(() => fs.rmdir('/plain')), 'ENOTDIR');
    assert.equal(await codeOf(() => fs.unlink('/')), 'EBUSY');
    await fs.mkdir('/full');
    await fs.writeFile('/full/f', 'x');
    assert.equal(await codeOf(() => fs.rmdir('/full')), 'ENOTEMPTY');
    assert.equal(await codeOf(() => fs.unlink('/full')), 'EISDIR');
    assert.equal(await codeOf(() => fs.rename('/full', '/full/f/inside')), 'ENOTDIR');
    assert.equal(await codeOf(() => fs.readFile('/full')), 'EISDIR');
  });

  test('a missing fs is ENOENT (CLI exit code 3)', () => {
    const r = cluster.cli(['--fs', 'nope', 'ls', '/']);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /FS_NOT_FOUND/);
  });
});

/** A connection whose metaserver calls are counted by method (through a wrapped channel pool). */
async function countingConnection(registerOpenAfterMs?: number): Promise<{ conn: Connection; counts: Map<string, number>; close(): Promise<void> }> {
  // Root (the admin token): the counts below are those of a caller the VFS checks nothing for.
  const pool = new ChannelPool({ credential: cluster.adminToken, tls: cluster.tls });
  const counts = new Map<string, number>();
  const plain = pool.client.bind(pool);
  pool.client = ((service: Parameters<typeof plain>[0], address: string) => {
    const client = plain(service, address) as unknown as Record<string, unknown>;
    if (service !== MetaServerService) return client;
    return new Proxy(client, {
      get(target, key) {
        const f = target[key as string];
        if (typeof f !== 'function') return f;
        return (...args: unknown[]) => {
          counts.set(String(key), (counts.get(String(key)) ?? 0) + 1);
          return (f as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }) as typeof pool.client;
  const c = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(pool, cluster.mdsAddrs)), fsName: cluster.fsName, pool, entryTtlMs: 0, attrTtlMs: 0, registerOpenAfterMs });
  return { conn: c, counts, close: async () => { await c.close(); pool.close(); } };
}

describe('round trips and open handles (caches off)', () => {
  test('a walk needs one GetDentry per component; a create is one commit; stat is the walk alone; unlink one commit', async () => {
    const { conn: c, counts, close } = await countingConnection();
    try {
      await c.fs.mkdir('/rt');
      await c.fs.mkdir('/rt/d');
      counts.clear();
      await c.fs.writeFile('/rt/d/f', 'x');
      await c.fs.settle();
      assert.equal(counts.get('getDentry'), 2, 'the parent walk: rt, d');
      assert.equal(counts.get('getInode'), undefined, 'CreateFile answered with the inode');
      assert.equal(counts.get('batchGetInodeAttr'), undefined, 'no attributes of the root or of rt, d');
      assert.equal(counts.get('createFile'), 1);
      assert.equal(counts.get('openHandle'), undefined, 'a short open is never registered');
      counts.clear();
      await (await c.fs.open('/rt/d/g', 'w')).close();
      await c.fs.settle();
      assert.deepEqual(Object.fromEntries(counts), { getDentry: 2, createFile: 1 }, 'an empty create is the walk and one commit');
      counts.clear();
      assert.equal((await c.fs.stat('/rt/d/f')).size, 1);
      assert.deepEqual(Object.fromEntries(counts), { getDentry: 3 }, 'the file\'s dentry brought its attributes');
      counts.clear();
      await c.fs.unlink('/rt/d/f');
      assert.deepEqual(Object.fromEntries(counts), { getDentry: 2, unlink: 1 });
    } finally {
      await close();
    }
  });

  test('unlinking a file this client holds open registers the open (one commit), released at close', async () => {
    const { conn: c, counts, close } = await countingConnection();
    try {
      await c.fs.writeFile('/mine', 'still here');
      const fh = await c.fs.open('/mine', 'r');
      counts.clear();
      await c.fs.unlink('/mine');
      assert.deepEqual(Object.fromEntries(counts), { unlink: 1, openHandle: 1 });
      assert.equal(Buffer.from(await fh.read(0, 100)).toString(), 'still here');
      await fh.close();
      await c.fs.settle();
      assert.equal(counts.get('openHandle'), 2, 'the release');
      // Replacing an open file by rename registers it the same way.
      await c.fs.writeFile('/old', 'old');
      await c.fs.writeFile('/new', 'new');
      const held = await c.fs.open('/old', 'r');
      counts.clear();
      await c.fs.rename('/new', '/old');
      assert.equal(counts.get('openHandle'), 1);
      assert.equal(Buffer.from(await held.read(0, 10)).toString(), 'old');
      await held.close();
      await c.fs.settle();
      assert.equal(counts.get('openHandle'), 2);
    } finally {
      await close();
    }
  });

  test('a file another client unlinks stays readable and writable through an open handle', async () => {
    // The cross-client guarantee: an open is registered within registerOpenAfterMs of being made
    // (here 1 ms; 5 s by default), well inside the reclaim grace (30 s) that follows another
    // client's unlink; the metaserver side (no reclaim while registered) is
    // test/unit/metaserver-reclaim.test.ts.
    const other = await cluster.connect();
    const { conn: holder, counts, close } = await countingConnection(1);
    await conn.fs.writeFile('/held', 'kept data');
    const fh = await holder.fs.open('/held', 'r+');
    await pollUntil('the open registered', 10_000, async () => (counts.get('openHandle') === 1 && holder.core.opens!.counts.registered === 1 ? true : undefined));
    await other.fs.unlink('/held');
    await fh.write(9, Buffer.from('!'));
    await fh.flush();
    assert.equal(Buffer.from(await fh.read(0, 100)).toString(), 'kept data!');
    await fh.close();
    await holder.fs.settle();
    assert.equal(counts.get('openHandle'), 2, 'registered once, released once');
    await assert.rejects(conn.fs.stat('/held'), (e: CurveError) => e.code === 'ENOENT');
    await close();
    await other.close();
  });
});

describe('POSIX permissions for an SDK caller other than root (issue [L] finding 4)', () => {
  /** An SDK connection acting as `uid`/`gid` (the VFS checks its permissions). */
  async function as(uid: number, gid: number, groups?: number[]): Promise<{ conn: Connection; close(): Promise<void> }> {
    const pool = new ChannelPool({ credential: cluster.fsToken, tls: cluster.tls });
    const c = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(pool, cluster.mdsAddrs)), fsName: cluster.fsName, pool, entryTtlMs: 0, attrTtlMs: 0, identity: { uid, gid, groups } });
    return { conn: c, close: async () => { await c.close(); pool.close(); } };
  }
  const codeOf = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return 'ok';
    } catch (e) {
      return (e as CurveError).code;
    }
  };

  test('mode bits, ownership and the sticky rule are enforced; what is allowed works', async () => {
    const root = conn.fs;
    await root.mkdir('/perm', { mode: 0o755 });
    await root.writeFile('/perm/rootfile', 'secret', { mode: 0o640 });
    await root.mkdir('/perm/alice', { mode: 0o700 });
    await root.chown('/perm/alice', 1000, 1000);
    await root.mkdir('/perm/shared', { mode: 0o777 });
    await root.chmod('/perm/shared', 0o1777);
    const alice = await as(1000, 1000);
    const bob = await as(2000, 2000, [1000]);
    try {
      const a = alice.conn.fs;
      const b = bob.conn.fs;
      // No write permission in a root directory: nothing is created.
      assert.equal(await codeOf(() => a.writeFile('/perm/x', 'x')), 'EACCES');
      assert.equal(await codeOf(() => a.mkdir('/perm/d')), 'EACCES');
      assert.equal(await root.exists('/perm/x'), false);
      // Reading needs the read bit: rootfile is 0640 root:root.
      assert.equal(await codeOf(() => a.readFile('/perm/rootfile')), 'EACCES');
      assert.equal(await codeOf(() => a.open('/perm/rootfile', 'r+')), 'EACCES');
      assert.equal(await codeOf(() => a.truncate('/perm/rootfile', 0)), 'EACCES');
      assert.equal(await codeOf(() => a.chmod('/perm/rootfile', 0o777)), 'EPERM');
      assert.equal(await codeOf(() => a.unlink('/perm/rootfile')), 'EACCES');
      assert.equal(Buffer.from(await root.readFile('/perm/rootfile')).toString(), 'secret', 'unchanged');
      // In her own directory alice may do anything; what she creates is hers.
      await a.writeFile('/perm/alice/f', 'mine');
      const st = await a.stat('/perm/alice/f');
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [1000, 1000, 0o644]);
      await a.chmod('/perm/alice/f', 0o600);
      assert.equal(await codeOf(() => a.chown('/perm/alice/f', 2000, 1000)), 'EPERM', 'only root gives a file away');
      // bob may not search alice's 0700 directory (his group 1000 does not help: 0700).
      assert.equal(await codeOf(() => b.stat('/perm/alice/f')), 'EACCES');
      assert.equal(await codeOf(() => b.readdir('/perm/alice')), 'EACCES');
      // The sticky directory: bob may not remove or rename alice's file, alice may.
      await a.writeFile('/perm/shared/af', 'a');
      assert.equal(await codeOf(() => b.unlink('/perm/shared/af')), 'EPERM');
      assert.equal(await codeOf(() => b.rename('/perm/shared/af', '/perm/shared/bf')), 'EPERM');
      await b.writeFile('/perm/shared/bf', 'b');
      assert.equal(await codeOf(() => b.rename('/perm/shared/bf', '/perm/shared/af')), 'EPERM', 'nor replace it by a rename');
      await a.unlink('/perm/shared/af');
      assert.deepEqual((await root.readdir('/perm/shared')).sort(), ['bf']);
      // Root, the default identity, is not restricted.
      await root.writeFile('/perm/alice/by-root', 'r');
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe('CLI', () => {
  test('put and get of a tree with hard links and symlinks round-trips', () => {
    const src = join(scratch, 'tree');
    mkdirSync(join(src, 'sub/deep'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'alpha\n');
    writeFileSync(join(src, 'sub/deep/big.bin'), Buffer.alloc(5 * 1024 * 1024 + 17, 7));
    symlinkSync('a.txt', join(src, 'link'));
    linkSync(join(src, 'a.txt'), join(src, 'sub/hard'));
    let r = cluster.cli(['--json', 'put', src, '/imported']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).bytes, 6 + 5 * 1024 * 1024 + 17 + 6, 'with --json, stdout is only the JSON');
    assert.equal(r.stderr, '', 'no progress output when not a terminal');
    r = cluster.cli(['--json', 'du', '/imported']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).bytes, 6 + 5 * 1024 * 1024 + 17 + 6);
    const back = join(scratch, 'back');
    r = cluster.cli(['get', '/imported', back]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(back, 'a.txt'), 'utf8'), 'alpha\n');
    assert.deepEqual(readFileSync(join(back, 'sub/deep/big.bin')), readFileSync(join(src, 'sub/deep/big.bin')));
    assert.equal(readlinkSync(join(back, 'link')), 'a.txt');
    r = cluster.cli(['cat', '/imported/sub/hard']);
    assert.equal(r.stdout, 'alpha\n');
  });

  test('exit codes scripts can use', () => {
    assert.equal(cluster.cli(['cat', '/no/such/file']).status, 3);
    assert.equal(cluster.cli(['mkdir', '/twice']).status, 0);
    assert.equal(cluster.cli(['mkdir', '/twice']).status, 4);
    assert.equal(cluster.cli(['mkdir', '/' + 'x'.repeat(300)]).status, 6);
    assert.equal(cluster.cli(['no-such-command']).status, 2);
    const ls = cluster.cli(['--json', 'ls', '/']);
    assert.equal(ls.status, 0);
    assert.ok((JSON.parse(ls.stdout) as Array<{ path: string }>).some((e) => e.path === '/twice'));
  });

  test('mv across directories and fs create/list/delete', () => {
    assert.equal(cluster.cli(['mkdir', '-p', '/m1/x', '/m2']).status, 0);
    assert.equal(cluster.cli(['mv', '/m1/x', '/m2/y']).status, 0);
    assert.equal(cluster.cli(['stat', '/m2/y']).status, 0);
    assert.equal(cluster.cli(['stat', '/m1/x']).status, 3);
    assert.equal(cluster.cli(['fs', 'create', 'second', '--local-dir', join(cluster.dir, 'data2')]).status, 0);
    assert.equal(cluster.cli(['fs', 'create', 'second']).status, 4);
    assert.equal(cluster.cli(['fs', 'create', 'Bad_Name']).status, 6);
    const list = JSON.parse(cluster.cli(['--json', 'fs', 'list']).stdout) as Array<{ name: string }>;
    assert.deepEqual(list.map((f) => f.name).sort(), ['e2e', 'second']);
    assert.equal(cluster.cli(['fs', 'delete', 'second']).status, 0);
  });
});

describe('credentials of `curvefs up` (issue [L])', () => {
  test('the cluster key and tokens are private, the CLI of the cluster directory uses them, others are refused', () => {
    const auth = join(cluster.dir, 'auth');
    assert.equal((statSync(auth).mode & 0o777).toString(8), '700');
    for (const f of readdirSync(auth)) assert.equal((statSync(join(auth, f)).mode & 0o777).toString(8), '600', f);
    const run = (args: string[], tls = true) =>
      spawnSync(process.execPath, [CURVEFS_BIN, ...args], {
        encoding: 'utf8',
        env: { ...process.env, CURVEFS_LOG: 'warn', CURVEFS_TOKEN_FILE: '', CURVEFS_MDS: '', CURVEFS_TLS_DIR: tls ? cluster.running.file.tls!.dir : '', CURVEFS_TLS_NAME: tls ? 'admin' : '' },
      });
    const listed = run(['--dir', cluster.dir, '--json', 'fs', 'list'], false);
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok((JSON.parse(listed.stdout) as Array<{ name: string }>).some((f) => f.name === cluster.fsName), listed.stdout);
    const anonymous = run(['--mds', cluster.mdsAddrs.join(','), 'fs', 'delete', cluster.fsName]);
    assert.notEqual(anonymous.status, 0);
    assert.match(anonymous.stderr, /UNAUTHENTICATED/);
    const fsClient = run(['--mds', cluster.mdsAddrs.join(','), '--token-file', join(auth, `fs-${cluster.fsName}.token`), 'fs', 'delete', cluster.fsName]);
    // Without a certificate of the cluster's CA nothing gets through, not even with the admin token.
    const plain = run(['--mds', cluster.mdsAddrs.join(','), '--token-file', join(auth, 'admin.token'), 'fs', 'delete', cluster.fsName], false);
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /UNAVAILABLE|TIMEOUT/);
    assert.notEqual(fsClient.status, 0);
    assert.match(fsClient.stderr, /FORBIDDEN/);
    assert.equal(cluster.cli(['stat', '/']).status, 0, 'the fs is still there');
  });
});

describe('metaservers of `curvefs up` check credentials (issue [L])', () => {
  test('TransferLeader, ChangePeers and DeleteCopysetNode need the cluster or admin role; Raft needs the cluster role', async () => {
    const ms = cluster.running.file.metaservers[0]!.listen;
    const anonymous = new ChannelPool({ credential: '', tls: cluster.tls });
    const fsClient = new ChannelPool({ credential: cluster.fsToken, tls: cluster.tls });
    try {
      const statusOf = async (p: Promise<unknown>) => {
        try {
          await p;
          return 'OK';
        } catch (e) {
          return StatusCode[(e as CurveError).status];
        }
      };
      const cs = { poolId: 1, copysetId: 1 };
      for (const [pool, want] of [[anonymous, 'UNAUTHENTICATED'], [fsClient, 'FORBIDDEN']] as const) {
        const c = pool.client(CopysetService, ms);
        assert.equal(await statusOf(c.transferLeader({ ...cs, transferee: { id: 2, address: 'x' } })), want);
        assert.equal(await statusOf(c.changePeers({ ...cs, newPeers: [] })), want);
        assert.equal(await statusOf(c.deleteCopysetNode(cs)), want);
        assert.equal(await statusOf(pool.client(RaftService, ms).send({})), want);
      }
      assert.equal(await statusOf(anonymous.client(MetaServerService, ms).getInode({ inodeId: 1 })), 'UNAUTHENTICATED');
      // Nothing changed: the fs still works through its client.
      assert.ok(await conn.fs.stat('/'));
      const metrics = await fetch(`http://${cluster.running.file.metaservers[0]!.metrics}/metrics`).then((r) => r.text());
      assert.match(metrics, /^curvefs_metaserver_rpc_connections_closed_total\{reason="buffer_budget"\} 0$/m);
    } finally {
      anonymous.close();
      fsClient.close();
    }
  });
});
