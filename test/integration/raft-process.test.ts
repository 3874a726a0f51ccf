// A 3-replica Raft group across 3 real processes on loopback with real files: kill -9 the
// leader during a stream of proposals; every acknowledged proposal must be present on every
// replica after the killed ones restart — and after all three are killed and restarted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvProcessCluster } from '../helpers/raft-kv-cluster.ts';
import { encodeKv, waitFor, waitForAsync } from '../helpers/raft-kv.ts';

test('kill -9 of the leader loses no acknowledged proposal, on any replica', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-proc-'));
  // Small snapshot interval: restarts also go through snapshots and compacted logs.
  const c = new KvProcessCluster({ dataDir: dir, tickMs: 50, electionTick: 10, snapshotEntries: 300 });
  try {
    await c.start();
    const acked = new Map<string, string>();
    let stop = false;
    let failed = 0;
    const writer = async (w: number) => {
      for (let seq = 0; !stop; seq++) {
        const key = `w${w}-${seq}`;
        const value = `v${seq}-${'x'.repeat(40)}`;
        try {
          await c.propose(encodeKv({ op: 'put', key, value }));
          acked.set(key, value);
        } catch {
          failed++; // outcome unknown: not acknowledged, so not checked
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));

    for (let round = 1; round <= 2; round++) {
      await waitFor(() => acked.size >= round * 400, 60_000, `${round * 400} acknowledged proposals`);
      let leader = 0;
      await waitForAsync(async () => (leader = await c.findLeader()) !== 0, 60_000, 'a leader');
      await c.kill(leader);
      const before = acked.size;
      await waitFor(() => acked.size >= before + 200, 60_000, 'commits by a new leader');
      await c.restart(leader);
    }
    stop = true;
    await Promise.all(writers);

    // Everyone dies at once; everyone restarts from disk.
    for (const id of c.ids) await c.kill(id);
    for (const id of c.ids) await c.restart(id);
    await c.propose(encodeKv({ op: 'put', key: 'barrier', value: 'b' }), Date.now() + 60_000);
    const leader = await c.findLeader();
    const commit = (await c.status(leader)).commit;
    for (const id of c.ids) await waitForAsync(async () => (await c.status(id)).applied >= commit, 60_000, `replica ${id} to apply ${commit}`);
    t.diagnostic(`${acked.size} proposals acknowledged, ${failed} failed or timed out`);
    assert.ok(acked.size >= 1200, `${acked.size} acknowledged, ${failed} failed`);
    for (const id of c.ids) {
      const { data } = await c.dump(id);
      let missing = 0;
      for (const [k, v] of acked) if (data.get(k) !== v) missing++;
      assert.equal(missing, 0, `replica ${id} lacks ${missing} of ${acked.size} acknowledged proposals`);
    }
  } finally {
    await c.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
});
