// Raft peer identity from the TLS certificate (issue [L]): with mutual TLS a Raft message claiming
// to come from replica X is accepted only over a connection whose certificate names X. Before,
// any holder of the cluster token and of any certificate of the cluster's CA could speak for a
// member: one forged heartbeat with term 2^53-1 "from" a follower deposed the leader for good.
// Here the forger holds the cluster token and valid certificates of the same CA — another
// member's, and one of no member — and is refused with FORBIDDEN; the group keeps its leader and
// term. At the MDS, a metaserver registers only under its own certificate's name, once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from '../../src/cli/commands/certs.ts';
import { StatusCode } from '../../src/common/index.ts';
import { ClusterKey } from '../../src/mds/index.ts';
import { ChannelPool, TLS_DIR_ENV, TLS_NAME_ENV, TOKEN_FILE_ENV, loadTlsConfig } from '../../src/rpc/index.ts';
import { CopysetService } from '../../src/gen/metaserver_pb.ts';
import { RaftService } from '../../src/gen/raft_pb.ts';
import { TopologyService } from '../../src/gen/topology_pb.ts';
import { MessageType, type RaftMessage } from '../../src/raft/core/types.ts';
import { toWire } from '../../src/raft/wire.ts';
import { copysetGroupId } from '../../src/metaserver/copyset/group-id.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { rejectsWithStatus } from '../helpers/assert-status.ts';

let dir: string;
let tlsDir: string;
let key: ClusterKey;
let cluster: MetaserverCluster;
const pools: ChannelPool[] = [];

/** A pool presenting the cluster token and certificate `cert` (a valid one of the cluster CA). */
function asCertificate(cert: string): ChannelPool {
  const p = new ChannelPool({ credential: key.token({ role: 'cluster' }), tls: loadTlsConfig(tlsDir, cert), defaultTimeoutMs: 5000 });
  pools.push(p);
  return p;
}

function raftMessage(m: Pick<RaftMessage, 'type' | 'from' | 'to' | 'term'> & Partial<RaftMessage>): RaftMessage {
  return { index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-raft-identity-'));
  tlsDir = join(dir, 'tls');
  makeCerts(tlsDir, ['metaserver1', 'metaserver2', 'metaserver3', 'metaserver9', 'admin', 'mds']);
  key = ClusterKey.generate();
  const keyFile = join(dir, 'cluster.key');
  key.save(keyFile);
  const adminToken = join(dir, 'admin.token');
  writeFileSync(adminToken, key.token({ role: 'admin' }), { mode: 0o600 });
  // The helper's own pool is the operator's: admin token and certificate.
  Object.assign(process.env, { [TOKEN_FILE_ENV]: adminToken, [TLS_DIR_ENV]: tlsDir, [TLS_NAME_ENV]: 'admin' });
  cluster = await MetaserverCluster.start({ n: 3, dir, args: (i) => ['--auth-key-file', keyFile, '--tls-dir', tlsDir, '--tls-name', `metaserver${i + 1}`] });
  for (const k of [TOKEN_FILE_ENV, TLS_DIR_ENV, TLS_NAME_ENV]) delete process.env[k];
});

after(async () => {
  for (const p of pools) p.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const refused = (p: Promise<unknown>, message: RegExp): Promise<void> => rejectsWithStatus(p, StatusCode.FORBIDDEN, message);

test('a Raft message is accepted only over the certificate of the replica it claims to come from', async () => {
  const leaderAddr = await cluster.createCopyset(1, 1);
  const leader = cluster.procs.find((p) => p.address === leaderAddr)!;
  const [f1, f2] = cluster.procs.filter((p) => p !== leader);
  const status = async () => (await cluster.pool.client(CopysetService, leader.address).getCopysetStatus({ poolId: 1, copysetId: 1 })).status!;
  const before = await status();
  const groupId = copysetGroupId(1, 1);
  const forged = (from: number) => toWire(raftMessage({ type: MessageType.Heartbeat, from, to: leader.id, term: 2 ** 53 - 1 }));

  // Another member's certificate, speaking for follower f1.
  const asF2 = asCertificate(`metaserver${f2!.id}`).client(RaftService, leader.address);
  await refused(asF2.send({ from: f1!.id, msgs: [{ groupId, msg: forged(f1!.id) }] }), new RegExp(`claims to be from metaserver ${f1!.id} \\(certificate "metaserver${f1!.id}"\\) but came over a connection with certificate "metaserver${f2!.id}"`));
  // Its own sender id on the batch, another's on the message inside.
  await refused(asF2.send({ from: f2!.id, msgs: [{ groupId, msg: forged(f1!.id) }] }), new RegExp(`batch from node ${f2!.id} carries a message from node ${f1!.id}`));
  // A snapshot chunk claiming to come from f1.
  const snap = toWire(raftMessage({ type: MessageType.Snapshot, from: f1!.id, to: leader.id, term: 2 ** 53 - 1, snapshot: { meta: { index: 1, term: 1, conf: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array() } as never }));
  await refused(asF2.installSnapshotChunk({ groupId, msg: snap, offset: 0, data: new Uint8Array(8), done: false }), /claims to be from metaserver/);
  // A certificate of the CA that names no member at all.
  const asStranger = asCertificate('metaserver9').client(RaftService, leader.address);
  await refused(asStranger.send({ from: f1!.id, msgs: [{ groupId, msg: forged(f1!.id) }] }), /certificate "metaserver9"/);
  // The operator's certificate with the cluster token is no replica either.
  await refused(asCertificate('admin').client(RaftService, leader.address).send({ from: leader.id, msgs: [] }), /certificate "admin"/);

  // The real replica's certificate is accepted for its own id (an empty batch: a liveness ping).
  await asF2.send({ from: f2!.id, msgs: [] });

  const after = await status();
  assert.equal(after.state, 'leader');
  assert.equal(after.term, before.term, 'no forged term was adopted');
});

test('with TLS a metaserver registers at the MDS only under its own certificate name, and only once', async () => {
  const mds = await MdsProcess.spawn({
    etcd: [],
    dataDir: join(dir, 'mds'),
    journal: join(dir, 'journal'),
    args: ['--auth-key-file', join(dir, 'cluster.key'), '--tls-dir', tlsDir, '--tls-name', 'mds'],
    adminTokenFile: join(dir, 'admin.token'),
  });
  try {
    await waitFor(async () => (await mds.status())?.role === 'leader', 'the MDS to lead');
    const register = (cert: string, hostName: string, port: number) =>
      asCertificate(cert).client(TopologyService, mds.address).registMetaServer({ hostName, internalIp: '127.0.0.1', internalPort: port, externalIp: '127.0.0.1', externalPort: port });
    await refused(register('metaserver9', 'cert:metaserver1', 40001), /registers under the name of its certificate: this one is "cert:metaserver9", the request says "cert:metaserver1"/);
    await refused(register('metaserver9', 'metaserver9', 40001), /this one is "cert:metaserver9", the request says "metaserver9"/);
    const r = await register('metaserver9', 'cert:metaserver9', 40001);
    assert.ok(r.metaserverId > 0);
    await refused(register('metaserver9', 'cert:metaserver9', 40002), /"metaserver9" is already registered by the metaserver at 127\.0\.0\.1:40001/);
    const info = await asCertificate('admin').client(TopologyService, mds.address).getMetaServer({ metaserverId: r.metaserverId });
    assert.equal(info.metaserverInfo?.hostname, 'cert:metaserver9');
  } finally {
    await mds.stop();
  }
});
