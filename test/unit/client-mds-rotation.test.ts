// The MDS address rotation shared by RotatingMdsConnector and MdsClient: follows leader hints,
// rotates without one, throws other statuses at once, gives up at the deadline with the last
// refusal's status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressRotation, MDS_RETRY_STATUSES, RotationDeadlineError } from '../../src/rpc/index.ts';
import { CurveError, SeededRandom, StatusCode } from '../../src/common/index.ts';

const opts = (deadlineMs = 30_000) => ({
  deadlineMs, attemptTimeoutMs: 1000, backoffMs: 1, maxBackoffMs: 2, retryOn: MDS_RETRY_STATUSES, random: new SeededRandom(1),
});

test('a NOT_LEADER hint is followed next, and the leader is remembered', async () => {
  const r = new AddressRotation(['a:1', 'b:2', 'c:3']);
  const tried: string[] = [];
  const res = await r.call(async (addr) => {
    tried.push(addr);
    if (addr !== 'c:3') throw new CurveError(StatusCode.NOT_LEADER, 'standby', 'c:3:0'); // a peer string
    return 'ok';
  }, opts());
  assert.equal(res, 'ok');
  assert.deepEqual(tried, ['a:1', 'c:3']);
  assert.equal(r.leader, 'c:3');
  tried.length = 0;
  await r.call(async (addr) => tried.push(addr), opts());
  assert.deepEqual(tried, ['c:3'], 'the next call starts at the known leader');
});

test('without a hint it rotates; a hint outside the list is added', async () => {
  const r = new AddressRotation(['a:1', 'b:2']);
  const tried: string[] = [];
  await r.call(async (addr) => {
    tried.push(addr);
    if (addr === 'a:1') throw new CurveError(StatusCode.UNAVAILABLE, 'down');
    if (addr === 'b:2') throw new CurveError(StatusCode.NOT_LEADER, 'standby', 'z:9');
    return addr;
  }, opts());
  assert.deepEqual(tried, ['a:1', 'b:2', 'z:9']);
  assert.equal(r.leader, 'z:9');
});

test('a status that is an answer is thrown at once', async () => {
  const r = new AddressRotation(['a:1', 'b:2']);
  let calls = 0;
  await assert.rejects(
    r.call(async () => {
      calls++;
      throw new CurveError(StatusCode.NOT_FOUND, 'no such fs');
    }, opts()),
    (e: CurveError) => e.status === StatusCode.NOT_FOUND && !(e instanceof RotationDeadlineError),
  );
  assert.equal(calls, 1);
});

test('when nobody serves, the deadline ends the call with the last refusal', async () => {
  const r = new AddressRotation(['a:1', 'b:2']);
  let calls = 0;
  await assert.rejects(
    r.call(async () => {
      calls++;
      throw new CurveError(StatusCode.SHUTTING_DOWN, 'stopping');
    }, opts(50)),
    (e: CurveError) => e instanceof RotationDeadlineError && e.status === StatusCode.SHUTTING_DOWN && /no server answered/.test(e.message),
  );
  assert.ok(calls >= 1);
});

test('an empty address list is refused', () => {
  assert.throws(() => new AddressRotation([]), (e: CurveError) => e.status === StatusCode.PARAM_ERROR);
});
