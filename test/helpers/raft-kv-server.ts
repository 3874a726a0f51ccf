// A process that hosts one replica of a Raft KV group over the real RPC transport, for the
// real-process tests and benchmarks (test/integration/raft-process.test.ts, bench/raft-commit.ts).
//
//   node --import tsx test/helpers/raft-kv-server.ts --id 1 --dir D [--port P] [--peers 1=h:p,2=h:p,3=h:p]
//        [--tick-ms MS] [--election-tick N] (RaftNode's defaults: 50, 10) [--snapshot-entries N] [--prealloc truncate|zeros]
//        [--log-sync dsync|fdatasync] (RaftLogOptions.syncMode) [--inline-bytes N] (RaftLogOptions.inlineBytes)
//        [--groups N] (default 1: groups 1..N, the KV service serves group 1) [--no-quiesce] [--async-writes]
//        [--tls-dir D] (mutual TLS as a metaserver without an MDS runs it: certificate
//        `metaserver<id>` from D, the layout of `curvefs certs`; Raft batches accepted only over
//        the sender's own certificate)
//
// It listens (port 0 = chosen by the OS) and prints "READY <port>". Without --peers it then
// reads one line "PEERS 1=h:p,2=h:p,3=h:p" from stdin (so every replica can listen on an OS port
// first). It serves RaftService and a small JSON KV service of raw methods:
//   curvefs.rafttest.Kv/Propose  body: a KV command (test/helpers/raft-kv.ts) -> {"prev": ...}
//   curvefs.rafttest.Kv/Dump     -> {"applied", "data": [[k, v]...]} of this replica (local)
//   curvefs.rafttest.Kv/Status   -> {"role", "leader", "term", "commit", "applied", "cpuUs"} of group 1,
//                                   and over all groups: "leads", "leaderless", "quiesced" (counts)
//   curvefs.rafttest.Kv/Ping     -> empty (the RPC round trip alone)
//   curvefs.rafttest.Kv/ProposeIn body: group id (u32 LE) + a KV command -> {"prev": ...} (any group)
// Status also lists the groups this replica leads ("ledGroups", when --groups ≤ 256) and the
// process's durable log writes so far ("syncs", "inlineSyncs": logSyncCounters).
// NOT_LEADER answers carry the leader's address.
import { createInterface } from 'node:readline';
import { ChannelPool, RpcServer, loadTlsConfig } from '../../src/rpc/index.ts';
import { AddressBook, RaftNode, RpcRaftTransport, Role, logSyncCounters } from '../../src/raft/index.ts';
import { RaftPeerIdentity, fixedNames } from '../../src/mds/auth/peer-identity.ts';
import { KV_DUMP, KV_PING, KV_PROPOSE, KV_PROPOSE_IN, KV_STATUS, KvStateMachine } from './raft-kv.ts';

const GROUP = 1;

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1]!;
  if (dflt === undefined) throw new Error(`missing --${name}`);
  return dflt;
}

function parsePeers(s: string): [number, string][] {
  return s.split(',').map((p) => {
    const [id, addr] = p.split('=');
    return [Number(id), addr!];
  });
}

async function main(): Promise<void> {
  const id = Number(arg('id'));
  const tlsDir = process.argv.includes('--tls-dir') ? arg('tls-dir') : undefined;
  const tls = tlsDir ? loadTlsConfig(tlsDir, `metaserver${id}`) : undefined;
  const server = new RpcServer({ host: '127.0.0.1', port: Number(arg('port', '0')), tls });
  const pool = new ChannelPool({ backoff: { initialMs: 50, maxMs: 500 }, connectTimeoutMs: 1000, tls: tls ?? false });
  const addresses = new AddressBook();
  // As src/metaserver/main.ts does without an MDS: node X must come over certificate metaserverX.
  const identities = tls ? new RaftPeerIdentity(fixedNames) : undefined;
  const transport = new RpcRaftTransport({ self: id, server, pool, addresses, checkSender: identities && ((from, ctx) => identities.check(from, ctx.peerCertName)) });
  const sm = new KvStateMachine();
  const groups = Number(arg('groups', '1'));
  const node = new RaftNode({
    id,
    dataDir: arg('dir'),
    transport,
    addresses,
    // RaftNode's defaults unless given (the bench's "default timeouts").
    tickMs: process.argv.includes('--tick-ms') ? Number(arg('tick-ms')) : undefined,
    electionTick: process.argv.includes('--election-tick') ? Number(arg('election-tick')) : undefined,
    snapshotEntries: Number(arg('snapshot-entries', '100000')),
    log: { preallocate: arg('prealloc', 'truncate') === 'zeros' ? 'zeros' : 'truncate', syncMode: arg('log-sync', 'dsync') === 'fdatasync' ? 'fdatasync' : 'dsync', inlineBytes: process.argv.includes('--inline-bytes') ? Number(arg('inline-bytes')) : undefined },
    quiesce: !process.argv.includes('--no-quiesce'),
    asyncWrites: process.argv.includes('--async-writes'),
  });
  const utf8 = new TextEncoder();
  const enc = (v: unknown) => utf8.encode(JSON.stringify(v));
  server.registerRaw(KV_PROPOSE, async (body) => enc({ prev: await node.propose(GROUP, body.slice()) }));
  server.registerRaw(KV_PROPOSE_IN, async (body) => {
    const group = new DataView(body.buffer, body.byteOffset, body.length).getUint32(0, true);
    return enc({ prev: await node.propose(group, body.slice(4)) });
  });
  const empty = new Uint8Array(0);
  server.registerRaw(KV_PING, () => empty);
  server.registerRaw(KV_DUMP, () => enc({ applied: node.status(GROUP).applied, data: [...sm.data] }));
  server.registerRaw(KV_STATUS, () => {
    const s = node.status(GROUP);
    const cpu = process.cpuUsage();
    let leads = 0;
    let leaderless = 0;
    let quiesced = 0;
    const ledGroups: number[] = [];
    for (let g = 1; g <= groups; g++) {
      if (!node.hasGroup(g)) continue;
      const gs = node.status(g);
      if (gs.role === Role.Leader) leads++;
      if (gs.role === Role.Leader && groups <= 256) ledGroups.push(g);
      if (gs.leader === 0) leaderless++;
      if (gs.quiesced) quiesced++;
    }
    return enc({
      role: s.role === Role.Leader ? 'leader' : 'other', leader: s.leader, term: s.term, commit: s.commit, applied: s.applied,
      cpuUs: cpu.user + cpu.system, leads, leaderless, quiesced, pid: process.pid,
      ledGroups, syncs: logSyncCounters.writes, inlineSyncs: logSyncCounters.inline,
    });
  });
  const port = await server.listen();
  process.stdout.write(`READY ${port}\n`);

  let peers = process.argv.includes('--peers') ? arg('peers') : undefined;
  if (!peers) {
    const rl = createInterface({ input: process.stdin });
    peers = await new Promise<string>((resolve) => rl.once('line', (l) => resolve(l.replace(/^PEERS /, ''))));
    rl.close();
  }
  const members = parsePeers(peers);
  for (const [pid, addr] of members) addresses.set(pid, addr);
  const voters = members.map(([pid]) => pid).sort((a, b) => a - b);
  const report = await node.addGroup(GROUP, voters, sm);
  if (report.log.cuts.length > 0) process.stderr.write(`log cut at open: ${JSON.stringify(report.log.cuts)}\n`);
  // Further groups (bench/raft-idle.ts), opened a few at a time.
  for (let g = GROUP + 1; g <= groups; g += 50) {
    const batch: Promise<unknown>[] = [];
    for (let k = g; k < g + 50 && k <= groups; k++) batch.push(node.addGroup(k, voters, new KvStateMachine()));
    await Promise.all(batch);
  }
  process.stdout.write('STARTED\n');

  const shutdown = async () => {
    await node.stop();
    await server.close();
    pool.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
}

main().catch((e: unknown) => {
  process.stderr.write(`raft-kv-server failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
