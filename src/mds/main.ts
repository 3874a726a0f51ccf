// The MDS process: store (etcd, or the embedded file store), election, RPC services, status page.
//
//   runMds({ listen: '127.0.0.1:6700', dataDir: 'D' })                       one machine
//   runMds({ listen: '10.0.0.1:6700', etcdEndpoints: ['http://10.0.0.9:2379'] })   a cluster
//
// Every MDS listens on its RPC port; standbys answer NOT_LEADER with the leader's address.
// As a script: npx tsx src/mds/main.ts --listen 127.0.0.1:6700 --data-dir D [--etcd URLS]
//   [--dashboard-port P] (see --help).
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { addLogFlags, applyLogSettings, createLogger, intArg, logSettingsOf, parseMs, parsePort, systemRandom, systemTimer, type LogSettings, type Random, type Timer } from '../common/index.ts';
import { chooseTransport, pageAccess, startDashboard, type Dashboard, type MdsStatus } from '../dashboard/index.ts';
import { HeartbeatService } from '../gen/heartbeat_pb.ts';
import { CopysetService } from '../gen/metaserver_pb.ts';
import { MdsService } from '../gen/mds_pb.ts';
import { TopologyService } from '../gen/topology_pb.ts';
import { ChannelPool, RpcServer, loadTlsConfig, tlsOption } from '../rpc/index.ts';
import { DEFAULT_ELECTION_PREFIX, EmbeddedElector, EtcdElector, type Elector } from './election/index.ts';
import type { DataReclaimer } from './fs/fs-manager.ts';
import { probeBlockStore, type DataProber } from './fs/probe-store.ts';
import { reclaimBlocks } from './fs/reclaim-data.ts';
import { LeaderJournal } from './journal.ts';
import { MdsNode } from './node.ts';
import { DEFAULT_TUNING, tuning as makeTuning, type MdsTuning } from './options.ts';
import { heartbeatService, mdsService, topologyService } from './service.ts';
import { ClusterKey, FsAccess, INSECURE_HELP, MDS_RULES, SecretSeal, logInsecure, securityFlagsProblem, tokenAuth } from './auth/index.ts';
import { mdsStatus } from './status.ts';
import { EmbeddedStore, EtcdStore, etcdSecurityFailure, loadEtcdSecurity, probeEtcdTls, type EtcdSecurityFiles, type KvStore } from './store/index.ts';
import { RpcMetaserverAdmin } from './topology/metaserver-admin.ts';

const log = createLogger('mds');

export interface RunMdsOptions {
  /** "host:port" of the RPC server; port 0 lets the OS choose. */
  listen: string;
  /** Address published to clients and in the election key (default: the address listened on). */
  advertise?: string;
  /** etcd client URLs; without them the MDS runs on the embedded store in `dataDir`. */
  etcdEndpoints?: string[];
  /** Directory of the embedded store (required without etcd). */
  dataDir?: string;
  /** Election lease TTL in seconds (default 5, CurveFS's leader.sessionInterSec). */
  leaseTtlSec?: number;
  /** Safety margin of the lease (default max(300 ms, 20 % of the TTL)). */
  leaseMarginMs?: number;
  /** Lease keepalive period (default TTL / 5). */
  keepaliveMs?: number;
  /** Deadline of each etcd call (default min(2 s, (TTL − margin) / 2)). */
  etcdOpTimeoutMs?: number;
  /** TLS and user/password towards etcd: the files of the `--etcd-*` flags (checked at start). */
  etcdSecurity?: EtcdSecurityFiles;
  electionPrefix?: string;
  /** Port of the status page (HTML, /metrics, /api/status); undefined = none, 0 = OS chooses. */
  dashboardPort?: number;
  dashboardHost?: string;
  tuning?: Partial<MdsTuning>;
  /** Append leadership intervals here (tests and benchmarks). */
  journalPath?: string;
  /** Deletes a deleted fs's blocks from its data store (default: every object under the fs's
   *  prefix in its local directory or S3 bucket; `false` leaves the data alone). */
  reclaimData?: DataReclaimer | false;
  /** Checks a new fs's data store at CreateFs (default: write, read and delete a probe object;
   *  `false` skips it). */
  probeData?: DataProber | false;
  /**
   * File of the cluster key (docs/security.md): with it every caller must present a token derived
   * from it, and each method needs a role. Without it anyone who reaches the port is admin.
   */
  authKeyFile?: string;
  /**
   * Cluster keys rotated out (docs/security.md "Rotation"): they open the S3 secret keys they
   * sealed, which the leader seals again with the current key; nothing else accepts them.
   */
  authPreviousKeyFiles?: string[];
  /** Mutual TLS: the directory of `curvefs certs` and this MDS's certificate name in it. */
  tls?: { dir: string; name: string };
  /** Said on purpose: no key, no TLS (auth/insecure.ts); logged loudly at start. */
  insecure?: boolean;
  timer?: Timer;
  random?: Random;
}

export interface MdsHandle {
  /** "host:port" clients and metaservers use. */
  address: string;
  dashboardAddress: string | undefined;
  node: MdsNode;
  status(): MdsStatus;
  /** Stops serving (resigning by default: a standby takes over at once), then closes everything. */
  stop(opts?: { resign?: boolean }): Promise<void>;
}

export async function runMds(opts: RunMdsOptions): Promise<MdsHandle> {
  const etcd = (opts.etcdEndpoints ?? []).filter((e) => e.length > 0);
  if (etcd.length === 0 && !opts.dataDir) throw new Error('runMds: give etcd endpoints or a data directory for the embedded store');
  const timer = opts.timer ?? systemTimer;
  const random = opts.random ?? systemRandom;
  const [host, port] = listenAddress(opts.listen);
  // Wrong TLS material or credentials for etcd stop the MDS here, before it serves anything.
  const etcdSecurity = etcd.length > 0 && opts.etcdSecurity ? loadEtcdSecurity(opts.etcdSecurity, etcd) : undefined;
  if (etcd.length > 0 && !etcdSecurity) log.warn('etcd without TLS or credentials: anyone who reaches etcd can read and change the cluster state (docs/security.md)');
  const key = opts.authKeyFile ? ClusterKey.load(opts.authKeyFile) : undefined;
  if (!key && opts.authPreviousKeyFiles?.length) throw new Error('--auth-previous-key-file needs --auth-key-file (the current key)');
  // S3 secret keys are sealed in the store with the cluster key (auth/secret-seal.ts).
  const secrets = key ? new SecretSeal(key, (opts.authPreviousKeyFiles ?? []).map((f) => ClusterKey.load(f))) : undefined;
  if (!key && !opts.insecure) log.warn('no --auth-key-file: authentication is OFF, anyone who reaches this port is admin (docs/security.md)');
  const tls = opts.tls ? loadTlsConfig(opts.tls.dir, opts.tls.name) : undefined;
  // The status page beyond loopback: HTTPS with this MDS's certificate, or no start (without a
  // key there is no token to protect). Decided before anything is opened.
  const dashboardTransport = opts.dashboardPort !== undefined ? chooseTransport(opts.dashboardHost ?? host, { tls, insecure: !key }) : undefined;
  const server = new RpcServer({ host, port, auth: key ? tokenAuth(key, MDS_RULES) : undefined, tls });
  const access = new FsAccess(key !== undefined);
  // Services are registered before listening; they answer UNAVAILABLE until the node exists.
  const ref: { node?: MdsNode } = {};
  server.register(MdsService, mdsService(() => ref.node, access));
  server.register(TopologyService, topologyService(() => ref.node, access));
  server.register(HeartbeatService, heartbeatService(() => ref.node));
  await server.listen();
  const address = opts.advertise ?? server.address;
  if (opts.insecure) logInsecure('mds', address);

  const ttlSec = opts.leaseTtlSec ?? 5;
  let store: KvStore;
  let elector: Elector;
  if (etcd.length > 0) {
    const keepaliveMs = opts.keepaliveMs ?? (ttlSec * 1000) / 5;
    const marginMs = opts.leaseMarginMs ?? Math.max(300, ttlSec * 200);
    const opTimeoutMs = opts.etcdOpTimeoutMs ?? Math.min(2000, (ttlSec * 1000 - marginMs) / 2);
    store = new EtcdStore({ endpoints: etcd, opTimeoutMs, security: etcdSecurity });
    if (etcdSecurity) {
      // One call proves the CA, the client certificate and the password; a TLS or auth refusal
      // cannot be cured by retrying, so it stops the start (etcd merely down does not).
      const failure =
        (etcdSecurity.tls ? await probeEtcdTls(etcd, etcdSecurity.tls, Math.max(2000, opTimeoutMs)) : undefined) ??
        (await store.revision().then(() => undefined, (e: unknown) => etcdSecurityFailure(e, etcd)));
      if (failure) {
        await store.close();
        await server.close();
        throw new Error(failure);
      }
    }
    elector = new EtcdElector({
      endpoints: etcd,
      security: etcdSecurity,
      address,
      prefix: opts.electionPrefix ?? DEFAULT_ELECTION_PREFIX,
      ttlSec,
      marginMs,
      keepaliveMs,
      opTimeoutMs,
      timer,
      random,
    });
  } else {
    try {
      store = await EmbeddedStore.open(opts.dataDir!);
    } catch (e) {
      await server.close();
      throw e;
    }
    elector = new EmbeddedElector(store, address, opts.electionPrefix ?? DEFAULT_ELECTION_PREFIX);
  }

  // Calls to metaservers (copyset creation, membership changes) carry the cluster role.
  const pool = new ChannelPool({ defaultTimeoutMs: 5000, credential: key?.token({ role: 'cluster' }), tls: tls ?? false });
  const node = new MdsNode({
    address,
    store,
    elector,
    admin: new RpcMetaserverAdmin(pool, { timer }),
    timer,
    random,
    tuning: makeTuning(opts.tuning),
    reclaimData: opts.reclaimData === false ? undefined : (opts.reclaimData ?? reclaimBlocks),
    probeData: opts.probeData === false ? undefined : (opts.probeData ?? probeBlockStore),
    secrets,
    journal: opts.journalPath ? new LeaderJournal(opts.journalPath, address) : undefined,
    // After losing a term, etcd connections may be dead (a partition): dial again.
    onDeposed: () => (store instanceof EtcdStore ? store.reconnect() : undefined),
  });
  ref.node = node;
  node.start();
  const started = node;

  const status = () => {
    const { connections, bufferedBytes, bufferedBytesPeak, closedFrameTimeout, closedOverBudget, refusedPerPeer } = server.stats();
    return { ...mdsStatus(started, address, store.kind), rpc: { connections, bufferedBytes, bufferedBytesPeak, closedFrameTimeout, closedOverBudget, refusedPerPeer } };
  };
  let dashboard: Dashboard | undefined;
  if (opts.dashboardPort !== undefined) {
    dashboard = await startDashboard({
      host: opts.dashboardHost ?? host,
      port: opts.dashboardPort,
      status,
      // With the cluster key, the page shows the cluster to the admin and viewer tokens only.
      checkToken: key ? pageAccess((t) => key.pageRole(t)) : undefined,
      // Beyond loopback: HTTPS with this MDS's certificate (without a key there is nothing to protect).
      tls: dashboardTransport?.tls,
      // The copysets' lag on the page: each replica's indexes, asked with the MDS's credential.
      probeReplica: async (addr, poolId, copysetId) => {
        const st = (await pool.client(CopysetService, addr).getCopysetStatus({ poolId, copysetId }, { timeoutMs: 1500 })).status;
        return { state: st?.state ?? '?', committed: st?.committedIndex ?? 0, applied: st?.appliedIndex ?? 0 };
      },
    });
  }
  log.info('MDS started', { address, store: store.kind, dashboard: dashboard?.address, ttlSec: etcd.length > 0 ? ttlSec : undefined });

  let stopping: Promise<void> | undefined;
  return {
    address,
    dashboardAddress: dashboard?.address,
    node: started,
    status,
    stop: (o = {}) =>
      (stopping ??= (async () => {
        await started.stop(o.resign !== false);
        await server.close();
        await dashboard?.close();
        pool.close();
        await store.close();
        log.info('MDS stopped', { address });
      })()),
  };
}

/** "host:port" → [host, port]; port 0 is allowed (the OS chooses). */
function listenAddress(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : '';
  const port = Number(addr.slice(i + 1));
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad listen address ${JSON.stringify(addr)} (want host:port)`);
  return [host, port];
}

/** The flags of `curvefs mds` as commander hands them over (numbers already parsed). */
interface MdsFlags {
  listen: string;
  advertise?: string;
  etcd?: string;
  dataDir?: string;
  dashboardHost?: string;
  journal?: string;
  leaseTtl?: number;
  leaseMarginMs?: number;
  keepaliveMs?: number;
  dashboardPort?: number;
  unstableAfterMs?: number;
  offlineAfterMs?: number;
  healDelayMs?: number;
  sessionTimeoutMs?: number;
  sessionScanMs?: number;
  fsScanMs?: number;
  scheduleIntervalMs?: number;
  balanceIntervalMs?: number;
  cleanFollowerAfterMs?: number;
  partitionsPerFs?: number;
  minWritablePartitions?: number;
  replicas?: number;
  authKeyFile?: string;
  authPreviousKeyFile?: string[];
  tlsDir?: string;
  tlsName?: string;
  insecure?: boolean;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
}

/** Parses `curvefs mds` / `src/mds/main.ts` flags into runMds options and where the process
 *  logs. Numbers are parsed strictly (src/common/cli-args.ts): `--offline-after-ms 30s` is a
 *  usage error, not NaN. */
export function parseMdsArgs(argv: string[]): RunMdsOptions & { log: LogSettings } {
  const count = intArg('a count', { min: 1 });
  const cmd = new Command('curvefs mds')
    .description('run an MDS (metadata management service)')
    .requiredOption('--listen <host:port>', 'RPC address', '127.0.0.1:6700')
    .option('--advertise <host:port>', 'address published to clients (default: --listen)')
    .option('--etcd <urls>', 'comma-separated etcd client URLs (default: embedded store)')
    .option('--etcd-ca <file>', 'TLS towards etcd (https:// URLs): CA of etcd\'s server certificates')
    .option('--etcd-cert <file>', "client certificate for etcd's --client-cert-auth (with --etcd-key)")
    .option('--etcd-key <file>', 'private key of --etcd-cert (mode 0600)')
    .option('--etcd-user <name>', 'etcd user (password from --etcd-password-file or $CURVEFS_ETCD_PASSWORD)')
    .option('--etcd-password-file <file>', 'file with the etcd password (mode 0600)')
    .option('--data-dir <dir>', 'directory of the embedded store')
    .option('--lease-ttl <sec>', 'election lease TTL in seconds (default 5)', intArg('seconds', { min: 1 }))
    .option('--lease-margin-ms <ms>', 'step down this long before the lease can expire', parseMs)
    .option('--keepalive-ms <ms>', 'lease keepalive period', parseMs)
    .option('--dashboard-port <port>', 'status page port (HTML, /metrics, /api/status)', parsePort)
    .option('--dashboard-host <host>', 'status page interface')
    .option('--journal <file>', 'append leadership intervals to this file (tests)')
    .option('--auth-key-file <file>', 'cluster key (mode 0600): callers need tokens derived from it (docs/security.md)')
    .option('--auth-previous-key-file <file>', 'a cluster key rotated out: opens the S3 secrets it sealed, to seal them again (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--tls-dir <dir>', 'mutual TLS: the directory of `curvefs certs` (with --tls-name)')
    .option('--tls-name <name>', "mutual TLS: this MDS's certificate name in --tls-dir")
    .option('--insecure', INSECURE_HELP)
    .option('--unstable-after-ms <ms>', 'metaserver silence before UNSTABLE', parseMs)
    .option('--offline-after-ms <ms>', 'metaserver silence before OFFLINE (default 60000)', parseMs)
    .option('--heal-delay-ms <ms>', 'time a metaserver stays OFFLINE before its replicas are rebuilt elsewhere (default 600000: a reboot is not a full copy)', parseMs)
    .option('--session-timeout-ms <ms>', 'mount session timeout', parseMs)
    .option('--session-scan-ms <ms>', 'session expiry scan period', parseMs)
    .option('--fs-scan-ms <ms>', 'deleted fs reclaim period', parseMs)
    .option('--schedule-interval-ms <ms>', 'recovery scheduler period', parseMs)
    .option('--balance-interval-ms <ms>', 'leader and replica balancing period (default 30000); 0 turns balancing off', parseMs)
    .option('--clean-follower-after-ms <ms>', 'leader time before stray replicas are told to leave', parseMs)
    .option('--partitions-per-fs <n>', 'partitions created with a new fs', count)
    .option('--min-writable-partitions <n>', 'read-write partitions with room to keep per fs', count)
    .option('--replicas <n>', 'replicas per copyset in the default pool', count);
  addLogFlags(cmd).exitOverride();
  cmd.parse(argv, { from: 'user' });
  const logTo = logSettingsOf(cmd);
  const o = cmd.opts<MdsFlags>();
  const problem = securityFlagsProblem('mds', o);
  if (problem) cmd.error(`error: ${problem}`, { exitCode: 2, code: 'curvefs.security' });
  const t: Partial<MdsTuning> = {};
  const setNum = (k: keyof MdsTuning, v: number | undefined) => {
    if (v !== undefined) (t as Record<string, number>)[k] = v;
  };
  setNum('unstableAfterMs', o.unstableAfterMs);
  setNum('offlineAfterMs', o.offlineAfterMs);
  if (o.healDelayMs !== undefined) t.recovery = { ...DEFAULT_TUNING.recovery, healDelayMs: o.healDelayMs };
  setNum('sessionTimeoutMs', o.sessionTimeoutMs);
  setNum('sessionScanMs', o.sessionScanMs);
  setNum('fsScanMs', o.fsScanMs);
  setNum('scheduleIntervalMs', o.scheduleIntervalMs);
  if (o.balanceIntervalMs !== undefined) t.balance = { ...DEFAULT_TUNING.balance, intervalMs: o.balanceIntervalMs };
  setNum('cleanFollowerAfterMs', o.cleanFollowerAfterMs);
  setNum('partitionsPerFs', o.partitionsPerFs);
  setNum('minWritablePartitions', o.minWritablePartitions);
  setNum('replicaNum', o.replicas);
  return {
    listen: o.listen,
    advertise: o.advertise,
    etcdEndpoints: o.etcd ? o.etcd.split(',').map((s) => s.trim()) : undefined,
    etcdSecurity:
      o.etcdCa || o.etcdCert || o.etcdKey || o.etcdUser !== undefined || o.etcdPasswordFile
        ? { caFile: o.etcdCa, certFile: o.etcdCert, keyFile: o.etcdKey, user: o.etcdUser, passwordFile: o.etcdPasswordFile }
        : undefined,
    dataDir: o.dataDir,
    leaseTtlSec: o.leaseTtl,
    leaseMarginMs: o.leaseMarginMs,
    keepaliveMs: o.keepaliveMs,
    dashboardPort: o.dashboardPort,
    dashboardHost: o.dashboardHost,
    journalPath: o.journal,
    authKeyFile: o.authKeyFile,
    authPreviousKeyFiles: o.authPreviousKeyFile,
    tls: tlsOption(o.tlsDir, o.tlsName),
    insecure: o.insecure,
    tuning: t,
    log: logTo,
  };
}

/** Runs an MDS until SIGTERM/SIGINT, then resigns and exits. */
export async function mdsMain(argv: string[]): Promise<void> {
  const args = parseMdsArgs(argv);
  // Before anything logs: every line of this process goes where --log-file/--log-format say.
  applyLogSettings(args.log);
  const handle = await runMds(args);
  const shutdown = (sig: string) => {
    log.info(`${sig}: stopping`);
    handle.stop({ resign: true }).then(
      () => process.exit(0),
      (e) => {
        log.error('stop failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // A line on stdout that tools and tests can wait for — after the handlers, so a signal sent the
  // moment it is read finds them (before, SIGTERM could still kill the process outright).
  process.stdout.write(`MDS listening on ${handle.address}${handle.dashboardAddress ? ` dashboard ${handle.dashboardAddress}` : ''}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  mdsMain(process.argv.slice(2)).catch((e) => {
    // commander has already printed help / usage errors.
    if (e instanceof CommanderError) process.exit(e.exitCode);
    process.stderr.write(`mds: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
