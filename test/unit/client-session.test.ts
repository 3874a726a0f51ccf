// A client whose MDS session ended (docs/architecture.md §2, "A client whose session ended"):
// one new session for everyone who learns it; a mutation refused on its first attempt is sent
// again under the new session, one that may have been applied gets EIO and is never sent again;
// open registrations follow the new session; the mount's locks are marked lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { PartitionInfoSchema, PartitionStatus } from '../../src/gen/common_pb.ts';
import { ClientSession, MetaClient, OpenRegistry, type MdsApi, type MetaCaller } from '../../src/client/index.ts';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ClusterLocks } from '../../src/vfs/cluster-locks.ts';
import { F_UNLCK, F_WRLCK, PosixError } from '../../src/vfs/index.ts';

const FS = 'f';
const MP = { host: 'h', path: '/m' };

/** An MDS that hands out session ids 2, 3, ... and counts mounts. */
function fakeMds() {
  const state = { next: 2, mounts: 0, valid: new Set<number>([1]) };
  const mds = {
    mount: async () => {
      state.mounts++;
      const id = state.next++;
      state.valid.add(id);
      return { sessionId: id };
    },
    refreshSession: async (_fs: string, id: number) => {
      if (!state.valid.has(id)) throw new CurveError(StatusCode.SESSION_EXPIRED, `session ${id} ended`);
    },
    umount: async () => undefined,
  } as unknown as MdsApi;
  return { mds, state };
}

type Rid = { clientId: number; seq: number };

/** A MetaClient over one partition whose caller answers from `script` (per attempt). */
function client(script: (rid: Rid, attempt: number) => Promise<unknown>) {
  const { mds, state } = fakeMds();
  const session = new ClientSession(mds, FS, MP, 1);
  const sent: Rid[] = [];
  const caller: MetaCaller = {
    call: ((_addr: string, _m: string, req: { rid: Rid }) => {
      sent.push({ ...req.rid });
      return script(req.rid, sent.length - 1);
    }) as MetaCaller['call'],
  };
  const meta = new MetaClient({
    mds, caller, fsId: 1, clientId: session.id,
    backoff: { baseMs: 0, maxMs: 0, jitter: 0 },
    sessionEnded: (id) => session.renew(id),
  });
  session.onRenewed((id) => meta.setClientId(id));
  meta.table.setPartitions([create(PartitionInfoSchema, { partitionId: 1, poolId: 1, copysetId: 1, fsId: 1, start: 0, end: 1023, status: PartitionStatus.READWRITE })]);
  meta.table.setCopyset({ poolId: 1, copysetId: 1, peers: ['a', 'b', 'c'], leader: 'a' });
  const setattr = () => meta.callForInode('updateInode', 1, { inodeId: 1 });
  return { meta, session, sent, state, setattr };
}

const expired = () => Promise.reject(new CurveError(StatusCode.SESSION_EXPIRED, 'ended'));

test('refused under the ended session on its first attempt: sent again, once, as a new request of a new session', async () => {
  const c = client((rid) => (rid.clientId === 1 ? expired() : Promise.resolve({})));
  await c.setattr();
  assert.deepEqual(c.sent, [{ clientId: 1, seq: 1 }, { clientId: 2, seq: 1 }]);
  assert.equal(c.session.id, 2);
  await c.setattr();
  assert.deepEqual(c.sent.at(-1), { clientId: 2, seq: 2 });
});

test('an attempt that may have been applied, then SESSION_EXPIRED: EIO, never sent under the new session', async () => {
  for (const first of [StatusCode.TIMEOUT, StatusCode.NOT_LEADER, StatusCode.UNAVAILABLE]) {
    const c = client((rid, attempt) => (attempt === 0 ? Promise.reject(new CurveError(first, 'lost')) : rid.clientId === 1 ? expired() : Promise.resolve({})));
    await assert.rejects(c.setattr(), (e: unknown) => e instanceof CurveError && e.status === StatusCode.SESSION_EXPIRED && e.code === 'EIO');
    assert.deepEqual(c.sent, [{ clientId: 1, seq: 1 }, { clientId: 1, seq: 1 }], StatusCode[first]);
    // The client has a new session for what comes next.
    await c.setattr();
    assert.deepEqual(c.sent.at(-1), { clientId: 2, seq: 1 });
  }
});

test('many calls learning at once register one new session', async () => {
  const c = client((rid) => (rid.clientId === 1 ? expired() : Promise.resolve({})));
  await Promise.all([c.setattr(), c.setattr(), c.setattr()]);
  assert.equal(c.state.mounts, 1);
  assert.deepEqual(c.sent.filter((r) => r.clientId === 2).map((r) => r.seq).sort(), [1, 2, 3]);
});

test('a new session refused as well is not resent again (no loop)', async () => {
  const c = client(() => expired());
  await assert.rejects(c.setattr(), (e: unknown) => e instanceof CurveError && e.code === 'EIO');
  assert.deepEqual(c.sent, [{ clientId: 1, seq: 1 }, { clientId: 2, seq: 1 }]);
});

test('reads carry no session and are not affected', async () => {
  const c = client(() => Promise.resolve({ attr: [] }));
  await c.meta.callForInode('batchGetInodeAttr', 1, { inodeId: [1] });
  assert.equal(c.state.mounts, 0);
});

test('the refresh that says the session ended registers a new one', async () => {
  const { mds, state } = fakeMds();
  const session = new ClientSession(mds, FS, MP, 1);
  const seen: Array<[number, number]> = [];
  session.onRenewed((id, ended) => seen.push([id, ended]));
  state.valid.delete(1);
  await (session as unknown as { refresh(): Promise<void> }).refresh();
  assert.deepEqual(seen, [[2, 1]]);
  assert.equal(session.id, 2);
  // A stale report about the old session changes nothing.
  assert.equal(await session.renew(1), 2);
  assert.equal(state.mounts, 1);
});

test('open registrations follow the new session; unregistered opens stay unregistered', async () => {
  const calls: string[] = [];
  const reg = new OpenRegistry(async (ino, session, open) => void calls.push(`${open ? 'register' : 'release'} ${ino}@${session}`), 1, { registerAfterMs: 60_000 });
  await reg.opened(10, 0); // nameless: registered at once
  await reg.opened(11, 1); // registered later (timer): not yet
  reg.renewed(2);
  assert.equal(reg.sessionId, 2);
  await reg.lostName(10); // settles the re-registration
  await reg.closed(10);
  reg.stopTimers();
  assert.deepEqual(calls, ['register 10@1', 'register 10@2', 'release 10@2']);
});

test('locks held when the session ended: the owner\'s next lock call and its close report EIO once', async () => {
  let session = 1;
  const sent: number[] = [];
  const meta = {
    callForInode: async (_m: string, _ino: number, body: { lock: { sessionId: number } }) => {
      sent.push(body.lock.sessionId);
      return { granted: true };
    },
  } as unknown as MetaClient;
  const locks = new ClusterLocks(meta, () => session);
  const W = { start: 0, end: 9, type: F_WRLCK, pid: 1 };
  const U = { start: 0, end: 9, type: F_UNLCK, pid: 1 };
  await locks.set(5, 1n, W, { flock: false, sleep: false });
  await locks.set(6, 2n, W, { flock: true, sleep: false });
  session = 2;
  locks.sessionLost();
  assert.equal(locks.held, 0);
  const eio = (e: unknown) => e instanceof PosixError && e.code === 'EIO';
  await assert.rejects(locks.set(5, 1n, U, { flock: false, sleep: false }), eio);
  await assert.rejects(locks.set(6, 2n, W, { flock: true, sleep: false }), eio);
  // Once: then the owner starts clean, under the new session.
  await locks.set(5, 1n, W, { flock: false, sleep: false });
  assert.equal(sent.at(-1), 2);
  // close(2) after a lost POSIX lock reports EIO too.
  session = 3;
  locks.sessionLost();
  await assert.rejects(locks.releasePosix(5, 1n), eio);
  await locks.releasePosix(5, 1n);
});
