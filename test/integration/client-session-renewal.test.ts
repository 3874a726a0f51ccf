// A client whose MDS session ended while it was cut off (its refreshes stopped for longer than
// the session timeout, the MDS up all along) registers a new session and keeps working
// (docs/architecture.md §2 "Idempotent mutations", "A client whose session ended"). Real MDS and
// 3 metaservers; the test cuts the SDK client's refreshes (an MdsApi whose refreshSession fails
// while `paused`) and holds the retry of one mutation (a MetaCaller in front of the real one).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { MountProc } from '../helpers/curvefs-mount-proc.ts';
import {
  connectFs, MdsAdapter, RotatingMdsConnector, RpcMetaCaller,
  type Connection, type MdsApi, type MetaCaller, type MetaMethod,
} from '../../src/client/index.ts';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MdsService } from '../../src/gen/mds_pb.ts';

const FS = 'renew';
let dir: string;
let cluster: CurvefsCluster;
const pool = new ChannelPool({ connectTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 200 } });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-session-renewal-'));
  // A short session timeout so that a cut-off client's session ends within the test.
  cluster = await CurvefsCluster.start({ dir, mdsArgs: ['--session-timeout-ms', '1500', '--session-scan-ms', '100'] });
  await cluster.createFs(FS);
});

after(async () => {
  await cluster?.stop();
  pool.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The MDS as the client sees it, with its session refreshes cut while `paused`. */
function cuttableMds(): { mds: MdsApi; cut(on: boolean): void } {
  const inner = new MdsAdapter(new RotatingMdsConnector(pool, cluster.mdsAddrs, { callTimeoutMs: 10_000 }));
  let paused = false;
  const mds: MdsApi = Object.assign(Object.create(inner) as MdsApi, {
    refreshSession: (fsName: string, sessionId: number) =>
      paused ? Promise.reject(new CurveError(StatusCode.UNAVAILABLE, 'refresh cut by the test')) : inner.refreshSession(fsName, sessionId),
  });
  return { mds, cut: (on) => (paused = on) };
}

async function liveSessions(): Promise<number[]> {
  const info = (await cluster.mds.client(MdsService).getFsInfo({ fsName: FS })).fsInfo!;
  return info.mountpoints.map((m) => m.sessionId);
}

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof CurveError ? e.code : String(e);
  }
}

const text = (b: Uint8Array) => Buffer.from(b).toString();

test('a client whose session expired registers a new one; an in-flight mutation gets EIO once and is not sent again', async () => {
  const real = new RpcMetaCaller(pool);
  // The first attempt of CreateFile "inflight" is applied but its answer is lost (TIMEOUT); its
  // retry waits until the test releases it.
  let captured: { address: string; req: unknown } | undefined;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let resent = 0;
  /** Sessions (request-id client ids) the in-flight create was sent under. */
  const sentUnder = new Set<number>();
  const caller: MetaCaller = {
    call(address, method, req, opts) {
      if (method === 'createFile' && (req as { name?: string }).name === 'inflight') {
        sentUnder.add((req as { rid: { clientId: number } }).rid.clientId);
        if (!captured) {
          captured = { address, req };
          return real.call(address, method, req, opts).then(() => {
            throw new CurveError(StatusCode.TIMEOUT, 'answer lost (test)');
          });
        }
        resent++;
        return held.then(() => real.call(address, method, req, opts));
      }
      return real.call(address, method, req, opts);
    },
  };
  const { mds, cut } = cuttableMds();
  const conn: Connection = await connectFs({ mds, fsName: FS, pool, caller, registerOpenAfterMs: 0, refreshMs: 100, entryTtlMs: 0, attrTtlMs: 0 });
  try {
    await conn.fs.writeFile('/kept', 'before');
    const h = await conn.fs.open('/kept', 'r');
    const old = conn.sessionId;
    assert.ok((await liveSessions()).includes(old));
    const registeredBefore = conn.core.opens!.counts.registered;

    const inflight = errnoOf(conn.fs.writeFile('/inflight', 'x'));
    await waitUntil('the in-flight create to be retried', 10_000, async () => (resent > 0 ? true : undefined));

    cut(true);
    await waitUntil('the MDS to end the cut-off session', 20_000, async () => ((await liveSessions()).includes(old) ? undefined : true));
    // The same request again (a duplicate: no effect) is answered from the request window until
    // the copyset applies ExpireSessions, then refused: the window is gone.
    await waitUntil('the metaservers to expire the session', 20_000, async () => {
      try {
        await real.call(captured!.address, 'createFile' as MetaMethod, captured!.req as never, { timeoutMs: 2000 });
        return undefined;
      } catch (e) {
        return e instanceof CurveError && e.status === StatusCode.SESSION_EXPIRED ? true : undefined;
      }
    });

    // A new operation, before the client learnt anything: refused under the ended session on its
    // first attempt (so certainly not applied), sent again under a new session. (A read first
    // finds the copyset's leader again — the lost answer above made the client forget it — so
    // that first attempt is not a NOT_LEADER, after which the outcome would count as unknown.)
    await conn.fs.stat('/kept');
    await conn.fs.writeFile('/after', 'new data');
    const renewed = conn.sessionId;
    assert.ok(renewed > old, `a new session id (was ${old}, now ${renewed})`);
    assert.deepEqual((await liveSessions()).filter((id) => id === old || id === renewed), [renewed]);

    // The create whose first answer was lost: its outcome is unknown under the ended session, so
    // its caller gets EIO once and it is not sent again under the new one (which would answer
    // EEXIST, or for an unlink apply twice).
    release();
    assert.equal(await inflight, 'EIO');
    assert.deepEqual([...sentUnder], [old], 'the in-flight create was never sent under the new session');
    assert.equal((await conn.fs.stat('/inflight')).nlink, 1, 'applied exactly once (by its first attempt)');

    // What the old session held is held again by the new one; the open handle still reads.
    await waitUntil('the open handle to be registered again', 10_000, async () =>
      conn.core.opens!.counts.registered > registeredBefore ? true : undefined);
    assert.equal(text(await h.read(0, 100)), 'before');
    await h.close();

    cut(false);
    assert.equal(text(await conn.fs.readFile('/after')), 'new data');
    await conn.fs.mkdir('/d');
    await conn.fs.rename('/after', '/d/after');
    assert.deepEqual(await conn.fs.readdir('/d'), ['after']);
    assert.equal(conn.sessionId, renewed);
  } finally {
    release();
    await conn.close();
  }
  assert.ok(!(await liveSessions()).includes(conn.sessionId), 'close ended the new session');
});

test('the session refresh that learns the session ended registers a new one', async () => {
  const { mds, cut } = cuttableMds();
  const conn = await connectFs({ mds, fsName: FS, pool, registerOpenAfterMs: 0, refreshMs: 100 });
  try {
    await conn.fs.writeFile('/r1', 'one');
    const old = conn.sessionId;
    cut(true);
    await waitUntil('the MDS to end the cut-off session', 20_000, async () => ((await liveSessions()).includes(old) ? undefined : true));
    cut(false);
    await waitUntil('the refresh to register a new session', 20_000, async () => (conn.sessionId !== old ? true : undefined));
    assert.ok((await liveSessions()).includes(conn.sessionId));
    await conn.fs.writeFile('/r2', 'two');
    assert.equal(text(await conn.fs.readFile('/r1')), 'one');
    assert.equal(text(await conn.fs.readFile('/r2')), 'two');
  } finally {
    await conn.close();
  }
});

/**
 * Whether the root directory's copyset refuses requests of `sessionId` (it applied
 * ExpireSessions). The probe repeats the session's first request id: while its window lives it is
 * a duplicate (answered from the window, no effect); afterwards it is refused.
 */
async function refusedAtRoot(probe: Connection, sessionId: number): Promise<true | undefined> {
  const p = probe.meta.partitionOf(1);
  const route = probe.meta.table.copyset(p.poolId, p.copysetId)!;
  const real = new RpcMetaCaller(pool);
  for (const address of route.peers) {
    try {
      await real.call(address, 'unlink', {
        p: { poolId: p.poolId, copysetId: p.copysetId, partitionId: p.partitionId, fsId: p.fsId },
        rid: { clientId: sessionId, seq: 1 },
        parentInodeId: 1,
        name: 'no-such-name',
        time: { sec: 1, nsec: 0 },
      }, { timeoutMs: 2000 });
      return undefined;
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.SESSION_EXPIRED) return true;
      if (e instanceof CurveError && e.status === StatusCode.NOT_LEADER) continue;
      return undefined;
    }
  }
  return undefined;
}

test('a FUSE mount whose process was stopped past the session timeout keeps working under a new session', async () => {
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const probe = await connectFs({ mds: cuttableMds().mds, fsName: FS, pool });
  const m = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: FS, dir: mnt });
  let fd: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const old = Number(/\(session (\d+)\)/.exec(m.output.find((l) => l.startsWith('mounted ')) ?? '')?.[1]);
    assert.ok(old > 0, `session id in: ${m.output.join('\n')}`);
    await writeFile(join(mnt, 'm1'), 'one');
    fd = await open(join(mnt, 'm1'), 'r');
    // Nothing may touch the mount while its process is stopped (the kernel would wait for it).
    m.proc.kill('SIGSTOP');
    try {
      await waitUntil('the MDS to end the stopped mount\'s session', 20_000, async () => ((await liveSessions()).includes(old) ? undefined : true));
      await waitUntil('the metaservers to expire the session', 20_000, () => refusedAtRoot(probe, old));
    } finally {
      m.proc.kill('SIGCONT');
    }
    await writeFile(join(mnt, 'm2'), 'two');
    assert.equal(await readFile(join(mnt, 'm2'), 'utf8'), 'two');
    assert.equal(await readFile(join(mnt, 'm1'), 'utf8'), 'one');
    const buf = Buffer.alloc(16);
    const { bytesRead } = await fd.read(buf, 0, 16, 0);
    assert.equal(buf.subarray(0, bytesRead).toString(), 'one');
    await fd.close();
    fd = undefined;
    const live = await liveSessions();
    assert.ok(!live.includes(old));
    assert.ok(live.some((id) => id > old && id !== probe.sessionId), `a new session for the mount (live: ${live})`);
  } finally {
    // An fd left open on failure would keep the mount busy and its unmount waiting.
    await fd?.close().catch(() => undefined);
    await m.stop();
    await probe.close();
  }
});
