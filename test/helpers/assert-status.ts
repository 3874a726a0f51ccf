// One assertion for "this call is refused with that status": the tests of authorisation,
// transports and stores all ask it.
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';

/** `p` rejects with a CurveError of `status` (and, when given, a message matching `message`). */
export async function rejectsWithStatus(p: Promise<unknown>, status: StatusCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CurveError, `expected CurveError, got ${String(e)}`);
    assert.equal(StatusCode[e.status], StatusCode[status], e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}
