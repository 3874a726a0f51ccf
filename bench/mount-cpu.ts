// CPU per metadata operation of mounted file systems, measured side by side: for each target, a
// client process creates (open O_CREAT|O_EXCL + close), stats and unlinks N files in a fresh
// directory, one at a time, while this bench reads the CPU time (user + system, /proc/PID/stat)
// of the target's processes before and after each phase. The targets run each phase back to back,
// in alternating order, so the machine's load falls on each alike; the table has the medians of
// the rounds, and the medians of the per-round ratios of the last target to each other one.
//
//   npx tsx bench/mount-cpu.ts [--files 2000] [--rounds 3] LABEL=DIR@PID[+PID...] ...
//
// The first PID is the client side (the curvefs mount, bindfs, mfsmount): "client CPU µs/op";
// the others (e.g. a cluster's metaservers, MooseFS's master and chunkserver) are summed as
// "server CPU µs/op". ops/s is the client's own wall time (load-dependent: compare within a run).
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTargets, procCpuMicros, runLoopClient, type Target } from './fs-loop-client.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const FILES = Number(arg('files', '2000'));
const ROUNDS = Number(arg('rounds', '3'));
const PHASES = ['create', 'stat', 'unlink'] as const;
type Phase = (typeof PHASES)[number];

const targets: Target[] = parseTargets(process.argv.slice(2));
if (targets.length === 0) {
  console.error('usage: npx tsx bench/mount-cpu.ts [--files N] [--rounds R] LABEL=DIR@PID[+PID...] ...');
  process.exit(2);
}

const runClient = (dir: string, phase: Phase) => runLoopClient(dir, phase, FILES);
const cpuMicros = procCpuMicros;

async function sumCpu(pids: number[]): Promise<number> {
  let s = 0;
  for (const p of pids) s += await cpuMicros(p);
  return s;
}

interface Sample {
  opsPerSec: number;
  clientUs: number;
  serverUs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const samples = new Map<string, Sample[]>();
  console.log(`mount-cpu: ${FILES} files per phase, ${ROUNDS} rounds, lowlat ${process.env.BENCH_LOWLAT ?? 'no'}, load ${(await readFile('/proc/loadavg', 'utf8')).trim()}`);
  for (let round = 0; round < ROUNDS; round++) {
    const dirs = new Map(targets.map((t) => [t, join(t.dir, `mount-cpu-${process.pid}-${round}`)]));
    for (const d of dirs.values()) await mkdir(d);
    // Phase by phase, the targets back to back (the tightest pairing the machine's swings allow),
    // in an order that alternates so that none always runs first.
    for (const phase of PHASES) {
      const order = (round + PHASES.indexOf(phase)) % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const c0 = await cpuMicros(t.client);
        const s0 = await sumCpu(t.servers);
        const ms = await runClient(dirs.get(t)!, phase);
        const c1 = await cpuMicros(t.client);
        const s1 = await sumCpu(t.servers);
        const key = `${t.label} ${phase}`;
        if (!samples.has(key)) samples.set(key, []);
        samples.get(key)!.push({ opsPerSec: (FILES / ms) * 1000, clientUs: (c1 - c0) / FILES, serverUs: (s1 - s0) / FILES });
      }
    }
    for (const d of dirs.values()) await rm(d, { recursive: true, force: true });
  }
  console.log(`load after: ${(await readFile('/proc/loadavg', 'utf8')).trim()}`);
  console.log('\n| target | op | ops/s | client CPU µs/op | server CPU µs/op |');
  console.log('|---|---|---:|---:|---:|');
  for (const phase of PHASES) {
    for (const t of targets) {
      const s = samples.get(`${t.label} ${phase}`)!;
      const server = t.servers.length > 0 ? median(s.map((x) => x.serverUs)).toFixed(0) : '–';
      console.log(`| ${t.label} | ${phase} | ${median(s.map((x) => x.opsPerSec)).toFixed(0)} | ${median(s.map((x) => x.clientUs)).toFixed(0)} | ${server} |`);
    }
  }
  // The last target against each of the others: the median of the per-round ratios (each round
  // ran a phase on both back to back, so a ratio sees one moment of the machine's load).
  const last = targets[targets.length - 1]!;
  const ratio = (p: Phase, other: Target, f: (s: Sample) => number) => {
    const x = samples.get(`${last.label} ${p}`)!;
    const y = samples.get(`${other.label} ${p}`)!;
    return median(x.map((s, i) => f(s) / f(y[i]!))).toFixed(2);
  };
  for (const other of targets.slice(0, -1)) {
    const parts = PHASES.map((p) => `${p} client CPU ${ratio(p, other, (s) => s.clientUs)}, ops/s ${ratio(p, other, (s) => s.opsPerSec)}`);
    console.log(`${last.label}/${other.label}, median of per-round ratios: ${parts.join('; ')}`);
  }
}

await main();
