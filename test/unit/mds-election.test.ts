// The lease bookkeeping that decides when a leader must stop acting (pure, injected times).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseGuard } from '../../src/mds/election/index.ts';

test('a lease is valid until last confirmed send + TTL − margin', () => {
  const g = new LeaseGuard(5000, 1000);
  assert.equal(g.isValid(0), false);
  g.confirm(100);
  assert.equal(g.validUntil(), 4100);
  assert.equal(g.isValid(4099), true);
  assert.equal(g.isValid(4100), false);
});

test('the send time counts, not the answer time; an older confirmation never shortens it', () => {
  const g = new LeaseGuard(5000, 1000);
  g.confirm(1000);
  g.confirm(500); // a slow answer to an earlier keepalive arrives late
  assert.equal(g.validUntil(), 5000);
  g.confirm(2000);
  assert.equal(g.validUntil(), 6000);
});

test('a shorter TTL granted by etcd shortens validity for good', () => {
  const g = new LeaseGuard(5000, 1000);
  g.confirm(0, 3000);
  assert.equal(g.validUntil(), 2000);
  g.confirm(1000); // later confirmations keep the granted TTL
  assert.equal(g.validUntil(), 3000);
});

test('invalidate ends validity at once', () => {
  const g = new LeaseGuard(5000, 1000);
  g.confirm(0);
  g.invalidate();
  assert.equal(g.isValid(1), false);
});

test('the margin must be smaller than the TTL', () => {
  assert.throws(() => new LeaseGuard(1000, 1000), RangeError);
  assert.throws(() => new LeaseGuard(1000, -1), RangeError);
});
