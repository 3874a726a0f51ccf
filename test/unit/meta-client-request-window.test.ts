// A client's mutations in flight stay inside what a partition remembers of it: the partition
// keeps the results of a client's last 64 mutations (request-table.ts) and answers a retry of an
// older one STALE — "cannot tell whether it was applied". With many mutations in flight (the SDK
// creating with 48 in flight, found by the huge-directory bench), one whose answer was lost and
// whose retry came after 64 later ones had been applied got STALE: an error for a create that
// had in fact been applied. The client now never numbers a mutation further than half the
// partition's window past its oldest one still in flight (src/client/request-window.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { PartitionInfoSchema, PartitionStatus } from '../../src/gen/common_pb.ts';
import { MetaClient, type MdsApi, type MetaCaller } from '../../src/client/index.ts';
import { RequestWindow } from '../../src/client/request-window.ts';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { RequestTable, DEFAULT_REQUEST_LIMITS } from '../../src/metaserver/partition/request-table.ts';
import { Cow } from '../../src/metaserver/partition/inode-store.ts';
import type { OpResult } from '../../src/metaserver/partition/types.ts';

type Rid = { clientId: number; seq: number };

/**
 * One partition's request table behind a fake caller. The first attempt of seq 1 is applied but
 * its answer lost; its retry is answered only once no other call is waiting for an answer.
 */
function cluster() {
  const table = new RequestTable(DEFAULT_REQUEST_LIMITS, new Cow());
  const pending = new Set<() => void>();
  let retryOfFirst: (() => void) | undefined;
  const settleLater = () => {
    if (pending.size === 0 && retryOfFirst) {
      const r = retryOfFirst;
      retryOfFirst = undefined;
      r();
    }
  };
  const apply = (rid: Rid): unknown => {
    const seen = table.lookup(rid.clientId, rid.seq);
    if (seen.kind === 'stale') throw new CurveError(StatusCode.STALE, `request ${rid.clientId}/${rid.seq} is older than the retained window`);
    if (seen.kind === 'new') table.record(rid.clientId, rid.seq, { status: StatusCode.OK } as unknown as OpResult);
    return {};
  };
  let attemptsOfFirst = 0;
  const caller: MetaCaller = {
    call: ((_addr: string, _m: string, req: { rid: Rid }) => {
      const rid = { ...req.rid };
      if (rid.seq === 1 && attemptsOfFirst++ === 0) {
        apply(rid); // applied; the answer is lost
        return Promise.reject(new CurveError(StatusCode.UNAVAILABLE, 'answer lost'));
      }
      if (rid.seq === 1) {
        return new Promise<unknown>((resolve, reject) => {
          retryOfFirst = () => {
            try {
              resolve(apply(rid));
            } catch (e) {
              reject(e);
            }
          };
          settleLater();
        });
      }
      // Every other mutation is answered on a later turn, in order.
      return new Promise<unknown>((resolve, reject) => {
        const go = () => {
          pending.delete(go);
          try {
            resolve(apply(rid));
          } catch (e) {
            reject(e);
          }
          settleLater();
        };
        pending.add(go);
        setImmediate(go);
      });
    }) as MetaCaller['call'],
  };
  const meta = new MetaClient({ mds: {} as MdsApi, caller, fsId: 1, clientId: 7, backoff: { baseMs: 0, maxMs: 0, jitter: 0 } });
  meta.table.setPartitions([create(PartitionInfoSchema, { partitionId: 1, poolId: 1, copysetId: 1, fsId: 1, start: 0, end: 1023, status: PartitionStatus.READWRITE })]);
  meta.table.setCopyset({ poolId: 1, copysetId: 1, peers: ['a'], leader: 'a' });
  return { meta };
}

test('200 mutations in flight, the first answer lost and its retry answered last: applied once, no STALE', async () => {
  const { meta } = cluster();
  const results = await Promise.allSettled(Array.from({ length: 200 }, () => meta.callForInode('updateInode', 1, { inodeId: 1 })));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`#${i + 1}: ${String(r.reason)}`] : []));
  assert.deepEqual(failed, []);
});

test('the window: a number waits until the oldest in flight is within reach, numbers stay in order', async () => {
  const w = new RequestWindow(4);
  const got = await Promise.all([w.next(), w.next(), w.next(), w.next()]);
  assert.deepEqual(got, [1, 2, 3, 4]);
  let fifth: number | undefined;
  const p = w.next().then((s) => (fifth = s));
  await new Promise((r) => setImmediate(r));
  assert.equal(fifth, undefined, 'seq 5 must wait while seq 1 is in flight');
  w.done(3); // not the oldest: still waits
  await new Promise((r) => setImmediate(r));
  assert.equal(fifth, undefined);
  w.done(1);
  await p;
  assert.equal(fifth, 5);
  // 2 is now the oldest: 6 may go (6 - 2 < 4... 6 - 2 = 4 is not): waits for 2.
  let sixth: number | undefined;
  const q = w.next().then((s) => (sixth = s));
  await new Promise((r) => setImmediate(r));
  assert.equal(sixth, undefined);
  w.done(2);
  await q;
  assert.equal(sixth, 6);
});
