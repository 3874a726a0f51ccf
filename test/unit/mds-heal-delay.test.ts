// The heal delay (issue [K] item 3): the recovery scheduler replaces a dead metaserver's replicas
// only once it has been OFFLINE for `healDelayMs`, so a reboot is not a full copy. Driven by
// injected time: the real Topology and RecoveryDriver on a memory store, a ManualTime clock,
// heartbeats given by `touch`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { SeededRandom } from '../../src/common/index.ts';
import { OnlineState } from '../../src/gen/topology_pb.ts';
import { FencedStore } from '../../src/mds/fenced-store.ts';
import { DEFAULT_TUNING, parseMdsArgs } from '../../src/mds/index.ts';
import { IdAllocator } from '../../src/mds/id-allocator.ts';
import { RecoveryDriver } from '../../src/mds/schedule/driver.ts';
import { planRecovery, type CopysetView, type MetaserverView } from '../../src/mds/schedule/recovery.ts';
import { MemoryStore } from '../../src/mds/store/memory.ts';
import type { PartitionAllocator } from '../../src/mds/topology/allocator.ts';
import type { MetaserverAdmin } from '../../src/mds/topology/metaserver-admin.ts';
import { Topology } from '../../src/mds/topology/topology.ts';
import { ManualTime } from '../helpers/manual-time.ts';

const UNSTABLE = 2_000;
const OFFLINE = 6_000;
const HEAL_DELAY = 60_000;
const te = new TextEncoder();

/** Four metaservers on four hosts, one copyset on 1, 2, 3; 4 is the spare. */
async function cluster(healDelayMs = HEAL_DELAY) {
  const time = new ManualTime();
  const mem = new MemoryStore();
  const put = await mem.txn({ ops: [{ type: 'put', key: 'fence', value: te.encode('x') }] });
  assert.ok(put.ok);
  const store = new FencedStore(mem, { key: 'fence', revision: put.revision });
  const id = (kind: string) => new IdAllocator(store, kind, 10);
  const random = new SeededRandom(7);
  const topo = await Topology.load(
    store,
    { pool: id('pool'), zone: id('zone'), server: id('server'), metaserver: id('metaserver'), copyset: id('copyset'), partition: id('partition') },
    time,
    random,
    { unstableAfterMs: UNSTABLE, offlineAfterMs: OFFLINE, replicaNum: 3 },
  );
  const ids: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const ms = await topo.registMetaServer({ hostName: `h${i}`, internalIp: `10.0.0.${i}`, internalPort: 16701, externalIp: '', externalPort: 0 });
    ids.push(ms.metaserverId);
  }
  const pool = [...topo.pools.values()][0]!;
  await topo.addCopyset(pool.poolId, ids.slice(0, 3));
  const created: number[] = [];
  const admin = { createCopysetNode: async () => void created.push(1) } as unknown as MetaserverAdmin;
  const allocator = { peers: (members: number[]) => members.map((m) => topo.peerOf(m)) } as unknown as PartitionAllocator;
  const driver = new RecoveryDriver(topo, allocator, admin, time, random, { healDelayMs, changePeerTimeoutMs: 600_000, removePeerTimeoutMs: 600_000, maxOpsPerMetaserver: 1 });
  /** Moves time on by `ms` with every metaserver but `silent` heartbeating each second, then runs a scheduling round. */
  const runFor = async (ms: number, silent: number[] = []) => {
    for (let t = 0; t < ms; t += 1000) {
      await time.advance(1000, 1000);
      for (const m of ids) if (!silent.includes(m)) topo.touch(m, {});
    }
    driver.round();
  };
  return { topo, ids, driver, runFor, time };
}

test('a metaserver back within the heal delay keeps its replicas: nothing is planned, its copyset stays', async () => {
  const { topo, ids, driver, runFor } = await cluster();
  const victim = ids[0]!;
  await runFor(5_000);
  // Dead: OFFLINE after OFFLINE ms, and well into the heal delay nothing moves.
  await runFor(OFFLINE + HEAL_DELAY - 2_000, [victim]);
  assert.equal(topo.onlineState(victim), OnlineState.OFFLINE);
  assert.equal(driver.operators.size, 0, 'no membership change inside the heal delay');
  // It reboots and heartbeats again: ONLINE, and the delay running out later changes nothing.
  await runFor(HEAL_DELAY * 2);
  assert.equal(topo.onlineState(victim), OnlineState.ONLINE);
  assert.equal(driver.operators.size, 0);
  assert.deepEqual([...topo.copysets.values()][0]!.metaserverIds, ids.slice(0, 3));
});

test('a metaserver OFFLINE for the whole heal delay is replaced by the spare, not a round earlier', async () => {
  const { topo, ids, driver, runFor, time } = await cluster();
  const victim = ids[1]!;
  await runFor(5_000);
  const lastHeard = time.now();
  await runFor(OFFLINE - 1_000, [victim]);
  assert.equal(topo.onlineState(victim), OnlineState.UNSTABLE);
  await runFor(1_000, [victim]);
  const offlineAt = topo.offlineSince(victim);
  assert.equal(offlineAt, lastHeard + OFFLINE, 'OFFLINE since its last heartbeat + the offline bound');
  await runFor(HEAL_DELAY - 1_000, [victim]);
  assert.equal(time.now() - offlineAt!, HEAL_DELAY - 1_000);
  assert.equal(driver.operators.size, 0, 'one second before the delay is over: nothing');
  await runFor(1_000, [victim]);
  const ops = [...driver.operators.values()];
  assert.equal(ops.length, 1, 'planned once the delay is over');
  assert.equal(ops[0]!.type, 'change_peer');
  assert.equal(ops[0]!.oldPeer, victim);
  assert.equal(ops[0]!.newPeer, ids[3]);
});

test('heal delay 0: replaced in the first round after it goes OFFLINE', async () => {
  const { driver, ids, runFor } = await cluster(0);
  await runFor(2_000);
  await runFor(OFFLINE - 1_000, [ids[2]!]);
  assert.equal(driver.operators.size, 0);
  await runFor(1_000, [ids[2]!]);
  assert.equal([...driver.operators.values()][0]?.oldPeer, ids[2]);
});

// The pure planner's rules around the delay.
const ms = (id: number, over: Partial<MetaserverView> = {}): MetaserverView => ({ id, serverId: id, zoneId: id, poolId: 1, copysets: 1, state: OnlineState.ONLINE, ...over });
const cs = (members: number[], over: Partial<CopysetView> = {}): CopysetView => ({ poolId: 1, copysetId: 1, epoch: 1, members, replicaNum: 3, ...over });
const opts = { healDelayMs: HEAL_DELAY, changePeerTimeoutMs: 1000, removePeerTimeoutMs: 1000, maxOpsPerMetaserver: 1 };
const random = () => new SeededRandom(1);

test('planner: a broken replica and a drained OFFLINE metaserver are replaced without waiting', () => {
  const down = ms(1, { state: OnlineState.OFFLINE, offlineSince: 1000 });
  assert.deepEqual(planRecovery([cs([1, 2, 3])], [down, ms(2), ms(3), ms(4)], [], 1001, random(), opts), []);
  const broken = planRecovery([cs([1, 2, 3], { broken: [2] })], [ms(1), ms(2), ms(3), ms(4)], [], 1001, random(), opts);
  assert.deepEqual(broken.map((o) => [o.oldPeer, o.newPeer]), [[2, 4]]);
  const drained = planRecovery([cs([1, 2, 3])], [{ ...down, draining: true }, ms(2), ms(3), ms(4)], [], 1001, random(), opts);
  assert.deepEqual(drained.map((o) => [o.oldPeer, o.newPeer]), [[1, 4]]);
});

test('planner: a member inside its heal delay still counts as down for the majority', () => {
  // 1 is due, 2 is OFFLINE but inside the delay: two of three down, no quorum for a change.
  const views = [ms(1, { state: OnlineState.OFFLINE, offlineSince: 0 }), ms(2, { state: OnlineState.OFFLINE, offlineSince: HEAL_DELAY }), ms(3), ms(4), ms(5)];
  assert.deepEqual(planRecovery([cs([1, 2, 3])], views, [], HEAL_DELAY, random(), opts), []);
  // In a five-member copyset the same two leave a majority: the due one is replaced, only it.
  const five = planRecovery([cs([1, 2, 3, 4, 5], { replicaNum: 5 })], [...views, ms(6)], [], HEAL_DELAY, random(), opts);
  assert.deepEqual(five.map((o) => [o.type, o.oldPeer, o.newPeer]), [['change_peer', 1, 6]]);
});

test('curvefs mds --heal-delay-ms: whole milliseconds into the scheduler options; "10m" is a usage error', () => {
  assert.equal(parseMdsArgs(['--insecure', '--heal-delay-ms', '120000']).tuning?.recovery?.healDelayMs, 120_000);
  assert.equal(parseMdsArgs(['--insecure']).tuning?.recovery, undefined, 'unset: the default');
  assert.equal(DEFAULT_TUNING.recovery.healDelayMs, 600_000);
  const stderr = process.stderr.write;
  process.stderr.write = () => true; // commander prints the usage error too
  try {
    assert.throws(() => parseMdsArgs(['--insecure', '--heal-delay-ms', '10m']), (e: unknown) => e instanceof CommanderError && e.exitCode === 2 && /--heal-delay-ms <ms>.*'10m' is invalid/.test(e.message));
  } finally {
    process.stderr.write = stderr;
  }
});
