// The client's open registry (src/client/open-registry.ts): an open costs no metaserver call
// unless it can matter — the registration comes when this client removes the open file's last
// name, when the inode has no name at open, or once the open has lasted `registerAfterMs` (the
// cross-client case the reclaimer's grace covers); the release comes only after a registration,
// and a re-registration after a release in flight goes after it. Timers are node:test's mock.
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenRegistry } from '../../src/client/index.ts';

const SESSION = 7;

/** Records every OpenHandle call; each completes when the test resolves it (or at once). */
function recorder(manual = false) {
  const calls: string[] = [];
  const pending: Array<() => void> = [];
  const call = (ino: number, session: number, open: boolean): Promise<void> => {
    assert.equal(session, SESSION);
    calls.push(`${open ? 'register' : 'release'} ${ino}`);
    if (!manual) return Promise.resolve();
    return new Promise<void>((r) => pending.push(r));
  };
  return { calls, call, pending };
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

test('an open closed before the delay costs no call', async () => {
  const r = recorder();
  const opens = new OpenRegistry(r.call, SESSION, { registerAfterMs: 5000 });
  await opens.opened(10, 1);
  await opens.opened(10, 1);
  assert.ok(opens.isOpen(10));
  await opens.closed(10);
  await opens.closed(10);
  mock.timers.tick(10_000);
  await opens.settle();
  assert.deepEqual(r.calls, []);
  assert.equal(opens.size, 0);
});

test('an open that lasts the delay is registered once, and released at its last close', async () => {
  const r = recorder();
  const opens = new OpenRegistry(r.call, SESSION, { registerAfterMs: 5000 });
  await opens.opened(10, 1);
  await opens.opened(10, 1);
  mock.timers.tick(4999);
  assert.deepEqual(r.calls, []);
  mock.timers.tick(1);
  await opens.lostName(10); // already registered: no second call
  assert.deepEqual(r.calls, ['register 10']);
  await opens.closed(10);
  assert.deepEqual(r.calls, ['register 10']);
  await opens.closed(10);
  assert.deepEqual(r.calls, ['register 10', 'release 10']);
});

test('losing the last name of an open inode registers it at once; of an inode not open here, nothing', async () => {
  const r = recorder();
  const opens = new OpenRegistry(r.call, SESSION, { registerAfterMs: 5000 });
  await opens.opened(10, 1);
  await opens.lostName(11);
  assert.deepEqual(r.calls, []);
  await opens.lostName(10);
  assert.deepEqual(r.calls, ['register 10']);
  mock.timers.tick(10_000); // the timer was cancelled by the registration
  assert.deepEqual(r.calls, ['register 10']);
  await opens.closed(10);
  assert.deepEqual(r.calls, ['register 10', 'release 10']);
});

test('an open of an inode with no name is registered before opened() resolves', async () => {
  const r = recorder(true);
  const opens = new OpenRegistry(r.call, SESSION, { registerAfterMs: 5000 });
  let done = false;
  const p = opens.opened(12, 0).then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(r.calls, ['register 12']);
  assert.equal(done, false);
  r.pending.shift()!();
  await p;
  assert.equal(done, true);
});

test('a registration after a release in flight waits for the release (the server ignores a release of nothing)', async () => {
  const r = recorder(true);
  const opens = new OpenRegistry(r.call, SESSION, { registerAfterMs: 5000 });
  const first = opens.opened(13, 0);
  await Promise.resolve();
  r.pending.shift()!();
  await first;
  const released = opens.closed(13);
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(r.calls, ['register 13', 'release 13']);
  const again = opens.opened(13, 0);
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.deepEqual(r.calls, ['register 13', 'release 13'], 'the new registration waits');
  r.pending.shift()!();
  await released;
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.deepEqual(r.calls, ['register 13', 'release 13', 'register 13']);
  r.pending.shift()!();
  await again;
});

test('a failed registration is retried at the next chance, and a failed open of a nameless inode throws', async () => {
  let fail = true;
  const calls: string[] = [];
  const opens = new OpenRegistry(async (ino, _s, open) => {
    calls.push(`${open ? 'register' : 'release'} ${ino}`);
    if (fail) throw new Error('unavailable');
  }, SESSION, { registerAfterMs: 5000 });
  await assert.rejects(opens.opened(14, 0));
  assert.equal(opens.isOpen(14), false);
  await opens.opened(15, 1);
  await opens.lostName(15);
  fail = false;
  await opens.lostName(15);
  await opens.closed(15);
  assert.deepEqual(calls, ['register 14', 'register 15', 'register 15', 'release 15']);
});

test('after stopTimers (the session is ending) no delayed registration is made', async () => {
  const r = recorder();
  const opens = new OpenRegistry(r.call, SESSION, { registerAfterMs: 5000 });
  await opens.opened(16, 1);
  opens.stopTimers();
  mock.timers.tick(10_000);
  assert.deepEqual(r.calls, []);
});
