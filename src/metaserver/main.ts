// The metaserver process (`curvefs metaserver`): hosts copysets (Raft groups of partitions) and
// serves MetaServerService, CopysetService, the internal transaction service and Raft.
//
//   runMetaserver({ listen: '127.0.0.1:16701', dataDir: 'D', mdsAddrs: ['127.0.0.1:6700'] })
//   runMetaserver({ listen: '127.0.0.1:0', dataDir: 'D', id: 1 })        without an MDS (tests)
//
// As a script:
//   npx tsx src/metaserver/main.ts --listen 127.0.0.1:16701 --data-dir D --mds 127.0.0.1:6700[,..]
//     [--metrics-port P] [--id N] [--config file.json]
// It prints one line `METASERVER_READY {"id":..,"address":"..","metrics":".."}` once serving,
// and stops cleanly on SIGTERM/SIGINT.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { CurveError, StatusCode, addLogFlags, applyLogSettings, createLogger, intArg, logSettingsOf, parseMs, parsePort } from '../common/index.ts';
import { MdsClient } from '../mds/client.ts';
import { ClusterKey, INSECURE_HELP, METASERVER_RULES, logInsecure, securityFlagsProblem, RaftPeerIdentity, certRegistrationName, fixedNames, tokenAuth, type NameLookup } from '../mds/auth/index.ts';
import { ChannelPool, loadTlsConfig, tlsOption } from '../rpc/index.ts';
import { AddressBook, RaftNode, RpcRaftTransport } from '../raft/index.ts';
import { raftGroupFactory } from './copyset/raft-group.ts';
import type { GroupFactory } from './copyset/manager.ts';
import { loadIdentity, saveIdentity, type Identity } from './identity.ts';
import { HeartbeatLoop, MdsRouter, registerWithMds } from './mds-link.ts';
import { MetaServer } from './server.ts';
import { CachedFsData, mdsFsData } from './reclaim/fs-data.ts';
import { mdsRetention } from './trash-policy.ts';
import { create } from '@bufbuild/protobuf';
import { DataStoreSchema } from '../gen/mds_pb.ts';
import type { TxStep } from './tx/coordinator.ts';
import type { FsNameLookup } from './authz.ts';

const log = createLogger('metaserver-main');

/** The name metaserver `id` registered with (its certificate's, with TLS), asked of the MDS. */
function registeredName(mds: MdsClient): NameLookup {
  return async (id) => {
    try {
      return (await mds.topology.getMetaServer({ metaserverId: id })).metaserverInfo?.hostname;
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.TOPO_METASERVER_NOT_FOUND) return undefined;
      throw new CurveError(StatusCode.UNAVAILABLE, `cannot learn the certificate name of metaserver ${id} from the MDS: ${(e as Error).message}`);
    }
  };
}

/** The name of fs `fsId` (undefined: the MDS knows no such fs), for the data path's fs check. */
function fsNameFromMds(mds: MdsClient): FsNameLookup {
  return async (fsId) => {
    try {
      return (await mds.mds.getFsInfo({ fsId })).fsInfo?.fsName;
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.FS_NOT_FOUND) return undefined;
      throw e;
    }
  };
}

export interface RunMetaserverOptions {
  /** "host:port"; port 0 lets the OS choose (see the handle's address). */
  listen: string;
  dataDir: string;
  /** MDS addresses; without them `id` must be given and copysets are created by admin RPCs. */
  mdsAddrs?: string[];
  /** Metaserver id when running without an MDS (kept in metaserver.dat afterwards). */
  id?: number;
  /** Prometheus metrics on this port (0 = any); undefined = none. */
  metricsPort?: number;
  /** Heartbeat period (default 2 s: it carries the partitions' used bytes and inodes). */
  heartbeatMs?: number;
  /** Raft timing: ms per tick (default 50) and ticks to an election (default 10). */
  raftTickMs?: number;
  electionTicks?: number;
  /**
   * How a leader confirms a read is linearizable: 'lease' (default; answers at once while a
   * quorum acknowledged a recent heartbeat, as CurveFS's leader lease) or 'safe' (ReadIndex: a
   * heartbeat round per batch of reads).
   */
  readMode?: 'lease' | 'safe';
  /** Snapshot after this many entries / bytes applied since the last one. */
  snapshotEntries?: number;
  snapshotBytes?: number;
  /** ... or once this long passed since the last one and anything was applied (default 1 hour). */
  snapshotIntervalMs?: number;
  /** Log entries kept behind a snapshot for slow followers (default 1,000). */
  snapshotKeepEntries?: number;
  /** Preallocated size of each Raft log segment (default 64 MiB; tests use small ones). */
  raftSegmentBytes?: number;
  /** Seed addresses of other metaservers (routing without an MDS). */
  peers?: string[];
  /** Crash injection for tests: SIGKILL self at this transaction step, see tx/coordinator.ts. */
  crashAt?: TxStep;
  /**
   * Crash injection for tests: at each transaction step, if this file names the step, delete the
   * file and SIGKILL self (arm it by writing the step's name into the file).
   */
  crashFile?: string;
  requestTimeoutMs?: number;
  /** Without an MDS: the local block-store directory of each fs, for deleting reclaimed data. */
  dataStores?: Record<string, string>;
  /** Seconds after an unlink before an unopened inode's data is deleted (default 30). */
  reclaimGraceSec?: number;
  reclaimIntervalMs?: number;
  /** Period of the trash expiry pass (default 60 s; reclaim/trash-expiry.ts). */
  trashIntervalMs?: number;
  /** Orphan sweeper: pass period (default 60 s) and how long an inode must stay unnamed (default 10 min). */
  orphanIntervalMs?: number;
  orphanAgeMs?: number;
  /**
   * The cluster key (docs/security.md): callers must then present tokens derived from it, and
   * this metaserver presents the cluster token to the MDS and its peers.
   */
  authKeyFile?: string;
  /** Mutual TLS: the directory of `curvefs certs` and this metaserver's certificate name in it. */
  tls?: { dir: string; name: string };
  /** Said on purpose: no key, no TLS (mds/auth/insecure.ts); logged loudly at start. */
  insecure?: boolean;
}

export interface MetaserverHandle {
  id: number;
  address: string;
  metricsAddress: string;
  server: MetaServer;
  stop(): Promise<void>;
}

export async function runMetaserver(opts: RunMetaserverOptions): Promise<MetaserverHandle> {
  await mkdir(opts.dataDir, { recursive: true });
  const mdsAddrs = (opts.mdsAddrs ?? []).filter((a) => a.length > 0);
  const key = opts.authKeyFile ? ClusterKey.load(opts.authKeyFile) : undefined;
  if (!key && !opts.insecure) log.warn('no --auth-key-file: authentication is OFF, anyone who reaches this port may call anything (docs/security.md)');
  const credential = key?.token({ role: 'cluster' });
  // The MDS client's own pool carries the cluster token (not $CURVEFS_TOKEN_FILE's).
  const tls = opts.tls ? loadTlsConfig(opts.tls.dir, opts.tls.name) : undefined;
  const mdsPool = mdsAddrs.length > 0 && (credential || tls) ? new ChannelPool({ credential, tls: tls ?? false }) : undefined;
  const mds = mdsAddrs.length > 0 ? new MdsClient({ addresses: mdsAddrs, pool: mdsPool }) : undefined;
  let identity: Identity | undefined;
  let raft: RaftNode | undefined;
  const server: MetaServer = new MetaServer({
    listen: opts.listen,
    id: async (address) => {
      // With TLS a metaserver registers under its certificate's name, by which Raft knows it.
      if (mds) identity = await registerWithMds(mds, opts.dataDir, address, { hostName: opts.tls ? certRegistrationName(opts.tls.name) : undefined });
      else {
        identity = await loadIdentity(opts.dataDir);
        if (!identity) {
          if (!opts.id) throw new CurveError(StatusCode.PARAM_ERROR, 'without an MDS, give the metaserver an id (--id)');
          identity = { id: opts.id, token: '' };
          await saveIdentity(opts.dataDir, identity);
        } else if (opts.id && opts.id !== identity.id) {
          throw new CurveError(StatusCode.PARAM_ERROR, `${opts.dataDir} belongs to metaserver ${identity.id}, not ${opts.id}`);
        }
      }
      return identity.id;
    },
    seeds: opts.peers,
    auth: key ? tokenAuth(key, METASERVER_RULES) : undefined,
    fsNameOf: mds ? fsNameFromMds(mds) : undefined,
    credential,
    tls,
    router: mds ? new MdsRouter(mds) : undefined,
    reclaim: {
      data: mds
        ? mdsFsData(mds)
        : new CachedFsData(async (fsId) => {
            const d = opts.dataStores?.[String(fsId)];
            return d ? { store: create(DataStoreSchema, { kind: { case: 'local', value: { dir: d } } }), chunkSize: 0, blockSize: 0 } : undefined;
          }),
      graceSec: opts.reclaimGraceSec,
      intervalMs: opts.reclaimIntervalMs,
    },
    orphans: { intervalMs: opts.orphanIntervalMs, ageMs: opts.orphanAgeMs },
    trash: mds ? { retention: mdsRetention(mds), intervalMs: opts.trashIntervalMs } : undefined,
    metricsPort: opts.metricsPort,
    defaultTimeoutMs: opts.requestTimeoutMs,
    coordinator:
      opts.crashAt || opts.crashFile
        ? {
            stepHook: (step) => {
              let armed = step === opts.crashAt;
              if (!armed && opts.crashFile && existsSync(opts.crashFile)) {
                armed = readFileSync(opts.crashFile, 'utf8').trim() === step;
                if (armed) rmSync(opts.crashFile, { force: true });
              }
              if (armed) {
                log.warn('crash injected', { step });
                process.kill(process.pid, 'SIGKILL');
              }
            },
          }
        : undefined,
    groups: ({ rpc, pool, self }): GroupFactory => {
      const addresses = new AddressBook([[self.id, self.address.replace(/:0$/, '')]]);
      // With TLS, a Raft message from metaserver X must come over X's certificate.
      const peers = tls ? new RaftPeerIdentity(mds ? registeredName(mds) : fixedNames) : undefined;
      const transport = new RpcRaftTransport({ self: self.id, server: rpc, pool, addresses, checkSender: peers && ((from, ctx) => peers.check(from, ctx.peerCertName)) });
      server.snapshotMetrics.watchRefusedChunks(() => transport.refusedSnapshotChunks);
      raft = new RaftNode({
        id: self.id,
        dataDir: join(opts.dataDir, 'raft'),
        transport,
        addresses,
        tickMs: opts.raftTickMs ?? 50,
        electionTick: opts.electionTicks ?? 10,
        heartbeatTick: 1,
        raft: { readOnlyOption: opts.readMode ?? 'lease', checkQuorum: true },
        snapshotEntries: opts.snapshotEntries,
        snapshotBytes: opts.snapshotBytes,
        snapshotIntervalMs: opts.snapshotIntervalMs ?? 3_600_000,
        snapshotKeepEntries: opts.snapshotKeepEntries,
        requestTimeoutMs: opts.requestTimeoutMs,
        log: opts.raftSegmentBytes ? { segmentBytes: opts.raftSegmentBytes } : undefined,
        // Deferred: the group fails inside a Raft round, and closing it waits for that round.
        onGroupFailed: (groupId, error) => setTimeout(() => server.manager.failed(groupId, error.message), 0),
      });
      return raftGroupFactory({
        node: raft,
        confDir: join(opts.dataDir, 'copysets'),
        raftDataDir: join(opts.dataDir, 'raft'),
        snapshotMetrics: server.snapshotMetrics,
        onLeader: (cs) => void server.coordinator?.recover(cs),
        onRemoved: (cs) => {
          log.info('removed from copyset by a membership change', { copyset: cs.name });
          setTimeout(() => void server.manager.remove(cs.poolId, cs.copysetId).catch(() => undefined), 0);
        },
      });
    },
  });
  await server.start();
  if (opts.insecure) logInsecure('metaserver', server.address);
  const hb = mds && identity ? new HeartbeatLoop({ mds, server, identity, intervalMs: opts.heartbeatMs }) : undefined;
  hb?.start();
  let stopping: Promise<void> | undefined;
  return {
    id: server.id,
    address: server.address,
    metricsAddress: server.metricsAddress,
    server,
    stop: () =>
      (stopping ??= (async () => {
        hb?.stop();
        await server.stop();
        await raft?.stop();
        mds?.close();
        mdsPool?.close();
      })()),
  };
}

interface CliOptions {
  listen?: string;
  dataDir?: string;
  mds?: string;
  metricsPort?: number;
  id?: number;
  config?: string;
  peers?: string;
  heartbeatMs?: number;
  crashAt?: string;
  crashFile?: string;
  snapshotEntries?: number;
  snapshotKeep?: number;
  snapshotIntervalMs?: number;
  raftSegmentBytes?: number;
  readMode?: string;
  reclaimIntervalMs?: number;
  reclaimGraceSec?: number;
  trashIntervalMs?: number;
  orphanIntervalMs?: number;
  orphanAgeMs?: number;
  authKeyFile?: string;
  tlsDir?: string;
  tlsName?: string;
  insecure?: boolean;
}

/** The `curvefs metaserver` command line (argv as process.argv: two leading entries). */
export async function cli(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('curvefs metaserver')
    .description('Run a metaserver: copysets of partitions on Raft, the metadata service')
    .option('--listen <host:port>', 'RPC address (port 0: any)')
    .option('--data-dir <dir>', 'data directory (Raft logs, snapshots, metaserver.dat)')
    .option('--mds <addrs>', 'comma-separated MDS addresses')
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port', parsePort)
    .option('--id <n>', 'metaserver id when running without an MDS', intArg('an id', { min: 1 }))
    .option('--peers <addrs>', 'other metaservers to learn routes from (without an MDS)')
    .option('--heartbeat-ms <ms>', 'heartbeat period (default 2000; it carries the partitions\' used bytes and inodes)', parseMs)
    .option('--snapshot-entries <n>', 'snapshot after this many applied entries', intArg('a count', { min: 1 }))
    .option('--snapshot-interval-ms <ms>', 'snapshot a copyset at least this often while it changes (default 1 hour)', parseMs)
    .option('--snapshot-keep <n>', 'log entries kept behind a snapshot for slow followers', intArg('a count'))
    .option('--raft-segment-bytes <n>', 'preallocated size of each Raft log segment (default 64 MiB)', intArg('a size in bytes', { min: 4096 }))
    .option('--read-mode <mode>', "linearizable reads: 'lease' (default) or 'safe' (ReadIndex)")
    .option('--reclaim-interval-ms <ms>', 'period of the pass that reclaims unlinked inodes and their data (default 5000)', parseMs)
    .option('--trash-interval-ms <ms>', 'period of the pass that purges trash entries older than their fs\'s retention (default 60000)', parseMs)
    .option('--reclaim-grace-sec <s>', 'seconds after an inode is unlinked before it may be reclaimed (default 30)', intArg('seconds'))
    .option('--orphan-interval-ms <ms>', 'period of the pass that looks for linked inodes no directory names (default 60000)', parseMs)
    .option('--orphan-age-ms <ms>', 'such an inode is unlinked once seen unnamed this far apart (default 600000)', parseMs)
    .option('--crash-at <step>', 'tests: SIGKILL self at a transaction step')
    .option('--crash-file <path>', 'tests: SIGKILL self at the transaction step named in this file')
    .option('--auth-key-file <file>', 'cluster key (mode 0600); callers need tokens derived from it (docs/security.md)')
    .option('--tls-dir <dir>', 'mutual TLS: the directory of `curvefs certs` (with --tls-name)')
    .option('--tls-name <name>', "mutual TLS: this metaserver's certificate name in --tls-dir")
    .option('--insecure', INSECURE_HELP)
    .option('--config <file>', 'JSON file with the same options (flags win)');
  addLogFlags(program).parse(argv);
  const o = program.opts<CliOptions>();
  const logTo = logSettingsOf(program);
  const file = o.config ? (JSON.parse(await readFile(o.config, 'utf8')) as Partial<RunMetaserverOptions>) : {};
  const opts: RunMetaserverOptions = {
    ...file,
    listen: o.listen ?? file.listen ?? '127.0.0.1:16701',
    dataDir: o.dataDir ?? file.dataDir ?? '',
    mdsAddrs: o.mds ? o.mds.split(',') : file.mdsAddrs,
    metricsPort: o.metricsPort ?? file.metricsPort,
    id: o.id ?? file.id,
    peers: o.peers ? o.peers.split(',') : file.peers,
    heartbeatMs: o.heartbeatMs ?? file.heartbeatMs,
    snapshotEntries: o.snapshotEntries ?? file.snapshotEntries,
    snapshotKeepEntries: o.snapshotKeep ?? file.snapshotKeepEntries,
    snapshotIntervalMs: o.snapshotIntervalMs ?? file.snapshotIntervalMs,
    raftSegmentBytes: o.raftSegmentBytes ?? file.raftSegmentBytes,
    readMode: (o.readMode as 'lease' | 'safe' | undefined) ?? file.readMode,
    reclaimIntervalMs: o.reclaimIntervalMs ?? file.reclaimIntervalMs,
    reclaimGraceSec: o.reclaimGraceSec ?? file.reclaimGraceSec,
    trashIntervalMs: o.trashIntervalMs ?? file.trashIntervalMs,
    orphanIntervalMs: o.orphanIntervalMs ?? file.orphanIntervalMs,
    orphanAgeMs: o.orphanAgeMs ?? file.orphanAgeMs,
    crashAt: (o.crashAt as TxStep | undefined) ?? file.crashAt,
    crashFile: o.crashFile ?? file.crashFile,
    authKeyFile: o.authKeyFile ?? file.authKeyFile,
    tls: o.tlsDir || o.tlsName ? tlsOption(o.tlsDir, o.tlsName) : file.tls,
  };
  opts.insecure = o.insecure ?? file.insecure;
  const problem = securityFlagsProblem('metaserver', { insecure: opts.insecure, authKeyFile: opts.authKeyFile, tlsDir: opts.tls?.dir });
  if (problem) program.error(`error: ${problem}`, { exitCode: 2, code: 'curvefs.security' });
  if (!opts.dataDir) throw new Error('--data-dir is required');
  // Before anything logs: every line of this process goes where --log-file/--log-format say.
  applyLogSettings(logTo);
  const h = await runMetaserver(opts);
  const shutdown = (): void => {
    void h.stop().then(() => process.exit(0));
  };
  // Handlers first, the ready line after: a supervisor that signals the moment it reads the line
  // could otherwise catch the process in between, where SIGTERM still has its default action
  // (killed, no clean stop — seen in CI on a loaded machine).
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.stdout.write(`METASERVER_READY ${JSON.stringify({ id: h.id, address: h.address, metrics: h.metricsAddress })}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  cli(process.argv).catch((e: unknown) => {
    process.stderr.write(`metaserver: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
