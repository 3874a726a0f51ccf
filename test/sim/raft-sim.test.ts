// The Raft simulation in CI: many seeds, each checking election safety, state-machine safety,
// linearizability and convergence; plus proof that a seed replays exactly and that the checks
// catch a broken driver. Replay a failing seed with `npx tsx test/sim/run.ts --seed N`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './simulation.ts';

const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? 1000);
const START = Number(process.env.RAFT_SIM_START ?? 0);

describe('raft simulation', () => {
  it(`passes ${SEEDS} seeds from ${START}`, () => {
    const failed: string[] = [];
    const totals: Record<string, number> = {};
    for (let s = START; s < START + SEEDS; s++) {
      const r = runSeed(s);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      if (!r.ok) failed.push(`seed ${s}: ${r.failure!.split('\n')[0]} (replay: npx tsx test/sim/run.ts --seed ${s})`);
    }
    assert.deepEqual(failed, []);
    // The runs must actually exercise what they claim to.
    for (const k of ['crashes', 'crashesInSync', 'partitions', 'confChanges', 'transfers', 'snapshotsSent', 'opsOk', 'opsUnknown', 'opsUnknownApplied', 'quiesceMsgs', 'quiesceWakes', 'writesBehind']) {
      assert.ok(totals[k]! > 0, `no ${k} in ${SEEDS} seeds`);
    }
  });

  it('replays a seed exactly: the same event trace, hashed twice, with and without tracing', () => {
    for (let s = 0; s < 10; s++) {
      const a = runSeed(s);
      const lines: string[] = [];
      const b = runSeed(s, {}, (l) => lines.push(l));
      assert.equal(a.traceHash, b.traceHash, `seed ${s}`);
      assert.deepEqual(a.stats, b.stats);
      assert.ok(lines.length > 100);
    }
    assert.notEqual(runSeed(1).traceHash, runSeed(2).traceHash);
  });

  it('catches a driver that acknowledges without syncing', () => {
    const failures: string[] = [];
    for (let s = 0; s < 20; s++) {
      const r = runSeed(s, { bug: 'skip-sync', crashRate: 0.05 });
      if (!r.ok) failures.push(r.failure!);
    }
    assert.ok(failures.length >= 5, `only ${failures.length} of 20 seeds failed`);
    assert.ok(failures.some((f) => /election safety|state machine safety|raft invariant violated/.test(f)));
  });

  it('catches reads served without ReadIndex (stale reads)', () => {
    let caught = 0;
    for (let s = 0; s < 20; s++) {
      const r = runSeed(s, { bug: 'local-read' });
      if (!r.ok) {
        assert.match(r.failure!, /linearizability violated/);
        caught++;
      }
    }
    assert.ok(caught >= 3, `only ${caught} of 20 seeds caught stale reads`);
  });
});
