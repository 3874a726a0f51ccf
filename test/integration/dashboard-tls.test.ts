// The status page beyond loopback (issue [L], docs/security.md "The status page"): with
// authentication on it is served over HTTPS with the MDS's certificate of the cluster CA, or the
// MDS does not start; a client certificate of the CA named admin or viewer opens it without a
// token, another certificate does not; the viewer token opens the page and nothing on the RPC
// port. On loopback the page stays plain HTTP. A real MDS (embedded store) over real sockets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ClusterKey } from '../../src/mds/auth/index.ts';
import { MdsClient, runMds, type MdsHandle } from '../../src/mds/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { makeCerts } from '../../src/cli/commands/certs.ts';
import { freePort } from '../helpers/etcd.ts';

let base: string;
let key: ClusterKey;
let keyFile: string;
let tlsDir: string;
const handles: MdsHandle[] = [];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The port of a dashboard address ("0.0.0.0:P" is reached at 127.0.0.1:P). */
function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** One HTTPS request, trusting the cluster CA; `cert` presents that client certificate. */
function https(port: number, path: string, opts: { headers?: Record<string, string>; cert?: string; method?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        ca: readFileSync(join(tlsDir, 'ca.crt')),
        // The MDS's certificate names no host (cluster certificates: src/rpc/tls.ts); the CA is the check.
        checkServerIdentity: () => undefined,
        ...(opts.cert ? { cert: readFileSync(join(tlsDir, `${opts.cert}.crt`)), key: readFileSync(join(tlsDir, `${opts.cert}.key`)) } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function http(port: number, path: string, headers?: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function startMds(name: string, opts: { dashboardHost: string; tls: boolean }): Promise<MdsHandle> {
  const h = await runMds({
    listen: `127.0.0.1:${await freePort()}`,
    dataDir: join(base, name),
    dashboardPort: 0,
    dashboardHost: opts.dashboardHost,
    authKeyFile: keyFile,
    tls: opts.tls ? { dir: tlsDir, name: 'mds' } : undefined,
  });
  handles.push(h);
  return h;
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-dashboard-tls-'));
  key = ClusterKey.generate();
  keyFile = join(base, 'cluster.key');
  key.save(keyFile);
  tlsDir = join(base, 'tls');
  makeCerts(tlsDir, ['mds', 'admin', 'viewer', 'mount']);
});

after(async () => {
  for (const h of handles) await h.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

test('beyond loopback, with a key and no certificate, the MDS does not start (and has opened nothing)', async () => {
  const port = await freePort();
  await assert.rejects(
    runMds({ listen: `127.0.0.1:${port}`, dataDir: join(base, 'refused'), dashboardPort: 0, dashboardHost: '0.0.0.0', authKeyFile: keyFile }),
    /status page on 0\.0\.0\.0 would carry the admin token over the network in clear text: give the MDS its certificate/,
  );
  await assert.rejects(fsp.access(join(base, 'refused')), { code: 'ENOENT' }, 'no store was opened');
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => reject(new Error('the RPC port is listening')));
    s.once('error', () => resolve());
  });
});

test('beyond loopback with a certificate: HTTPS, a token or an admin/viewer client certificate needed', async () => {
  const mds = await startMds('https', { dashboardHost: '0.0.0.0', tls: true });
  const port = portOf(mds.dashboardAddress!);
  // Plain HTTP gets no page.
  await assert.rejects(http(port, '/api/status', bearer(key.token({ role: 'admin' }))));

  assert.equal((await https(port, '/api/status')).status, 401);
  const admin = await https(port, '/api/status', { headers: bearer(key.token({ role: 'admin' })) });
  assert.equal(admin.status, 200, admin.body);
  assert.ok('rpc' in (JSON.parse(admin.body) as object), admin.body.slice(0, 200));
  for (const cert of ['admin', 'viewer']) {
    const m = await https(port, '/metrics', { cert });
    assert.equal(m.status, 200, `${cert}: ${m.body}`);
    assert.match(m.body, /^curvefs_mds_term \d+/m);
  }
  const other = await https(port, '/metrics', { cert: 'mount' });
  assert.equal(other.status, 401, 'a certificate of the CA with another name is not enough');
  // The login cookie is Secure: a browser never sends it over plain HTTP.
  const login = await https(port, '/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: key.viewerToken() }).toString(),
  });
  assert.equal(login.status, 303);
  assert.match(String(login.headers['set-cookie']), /HttpOnly; SameSite=Strict; Secure/);
});

test('the viewer token opens the page, the JSON and the metrics, and nothing on the RPC port', async () => {
  const mds = await startMds('viewer', { dashboardHost: '127.0.0.1', tls: false });
  const port = portOf(mds.dashboardAddress!);
  const viewer = bearer(key.viewerToken());
  for (const path of ['/', '/api/status', '/metrics']) assert.equal((await http(port, path, viewer)).status, 200, path);
  const pool = new ChannelPool({ credential: key.viewerToken(), tls: false });
  const client = new MdsClient({ addresses: [mds.address], pool, deadlineMs: 5000 });
  try {
    await assert.rejects(client.topology.listMetaServer({}), (e: unknown) => {
      assert.ok(e instanceof CurveError);
      assert.equal(StatusCode[e.status], 'UNAUTHENTICATED', e.message);
      assert.match(e.message, /viewer token opens the status page only/);
      return true;
    });
    await assert.rejects(client.mds.deleteFs({ fsName: 'x' }), (e: unknown) => e instanceof CurveError && e.status === StatusCode.UNAUTHENTICATED);
  } finally {
    client.close();
    pool.close();
  }
});

test('on loopback the page stays plain HTTP, with the token required', async () => {
  const mds = await startMds('loopback', { dashboardHost: '127.0.0.1', tls: true });
  const port = portOf(mds.dashboardAddress!);
  assert.equal((await http(port, '/api/status')).status, 401);
  assert.equal((await http(port, '/api/status', bearer(key.token({ role: 'admin' })))).status, 200);
});
