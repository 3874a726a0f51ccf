// MDS high availability against a real 3-member etcd cluster and 3 MDS processes, each talking
// to etcd through its own cuttable TCP proxies. The seed's failure cases (digest §7.3), each a
// test. Safety is checked from the MDS journals by the no-overlap checker (no two serving
// intervals overlap, terms grow) after every case; liveness is awaited by polling, never timed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { MdsService } from '../../src/gen/mds_pb.ts';
import { MdsClient } from '../../src/mds/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { EtcdCluster, waitFor } from '../helpers/etcd.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { MdsProcess } from '../helpers/mds-process.ts';
import { checkNoOverlap, describe, monotonicNow, readJournals } from '../helpers/leader-checker.ts';

const TTL_SEC = 2;
let dir: string;
let etcd: EtcdCluster;
const proxies: TcpProxy[][] = [];
const mds: MdsProcess[] = [];
const journals: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-ha-'));
  etcd = await EtcdCluster.start({ members: 3, baseDir: dir });
  for (let i = 0; i < 3; i++) {
    proxies.push(await Promise.all(etcd.endpoints().map((e) => TcpProxy.start(e))));
    journals.push(join(dir, `mds-${i}.jsonl`));
  }
  mds.push(
    ...(await Promise.all(
      [0, 1, 2].map((i) =>
        MdsProcess.spawn({
          etcd: proxies[i]!.map((p) => p.url),
          journal: journals[i]!,
          ttlSec: TTL_SEC,
          args: ['--lease-margin-ms', '500', '--keepalive-ms', '300'],
        }),
      ),
    )),
  );
});

after(async () => {
  await Promise.all(mds.map((m) => m.kill9()));
  for (const row of proxies) for (const p of row) await p.close();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Index of the MDS that reports itself serving, once exactly one does. */
async function leader(what = 'a serving MDS'): Promise<number> {
  return waitFor(async () => {
    const st = await Promise.all(mds.map((m) => m.status()));
    const serving = st.map((s, i) => (s?.role === 'leader' ? i : -1)).filter((i) => i >= 0);
    return serving.length === 1 ? serving[0]! + 1 : 0;
  }, what, 30_000).then((x) => x - 1);
}

function events() {
  return readJournals(journals);
}

/** The newest serve-start at or after `since` with a term above `aboveTerm`. */
async function newTermAfter(since: number, aboveTerm: number, what: string) {
  return waitFor(() => events().find((e) => e.ev === 'serve-start' && e.t >= since && e.term > aboveTerm), what, 30_000);
}

function currentTerm(): { term: number; pid: number } {
  const starts = events().filter((e) => e.ev === 'serve-start');
  const last = starts[starts.length - 1]!;
  return { term: last.term, pid: last.pid };
}

/** Waits until term `term` has renewed its lease `n` times after `since`. */
async function renewals(term: number, since: number, n: number): Promise<void> {
  await waitFor(() => events().filter((e) => e.ev === 'renew' && e.term === term && e.t > since).length >= n, `${n} renewals of term ${term}`, 30_000);
}

function startsSince(since: number) {
  return events().filter((e) => e.ev === 'serve-start' && e.t > since);
}

function check(): void {
  checkNoOverlap(journals);
}

test('one MDS serves; the others answer NOT_LEADER with its address', async () => {
  const li = await leader();
  const st = await Promise.all(mds.map((m) => m.status()));
  const pool = new ChannelPool();
  try {
    for (let i = 0; i < 3; i++) {
      if (i === li) continue;
      assert.equal(st[i]?.role, 'follower');
      await waitFor(async () => (await mds[i]!.status())?.leaderAddress === mds[li]!.address, `MDS ${i} to know the leader`);
      await assert.rejects(
        () => pool.client(MdsService, mds[i]!.address).listClusterFsInfo({}),
        (e: unknown) => e instanceof CurveError && e.status === StatusCode.NOT_LEADER && e.leaderHint === mds[li]!.address,
      );
    }
    assert.deepEqual((await pool.client(MdsService, mds[li]!.address).listClusterFsInfo({})).fsInfo, []);
    // A client given every address finds the leader by itself.
    const client = new MdsClient({ addresses: mds.map((m) => m.address).reverse(), pool });
    await client.mds.listClusterFsInfo({});
    assert.equal(client.leader, mds[li]!.address);
  } finally {
    pool.close();
  }
  check();
});

test('kill -9 of the leader: a standby takes over once the lease is gone', async () => {
  const li = await leader();
  const old = currentTerm();
  const tKill = monotonicNow();
  await mds[li]!.kill9();
  const next = await newTermAfter(tKill, old.term, 'a new term after kill -9');
  assert.notEqual(next.pid, old.pid);
  const ivs = checkNoOverlap(journals);
  const killed = ivs.find((iv) => iv.term === old.term)!;
  // The killed leader never said it stopped; its promise ran out before the successor began.
  assert.equal(killed.stopped, false);
  assert.ok(killed.end <= next.t, describe(ivs));
  console.log(`kill -9 failover: ${(next.t - tKill).toFixed(0)} ms (TTL ${TTL_SEC} s)`);
  await mds[li]!.start();
  await leader();
  check();
});

test('clean stop of the leader: immediate handover through resign', async () => {
  const li = await leader();
  const old = currentTerm();
  const tStop = monotonicNow();
  await mds[li]!.stop();
  const next = await newTermAfter(tStop, old.term, 'a new term after a clean stop');
  const oldEvents = events().filter((e) => e.term === old.term);
  const promisedUntil = Math.max(...oldEvents.map((e) => e.until ?? 0));
  const stop = oldEvents.find((e) => e.ev === 'serve-end');
  assert.equal(stop?.reason, 'stopped');
  // The successor did not wait for the old lease to run out: it began before that lease's end.
  assert.ok(next.t < promisedUntil, `handover waited for the lease: started ${next.t}, old lease until ${promisedUntil}`);
  check();
  await mds[li]!.start();
});

test('loss of a standby changes nothing', async () => {
  const li = await leader();
  const { term } = currentTerm();
  const si = (li + 1) % 3;
  const t0 = monotonicNow();
  await mds[si]!.kill9();
  await renewals(term, t0, 4);
  await mds[si]!.start();
  const t1 = monotonicNow();
  await renewals(term, t1, 3);
  assert.deepEqual(startsSince(t0), []);
  assert.equal(await leader(), li);
  check();
});

test('loss of an etcd follower changes nothing', async () => {
  const li = await leader();
  const { term } = currentTerm();
  const el = await etcd.leaderIndex();
  const victim = (el + 1) % 3;
  const t0 = monotonicNow();
  await etcd.kill(victim);
  await renewals(term, t0, 6);
  assert.deepEqual(startsSince(t0), []);
  assert.equal(await leader(), li);
  await etcd.restart(victim);
  check();
});

test('loss of the etcd leader: the MDS keeps or regains leadership, never two at once', async () => {
  await leader();
  const { term } = currentTerm();
  const el = await etcd.leaderIndex();
  const t0 = monotonicNow();
  await etcd.kill(el);
  // Either the same term renews again after etcd elected a new leader, or a new term serves.
  await waitFor(
    () => events().some((e) => e.t > t0 && ((e.ev === 'renew' && e.term === term) || (e.ev === 'serve-start' && e.term > term))),
    'leadership after the etcd leader loss',
    30_000,
  );
  await leader();
  check();
  await etcd.restart(el);
  await etcd.waitHealthy();
  check();
});

test('leader cut off from etcd (standbys are not): it stops serving before the next leader starts', async () => {
  const li = await leader();
  const old = currentTerm();
  const t0 = monotonicNow();
  for (const p of proxies[li]!) p.cut('blackhole');
  const next = await newTermAfter(t0, old.term, 'a new term after the partition');
  assert.notEqual(next.pid, old.pid);
  const ivs = checkNoOverlap(journals);
  const cut = ivs.find((iv) => iv.term === old.term)!;
  assert.ok(cut.end <= next.t, describe(ivs));
  // The isolated MDS knows it is not the leader (it does not merely fail its writes).
  await waitFor(async () => (await mds[li]!.status())?.role === 'follower', 'the cut-off MDS to step down');
  for (const p of proxies[li]!) p.restore();
  // Healed: it rejoins as a standby and follows the new leader.
  const nl = await leader();
  await waitFor(async () => (await mds[li]!.status())?.leaderAddress === mds[nl]!.address, 'the healed MDS to see the new leader');
  check();
});

test('all of etcd down: no MDS serves; service resumes when etcd returns', async () => {
  await leader();
  const { term } = currentTerm();
  for (let i = 0; i < 3; i++) await etcd.kill(i);
  await waitFor(async () => (await Promise.all(mds.map((m) => m.status()))).every((s) => s !== undefined && s.role !== 'leader'), 'every MDS to stop serving', 30_000);
  const tDown = monotonicNow();
  // Nobody may be serving any more: every interval ended before this moment.
  const ivs = checkNoOverlap(journals);
  for (const iv of ivs) assert.ok(iv.end <= tDown, `term ${iv.term} still promised service\n${describe(ivs)}`);
  for (let i = 0; i < 3; i++) await etcd.restart(i, false);
  await etcd.waitHealthy();
  const tUp = monotonicNow();
  // Any process may lead again, always with a new term.
  await newTermAfter(tUp, term, 'service after etcd returned');
  await leader();
  check();
});
