// MDS failover time: 3 MDS processes on a 3-member etcd (etcd's default heartbeat 100 ms and
// election timeout 1000 ms); the serving MDS is killed with SIGKILL N times (default 20) and the
// time from the kill to the successor's first moment of service is read from the MDS journals
// (the same monotonic clock in every process). Baseline in the same run: clean stops (resign),
// which hand over without waiting for the lease. The no-overlap checker runs over all journals.
//
//   npx tsx bench/mds-failover.ts [--kills 20] [--stops 5] [--ttl 5]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, waitFor } from '../test/helpers/etcd.ts';
import { MdsProcess } from '../test/helpers/mds-process.ts';
import { checkNoOverlap, monotonicNow, readJournals } from '../test/helpers/leader-checker.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const KILLS = arg('kills', 20);
const STOPS = arg('stops', 5);
const TTL = arg('ttl', 5);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-mds-bench-'));
  const etcd = await EtcdCluster.start({ members: 3, heartbeatMs: 100, electionMs: 1000, baseDir: dir });
  const journals = [0, 1, 2].map((i) => join(dir, `mds-${i}.jsonl`));
  const mds = await Promise.all(journals.map((journal) => MdsProcess.spawn({ etcd: etcd.endpoints(), journal, ttlSec: TTL })));
  const leader = () =>
    waitFor(async () => {
      const st = await Promise.all(mds.map((m) => m.status()));
      const i = st.findIndex((s) => s?.role === 'leader');
      return i >= 0 ? i + 1 : 0;
    }, 'a serving MDS', 60_000).then((x) => x - 1);
  const lastTerm = () => Math.max(0, ...readJournals(journals).filter((e) => e.ev === 'serve-start').map((e) => e.term));
  const nextStart = (since: number, above: number) =>
    waitFor(() => readJournals(journals).find((e) => e.ev === 'serve-start' && e.t >= since && e.term > above), 'a new term', 60_000);

  async function failover(how: 'kill' | 'stop'): Promise<number> {
    const li = await leader();
    // Let the standbys settle on the current leader before the next failure.
    await waitFor(async () => (await Promise.all(mds.map((m) => m.status()))).every((s) => s?.leaderAddress === mds[li]!.address), 'standbys to follow', 60_000);
    const term = lastTerm();
    const t0 = monotonicNow();
    if (how === 'kill') await mds[li]!.kill9();
    else await mds[li]!.stop();
    const next = await nextStart(t0, term);
    await mds[li]!.start();
    return next.t - t0;
  }

  try {
    const stops: number[] = [];
    for (let i = 0; i < STOPS; i++) stops.push(await failover('stop'));
    const kills: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      kills.push(await failover('kill'));
      process.stderr.write(`kill ${i + 1}/${KILLS}: ${kills[i]!.toFixed(0)} ms\n`);
    }
    const ivs = checkNoOverlap(journals);
    const fmt = (xs: number[]) =>
      `n=${xs.length} p50=${pct(xs, 50).toFixed(0)} ms p99=${pct(xs, 99).toFixed(0)} ms min=${Math.min(...xs).toFixed(0)} max=${Math.max(...xs).toFixed(0)} mean=${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(0)}`;
    console.log(`lease TTL ${TTL} s; ${ivs.length} serving intervals checked, no overlap`);
    console.log(`clean stop (resign) handover: ${fmt(stops)}`);
    console.log(`kill -9 failover:              ${fmt(kills)}`);
    console.log(`kill -9 p99 / (TTL + 1 s) = ${(pct(kills, 99) / (TTL * 1000 + 1000)).toFixed(2)}; kill p50 / stop p50 = ${(pct(kills, 50) / pct(stops, 50)).toFixed(1)}x`);
  } finally {
    await Promise.all(mds.map((m) => m.kill9()));
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
