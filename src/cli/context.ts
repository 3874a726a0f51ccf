// What every cluster-talking command needs: the MDS addresses (flag, environment, or the
// cluster file `curvefs up` writes), a connection to one fs, and cleanup.
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../common/index.ts';
import { ChannelPool, TLS_DIR_ENV, TLS_NAME_ENV, TOKEN_FILE_ENV, defaultCredential } from '../rpc/index.ts';
import { NOBODY, claimedRole, squashRoot } from '../mds/auth/root-squash.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../client/index.ts';
import { callerIdentity, processIdentity, type CallerIdentity } from './identity.ts';

export const DEFAULT_DIR = '.curvefs';
export const DEFAULT_FS = 'curvefs';

export interface GlobalOptions {
  mds?: string;
  fs?: string;
  json?: boolean;
  dir?: string;
  tokenFile?: string;
  /** `--as UID:GID[:G1,...]`: whom the file commands act as (see identity.ts). */
  as?: CallerIdentity;
}

/** The cluster file written by `curvefs up` (its directory's cluster.json). */
export interface ClusterFile {
  mdsAddrs: string[];
  dashboard: string;
  metaservers: Array<{ listen: string; metrics: string }>;
  fsName: string;
  mountpoint?: string;
  /** "host:port" of the metrics endpoint `curvefs up` gives its mount (`curvefs stats` reads it). */
  mountMetrics?: string;
  /** Token files `curvefs up` wrote (mode 0600): the operator's and the default fs's clients'. */
  auth?: { adminTokenFile: string; fsTokenFile: string };
  /** The CA and certificates of `curvefs up` (the CLI uses "admin", the mount "mount"). */
  tls?: { dir: string };
}

export function readClusterFile(dir = DEFAULT_DIR): ClusterFile | undefined {
  const p = join(dir, 'cluster.json');
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as ClusterFile;
}

/**
 * Makes every RPC pool of this process present a token and a TLS certificate: --token-file, else
 * $CURVEFS_TOKEN_FILE, and $CURVEFS_TLS_DIR + $CURVEFS_TLS_NAME; else
 * the admin token and certificate of the cluster directory when `curvefs up` wrote them
 * (docs/security.md) — those only when the MDS addresses come from the same directory, so that
 * the admin token of one cluster is never sent to another.
 */
export function useCredential(g: GlobalOptions): void {
  if (g.tokenFile) process.env[TOKEN_FILE_ENV] = g.tokenFile;
  if (g.mds || process.env.CURVEFS_MDS) return;
  const cluster = readClusterFile(g.dir);
  const file = cluster?.auth?.adminTokenFile;
  if (!process.env[TOKEN_FILE_ENV] && file && existsSync(file)) process.env[TOKEN_FILE_ENV] = file;
  if (!process.env[TLS_DIR_ENV] && cluster?.tls) {
    process.env[TLS_DIR_ENV] = cluster.tls.dir;
    process.env[TLS_NAME_ENV] = 'admin';
  }
}

export function mdsAddrsOf(g: GlobalOptions): string[] {
  const flag = g.mds ?? process.env.CURVEFS_MDS;
  if (flag) return flag.split(',').map((s) => s.trim()).filter(Boolean);
  return readClusterFile(g.dir)?.mdsAddrs ?? ['127.0.0.1:6700'];
}

export function fsNameOf(g: GlobalOptions): string {
  return g.fs ?? process.env.CURVEFS_FS ?? readClusterFile(g.dir)?.fsName ?? DEFAULT_FS;
}

export interface MdsSession {
  pool: ChannelPool;
  connector: RotatingMdsConnector;
  adapter: MdsAdapter;
  close(): void;
}

/** How long one MDS address may take to accept a TCP connection before it counts as down. */
const PROBE_TIMEOUT_MS = 2000;

/** Why `addr` does not accept a TCP connection, or undefined when it does. */
function probe(addr: string): Promise<string | undefined> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return Promise.resolve(`not host:port`);
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (why: string | undefined) => {
      s.destroy();
      resolve(why);
    };
    s.setTimeout(PROBE_TIMEOUT_MS, () => done(`no answer in ${PROBE_TIMEOUT_MS} ms`));
    s.once('connect', () => done(undefined));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/**
 * Fails at once, with what to do, when no MDS address accepts a connection. The RPC layer would
 * retry "connection refused" until its call deadline (15 s) — right for an MDS that is failing
 * over, useless when nothing is running, which is by far the common case at a terminal.
 */
export async function ensureMdsReachable(addrs: string[]): Promise<void> {
  const why = await Promise.all(addrs.map(probe));
  if (why.some((w) => w === undefined)) return;
  const detail = addrs.map((a, i) => `${a}: ${why[i]}`).join(', ');
  throw new CurveError(
    StatusCode.UNAVAILABLE,
    `no MDS reachable (${detail}); is the cluster running? Start one with \`curvefs up\`, or give its addresses with --mds or $CURVEFS_MDS`,
  );
}

export async function openMds(g: GlobalOptions): Promise<MdsSession> {
  const addrs = mdsAddrsOf(g);
  await ensureMdsReachable(addrs);
  const pool = new ChannelPool();
  const connector = new RotatingMdsConnector(pool, addrs, { callTimeoutMs: 15_000 });
  return { pool, connector, adapter: new MdsAdapter(connector), close: () => pool.close() };
}

/** Runs `fn` with a connection to the fs, closing it afterwards whatever happens. */
export async function withFs<T>(g: GlobalOptions, fn: (c: Connection) => Promise<T>): Promise<T> {
  const mds = await openMds(g);
  try {
    // Permissions are checked for the invoking user (or root's --as), as the mount checks them;
    // root acts as root only with the admin token (root squash, docs/security.md).
    const { identity, squashed } = squashRoot(callerIdentity(g.as, processIdentity()), claimedRole(defaultCredential()));
    if (squashed) process.stderr.write(`curvefs: acting as nobody (${NOBODY}:${NOBODY}): uid 0 acts as root only with the admin credential; this one is an fs client's (docs/security.md, "Root squash")\n`);
    const conn = await connectFs({ mds: mds.adapter, fsName: fsNameOf(g), pool: mds.pool, entryTtlMs: 0, attrTtlMs: 0, identity });
    try {
      return await fn(conn);
    } finally {
      await conn.close();
    }
  } finally {
    mds.close();
  }
}
