// What a directory quota costs a client: creates 4 KiB files (create, write, close) and unlinks
// them in a tree with a quota three levels up and, interleaved round by round, in a tree with no
// quota on the same fs, through one SDK connection with caches off (as the mount runs). Prints
// per file: metaserver calls, client CPU µs (process.cpuUsage: load-independent-ish) and wall
// ms, and the quota/plain ratios.
// With --user, what a user quota costs instead: a quota on the client's own uid (every file is
// its) is set before each "quota" round and deleted before each "plain" round, the connection
// waiting to learn each change (its session refresh) outside the measured part.
//   npx tsx bench/quota-overhead.ts [--files N] [--rounds R] [--user]
import { startCluster } from '../test/helpers/cluster.ts';
import type { MetaCaller } from '../src/client/index.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg('files', 200);
const ROUNDS = arg('rounds', 4);
const USER = process.argv.includes('--user');
const UID = process.getuid?.() ?? 0;

const cluster = await startCluster({ fsName: 'quota' });
try {
  const conn = await cluster.connect();
  const { fs, meta } = conn;
  let calls = 0;
  const inner = (meta as unknown as { caller: MetaCaller }).caller;
  (meta as unknown as { caller: MetaCaller }).caller = {
    call(address, method, req, opts) {
      calls++;
      return inner.call(address, method, req, opts);
    },
  };
  for (const top of ['plain', 'quota']) await fs.mkdir(`/${top}/a/b`, { recursive: true });
  const quotaCli = (args: string[]) => {
    const r = cluster.cli(['quota', ...args]);
    if (r.status !== 0) throw new Error(r.stderr);
  };
  /** Waits (outside the measurement) until the connection's tracker shows `done` (its next refresh, ≤ 4 s). */
  const learn = async (what: string, done: () => Promise<boolean>) => {
    const deadline = Date.now() + 30_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`the SDK never learnt ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const tracker = conn.core.quota!;
  /** --user: the user quota is there for the "quota" rounds only. */
  const ownerQuota = async (on: boolean) => {
    if (!USER || tracker.ownersActive === on) return;
    quotaCli(on ? ['set', 'quota', '--uid', String(UID), '--bytes', '1TiB', '--inodes', '100000000'] : ['delete', 'quota', '--uid', String(UID)]);
    await learn(on ? 'the user quota' : 'the deletion', async () => tracker.ownersActive === on);
  };
  if (!USER) {
    quotaCli(['set', 'quota', '/quota', '--bytes', '1TiB', '--inodes', '100000000']);
    await learn('the quota', async () => (await fs.statfsAt('/quota/a/b')).files === 100_000_000);
  }
  const data = new Uint8Array(4096).fill(7);
  const totals = new Map<string, { calls: number; cpuUs: number; ms: number; files: number }>();
  const runOne = async (top: string, round: number) => {
    await ownerQuota(top === 'quota');
    const c0 = calls;
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < FILES; i++) await fs.writeFile(`/${top}/a/b/r${round}-${i}`, data);
    for (let i = 0; i < FILES; i++) await fs.unlink(`/${top}/a/b/r${round}-${i}`);
    const u = process.cpuUsage(u0);
    const t = totals.get(top) ?? { calls: 0, cpuUs: 0, ms: 0, files: 0 };
    t.calls += calls - c0;
    t.cpuUs += u.user + u.system;
    t.ms += performance.now() - t0;
    t.files += FILES;
    totals.set(top, t);
  };
  await runOne('plain', -1); // warm-up of both trees
  await runOne('quota', -1);
  totals.clear();
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved, alternating which goes first: both see the same machine load.
    for (const top of r % 2 ? ['quota', 'plain'] : ['plain', 'quota']) await runOne(top, r);
  }
  const per = (top: string) => {
    const t = totals.get(top)!;
    return { calls: t.calls / t.files, cpuUs: t.cpuUs / t.files, ms: t.ms / t.files };
  };
  const p = per('plain');
  const q = per('quota');
  console.log(`files per tree: ${FILES} × ${ROUNDS} rounds (write 4 KiB + close, then unlink)${USER ? `; "quota" = a user quota on uid ${UID} set` : ''}`);
  console.log('tree   | metaserver calls/file | client CPU µs/file | wall ms/file');
  console.log(`plain  | ${p.calls.toFixed(2)} | ${p.cpuUs.toFixed(0)} | ${p.ms.toFixed(2)}`);
  console.log(`quota  | ${q.calls.toFixed(2)} | ${q.cpuUs.toFixed(0)} | ${q.ms.toFixed(2)}`);
  console.log(`ratio  | ${(q.calls / p.calls).toFixed(2)} | ${(q.cpuUs / p.cpuUs).toFixed(2)} | ${(q.ms / p.ms).toFixed(2)}`);
  await conn.close(); // sends its last deltas
  const check = cluster.cli(['--json', 'quota', 'check', 'quota']);
  console.log(`quota check after the run: exit ${check.status} ${check.stdout.trim()}`);
} finally {
  await cluster.stop();
}
