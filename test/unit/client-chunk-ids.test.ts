// The chunk-id lease (src/client/chunk-ids.ts): writes take ids from ranges leased ahead, with no
// MDS call of their own; a new range is leased in the background before the old one runs out;
// while the MDS does not answer, writes go on from what is held, and once that is used up a write
// fails with a definite EIO instead of stalling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ChunkIdLease } from '../../src/client/index.ts';
import { ManualTime } from '../helpers/manual-time.ts';

/** An MDS id counter that can be taken down: hands out fresh consecutive ranges while up. */
function fakeMds() {
  const m = {
    next: 1,
    up: true,
    calls: 0,
    fetch: (n: number) => {
      m.calls++;
      if (!m.up) return Promise.reject(new CurveError(StatusCode.UNAVAILABLE, 'MDS down'));
      const first = m.next;
      m.next += n;
      return Promise.resolve(first);
    },
  };
  return m;
}

test('writes take ids from the leased range: one MDS call per range, renewed ahead of need', async () => {
  const mds = fakeMds();
  const lease = new ChunkIdLease(mds.fetch, { rangeSize: 8 });
  const got: number[] = [];
  for (let i = 0; i < 20; i++) got.push(await lease.take(1));
  // Every id is fresh and none repeats.
  assert.equal(new Set(got).size, 20);
  for (const id of got) assert.ok(id >= 1 && id < mds.next);
  // 20 ids from ranges of 8: three or four leases, not twenty calls.
  assert.ok(mds.calls <= 4, `${mds.calls} MDS calls`);
  // Consecutive ids for a multi-id request never straddle two ranges.
  const first = await lease.take(3);
  assert.ok([first, first + 1, first + 2].every((id) => !got.includes(id)));
});

test('with the MDS down, writes go on from the ids held, then fail with EIO; with it back, they go on', async () => {
  const mds = fakeMds();
  const time = new ManualTime();
  const lease = new ChunkIdLease(mds.fetch, { rangeSize: 8, renewBelow: 4, retryMs: 1000, clock: time });
  await lease.take(1); // 7 held
  mds.up = false;
  const during: number[] = [];
  let failure: unknown;
  for (let i = 0; i < 40 && failure === undefined; i++) {
    try {
      during.push(await lease.take(1));
    } catch (e) {
      failure = e;
    }
  }
  assert.equal(during.length, 7, `${during.length} writes went on from the held ids`);
  assert.ok(failure instanceof CurveError && failure.status === StatusCode.ALLOCATE_CHUNKID_ERROR, String(failure));
  assert.equal(failure.code, 'EIO');
  assert.match(failure.message, /ids leased ahead are used up/);
  mds.up = true;
  // The next write leases again (a write with nothing held does not wait for the retry period).
  const after = await lease.take(1);
  assert.ok(!during.includes(after));
});
