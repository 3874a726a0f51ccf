// The status page an MDS serves over HTTP:
//   /             the page (HTML; updated live by its script from /api/events)
//   /api/events   Server-Sent Events: the rendered fragment of the page, pushed on change
//   /api/status   the status document (JSON)
//   /metrics      Prometheus text
//   /login, /logout   when the cluster has authentication on (access.ts)
// Read-only: it asks its provider for a fresh status on every request and stream tick.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsConfig } from '../rpc/index.ts';
import { answerMetrics } from '../metrics/index.ts';
import { refusal, sessionCookie, type TokenCheck } from './access.ts';
import { StatusHistory } from './history.ts';
import { LagTracker, type ReplicaProbe } from './lag.ts';
import { StatusFeed } from './live.ts';
import { MdsMetrics } from './metrics.ts';
import { renderHtml, renderLive, renderLogin } from './render.ts';
import type { MdsStatus } from './types.ts';

export interface Dashboard {
  /** "host:port" it listens on. */
  address: string;
  close(): Promise<void>;
}

export interface DashboardOptions {
  host?: string;
  port: number;
  status: () => MdsStatus;
  /** With authentication on: who may see the page (access.ts `pageAccess`). Without: open. */
  checkToken?: TokenCheck;
  /**
   * Serve HTTPS with this certificate (transport.ts decides when); client certificates of its CA
   * are asked for but not required (a browser logs in with a token).
   */
  tls?: TlsConfig;
  /** How often the live stream looks for a change (default 1 s). */
  pushIntervalMs?: number;
  /** How often the history graphs take a sample (default 10 s; 360 samples = an hour). */
  sampleMs?: number;
  /** Asks a metaserver for one replica's Raft indexes: the copysets' lag, while the page is watched. */
  probeReplica?: ReplicaProbe;
}

/** Longest login form body read (a token is well under 1 KiB). */
const MAX_LOGIN_BODY = 8 * 1024;

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const metrics = new MdsMetrics();
  const history = new StatusHistory();
  const sample = () => {
    try {
      history.add(opts.status(), Date.now());
    } catch {
      // No sample this time; the graphs show a gap-free line of the samples there are.
    }
  };
  sample();
  const sampler = setInterval(sample, opts.sampleMs ?? 10_000);
  sampler.unref();
  const lag = opts.probeReplica ? new LagTracker(opts.probeReplica, opts.status) : undefined;
  const feed: StatusFeed = new StatusFeed({
    intervalMs: opts.pushIntervalMs,
    snapshot: () => {
      const status = opts.status();
      // Only what the page shows: the JSON of a large cluster is megabytes (scripts: /api/status).
      return JSON.stringify({ html: renderLive(status, history.all(), Date.now(), lag?.current) });
    },
  });

  const secure = opts.tls !== undefined;
  const handle: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/login' && opts.checkToken) return void login(req, res, opts.checkToken, secure);
    if (path === '/logout') {
      res.writeHead(303, { location: '/', 'set-cookie': sessionCookie('', secure) }).end();
      return;
    }
    const refused = refusal(req, opts.checkToken);
    if (refused !== null) {
      // No figure of the cluster in the answer: the login form, or one line of why.
      const headers = { 'www-authenticate': 'Bearer realm="curvefs"', 'cache-control': 'no-store' };
      if (path === '/') res.writeHead(401, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(renderLogin());
      else res.writeHead(401, { ...headers, 'content-type': 'text/plain' }).end(`unauthorized: ${refused}\n`);
      return;
    }
    if (path === '/api/events') {
      lag?.start(() => feed.listeners > 0);
      return feed.subscribe(res);
    }
    let status: MdsStatus;
    try {
      status = opts.status();
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      return;
    }
    if (path === '/api/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status));
    } else if (path === '/metrics') {
      metrics.update(status);
      void answerMetrics(metrics, res);
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(renderHtml(status, history.all(), { loggedIn: opts.checkToken !== undefined }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
  const t = opts.tls;
  const server: Server = t
    ? (createHttpsServer({ ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: false }, handle) as unknown as Server)
    : createServer(handle);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    address: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sampler);
        lag?.stop();
        feed.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET: the form. POST: checks the token; a good one becomes the session cookie. */
function login(req: IncomingMessage, res: ServerResponse, check: TokenCheck, secure: boolean): void {
  const html = (code: number, reason?: string) =>
    res.writeHead(code, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(renderLogin(reason));
  if (req.method !== 'POST') return void html(200);
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_LOGIN_BODY) {
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('login form too large\n');
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    const token = (new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? '').trim();
    const why = token ? check(token) : 'no token given';
    if (why !== null) return void html(401, why);
    res.writeHead(303, { location: '/', 'set-cookie': sessionCookie(token, secure), 'cache-control': 'no-store' }).end();
  });
}
