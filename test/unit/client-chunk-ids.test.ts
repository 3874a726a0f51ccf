// ChunkIdSource (src/client/chunk-ids.ts): ids from the MDS while it answers, from the reserve
// leased ahead while it does not, EIO (ALLOCATE_CHUNKID_ERROR) once the reserve is used up, and
// never one id twice. The MDS is a fake allocator that can be switched off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode, statusToErrno } from '../../src/common/index.ts';
import { ChunkIdSource } from '../../src/client/chunk-ids.ts';
import { ManualTime } from '../helpers/manual-time.ts';
import { constants } from 'node:os';

function fakeMds() {
  const m = {
    next: 1,
    down: false as boolean | StatusCode,
    calls: 0,
    async fetch(n: number): Promise<number> {
      m.calls++;
      if (m.down !== false) throw new CurveError(m.down === true ? StatusCode.UNAVAILABLE : m.down, 'mds (test)');
      const first = m.next;
      m.next += n;
      return first;
    },
  };
  return m;
}

/** Lets the background lease settle (promise callbacks only; no timers involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

test('ids come from the MDS while it answers, from the reserve while it does not, then EIO; none twice', async () => {
  const mds = fakeMds();
  const time = new ManualTime();
  const src = new ChunkIdSource((n) => mds.fetch(n), { reserve: 4, clock: time, probeMs: 1000 });
  const seen = new Set<number>();
  const take = async (n: number) => {
    const first = await src.take(n);
    for (let i = first; i < first + n; i++) {
      assert.ok(!seen.has(i), `id ${i} handed out twice`);
      seen.add(i);
    }
    return first;
  };
  src.renew(); // a mount leases its reserve
  await settle();
  assert.equal(src.held, 4);
  // MDS up: every write asks it (fresh ids keep the order of writes across clients).
  const a = await take(1);
  assert.ok(a > 4, 'a fresh id, newer than the reserve');
  assert.equal(src.held, 4);
  mds.down = true;
  // MDS down: the reserve, without waiting for the MDS on every write.
  await take(2);
  const callsWhileDown = mds.calls;
  await take(1);
  assert.equal(src.mdsDown, true);
  assert.equal(mds.calls, callsWhileDown, 'no MDS call on the write path within one probe period');
  await take(1);
  assert.equal(src.held, 0);
  await time.advance(1000);
  await assert.rejects(take(1), (e: CurveError) => e.status === StatusCode.ALLOCATE_CHUNKID_ERROR && statusToErrno(e.status) === constants.errno.EIO);
  // Back: the next probe finds it, the reserve is refilled and writes ask the MDS again.
  mds.down = false;
  await time.advance(1000);
  await take(1); // waited for that probe, took from the fresh reserve
  await settle();
  assert.equal(src.mdsDown, false);
  assert.equal(src.held, 3);
  const calls = mds.calls;
  await take(1);
  assert.equal(mds.calls, calls + 1, 'with the MDS back, writes ask it again');
});

test('a definite refusal by the MDS is the write\'s own error, not a reason to use the reserve', async () => {
  const mds = fakeMds();
  const src = new ChunkIdSource((n) => mds.fetch(n), { reserve: 4, clock: new ManualTime() });
  src.renew();
  await settle();
  mds.down = StatusCode.FS_NOT_FOUND;
  await assert.rejects(src.take(1), (e: CurveError) => e.status === StatusCode.FS_NOT_FOUND);
  assert.equal(src.mdsDown, false);
  assert.equal(src.held, 4);
});

test('a reserve older than maxAgeMs is replaced by a fresh one', async () => {
  const mds = fakeMds();
  const time = new ManualTime();
  const src = new ChunkIdSource((n) => mds.fetch(n), { reserve: 4, clock: time, maxAgeMs: 30_000 });
  src.renew();
  await settle();
  const before = mds.next;
  await src.take(1);
  await settle();
  assert.equal(mds.next, before + 1, 'a young reserve is kept');
  await time.advance(30_000);
  await src.take(1);
  await settle();
  assert.equal(mds.next, before + 2 + 4, 'an old reserve is leased again');
});
