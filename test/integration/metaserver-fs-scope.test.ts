// The metaserver data path honours the fs a token names (issue [L]): a client holding the token
// of fs alpha's neighbour (beta) talks to the metaservers directly — no MDS in between — and
// tries to read and change alpha's inodes and dentries. Every such call is refused with
// FORBIDDEN, nothing changes, and each refusal is counted in the metaserver's /metrics. The
// fs's own token, the cluster token and the admin token keep working. Real MDS, three real
// metaservers, all started with a cluster key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ClusterKey } from '../../src/mds/index.ts';
import { ChannelPool, TOKEN_FILE_ENV, type RpcClientOf } from '../../src/rpc/index.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { TopologyService } from '../../src/gen/topology_pb.ts';
import { MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { rejectsWithStatus as refused } from '../helpers/assert-status.ts';

const ROOT_INO = 1;

let dir: string;
let key: ClusterKey;
let cluster: CurvefsCluster;
let alphaConn: Connection;
const pools: ChannelPool[] = [];
let alphaId = 0;
let betaId = 0;
let alphaRoot: PartitionRef;
let betaRoot: PartitionRef;

function poolWith(credential: string): ChannelPool {
  const p = new ChannelPool({ credential, tls: false, defaultTimeoutMs: 10_000, connectTimeoutMs: 2000, backoff: { initialMs: 20, maxMs: 200 } });
  pools.push(p);
  return p;
}

/** The partition holding the root inode of fs `fsId`, as a request header. */
async function rootPartition(fsId: number): Promise<PartitionRef> {
  const parts = (await cluster.mds.client(TopologyService).listPartition({ fsId })).partitionInfoList;
  const p = parts.find((x) => x.start <= ROOT_INO && ROOT_INO <= x.end);
  assert.ok(p, `a partition of fs ${fsId} holds the root inode`);
  return { $typeName: 'curvefs.metaserver.PartitionRef', poolId: p.poolId, copysetId: p.copysetId, partitionId: p.partitionId, fsId };
}

type Meta = RpcClientOf<typeof MetaServerService>;

/**
 * Runs `call` with `credential` against each metaserver until one answers other than NOT_LEADER
 * (or each refused that way): the leader of the partition's copyset answers, or a refusal that
 * comes before any leader check does.
 */
async function asCaller<T>(credential: string, call: (m: Meta) => Promise<T>): Promise<T> {
  const pool = poolWith(credential);
  let last: unknown;
  for (const ms of cluster.metaservers.procs) {
    try {
      return await call(pool.client(MetaServerService, ms.address));
    } catch (e) {
      if (e instanceof CurveError && (e.status === StatusCode.NOT_LEADER || e.status === StatusCode.COPYSET_NOTEXIST)) {
        last = e;
        continue;
      }
      throw e;
    }
  }
  throw last;
}


/** What alpha's root holds, as alpha's own client sees it. */
async function alphaListing(): Promise<string[]> {
  return (await alphaConn.fs.readdir('/')).sort();
}

/** Sum of the metaservers' refusals of other fs's calls, from their /metrics. */
async function refusalsCounted(): Promise<number> {
  let n = 0;
  for (let i = 0; i < cluster.metaservers.procs.length; i++) {
    const text = await cluster.metaservers.metricsText(i);
    for (const m of text.matchAll(/^curvefs_metaserver_fs_scope_refused_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  }
  return n;
}

const tokens = {} as Record<'admin' | 'cluster' | 'alpha' | 'beta', string>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-fs-scope-'));
  key = ClusterKey.generate();
  const keyFile = join(dir, 'cluster.key');
  key.save(keyFile);
  tokens.admin = key.token({ role: 'admin' });
  tokens.cluster = key.token({ role: 'cluster' });
  tokens.alpha = key.token({ role: 'fs', fsName: 'alpha' });
  tokens.beta = key.token({ role: 'fs', fsName: 'beta' });
  const adminFile = join(dir, 'admin.token');
  writeFileSync(adminFile, tokens.admin, { mode: 0o600 });
  chmodSync(adminFile, 0o600);
  process.env[TOKEN_FILE_ENV] = adminFile; // the helpers' own pools act as the operator
  cluster = await CurvefsCluster.start({ dir, mdsArgs: ['--auth-key-file', keyFile], metaserverArgs: () => ['--auth-key-file', keyFile] });
  delete process.env[TOKEN_FILE_ENV];
  alphaId = await cluster.createFs('alpha');
  betaId = await cluster.createFs('beta');
  alphaRoot = await rootPartition(alphaId);
  betaRoot = await rootPartition(betaId);
  const alphaPool = poolWith(tokens.alpha);
  alphaConn = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(alphaPool, cluster.mdsAddrs, { callTimeoutMs: 10_000 })), fsName: 'alpha', pool: alphaPool, entryTtlMs: 0, attrTtlMs: 0 });
  await alphaConn.fs.writeFile('/secret', 'alpha only');
  await alphaConn.fs.mkdir('/d');
});

after(async () => {
  await alphaConn?.close().catch(() => undefined);
  for (const p of pools) p.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a client of fs beta can neither read nor change fs alpha's inodes and dentries on the metaservers", async () => {
  const before = await alphaListing();
  const counted = await refusalsCounted();
  const other = /fs 1 \(alpha\)|fs alpha/;

  await refused(asCaller(tokens.beta, (m) => m.getInode({ p: alphaRoot, inodeId: ROOT_INO })), StatusCode.FORBIDDEN, other);
  await refused(asCaller(tokens.beta, (m) => m.listDentry({ p: alphaRoot, dirInodeId: ROOT_INO })), StatusCode.FORBIDDEN, /client of fs beta/);
  await refused(asCaller(tokens.beta, (m) => m.getDentry({ p: alphaRoot, parentInodeId: ROOT_INO, name: 'secret' })), StatusCode.FORBIDDEN);
  await refused(
    asCaller(tokens.beta, (m) => m.createDentry({ p: alphaRoot, rid: { clientId: 1, seq: 1 }, dentry: { fsId: alphaId, parentInodeId: ROOT_INO, name: 'planted', inodeId: 99, type: FileType.TYPE_FILE } })),
    StatusCode.FORBIDDEN,
  );
  await refused(asCaller(tokens.beta, (m) => m.deleteDentry({ p: alphaRoot, rid: { clientId: 1, seq: 2 }, parentInodeId: ROOT_INO, name: 'secret', type: FileType.TYPE_FILE })), StatusCode.FORBIDDEN);
  await refused(asCaller(tokens.beta, (m) => m.unlink({ p: alphaRoot, rid: { clientId: 1, seq: 3 }, parentInodeId: ROOT_INO, name: 'secret' })), StatusCode.FORBIDDEN);
  // A rename that starts in beta's own partition but lands in alpha's: the destination counts too.
  await refused(
    asCaller(tokens.beta, (m) => m.rename({ p: betaRoot, rid: { clientId: 1, seq: 4 }, oldParent: ROOT_INO, oldName: 'x', newP: alphaRoot, newParent: ROOT_INO, newName: 'secret' })),
    StatusCode.FORBIDDEN,
  );
  // Claiming beta's fs id for alpha's partition is no way around it: the partition knows its fs.
  await assert.rejects(asCaller(tokens.beta, (m) => m.getInode({ p: { ...alphaRoot, fsId: betaId }, inodeId: ROOT_INO })), (e: unknown) => {
    assert.ok(e instanceof CurveError);
    assert.ok([StatusCode.FS_ID_MISMATCH, StatusCode.PARTITION_NOT_FOUND].includes(e.status), e.message);
    return true;
  });

  assert.deepEqual(await alphaListing(), before, "alpha's root is unchanged");
  assert.equal(Buffer.from(await alphaConn.fs.readFile('/secret')).toString(), 'alpha only');
  assert.ok((await refusalsCounted()) >= counted + 7, 'each refusal is counted in /metrics');
});

test("fs alpha's own token, the cluster token and the admin token are served on alpha's partitions", async () => {
  for (const who of ['alpha', 'cluster', 'admin'] as const) {
    const r = await asCaller(tokens[who], (m) => m.getInode({ p: alphaRoot, inodeId: ROOT_INO }));
    assert.equal(r.inode?.attr?.inodeId, ROOT_INO, who);
    const names = (await asCaller(tokens[who], (m) => m.listDentry({ p: alphaRoot, dirInodeId: ROOT_INO }))).dentrys.map((d) => d.name);
    assert.ok(names.includes('secret'), `${who} lists alpha's root`);
  }
  // beta's own partitions stay open to beta.
  const r = await asCaller(tokens.beta, (m) => m.getInode({ p: betaRoot, inodeId: ROOT_INO }));
  assert.equal(r.inode?.attr?.inodeId, ROOT_INO);
});
