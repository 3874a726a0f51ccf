// Protocol fuzz test (issue [L]): a seeded fuzzer sends malformed, truncated, oversized,
// wrong-kind and random frames, and random, wrong-type and undecodable messages with and without
// credentials, to every RPC service of a real MDS and a real metaserver (whose port also serves
// Raft), all started with a cluster key. Each gets a precise error (never UNKNOWN_ERROR, the
// status of a handler that threw something unplanned) or a closed connection; no call without the
// right credential changes anything (the MDS's file systems, sessions, topology and partitions,
// the metaservers' copysets and the files of a live fs are compared before and after); a client
// of the fs keeps being served throughout.
//
// Replay: CURVEFS_FUZZ_SEED=<seed> node scripts/test.mjs test/integration/rpc-fuzz.test.ts
// (fast-check prints the seed and the failing case's path on failure; CURVEFS_FUZZ_RUNS=N for more).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { create, toBinary, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { CurveError, SeededRandom, StatusCode, statusName } from '../../src/common/index.ts';
import { ClusterKey } from '../../src/mds/index.ts';
import { ChannelPool, RpcServer, TOKEN_FILE_ENV, methodIdOf, DEFAULT_MAX_FRAME_BYTES } from '../../src/rpc/index.ts';
import { FrameDecoder, FrameKind, PREFACE, decodeErrorTrailer } from '../../src/rpc/frame.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { HeartbeatService } from '../../src/gen/heartbeat_pb.ts';
import { MdsService } from '../../src/gen/mds_pb.ts';
import { TopologyService } from '../../src/gen/topology_pb.ts';
import { CopysetService, MetaServerInternalService, MetaServerService } from '../../src/gen/metaserver_pb.ts';
import { RaftService } from '../../src/gen/raft_pb.ts';
import { HangRequestSchema, RpcTestService } from '../../src/gen/rpctest_pb.ts';
import { rpcTestImpl, type HangRecord } from '../helpers/rpc-test-service.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { frame, randomMessageBytes, randomScript, randomWireBytes, undecodableBytes, type Rng } from '../helpers/fuzz-messages.ts';

const SEED = Number(process.env.CURVEFS_FUZZ_SEED ?? 20261207);
const RUNS = Number(process.env.CURVEFS_FUZZ_RUNS ?? 100);

const MDS_SERVICES: DescService[] = [MdsService, TopologyService, HeartbeatService];
const METASERVER_SERVICES: DescService[] = [MetaServerService, CopysetService, MetaServerInternalService, RaftService];
/** Methods that only read: a caller allowed to call them may send anything. */
const READ_ONLY = new Set([
  'GetFsInfo', 'ListClusterFsInfo',
  'ListMetaServer', 'GetMetaServer', 'GetServer', 'ListZoneServer', 'GetZone', 'ListPoolZone', 'GetPool', 'ListPool',
  'GetMetaServerListInCopysets', 'ListPartition', 'GetCopysetOfPartition', 'GetCopysetsInfo', 'ListCopysetInfo', 'ListTopology',
  'GetDentry', 'ListDentry', 'GetInode', 'BatchGetInodeAttr', 'BatchGetXAttr', 'GetXAttr', 'ListXAttr', 'GetDirStats',
  'GetLeader', 'GetCopysetStatus', 'ListCopysets',
]);
const ALL_INPUTS: DescMessage[] = [...MDS_SERVICES, ...METASERVER_SERVICES].flatMap((s) => s.methods.map((m) => m.input));

let dir: string;
let key: ClusterKey;
let cluster: CurvefsCluster;
let conn: Connection;
const pools: ChannelPool[] = [];
let mdsAddr: string;
let msAddr: string;
let tokens: Record<'admin' | 'cluster' | 'alpha' | 'gamma' | 'forged', string>;

function poolWith(credential: string | undefined): ChannelPool {
  const p = new ChannelPool({ credential, tls: false, defaultTimeoutMs: 10_000, connectTimeoutMs: 2000, backoff: { initialMs: 20, maxMs: 200 } });
  pools.push(p);
  return p;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-fuzz-'));
  key = ClusterKey.generate();
  const keyFile = join(dir, 'cluster.key');
  key.save(keyFile);
  const forged = ClusterKey.generate().token({ role: 'admin' });
  tokens = {
    admin: key.token({ role: 'admin' }),
    cluster: key.token({ role: 'cluster' }),
    alpha: key.token({ role: 'fs', fsName: 'alpha' }),
    gamma: key.token({ role: 'fs', fsName: 'gamma' }),
    forged,
  };
  // The helpers' own pools (cluster start, fs creation) act as the operator.
  const adminFile = join(dir, 'admin.token');
  writeFileSync(adminFile, tokens.admin, { mode: 0o600 });
  chmodSync(adminFile, 0o600);
  process.env[TOKEN_FILE_ENV] = adminFile;
  cluster = await CurvefsCluster.start({ dir, mdsArgs: ['--auth-key-file', keyFile, '--dashboard-port', '0'], metaserverArgs: () => ['--auth-key-file', keyFile] });
  delete process.env[TOKEN_FILE_ENV];
  await cluster.createFs('alpha');
  mdsAddr = cluster.mdsAddrs[0]!;
  msAddr = cluster.metaservers.procs[0]!.address;
  const alphaPool = poolWith(tokens.alpha);
  conn = await connectFs({ mds: new MdsAdapter(new RotatingMdsConnector(alphaPool, cluster.mdsAddrs, { callTimeoutMs: 10_000 })), fsName: 'alpha', pool: alphaPool, entryTtlMs: 0, attrTtlMs: 0 });
  await conn.fs.mkdir('/d');
  await conn.fs.writeFile('/d/f1', 'one');
  await conn.fs.writeFile('/top', 'two');
});

after(async () => {
  await conn?.close().catch(() => undefined);
  for (const p of pools) p.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Drops what heartbeats and clocks move on their own, keeps what a caller could change. */
function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '$typeName' || /^(usedBytes|usedInodes|usageComplete|lastHeartbeatMsAgo|space|leaderCount|onlineState)$/.test(k)) continue;
      out[k] = stable(x);
    }
    return out;
  }
  return v;
}

/**
 * Everything the fuzzer must not change, as one comparable value, once every replica has applied
 * what its leader committed: a follower learns a lone commit up to a tick later (docs/raft.md),
 * so its partition statistics may trail the leader's for a moment.
 */
async function fingerprint(): Promise<unknown> {
  let value: { copysets: Array<Array<{ copyset: number; partitions: unknown }>> } | undefined;
  await waitFor(async () => {
    value = (await readFingerprint()) as typeof value;
    const seen = new Map<number, string>();
    for (const perServer of value!.copysets) {
      for (const c of perServer) {
        const mine = JSON.stringify(c.partitions);
        if ((seen.get(c.copyset) ?? mine) !== mine) return false;
        seen.set(c.copyset, mine);
      }
    }
    return true;
  }, 'every replica of each copyset to report the same partitions');
  return value;
}

async function readFingerprint(): Promise<unknown> {
  const admin = poolWith(tokens.admin);
  const mds = admin.client(MdsService, mdsAddr);
  const topo = admin.client(TopologyService, mdsAddr);
  const fsList = (await mds.listClusterFsInfo({})).fsInfo;
  const partitions = [];
  for (const f of fsList) {
    const ps = (await topo.listPartition({ fsId: f.fsId })).partitionInfoList;
    partitions.push(ps.map((p) => ({ id: p.partitionId, copyset: p.copysetId, start: p.start, end: p.end, status: p.status })));
  }
  const copysets = [];
  for (const ms of cluster.metaservers.procs) {
    const cs = (await admin.client(CopysetService, ms.address).listCopysets({})).copysets;
    copysets.push(cs.map((c) => ({ pool: c.poolId, copyset: c.copysetId, peers: c.peers.map((p) => p.address), partitions: stable(c.partitions) })).sort((a, b) => a.copyset - b.copyset));
  }
  const files: Record<string, unknown> = {};
  const walk = async (path: string): Promise<void> => {
    for (const name of (await conn.fs.readdir(path)).sort()) {
      const p = `${path === '/' ? '' : path}/${name}`;
      const st = await conn.fs.stat(p);
      files[p] = { mode: st.mode, size: st.size, nlink: st.nlink, ino: st.ino };
      if (st.isDirectory()) await walk(p);
      else files[`${p}#data`] = Buffer.from(await conn.fs.readFile(p)).toString('hex');
    }
  };
  await walk('/');
  const topology = await topo.listTopology({});
  admin.close();
  return stable({ fsList, partitions, copysets, topology, files });
}

/** A client of the fs and the operator are still served. */
async function stillServing(): Promise<void> {
  assert.equal(Buffer.from(await conn.fs.readFile('/d/f1')).toString(), 'one');
  const info = await adminPool().client(MdsService, mdsAddr).getFsInfo({ fsName: 'alpha' });
  assert.equal(info.fsInfo?.fsName, 'alpha');
}

let sharedAdmin: ChannelPool | undefined;
function adminPool(): ChannelPool {
  return (sharedAdmin ??= poolWith(tokens.admin));
}

interface Observed {
  errors: Array<{ status: number; message: string }>;
  responses: Array<{ callId: number; status: number; message: string }>;
  pong: boolean;
  closed: boolean;
}

/** Sends `bytes` on a fresh connection; then a Ping (when the bytes end on a frame boundary) or
 *  the end of the stream. Resolves once the server answered the Ping or closed the connection. */
async function sendRaw(address: string, bytes: Buffer, complete: boolean, answers = 0): Promise<Observed> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const socket = connect({ host, port });
  socket.on('error', () => {});
  const seen: Observed = { errors: [], responses: [], pong: false, closed: false };
  const PING_ID = 0x7ffffff0;
  const decoder = new FrameDecoder({
    onFrame: (h, payload) => {
      const message = decodeErrorTrailer(payload)?.message ?? '<bad trailer>';
      if (h.kind === FrameKind.Error) seen.errors.push({ status: h.status, message });
      else if (h.kind === FrameKind.Pong && h.callId === PING_ID) seen.pong = true;
      else if (h.kind === FrameKind.Response) seen.responses.push({ callId: h.callId, status: h.status, message });
    },
    onProtocolError: (status, message) => seen.errors.push({ status, message: `client-side: ${message}` }),
  });
  socket.on('data', (c: Buffer) => decoder.push(c));
  socket.once('close', () => (seen.closed = true));
  await once(socket, 'connect');
  socket.write(bytes);
  if (complete) socket.write(frame(FrameKind.Ping, PING_ID, 0, Buffer.alloc(0)));
  else socket.end();
  try {
    await waitFor(() => (seen.pong && seen.responses.length >= answers) || seen.closed, `the server at ${address} to answer ${answers} requests and a ping, or close`, 20_000);
  } finally {
    socket.destroy();
  }
  return seen;
}

/** fc.assert with the failing case's own assertion message in the error (fast-check 4 keeps it in `cause`). */
async function check(prop: fc.IAsyncProperty<[number]>, opts: fc.Parameters<[number]>): Promise<void> {
  try {
    await fc.assert(prop, opts);
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    throw new Error(`${(e as Error).message}\n${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

const FRAME_ERRORS = new Set([StatusCode.MALFORMED_FRAME, StatusCode.FRAME_TOO_LARGE]);
/** Without a valid credential a request is refused before its payload is looked at. */
const ANONYMOUS_ANSWERS = new Set([StatusCode.UNAUTHENTICATED, StatusCode.UNKNOWN_METHOD]);

/** The read-only methods of `services`, which the fs client may send anything. */
function readOnly(services: DescService[]): Array<{ id: number; input: DescMessage }> {
  return services.flatMap((s) => s.methods.filter((m) => READ_ONLY.has(m.name)).map((m) => ({ id: methodIdOf(`${s.typeName}/${m.name}`), input: m.input })));
}

function methodIds(services: DescService[]): number[] {
  return services.flatMap((s) => s.methods.map((m) => methodIdOf(`${s.typeName}/${m.name}`)));
}

for (const [target, services] of [['MDS', MDS_SERVICES], ['metaserver (RPC and Raft)', METASERVER_SERVICES]] as const) {
  test(`hostile bytes to the ${target}: precise errors or a closed connection, nothing changes`, async () => {
    const address = target === 'MDS' ? mdsAddr : msAddr;
    const ids = methodIds(services);
    const before = await fingerprint();
    await stillServing();
    const baseConnections = (await mdsRpcStatus()).connections;
    let cases = 0;
    await check(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (s) => {
        const rng = new SeededRandom(s);
        const script = randomScript(rng, ids, DEFAULT_MAX_FRAME_BYTES, { token: tokens.alpha, methods: readOnly(services) });
        const seen = await sendRaw(address, script.bytes, script.complete, script.answers);
        for (const e of seen.errors) {
          assert.ok(FRAME_ERRORS.has(e.status) && e.message.length > 0, `${script.what}: error frame ${statusName(e.status)} "${e.message}"`);
        }
        for (const r of seen.responses) {
          if (script.answers !== undefined) assert.notEqual(statusName(r.status), statusName(StatusCode.UNKNOWN_ERROR), `${script.what}: ${r.message}`);
          else assert.ok(ANONYMOUS_ANSWERS.has(r.status) && r.message.length > 0, `${script.what}: response ${statusName(r.status)} "${r.message}"`);
        }
        if (!seen.pong) assert.ok(seen.closed, `${script.what}: neither answered nor closed`);
        if (++cases % 10 === 0) await stillServing();
      }),
      { seed: SEED, numRuns: RUNS },
    );
    await stillServing();
    assert.deepEqual(await fingerprint(), before);
    if (target === 'MDS') {
      // Every hostile connection is closed and nothing is held for their partial frames any more.
      await waitFor(async () => {
        const rpc = await mdsRpcStatus();
        return rpc.bufferedBytes === 0 && rpc.connections <= baseConnections;
      }, 'the MDS to hold no partial-frame bytes and only the connections it had before');
    }
  });
}

/** The MDS's RPC bounds from its status page. */
async function mdsRpcStatus(): Promise<{ bufferedBytes: number; connections: number }> {
  const res = await fetch(`http://${cluster.mdsDashboard}/api/status`, { headers: { authorization: `Bearer ${tokens.admin}` } });
  const body = (await res.json()) as { rpc?: { bufferedBytes: number; connections: number } };
  assert.ok(body.rpc, 'the status page reports the RPC bounds');
  return body.rpc;
}

type Who = keyof typeof tokens | 'none';

/** What each caller may send to `method` without the test's state check being a false alarm. */
function payloadsFor(who: Who, svc: DescService, m: DescMethod): Array<'undecodable' | 'wire' | 'typed' | 'other-type'> {
  // admin, cluster and the fs's own client are entitled to change things; an fs token reaches the
  // metaserver data path of any fs (docs/security.md "Not yet").
  const mayChange = who === 'admin' || who === 'cluster' || who === 'alpha' || (who === 'gamma' && svc === MetaServerService);
  if (!mayChange || READ_ONLY.has(m.name)) return ['undecodable', 'wire', 'typed', 'other-type'];
  return ['undecodable']; // a well-formed request from an entitled caller may legitimately change state
}

/** The statuses a caller may see: refusals when it lacks the role, anything precise otherwise. */
function checkAnswer(who: Who, status: StatusCode, message: string, what: string): void {
  if (who === 'none' || who === 'forged') {
    assert.equal(statusName(status), statusName(StatusCode.UNAUTHENTICATED), `${what}: ${message}`);
    return;
  }
  assert.notEqual(statusName(status), statusName(StatusCode.UNKNOWN_ERROR), `${what}: an unplanned failure: ${message}`);
  if (status !== StatusCode.OK) assert.ok(message.length > 0, `${what}: ${statusName(status)} without a message`);
}

test('random, wrong-type and undecodable messages to every method, with and without credentials', async () => {
  const before = await fingerprint();
  const callers: Who[] = ['none', 'forged', 'gamma', 'alpha', 'cluster', 'admin'];
  const callerPools = new Map(callers.map((w) => [w, poolWith(w === 'none' ? undefined : tokens[w])]));
  const targets = [
    ...MDS_SERVICES.flatMap((s) => s.methods.map((m) => ({ addr: () => mdsAddr, svc: s, m }))),
    ...METASERVER_SERVICES.flatMap((s) => s.methods.map((m) => ({ addr: () => msAddr, svc: s, m }))),
  ];
  let calls = 0;
  await check(
    fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (s) => {
      const rng: Rng = new SeededRandom(s);
      // Every method once per run, each with a random caller and payload.
      for (const t of targets) {
        const who = callers[rng.int(0, callers.length)]!;
        const kinds = payloadsFor(who, t.svc, t.m);
        const kind = kinds[rng.int(0, kinds.length)]!;
        const payload =
          kind === 'undecodable' ? undecodableBytes(rng) : kind === 'wire' ? randomWireBytes(rng) : randomMessageBytes(rng, kind === 'typed' ? t.m.input : ALL_INPUTS[rng.int(0, ALL_INPUTS.length)]!);
        const what = `${t.svc.typeName}/${t.m.name} as ${who} with ${kind} payload ${Buffer.from(payload).toString('hex').slice(0, 200)}`;
        let status: StatusCode = StatusCode.OK;
        let message = '';
        try {
          await callerPools.get(who)!.callRaw(t.addr(), `${t.svc.typeName}/${t.m.name}`, payload, { timeoutMs: 10_000 });
        } catch (e) {
          assert.ok(e instanceof CurveError, `${what}: ${String(e)}`);
          status = e.status;
          message = e.message.replace(/^[A-Z_]+: ?/, '');
        }
        if (kind === 'undecodable' && who !== 'none' && who !== 'forged' && status !== StatusCode.FORBIDDEN) {
          assert.equal(statusName(status), statusName(StatusCode.PARSE_FROM_STRING_FAILED), `${what}: ${message}`);
        }
        checkAnswer(who, status, message, what);
        calls++;
      }
      await stillServing();
    }),
    { seed: SEED, numRuns: Math.max(5, Math.floor(RUNS / 10)) },
  );
  assert.ok(calls > targets.length);
  assert.deepEqual(await fingerprint(), before);
});

// Finding: a request whose deadline (header field, milliseconds) was beyond 2^31 - 1 expired at
// once, because Node runs a longer setTimeout after 1 ms: the handler was aborted with TIMEOUT
// and its answer dropped, so the caller got nothing until its own deadline.
test('a deadline beyond a 32-bit timer does not expire the call at once', async () => {
  const hangs = new Map<string, HangRecord>();
  const server = new RpcServer({ port: 0 }).register(RpcTestService, rpcTestImpl(hangs));
  const port = await server.listen();
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const answered = new Set<number>();
  const decoder = new FrameDecoder({ onFrame: (h) => void answered.add(h.callId), onProtocolError: () => {} });
  socket.on('data', (c: Buffer) => decoder.push(c));
  try {
    await once(socket, 'connect');
    const hang = methodIdOf('curvefs.rpctest.RpcTestService/Hang');
    const req = (tag: string) => toBinary(HangRequestSchema, create(HangRequestSchema, { tag }));
    socket.write(Buffer.concat([PREFACE, frame(FrameKind.Request, 1, hang, req('far'), { timeoutMs: 2 ** 32 - 1 }), frame(FrameKind.Request, 2, hang, req('none'), { timeoutMs: 0 })]));
    await waitFor(() => hangs.has('far') && hangs.has('none'), 'both calls to start');
    // A round trip later (a cancel of the second call, answered), the first must still be running.
    socket.write(frame(FrameKind.Cancel, 2, 0, Buffer.alloc(0)));
    await waitFor(() => hangs.get('none')!.reason !== undefined, 'the cancel to reach the second call');
    socket.write(frame(FrameKind.Ping, 3, 0, Buffer.alloc(0)));
    await waitFor(() => answered.has(3), 'the pong');
    assert.equal(hangs.get('far')!.reason, undefined, `the far deadline fired: ${String(hangs.get('far')!.reason)}`);
    assert.equal(server.stats().inflight, 1);
  } finally {
    socket.destroy();
    await server.close();
  }
});
