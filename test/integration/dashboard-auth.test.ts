// The status page of a cluster with authentication on (docs/security.md): without the admin
// token every path answers 401 and no figure of the cluster — the page shows a login form, the
// stream, the JSON and the metrics refuse — an fs client's token is refused with the reason; the
// admin token opens all of it, as a bearer header (scripts, Prometheus) or, after the login
// form, as the session cookie the browser's live stream sends. The last test logs in through the
// form in a real browser (headless chromium). A real MDS (etcd store) over real HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterKey } from '../../src/mds/auth/index.ts';
import { runMds, type MdsHandle } from '../../src/mds/index.ts';
import { Browser } from '../helpers/chromium.ts';
import { EtcdCluster, freePort } from '../helpers/etcd.ts';
import { waitFor } from '../helpers/wait.ts';

let base: string;
let etcd: EtcdCluster | undefined;
let mds: MdsHandle | undefined;
let key: ClusterKey;
let clusterId = '';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request to the page; for an event stream, the body up to its first event. */
function http(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${mds!.dashboardAddress}${path}`, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (String(res.headers['content-type']).startsWith('text/event-stream') && body.includes('\n\nevent: status\ndata: ') && body.endsWith('\n\n')) {
          res.destroy();
          resolve({ status: res.statusCode!, headers: res.headers, body });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-dashboard-auth-'));
  etcd = await EtcdCluster.start({ baseDir: base });
  key = ClusterKey.generate();
  const keyFile = join(base, 'cluster.key');
  key.save(keyFile);
  mds = await runMds({ listen: `127.0.0.1:${await freePort()}`, etcdEndpoints: etcd.endpoints(), dashboardPort: 0, authKeyFile: keyFile });
  const admin = bearer(key.token({ role: 'admin' }));
  await waitFor(async () => {
    const a = await http('/api/status', { headers: admin });
    clusterId = a.status === 200 ? ((JSON.parse(a.body) as { cluster: { clusterId: string } | null }).cluster?.clusterId ?? '') : '';
    return clusterId !== '';
  }, 'the MDS leading, seen with the admin token');
});

after(async () => {
  await mds?.stop();
  await etcd?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

test('without a token: 401 on every path and nothing of the cluster in the answer', async () => {
  for (const path of ['/', '/api/status', '/api/events', '/metrics', '/?x=1']) {
    const a = await http(path);
    assert.equal(a.status, 401, path);
    assert.match(String(a.headers['www-authenticate']), /^Bearer /, path);
    assert.ok(!a.body.includes(clusterId), `${path} leaked the cluster id`);
    assert.ok(!a.body.includes(mds!.address), `${path} leaked the MDS address`);
    assert.doesNotMatch(a.body, /curvefs_mds_|"cluster"|event: status/, path);
  }
  const page = await http('/');
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /<form method="post" action="\/login">/);
  assert.match(page.body, /name="token"/);
});

test('a token that is not the admin token is refused with the reason', async () => {
  const fsToken = await http('/api/status', { headers: bearer(key.token({ role: 'fs', fsName: 'alpha' })) });
  assert.equal(fsToken.status, 401);
  assert.match(fsToken.body, /needs the admin or viewer token; this one is a client of fs alpha/);
  const other = await http('/api/status', { headers: bearer(ClusterKey.generate().token({ role: 'admin' })) });
  assert.equal(other.status, 401);
  assert.match(other.body, /not issued by this cluster/);
  const junk = await http('/metrics', { headers: bearer('hello') });
  assert.equal(junk.status, 401);
  assert.match(junk.body, /not a curvefs token/);
  const cookie = await http('/api/events', { headers: { cookie: `curvefs_dashboard=${key.token({ role: 'cluster' })}` } });
  assert.equal(cookie.status, 401);
  assert.ok(!cookie.body.includes(clusterId));
});

test('the admin token as a bearer header opens the JSON, the metrics and the stream', async () => {
  const admin = bearer(key.token({ role: 'admin' }));
  const json = await http('/api/status', { headers: admin });
  assert.equal(json.status, 200);
  assert.equal((JSON.parse(json.body) as { cluster: { clusterId: string } }).cluster.clusterId, clusterId);
  const metrics = await http('/metrics', { headers: admin });
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^curvefs_mds_term \d+/m);
  const events = await http('/api/events', { headers: admin });
  assert.equal(events.status, 200);
  assert.match(events.body, new RegExp(`event: status\\ndata: \\{"html":".*cluster ${clusterId} `));
});

test('the login form: a wrong token gets the form again with why, the admin token a session cookie', async () => {
  const form = (token: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
  const wrong = await http('/login', form(key.token({ role: 'fs', fsName: 'alpha' })));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers['set-cookie'], undefined);
  assert.match(wrong.body, /data-login-error>the status page needs the admin or viewer token/);
  const empty = await http('/login', form(''));
  assert.equal(empty.status, 401);
  assert.match(empty.body, /no token given/);
  const huge = await http('/login', form('x'.repeat(20_000)));
  assert.equal(huge.status, 413);

  const right = await http('/login', form(key.token({ role: 'admin' })));
  assert.equal(right.status, 303);
  assert.equal(right.headers.location, '/');
  const cookie = String(right.headers['set-cookie']);
  assert.match(cookie, /^curvefs_dashboard=cfs1\.admin\.[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
  const session = cookie.split(';')[0]!;
  const events = await http('/api/events', { headers: { cookie: session } });
  assert.equal(events.status, 200);
  assert.match(events.body, new RegExp(`data: \\{"html":".*cluster ${clusterId} `));
  // Logging out clears the cookie.
  const out = await http('/logout');
  assert.match(String(out.headers['set-cookie']), /^curvefs_dashboard=; .*Max-Age=0/);
});

test('in a real browser: the login prompt, then the live page', async () => {
  const browser = await Browser.launch(base);
  try {
    await browser.goto(`http://${mds!.dashboardAddress}/`);
    assert.equal(await browser.eval<boolean>('document.querySelector("[data-alerts], [data-role]") === null'), true, 'figures shown before logging in');
    assert.ok(!(await browser.eval<string>('document.body.innerHTML')).includes(clusterId));
    await browser.eval(`document.querySelector('input[name=token]').value = ${JSON.stringify(key.token({ role: 'admin' }))}; document.querySelector('form').submit()`);
    // While the form's POST and its redirect load, the page may have no body or no context yet.
    const updates = () => browser.eval<number>('Number(document.body?.dataset.updates ?? 0)').catch(() => 0);
    await waitFor(async () => (await updates()) >= 1, 'the live page after logging in');
    assert.equal(await browser.eval<string>('document.querySelector("[data-role]").dataset.role'), 'leader');
    assert.match(await browser.eval<string>('document.body.textContent'), new RegExp(`cluster ${clusterId}`));
  } finally {
    await browser.close();
  }
});
