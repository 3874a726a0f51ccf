// The test helper that runs metaserver processes (test/helpers/metaserver-cluster.ts) must leave
// none behind, whatever a test was doing when it ended: CI once found three metaservers of a
// transaction fault test still running after it. A crashed replica being restarted while the
// test stops, or a paused replica (SIGSTOP, a fault nemesis) that cannot act on SIGTERM, must
// not outlive stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../../src/common/poll.ts';
import { MetaserverCluster } from '../helpers/metaserver-cluster.ts';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (polling, with a deadline) until none of `pids` is alive. */
async function gone(pids: (number | undefined)[], what: string): Promise<void> {
  await pollUntil(`${what}: pids ${pids.join(', ')} gone`, 30_000, async () => (pids.some(alive) ? undefined : true));
}

test('a restart that races with stop() does not leave a process behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-helper-stop-'));
  let late: number | undefined;
  try {
    const c = await MetaserverCluster.start({ n: 1, dir });
    const first = c.procs[0]!.proc!.pid;
    // The test's fault code: the replica died (crash injection), it is being restarted...
    await c.kill(0);
    // ...when the test ends (a failed assertion elsewhere, a timeout) and teardown stops the cluster.
    const stopping = c.stop();
    const restarted = c.restart(0).then(
      () => 'restarted',
      (e: unknown) => String(e),
    );
    await stopping;
    const outcome = await restarted;
    late = c.procs[0]!.proc?.pid;
    assert.match(outcome, /stopped/, 'a restart after stop() must be refused');
    await gone([first, late], 'after stop');
    assert.equal(c.alive(0), false);
  } finally {
    if (alive(late)) process.kill(late!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop() ends a paused (SIGSTOP) replica too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-helper-stop-'));
  try {
    const c = await MetaserverCluster.start({ n: 2, dir });
    const pids = c.procs.map((p) => p.proc!.pid);
    process.kill(pids[0]!, 'SIGSTOP');
    let stopped = false;
    const stopping = c.stop().then(() => (stopped = true));
    await pollUntil('stop() of a cluster with a paused replica', 60_000, async () => (stopped ? true : undefined)).catch((e: Error) => {
      for (const pid of pids) if (alive(pid)) process.kill(pid!, 'SIGKILL');
      assert.fail(`stop() waits forever for a paused replica to act on SIGTERM (${e.message})`);
    });
    await stopping;
    await gone(pids, 'after stop');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
