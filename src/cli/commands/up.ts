// `curvefs up`: a whole cluster on this machine — an MDS and N metaservers as child processes
// (embedded store unless etcd endpoints are given), the default fs created, everything printed,
// Ctrl-C stops it all cleanly; running it again reuses the data and the ports.
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ChannelPool, loadTlsConfig, readTokenFile } from '../../rpc/index.ts';
import { makeCerts } from './certs.ts';
import { ClusterKey, writeSecret } from '../../mds/index.ts';
import { MdsService } from '../../gen/mds_pb.ts';
import { TopologyService, OnlineState } from '../../gen/topology_pb.ts';
import { CurveError, StatusCode, pollUntil } from '../../common/index.ts';
import { RotatingMdsConnector } from '../../client/index.ts';
import { DEFAULT_RESTART, Supervisor, type ManagedProcess } from '../supervisor.ts';
import { recordAlive, stopRecorded, type PidDir } from '../pidfiles.ts';
import type { ClusterFile } from '../context.ts';

export interface UpOptions {
  dir: string;
  metaservers: number;
  etcd?: string;
  fsName: string;
  mount?: string | false;
  /** Ports chosen by the OS instead of CurveFS's defaults (tests, several clusters at once). */
  fresh?: boolean;
  log?: (line: string) => void;
  /** Restart a child that dies on its own, with backoff (default true). */
  restart?: boolean;
  /** The supervisor to start children with (`curvefs up` makes it first, to stop them on Ctrl-C). */
  supervisor?: Supervisor;
}

/** Stop order of processes a dead `up` left behind: the mount, metaservers, then the MDS. */
function stopRank(name: string): number {
  if (name === 'mount') return 0;
  if (name === 'mds') return 2;
  return 1;
}

/**
 * Finds processes of an earlier `up` on this directory through their pid files. A live `up`
 * means the cluster is running: refused. Children of an `up` that died (kill -9, a crash, a
 * closed terminal) hold the ports and data directories, so they are stopped — SIGTERM in the
 * usual order, which lets an orphaned mount unmount cleanly while the MDS still answers.
 */
export async function stopOrphans(pids: PidDir, say: (line: string) => void): Promise<void> {
  const records = pids.all();
  const owner = records.find((r) => r.name === 'up');
  if (owner && owner.pid !== process.pid && recordAlive(owner)) {
    throw new Error(`\`curvefs up\` is already running for ${resolve(pids.dir, '..')} (pid ${owner.pid}); Ctrl-C it, or kill ${owner.pid}`);
  }
  const orphans = records.filter((r) => r.name !== 'up' && recordAlive(r)).sort((a, b) => stopRank(a.name) - stopRank(b.name) || b.name.localeCompare(a.name));
  for (const r of orphans) {
    const how = await stopRecorded(r, 10_000);
    say(`${r.name.padEnd(11)} ${how} pid ${r.pid}, left running by a \`curvefs up\` that died`);
  }
  for (const r of records) if (r.name !== 'up') pids.remove(r.name);
}

interface PortPlan {
  mds: number;
  dashboard: number;
  metaservers: Array<{ port: number; metrics: number }>;
  /** The mount's metrics port (absent from the ports.json of an older `up`). */
  mountMetrics?: number;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/**
 * A free port below the kernel's ephemeral range (32768–60999 by default). Ports are kept in
 * ports.json and reused by the next `up`; one the OS handed out for port 0 lies in the range the
 * OS also gives every outgoing connection and every other port-0 listener, so between two runs
 * another process could take it and the next `up` would talk to that process instead. Ports
 * from 20000–32767 are handed out by nobody but programs that ask for them by number.
 */
async function anyFreePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await portFree(port)) return port;
  }
  throw new Error('no free port found in 20000-32767');
}

/** CurveFS's default ports when free, else ports the OS picks; kept in the cluster file. */
async function planPorts(n: number, previous: PortPlan | undefined, anyPort = false): Promise<PortPlan> {
  const pick = async (preferred: number, taken: Set<number>): Promise<number> => {
    let p = preferred;
    if (anyPort || taken.has(p) || !(await portFree(p))) {
      do p = await anyFreePort();
      while (taken.has(p));
    }
    taken.add(p);
    return p;
  };
  const taken = new Set<number>();
  if (previous && previous.metaservers.length >= n) {
    const kept = { ...previous, metaservers: previous.metaservers.slice(0, n) };
    if (kept.mountMetrics === undefined) {
      for (const p of [kept.mds, kept.dashboard, ...kept.metaservers.flatMap((m) => [m.port, m.metrics])]) taken.add(p);
      kept.mountMetrics = await pick(9201, taken);
    }
    return kept;
  }
  const plan: PortPlan = { mds: await pick(6700, taken), dashboard: await pick(7700, taken), metaservers: [] };
  for (let i = 0; i < n; i++) {
    const prev = previous?.metaservers[i];
    plan.metaservers.push({ port: await pick(prev?.port ?? 16701 + i, taken), metrics: await pick(prev?.metrics ?? 9101 + i, taken) });
  }
  plan.mountMetrics = await pick(previous?.mountMetrics ?? 9201, taken);
  return plan;
}

function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>, proc?: ManagedProcess[]): Promise<T> {
  const check = (): void => {
    for (const p of proc ?? []) {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited with code ${p.child.exitCode} while waiting for ${what}; see ${p.logFile}`);
    }
  };
  return pollUntil(what, deadlineMs, probe, { minDelayMs: 50, maxDelayMs: 500, check });
}

export interface RunningCluster {
  file: ClusterFile;
  supervisor: Supervisor;
  stop(): Promise<void>;
}

/**
 * The cluster key (made on first start) and the tokens derived from it, in <dir>/auth (0700,
 * files 0600): the key for the MDS and metaservers, the admin token for this CLI, the fs token
 * for the mount, the viewer token for the status page only. Tokens are derived, so rewriting
 * them on every start changes nothing.
 */
function clusterCredentials(dir: string, fsName: string): { keyFile: string; adminTokenFile: string; fsTokenFile: string } {
  const authDir = join(dir, 'auth');
  const keyFile = join(authDir, 'cluster.key');
  if (!existsSync(keyFile)) ClusterKey.generate().save(keyFile);
  const key = ClusterKey.load(keyFile);
  const adminTokenFile = join(authDir, 'admin.token');
  const fsTokenFile = join(authDir, `fs-${fsName}.token`);
  writeSecret(adminTokenFile, key.token({ role: 'admin' }) + '\n');
  writeSecret(fsTokenFile, key.token({ role: 'fs', fsName }) + '\n');
  // For people who only watch the status page (docs/security.md, "Operating it").
  writeSecret(join(authDir, 'viewer.token'), key.viewerToken() + '\n');
  return { keyFile, adminTokenFile, fsTokenFile };
}

/**
 * Mutual TLS for every connection of the cluster: a CA and certificates (mds, metaserverN, admin
 * for the CLI, mount) in <dir>/tls, made with openssl on first use. Without openssl the cluster
 * runs on plain TCP, and says so.
 */
function clusterCertificates(dir: string, metaservers: number, say: (l: string) => void): { dir: string } | undefined {
  const tlsDir = join(dir, 'tls');
  try {
    makeCerts(tlsDir, ['mds', 'admin', 'mount', ...Array.from({ length: metaservers }, (_, i) => `metaserver${i + 1}`)]);
    return { dir: tlsDir };
  } catch (e) {
    say(`tls         off: ${(e as Error).message}`);
    return undefined;
  }
}

export async function up(opts: UpOptions): Promise<RunningCluster> {
  const say = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const planFile = join(dir, 'ports.json');
  const previous = existsSync(planFile) ? (JSON.parse(readFileSync(planFile, 'utf8')) as PortPlan) : undefined;
  const sup = opts.supervisor ?? new Supervisor(join(dir, 'logs'), join(dir, 'pids'), opts.restart === false ? false : DEFAULT_RESTART);
  sup.log = say;
  await stopOrphans(sup.pids, say);
  const plan = await planPorts(opts.metaservers, previous, opts.fresh);
  if (previous && !(await portFree(plan.mds))) {
    throw new Error(`port ${plan.mds} of this cluster's MDS is in use by another program (${planFile} keeps the ports of ${dir}; remove it to pick new ones)`);
  }
  writeFileSync(planFile + '.tmp', JSON.stringify(plan, null, 2));
  renameSync(planFile + '.tmp', planFile);

  const auth = clusterCredentials(dir, opts.fsName);
  const tls = clusterCertificates(dir, opts.metaservers, say);
  const tlsArgs = (name: string) => (tls ? ['--tls-dir', tls.dir, '--tls-name', name] : []);
  const mdsAddr = `127.0.0.1:${plan.mds}`;
  const mdsArgs = ['mds', '--listen', mdsAddr, '--dashboard-port', String(plan.dashboard), '--auth-key-file', auth.keyFile, ...tlsArgs('mds')];
  if (opts.etcd) mdsArgs.push('--etcd', opts.etcd);
  else mdsArgs.push('--data-dir', join(dir, 'mds'));
  const pool = new ChannelPool({ connectTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 200 }, credential: readTokenFile(auth.adminTokenFile), tls: tls ? loadTlsConfig(tls.dir, 'admin') : false });
  const mds = new RotatingMdsConnector(pool, [mdsAddr], { callTimeoutMs: 2000, attemptTimeoutMs: 1000 });
  const stop = async (): Promise<void> => {
    pool.close();
    await sup.stopAll();
  };
  try {
    const mdsProc = sup.start('mds', mdsArgs);
    await waitFor('the MDS', 120_000, async () => (await mds.client(MdsService).listClusterFsInfo({})) && true, [mdsProc]);
    say(`mds         ${mdsAddr}  (dashboard http://127.0.0.1:${plan.dashboard}/ — log in with the token in ${auth.adminTokenFile}; log ${mdsProc.logFile})`);

    const msProcs = plan.metaservers.map((m, i) =>
      sup.start(`metaserver${i + 1}`, [
        'metaserver', '--listen', `127.0.0.1:${m.port}`, '--data-dir', join(dir, `metaserver${i + 1}`),
        '--mds', mdsAddr, '--metrics-port', String(m.metrics), '--auth-key-file', auth.keyFile, ...tlsArgs(`metaserver${i + 1}`),
      ]),
    );
    await waitFor(`${opts.metaservers} metaservers online`, 120_000, async () => {
      const res = await mds.client(TopologyService).listMetaServer({});
      const online = res.metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE).length;
      return online >= opts.metaservers ? true : undefined;
    }, [mdsProc, ...msProcs]);
    plan.metaservers.forEach((m, i) => say(`metaserver${i + 1} 127.0.0.1:${m.port}  (metrics http://127.0.0.1:${m.metrics}/metrics)`));

    const fsInfo = await waitFor(`fs ${opts.fsName}`, 120_000, async () => {
      try {
        return (await mds.client(MdsService).getFsInfo({ fsName: opts.fsName })).fsInfo;
      } catch (e) {
        if (!(e instanceof CurveError) || e.status !== StatusCode.FS_NOT_FOUND) throw e;
      }
      return (
        await mds.client(MdsService).createFs({
          fsName: opts.fsName,
          dataStore: { kind: { case: 'local', value: { dir: join(dir, 'data') } } },
        })
      ).fsInfo;
    }, [mdsProc, ...msProcs]);
    say(`fs          ${fsInfo.fsName} (id ${fsInfo.fsId}), blocks in ${join(dir, 'data')}`);

    const file: ClusterFile = {
      mdsAddrs: [mdsAddr],
      dashboard: `http://127.0.0.1:${plan.dashboard}/`,
      metaservers: plan.metaservers.map((m) => ({ listen: `127.0.0.1:${m.port}`, metrics: `127.0.0.1:${m.metrics}` })),
      fsName: opts.fsName,
      mountMetrics: plan.mountMetrics === undefined ? undefined : `127.0.0.1:${plan.mountMetrics}`,
      auth: { adminTokenFile: auth.adminTokenFile, fsTokenFile: auth.fsTokenFile },
      tls,
    };
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify(file, null, 2) + '\n');
    say(`cluster file ${join(dir, 'cluster.json')} — try: curvefs --dir ${opts.dir} status`);
    return { file, supervisor: sup, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
