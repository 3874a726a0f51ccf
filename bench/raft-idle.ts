// Idle CPU of Raft replica processes hosting many groups (issue [G], quiescence): 3 real processes
// (test/helpers/raft-kv-server.ts) on loopback, each a replica of every one of N groups. Waits
// until every group has a leader (and, with quiescence, until every replica is quiesced), then
// prints each process's CPU (user + system) over a window, with quiescence on and off.
//
//   npx tsx bench/raft-idle.ts [--groups 1000] [--seconds 10] [--only on|off]
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvProcessCluster, type ReplicaStatus } from '../test/helpers/raft-kv-cluster.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const GROUPS = Number(arg('groups', '1000'));
const SECONDS = Number(arg('seconds', '10'));
const ONLY = arg('only', '');
/** After every group has a leader, without quiescence: let elections' aftermath settle. */
const SETTLE_MS = 3000;
const WAIT_LIMIT_MS = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function statuses(c: KvProcessCluster): Promise<ReplicaStatus[]> {
  return Promise.all(c.ids.map((id) => c.status(id)));
}

interface Result {
  mode: string;
  cpuPct: number[];
  leads: number[];
  quiesced: number[];
  waitedMs: number;
}

async function run(quiesce: boolean): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), 'raft-idle-'));
  const c = new KvProcessCluster({ dataDir: dir, groups: GROUPS, noQuiesce: !quiesce });
  const t0 = Date.now();
  try {
    await c.start();
    // Quiet: every group led, every replica quiesced (with quiescence) — polled, with a limit.
    for (;;) {
      const ss = await statuses(c);
      const led = ss.every((s) => s.leaderless === 0) && ss.reduce((n, s) => n + s.leads, 0) === GROUPS;
      if (led && (!quiesce || ss.every((s) => s.quiesced === GROUPS))) break;
      if (Date.now() - t0 > WAIT_LIMIT_MS) throw new Error(`not quiet after ${WAIT_LIMIT_MS} ms: ${JSON.stringify(ss)}`);
      await sleep(500);
    }
    if (!quiesce) await sleep(SETTLE_MS);
    const waitedMs = Date.now() - t0;
    const before = await statuses(c);
    const w0 = process.hrtime.bigint();
    await sleep(SECONDS * 1000);
    const after = await statuses(c);
    const wallUs = Number(process.hrtime.bigint() - w0) / 1000;
    return {
      mode: quiesce ? 'quiesce on' : 'quiesce off',
      cpuPct: after.map((s, i) => (100 * (s.cpuUs - before[i]!.cpuUs)) / wallUs),
      leads: after.map((s) => s.leads),
      quiesced: after.map((s) => s.quiesced),
      waitedMs,
    };
  } finally {
    await c.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`raft idle: 3 processes × ${GROUPS} group replicas, CPU over ${SECONDS} s; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const modes = ONLY === 'on' ? [true] : ONLY === 'off' ? [false] : [true, false];
  for (const q of modes) {
    const r = await run(q);
    const pct = r.cpuPct.map((p) => `${p.toFixed(1)}%`).join(' / ');
    console.log(
      `${r.mode.padEnd(12)} CPU per process ${pct} (mean ${(r.cpuPct.reduce((a, b) => a + b, 0) / 3).toFixed(1)}% of a core); ` +
        `leads ${r.leads.join('/')}, quiesced ${r.quiesced.join('/')}; quiet after ${(r.waitedMs / 1000).toFixed(1)} s`,
    );
  }
  console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
