// The MDS and etcd over TLS with etcd's user/password authentication (issue [L] finding 6: https
// was stripped from the endpoints and no credentials could be given). A real etcd (Debian's
// etcd-server) serves only https with --client-cert-auth and --trusted-ca-file, and has
// authentication enabled (etcdctl from etcd-client). An MDS with the right CA, client certificate
// and password leads and stores its state there; wrong material stops it at start with a message
// that names the problem, and it never serves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from '../../src/cli/commands/certs.ts';
import { freePort, waitFor } from '../helpers/etcd.ts';
import { MdsProcess } from '../helpers/mds-process.ts';

let dir: string;
let etcd: ChildProcess | undefined;
let endpoint: string;
const etcdLog: string[] = [];
const tls = () => join(dir, 'tls');
const other = () => join(dir, 'other');
const mdses: MdsProcess[] = [];

/** etcdctl as root over TLS with the `root` client certificate. */
function etcdctl(args: string[], user = 'root:rootpw'): string {
  return execFileSync('etcdctl', ['--endpoints', endpoint, '--cacert', join(tls(), 'ca.crt'), '--cert', join(tls(), 'root.crt'), '--key', join(tls(), 'root.key'), ...(user ? ['--user', user] : []), ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-etcd-tls-'));
  makeCerts(tls(), ['etcd'], { ips: ['127.0.0.1'] });
  makeCerts(tls(), ['mds', 'root']);
  makeCerts(other(), ['mds']); // a second CA: valid certificates etcd does not trust
  const [client, peer] = [await freePort(), await freePort()];
  endpoint = `https://127.0.0.1:${client}`;
  const t = tls();
  etcd = spawn('etcd', [
    '--name', 's1', '--data-dir', join(dir, 'etcd'),
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `s1=http://127.0.0.1:${peer}`,
    '--cert-file', join(t, 'etcd.crt'), '--key-file', join(t, 'etcd.key'), '--client-cert-auth', '--trusted-ca-file', join(t, 'ca.crt'),
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  etcd.stderr!.on('data', (c: Buffer) => {
    etcdLog.push(c.toString());
    if (etcdLog.length > 200) etcdLog.shift();
  });
  await waitFor(() => {
    etcdctl(['endpoint', 'health'], '');
    return true;
  }, 'etcd over TLS to be healthy');
  etcdctl(['user', 'add', 'root:rootpw'], '');
  etcdctl(['auth', 'enable'], '');
  etcdctl(['user', 'add', 'curvefs:s3cret-pw']);
  etcdctl(['user', 'grant-role', 'curvefs', 'root']);
  writeFileSync(join(dir, 'etcd.password'), 's3cret-pw\n', { mode: 0o600 });
  writeFileSync(join(dir, 'wrong.password'), 'not-it\n', { mode: 0o600 });
});

after(async () => {
  for (const m of mdses) await m.stop();
  if (etcd && etcd.exitCode === null) {
    const exited = new Promise((r) => etcd!.once('exit', r));
    etcd.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

interface Flags {
  ca?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
  endpoint?: string;
}

function flags(f: Flags): string[] {
  const out: string[] = [];
  if (f.ca) out.push('--etcd-ca', f.ca);
  if (f.cert) out.push('--etcd-cert', f.cert);
  if (f.key) out.push('--etcd-key', f.key);
  if (f.user) out.push('--etcd-user', f.user);
  if (f.password) out.push('--etcd-password-file', f.password);
  return out;
}

const good = (): Flags => ({ ca: join(tls(), 'ca.crt'), cert: join(tls(), 'mds.crt'), key: join(tls(), 'mds.key'), user: 'curvefs', password: join(dir, 'etcd.password') });

async function spawnMds(f: Flags, name: string): Promise<MdsProcess> {
  const m = await MdsProcess.spawn({ etcd: [f.endpoint ?? endpoint], journal: join(dir, `journal-${name}`), args: flags(f) });
  mdses.push(m);
  return m;
}

/** The MDS must exit during start with a message matching `why`. */
async function refused(f: Flags, name: string, why: RegExp): Promise<void> {
  await assert.rejects(spawnMds(f, name), (e: Error) => {
    assert.match(e.message, /MDS exited during start \(code 1/);
    assert.match(e.message, why);
    return true;
  });
}

test('an MDS with the CA, a client certificate and the password leads and keeps its state in etcd', async () => {
  const m = await spawnMds(good(), 'good');
  try {
    await waitFor(async () => (await m.status())?.role === 'leader', 'the MDS to lead');
    // Its election key (and the state it loaded) live in the TLS-only, password-protected etcd.
    assert.match(etcdctl(['get', '--prefix', '--keys-only', '/curvefs/']), /\/curvefs\/mds\/election/);
  } finally {
    await m.stop();
  }
});

test('wrong TLS material or credentials stop the MDS at start with a precise error', async () => {
  const g = good();
  await refused({ ...g, password: join(dir, 'wrong.password') }, 'bad-pw', /etcd at .* refused the credentials/);
  await refused({ ...g, user: 'nobody' }, 'bad-user', /etcd at .* refused the credentials/);
  // A client certificate of another CA: etcd refuses the handshake.
  await refused({ ...g, cert: join(other(), 'mds.crt'), key: join(other(), 'mds.key') }, 'other-client-ca', /etcd client certificate .* is not signed by the CA/);
  await refused({ ...g, ca: join(other(), 'ca.crt'), cert: join(other(), 'mds.crt'), key: join(other(), 'mds.key') }, 'other-ca', /TLS with etcd at .* failed/);
  // Material that is wrong in itself is refused before anything is dialled.
  await refused({ ...g, key: join(other(), 'mds.key') }, 'key-mismatch', /etcd client key .* does not belong to the certificate/);
  await refused({ ...g, ca: join(tls(), 'mds.crt') }, 'not-a-ca', /etcd CA .* is not a CA certificate/);
  await refused({ ...g, ca: join(dir, 'missing.crt') }, 'missing', /etcd CA .*missing\.crt: cannot read it \(ENOENT\)/);
  await refused({ ...g, cert: undefined }, 'half', /give both --etcd-cert and --etcd-key/);
  await refused({ ...g, endpoint: endpoint.replace('https', 'http') }, 'http', /is not https:\/\/ but TLS towards etcd is configured/);
  await refused({ ...g, ca: undefined, cert: undefined, key: undefined }, 'no-ca', /is https: give --etcd-ca/);
  const leaky = join(dir, 'leaky.key');
  copyFileSync(join(tls(), 'mds.key'), leaky);
  chmodSync(leaky, 0o644);
  await refused({ ...g, key: leaky }, 'leaky', /mode 644 lets other users read it/);
});
