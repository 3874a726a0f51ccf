// Short runs of the multi-host fault suite (test/helpers/fault-suite.ts, docs/testing.md) with
// fixed seeds: an MDS, three metaservers and three clients on their own network namespaces,
// delay and loss on every link, racing directory renames between two clients, and the seeded
// nemesis (isolation, majority/bridge/ring partitions, pauses, kill -9 and restart of a
// metaserver and of the MDS, a full disk, a metaserver replaced by the MDS heal). Longer runs:
// node scripts/fault-suite.mjs --minutes N --seed S.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { runFaultSuite } from '../helpers/fault-suite.ts';
import { netnsUsable } from '../helpers/netns.ts';

test('multi-host fault suite, seed 89: every acknowledged op survives a full disk, partitions, pauses and a metaserver replaced by the heal', async (t) => {
  assert.ok(netnsUsable(), 'the fault suite needs root, iproute2 and nftables (scripts/setup-system.sh)');
  // Seed 89: a full disk on ms2, the MDS cut off, a ring partition, the MDS paused, then ms0
  // replaced (the run goes on until the replacement has happened).
  const r = await runFaultSuite({ seconds: 40, seed: 89, replace: true });
  t.diagnostic(`ops ok ${r.ops.ok}, unknown ${r.ops.unknown}, error ${r.ops.error}; faults ${r.faults.length}; violations ${r.violations.length}`);
  t.diagnostic(`race rounds ${r.races.rounds}: ${JSON.stringify(r.races.outcomes)}`);
  t.diagnostic(`writes inside ${r.mdsOutage.windows.length} outages of the MDS alone: ok ${r.mdsOutage.ok}, failed ${r.mdsOutage.failed}`);
  assert.deepEqual(r.violations, [], `violations (logs kept in ${r.dir})`);
  const disk = r.faults.find((f) => f.kind === 'disk-full');
  assert.equal(disk?.enospc, true, 'the full disk bit: the metaserver logged ENOSPC');
  assert.ok(r.faults.some((f) => f.kind === 'replace'), 'a metaserver was replaced by the heal');
  assert.ok(r.faults.some((f) => f.kind === 'partition'), 'a partition was injected');
  assert.ok((r.races.outcomes.ok ?? 0) > 0, 'race rounds ran and one side of each could win');
  // Seed 89 cuts off and pauses the MDS in its first 35 s: data writes need no MDS (chunk ids
  // are leased ahead), so writes run and succeed while it is gone (issue [H] scenario 6).
  assert.ok(r.mdsOutage.windows.length > 0, 'the nemesis took the MDS away');
  assert.ok(r.mdsOutage.ok > 0, `writes succeeded while the MDS was gone (${JSON.stringify(r.mdsOutage)}; logs in ${r.dir})`);
  assert.equal(r.mdsOutage.failed, 0, `no write failed while only the MDS was gone (logs in ${r.dir})`);
  assert.ok(r.ops.ok > 0, 'the clients made progress');
  assert.ok(r.faults.length > 0, 'the nemesis injected faults');
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`cfs-${r.netTag}-`));
  assert.deepEqual(left, [], 'every namespace of the run is gone');
  rmSync(r.dir, { recursive: true, force: true });
});

test('multi-host fault suite, seed 42, two clients through FUSE mounts: the same checks (and the races between the two mounts), and both mounts and the SDK dump one tree', async (t) => {
  assert.ok(netnsUsable(), 'the fault suite needs root, iproute2 and nftables (scripts/setup-system.sh)');
  const r = await runFaultSuite({ seconds: 40, seed: 42, fuse: true });
  t.diagnostic(`ops ok ${r.ops.ok}, unknown ${r.ops.unknown}, error ${r.ops.error}; faults ${r.faults.length}; violations ${r.violations.length}`);
  t.diagnostic(`race rounds ${r.races.rounds}: ${JSON.stringify(r.races.outcomes)}`);
  assert.deepEqual(r.violations, [], `violations (logs kept in ${r.dir})`);
  for (const k of [0, 1]) assert.ok((r.ops.byClient[k] ?? 0) > 0, `FUSE client c${k} made progress`);
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`cfs-${r.netTag}-`));
  assert.deepEqual(left, [], 'every namespace of the run is gone');
  rmSync(r.dir, { recursive: true, force: true });
});
