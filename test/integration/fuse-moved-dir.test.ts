// A directory that ANOTHER mount moved is still the same directory: listing it by its new path
// through a mount that had cached it at the old path must work, and the old path must be ENOENT,
// never ESTALE. Two real FUSE mounts (A and B) of one fs, each with its own client connection,
// served by this process over a real 3-replica cluster; the test touches them only through child
// processes.
//
// The kernel keeps one dentry per directory inode. B's lookup of the new path answers with the
// inode B's dcache still holds at the old path, and the kernel must move that dentry — which it
// only tries (trylock of the mount's rename mutex and of the old parent), failing with ESTALE
// when a cross-directory rename is in progress on the same mount. B's rename here is one held in
// the server, so that contention is there every time, not by chance.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FileDataIO } from '../../src/data/index.ts';
import type { FuseOps } from '../../src/fuse/index.ts';
import { CurvefsOps } from '../../src/mount/index.ts';
import type { Connection } from '../../src/client/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { mountForTest, run, type TestMount } from '../helpers/fuse.ts';
import { waitFor } from '../helpers/wait.ts';

let cluster: TestCluster;
const conns: Connection[] = [];
let a: TestMount;
let b: TestMount;
/** B's renames wait here while held (a cross-directory rename in progress on B). */
let renameGate: Promise<void> | undefined;
let renamesWaiting = 0;

async function mountOf(held: boolean): Promise<TestMount> {
  // As `curvefs mount` connects: the kernel caches, the client library does not.
  const conn = await cluster.connect({ entryTtlMs: 0, attrTtlMs: 0 });
  conns.push(conn);
  const v = conn.view;
  const data = new FileDataIO(conn.store, { fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize, allocChunkIds: async () => { throw new Error('no data is written in this test'); } });
  const inner = new CurvefsOps({ core: conn.core, data, sessionId: conn.sessionId, view: v });
  const ops = !held
    ? inner
    : new Proxy(inner as FuseOps, {
        get(target, prop) {
          const fn: unknown = Reflect.get(target, prop, target);
          if (typeof fn !== 'function') return fn;
          if (prop !== 'rename') return (fn as (...x: unknown[]) => unknown).bind(target);
          return async (...args: unknown[]) => {
            if (renameGate) {
              renamesWaiting++;
              await renameGate;
              renamesWaiting--;
            }
            return (fn as (...x: unknown[]) => unknown).apply(target, args);
          };
        },
      });
  // The TTLs `curvefs mount` uses by default.
  return mountForTest(ops, { entryTimeoutSec: 1, attrTimeoutSec: 1 });
}

before(async () => {
  cluster = await startCluster({ fsName: 'moved' });
  a = await mountOf(false);
  b = await mountOf(true);
});

after(async () => {
  await b?.cleanup();
  await a?.cleanup();
  for (const c of conns) await c.close();
  await cluster?.stop();
});

async function sh(m: TestMount, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  // (cd in the shell: a cwd on the mount would block the spawn, which waits for the child's chdir,
  // on this process's own FUSE server.)
  return run('sh', ['-c', `cd '${m.dir}' && ${script}`]);
}

async function ok(m: TestMount, script: string): Promise<string> {
  const r = await sh(m, script);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

/** Runs `body` while a cross-directory rename on B (busyA/x → busyB/x) is held in B's server. */
async function whileBRenames<T>(tag: string, body: () => Promise<T>): Promise<T> {
  await ok(a, `mkdir -p busy-${tag}-1 busy-${tag}-2 && touch busy-${tag}-1/x`);
  let release!: () => void;
  renameGate = new Promise((r) => (release = r));
  const mv = sh(b, `mv busy-${tag}-1/x busy-${tag}-2/x`);
  try {
    await waitFor(() => renamesWaiting === 1, 'B rename held in the server');
    return await body();
  } finally {
    renameGate = undefined;
    release();
    const r = await mv;
    assert.equal(r.code, 0, r.stderr);
  }
}

/** ls through B, with the errno text of a failure kept. */
async function lsB(path: string): Promise<{ code: number; out: string }> {
  const r = await sh(b, `ls -1 ${path}`);
  return { code: r.code, out: r.code === 0 ? r.stdout : r.stderr };
}

test('a directory another mount moved lists by its new path; the old path is ENOENT, not ESTALE', async () => {
  await ok(a, 'mkdir -p t1/a/d t1/b && touch t1/a/d/f1');
  // B caches /a/d (and what is in it).
  assert.equal(await ok(b, 'ls -1 t1/a/d'), 'f1\n');
  await ok(a, 'mv t1/a/d t1/b/d');
  await whileBRenames('t1', async () => {
    const moved = await lsB('t1/b/d');
    assert.deepEqual(moved, { code: 0, out: 'f1\n' }, 'the moved directory lists at its new path');
    const old = await lsB('t1/a/d');
    assert.notEqual(old.code, 0);
    assert.match(old.out, /No such file or directory/, 'the old path is gone, not stale');
  });
});

test('moved into a sibling B has cached, round after round, and with its parent moved', async () => {
  await ok(a, 'mkdir -p t2/r0 t2/r1 t2/r2 && touch t2/r0/f0 t2/r1/f1 t2/r2/f2');
  assert.equal(await ok(b, 'ls -1 t2 t2/r0 t2/r1 t2/r2 >/dev/null && echo seen'), 'seen\n');
  // Round 1: r0 into r1 (a sibling B has cached). Round 2: r1 (with r0 in it) into r2.
  // Round 3: r0 back out to the top (under a new name: B's negative entry of t2/r0 from round 1
  // may stand for the entry timeout, as any mount's view of another's changes).
  const rounds: Array<{ mv: string; at: string; gone: string; lists: string }> = [
    { mv: 'mv t2/r0 t2/r1/r0', at: 't2/r1/r0', gone: 't2/r0', lists: 'f0\n' },
    { mv: 'mv t2/r1 t2/r2/r1', at: 't2/r2/r1/r0', gone: 't2/r1', lists: 'f0\n' },
    { mv: 'mv t2/r2/r1/r0 t2/top', at: 't2/top', gone: 't2/r2/r1/r0', lists: 'f0\n' },
  ];
  for (const [i, r] of rounds.entries()) {
    // B has the directory cached where it was before this round.
    await ok(b, `ls -1 ${i === 0 ? 't2/r0' : rounds[i - 1]!.at} >/dev/null`);
    await ok(a, r.mv);
    await whileBRenames(`t2-${i}`, async () => {
      assert.deepEqual(await lsB(r.at), { code: 0, out: r.lists }, `round ${i + 1}: ${r.at} lists`);
      const old = await lsB(r.gone);
      assert.notEqual(old.code, 0, `round ${i + 1}: ${r.gone} is gone`);
      assert.match(old.out, /No such file or directory/, `round ${i + 1}: ${r.gone} is ENOENT`);
    });
  }
});

test('listing the new parent first (READDIRPLUS shows the moved directory) does not hide the old place', async () => {
  await ok(a, 'mkdir -p t3/a/d t3/b && touch t3/a/d/f3');
  assert.equal(await ok(b, 'ls -1 t3/a/d'), 'f3\n');
  await ok(a, 'mv t3/a/d t3/b/d');
  await whileBRenames('t3', async () => {
    // `ls -l` of the new parent: a READDIRPLUS that lists d while B's kernel has it at t3/a/d.
    const listed = await sh(b, 'ls -l t3/b');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(await lsB('t3/b/d'), { code: 0, out: 'f3\n' }, 'the moved directory lists at its new path');
  });
});
