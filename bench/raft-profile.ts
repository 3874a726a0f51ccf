// Where a lone Raft commit's CPU goes: the 3-process KV cluster of bench/raft-commit.ts, one
// client keeping `--inflight` proposals in flight for `--seconds`, every replica under
// `node --cpu-prof`; the replicas are then stopped cleanly (so the profiles are written) and the
// heaviest functions by self time are printed per role (leader, follower), in µs per commit.
//
//   npx tsx bench/raft-profile.ts [--seconds 5] [--inflight 1] [--top 30] [--keep DIR]
//
// µs per commit = sampled self time / commits in the whole run (warm-up included), so the numbers
// are comparable between builds run the same way, not with raft-commit.ts's windowed figures.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvProcessCluster } from '../test/helpers/raft-kv-cluster.ts';
import { encodeKv } from '../test/helpers/raft-kv.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const SECONDS = Number(arg('seconds', '5'));
const INFLIGHT = Number(arg('inflight', '1'));
const TOP = Number(arg('top', '30'));
const KEEP = arg('keep', '');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time (µs) per function, keyed "name file:line", of the samples taken in [from, to] (µs of
 * CLOCK_MONOTONIC: V8's profile clock on Linux, and process.hrtime's).
 */
function selfTimes(p: Profile, from: number, to: number): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    const n = byId.get(p.samples[i]!)!;
    const f = n.callFrame;
    const file = f.url.replace(/^.*\/(src|node_modules|test)\//, '$1/').replace(/^node:/, '');
    const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  }
  return out;
}

/** A coarse bucket for a profile key ("name file:line"). */
function category(key: string): string {
  const [name, file = ''] = key.split(' ');
  if (name === 'writeBuffer' || name === 'writev' || name === 'writeUtf8String') return 'socket writes';
  if (name === '(garbage' || key.startsWith('(garbage collector)')) return 'gc';
  if (name === '(program)') return 'native (program)';
  if (file.startsWith('node_modules/@bufbuild')) return 'protobuf';
  if (file.startsWith('src/raft/core')) return 'raft core';
  if (file.startsWith('src/raft/log')) return 'raft log';
  if (file.startsWith('src/raft')) return 'raft driver/transport';
  if (file.startsWith('src/rpc')) return 'rpc';
  if (file.startsWith('test/')) return 'kv state machine + service';
  if (/fs|promises/.test(file) || ['write', 'fsCall', 'openFileHandle', 'fstat'].includes(name!)) return 'fs (node)';
  return 'node internals (event loop, streams, timers, promises)';
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raft-profile-'));
  const profDir = join(dir, 'prof');
  console.log(`raft-profile: ${INFLIGHT} in flight, ${SECONDS} s; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const c = new KvProcessCluster({ dataDir: dir, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '100'] });
  await c.start();
  let commits = 0;
  const leader = await (async () => {
    await c.propose(encodeKv({ op: 'put', key: 'k', value: 'v' }));
    return c.findLeader();
  })();
  const pids = new Map<number, number>();
  for (const id of c.ids) pids.set((await c.status(id)).pid ?? 0, id);
  const entry = encodeKv({ op: 'put', key: 'k', value: 'v'.repeat(80) });
  // A warm-up second (JIT, connections), then the measured window.
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const start = nowUs() + 1_000_000;
  const end = start + SECONDS * 1_000_000;
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      for (;;) {
        const t = nowUs();
        if (t >= end) break;
        await c.propose(entry);
        if (t >= start) commits++;
      }
    }),
  );
  console.log(`commits ${commits} (${(commits / SECONDS).toFixed(0)}/s), leader node ${leader}`);
  for (const id of c.ids) await c.terminate(id);
  c.pool.close();
  const files = await readdir(profDir);
  const roles = new Map<string, Map<string, number>>();
  for (const f of files) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
    const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
    const id = pids.get(pid);
    const role = id === leader ? 'leader' : 'follower';
    const times = selfTimes(JSON.parse(await readFile(join(profDir, f), 'utf8')) as Profile, start, end);
    const acc = roles.get(role) ?? new Map<string, number>();
    // Followers are averaged: each contributes half.
    for (const [k, v] of times) acc.set(k, (acc.get(k) ?? 0) + (role === 'follower' ? v / 2 : v));
    roles.set(role, acc);
  }
  for (const [role, times] of roles) {
    const total = [...times.values()].reduce((a, b) => a + b, 0);
    const idle = times.get('(idle) :0') ?? 0;
    console.log(`\n${role}: ${((total - idle) / commits).toFixed(1)} µs busy per commit (idle excluded)`);
    const byCategory = new Map<string, number>();
    for (const [k, v] of times) if (!k.startsWith('(idle)')) byCategory.set(category(k), (byCategory.get(category(k)) ?? 0) + v);
    console.log(
      '  by category: ' +
        [...byCategory]
          .sort((a, b) => b[1] - a[1])
          .map(([c, v]) => `${c} ${(v / commits).toFixed(0)}`)
          .join(', '),
    );
    const rows = [...times].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, TOP);
    for (const [k, v] of rows) console.log(`${(v / commits).toFixed(1).padStart(8)}  ${k}`);
  }
  if (KEEP) console.log(`profiles in ${profDir}`);
  else await rm(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
