// RaftPeerIdentity (src/mds/auth/peer-identity.ts): which certificate may speak for which
// metaserver. Names come from a lookup (the MDS's registrations in the process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { RaftPeerIdentity, checkRegistrationName } from '../../src/mds/auth/index.ts';

const forbidden = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CurveError);
  assert.equal(StatusCode[e.status], 'FORBIDDEN');
  assert.match(e.message, re);
  return true;
};

test('a sender is checked against its registered certificate name; older registrations pass unchecked', async () => {
  const registered: Record<number, string> = { 1: 'cert:metaserver1', 2: 'cert:metaserver2', 3: 'build-host' };
  let lookups = 0;
  const id = new RaftPeerIdentity(async (n) => {
    lookups++;
    return registered[n];
  });
  await id.check(1, 'metaserver1');
  // Once known, the check is synchronous (batches keep their order) and asks nothing more.
  assert.equal(id.check(1, 'metaserver1'), undefined);
  assert.equal(lookups, 1);
  assert.throws(() => id.check(1, 'metaserver2'), forbidden(/claims to be from metaserver 1 \(certificate "metaserver1"\) but came over a connection with certificate "metaserver2"/));
  assert.throws(() => id.check(1, undefined), forbidden(/without a TLS client certificate/));
  await assert.rejects(async () => id.check(9, 'metaserver9'), forbidden(/metaserver 9, which is not registered/));
  // Registered before names were bound to certificates: accepted, remembered as unchecked.
  await id.check(3, 'anything');
  assert.deepEqual([...id.unchecked], [3]);
  assert.equal(id.refused, 3);
});

test('registration: the certificate name, once; a plain connection cannot claim one', () => {
  const existing = [{ hostname: 'cert:metaserver1', internalIp: '10.0.0.1', internalPort: 16701 }];
  checkRegistrationName('cert:metaserver2', 'metaserver2', existing, '10.0.0.2', 16701);
  checkRegistrationName('cert:metaserver1', 'metaserver1', existing, '10.0.0.1', 16701); // the same one again
  checkRegistrationName('build-host', undefined, existing, '10.0.0.3', 16701); // no TLS: unchanged
  assert.throws(() => checkRegistrationName('cert:metaserver1', 'metaserver1', existing, '10.0.0.9', 16701), forbidden(/already registered by the metaserver at 10\.0\.0\.1:16701/));
  assert.throws(() => checkRegistrationName('cert:metaserver1', undefined, existing, '10.0.0.9', 16701), forbidden(/only a TLS connection with that certificate/));
  assert.throws(() => checkRegistrationName('build-host', 'metaserver2', existing, '10.0.0.2', 16701), forbidden(/this one is "cert:metaserver2"/));
});
