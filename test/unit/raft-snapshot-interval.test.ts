// RaftNode's age bound on snapshots (snapshotIntervalMs), on an injected clock and timer: no
// snapshot before the interval (entry and byte bounds far away), one once it has passed, none
// while nothing was applied since, and the next one an interval after the previous.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '../../src/common/index.ts';
import { RaftNode } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { Role } from '../../src/raft/index.ts';
import { KvStateMachine, encodeKv, waitFor } from '../helpers/raft-kv.ts';
import { ManualTime } from '../helpers/manual-time.ts';

class CountingKv extends KvStateMachine {
  snapshots = 0;
  override snapshot() {
    this.snapshots++;
    return super.snapshot();
  }
}

const G = 1;
const INTERVAL = 60_000;

test('a group snapshots once snapshotIntervalMs passed and something was applied since', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-snap-age-'));
  const time = new ManualTime();
  const node = new RaftNode({
    id: 1,
    dataDir: dir,
    transport: new LocalNetwork().transport(1),
    clock: time,
    timer: time,
    random: new SeededRandom(3),
    tickMs: 100,
    snapshotEntries: 1e9,
    snapshotBytes: 1e12,
    snapshotIntervalMs: INTERVAL,
  });
  try {
    const sm = new CountingKv();
    await node.addGroup(G, [1], sm);
    // Time moves only while the node is idle: a single voter wins once its vote is on disk, and
    // that write takes real time.
    for (let i = 0; i < 1000 && node.status(G).role !== Role.Leader; i++) {
      await node.idle();
      await time.advance(100);
    }
    assert.equal(node.status(G).role, Role.Leader);
    const put = (k: string) => node.propose(G, encodeKv({ op: 'put', key: k, value: k }));
    await put('a');
    await put('b');

    // The interval counts from the group's opening, at time 0.
    await time.advance(INTERVAL - 1000 - time.now());
    assert.equal(sm.snapshots, 0, 'no snapshot before the interval');
    assert.equal(node.status(G).snapshotIndex, 0);

    await time.advance(1100);
    const applied = node.status(G).applied;
    await waitFor(() => node.status(G).snapshotIndex === applied, 60_000, 'the snapshot at the applied index');
    assert.equal(sm.snapshots, 1);

    // Nothing applied since: another interval takes no snapshot.
    await time.advance(INTERVAL + 1000);
    assert.equal(sm.snapshots, 1);

    // Something applied: the next tick past the interval takes one.
    await put('c');
    await time.advance(100);
    const next = node.status(G).applied;
    await waitFor(() => node.status(G).snapshotIndex === next, 60_000, 'the second snapshot');
    assert.equal(sm.snapshots, 2);
  } finally {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
