// CPU per create of each server process of mounted file systems, paired: for each target, a
// client process creates N files in a fresh directory (open O_CREAT|O_EXCL + close, one at a
// time) while this bench reads the CPU time (user + system, /proc/PID/stat) of the target's
// processes before and after. The targets run back to back in an order that alternates every
// round, so the machine's load falls on each alike; the table has the medians of the rounds and
// the medians of the per-round ratios of the last target to each other one.
//
//   npx tsx bench/metaserver-cpu.ts [--files 1000] [--rounds 5] LABEL=DIR@PID[+PID...] ...
//
// The first PID is the client side (the curvefs mount, mfsmount, bindfs); the others are the
// servers (a cluster's metaservers; MooseFS's master and chunkserver), reported one by one, the
// busiest first in each round: for a curvefs cluster the first is the leader of the copyset the
// directory landed in, the next two its followers (one directory is one partition). ops/s is the
// client's own wall time (load-dependent: compare within a run).
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTargets, procCpuMicros, runLoopClient, type Target } from './fs-loop-client.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const FILES = Number(arg('files', '1000'));
const ROUNDS = Number(arg('rounds', '5'));

const targets: Target[] = parseTargets(process.argv.slice(2));
if (targets.length === 0) {
  console.error('usage: npx tsx bench/metaserver-cpu.ts [--files N] [--rounds R] LABEL=DIR@PID[+PID...] ...');
  process.exit(2);
}

interface Sample {
  opsPerSec: number;
  clientUs: number;
  /** µs per create of each server, busiest first. */
  serversUs: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loadavg = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

async function measure(t: Target, dir: string): Promise<Sample> {
  const pids = [t.client, ...t.servers];
  const before = await Promise.all(pids.map(procCpuMicros));
  const ms = await runLoopClient(dir, 'create', FILES);
  const after = await Promise.all(pids.map(procCpuMicros));
  const us = after.map((a, i) => (a - before[i]!) / FILES);
  return { opsPerSec: (FILES / ms) * 1000, clientUs: us[0]!, serversUs: us.slice(1).sort((a, b) => b - a) };
}

async function main(): Promise<void> {
  const samples = new Map<Target, Sample[]>(targets.map((t) => [t, []]));
  console.log(`metaserver-cpu: ${FILES} creates per round, ${ROUNDS} rounds, load ${await loadavg()}`);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const dir = join(t.dir, `metaserver-cpu-${process.pid}-${round}`);
      await mkdir(dir);
      samples.get(t)!.push(await measure(t, dir));
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(`load after: ${await loadavg()}`);
  const width = Math.max(...targets.map((t) => t.servers.length));
  const serverCols = Array.from({ length: width }, (_, i) => (i === 0 ? 'server 1 (busiest) CPU µs' : `server ${i + 1} CPU µs`));
  console.log(`\n| target | creates/s | client CPU µs | ${serverCols.join(' | ')} | servers' sum µs |`);
  console.log(`|---|---:|---:|${serverCols.map(() => '---:|').join('')}---:|`);
  const sum = (s: Sample) => s.serversUs.reduce((a, b) => a + b, 0);
  for (const t of targets) {
    const s = samples.get(t)!;
    const cols = Array.from({ length: width }, (_, i) => (i < t.servers.length ? median(s.map((x) => x.serversUs[i]!)).toFixed(0) : '–'));
    const total = t.servers.length > 0 ? median(s.map(sum)).toFixed(0) : '–';
    console.log(`| ${t.label} | ${median(s.map((x) => x.opsPerSec)).toFixed(0)} | ${median(s.map((x) => x.clientUs)).toFixed(0)} | ${cols.join(' | ')} | ${total} |`);
  }
  // The last target against each other one: the median of the per-round ratios (each round ran
  // the two back to back, so a ratio sees one moment of the machine's load).
  const last = targets[targets.length - 1]!;
  for (const other of targets.slice(0, -1)) {
    const x = samples.get(last)!;
    const y = samples.get(other)!;
    const ratio = (f: (s: Sample) => number) => median(x.map((s, i) => f(s) / f(y[i]!))).toFixed(2);
    const parts = [`creates/s ${ratio((s) => s.opsPerSec)}`, `client CPU ${ratio((s) => s.clientUs)}`];
    if (last.servers.length > 0 && other.servers.length === last.servers.length) {
      for (let i = 0; i < width; i++) parts.push(`server ${i + 1} CPU ${ratio((s) => s.serversUs[i]!)}`);
      parts.push(`servers' sum ${ratio(sum)}`);
    }
    console.log(`${last.label}/${other.label}, median of per-round ratios: ${parts.join(', ')}`);
  }
}

await main();
