// Mutual TLS for the framed RPC (issue [L]): with certificates from `curvefs certs`, calls work
// over TLS; a plain-TCP client, a client whose certificate another CA signed, and a client that
// does not trust the server's CA never reach a handler.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ChannelPool, RpcServer, loadTlsConfig } from '../../src/rpc/index.ts';
import { RpcTestService } from '../../src/gen/rpctest_pb.ts';
import { makeCerts } from '../../src/cli/commands/certs.ts';
import { rpcTestImpl } from '../helpers/rpc-test-service.ts';

let dir: string;
let server: RpcServer;
let address: string;
const pools: ChannelPool[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-tls-'));
  makeCerts(join(dir, 'cluster'), ['server', 'client']);
  makeCerts(join(dir, 'other'), ['client']);
  server = new RpcServer({ tls: loadTlsConfig(join(dir, 'cluster'), 'server') });
  server.register(RpcTestService, rpcTestImpl());
  address = `127.0.0.1:${await server.listen()}`;
});

after(async () => {
  for (const p of pools) p.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function pool(opts: ConstructorParameters<typeof ChannelPool>[0]): ChannelPool {
  const p = new ChannelPool({ connectTimeoutMs: 5000, backoff: { initialMs: 10, maxMs: 50 }, ...opts });
  pools.push(p);
  return p;
}

async function unavailable(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof CurveError && (e.status === StatusCode.UNAVAILABLE || e.status === StatusCode.TIMEOUT));
}

test('certs: keys are private, the CA is made once', () => {
  for (const f of ['ca.key', 'server.key', 'client.key']) assert.equal((statSync(join(dir, 'cluster', f)).mode & 0o777).toString(8), '600', f);
  assert.equal((statSync(join(dir, 'cluster')).mode & 0o777).toString(8), '700');
  const before = statSync(join(dir, 'cluster', 'ca.crt')).mtimeMs;
  makeCerts(join(dir, 'cluster'), ['third']);
  assert.equal(statSync(join(dir, 'cluster', 'ca.crt')).mtimeMs, before);
  assert.throws(() => makeCerts(join(dir, 'cluster'), ['Bad Name']), /lower-case letters/);
});

test('a client with a certificate of the cluster CA calls over TLS', async () => {
  const c = pool({ tls: loadTlsConfig(join(dir, 'cluster'), 'client') }).client(RpcTestService, address);
  assert.equal((await c.echo({ text: 'over tls', data: new Uint8Array(3 << 20).fill(7) })).data.length, 3 << 20);
  assert.equal((await c.echo({ text: 'again' })).text, 'again');
});

test('plain TCP, a client certificate of another CA, or a server certificate the client CA did not sign: no call reaches the server', async () => {
  const callsBefore = server.stats().calls;
  await unavailable(pool({}).client(RpcTestService, address).echo({ text: 'plain' }, { timeoutMs: 5000 }));
  const other = loadTlsConfig(join(dir, 'other'), 'client');
  await unavailable(pool({ tls: other }).client(RpcTestService, address).echo({ text: 'other CA' }, { timeoutMs: 5000 }));
  const cluster = loadTlsConfig(join(dir, 'cluster'), 'client');
  // The server's certificate, checked against another CA: the client refuses the server.
  await unavailable(pool({ tls: { ...cluster, ca: other.ca } }).client(RpcTestService, address).echo({ text: 'wrong CA' }, { timeoutMs: 5000 }));
  assert.equal(server.stats().calls, callsBefore);
});
