#!/usr/bin/env node
// Runs benchmarks: `npm run bench` lists them, `npm run bench -- rpc-bench [args]` runs one,
// `npm run bench -- all` runs every one in turn. Numbers go to stdout; record them in
// docs/benchmarks.md with the command.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const benches = readdirSync('bench').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
const [name, ...rest] = process.argv.slice(2);
if (!name) {
  console.log('benchmarks (npm run bench -- <name> [args] | all):');
  for (const b of benches) console.log('  ' + b);
  process.exit(0);
}
const run = name === 'all' ? benches : [name];
for (const b of run) {
  if (!benches.includes(b)) {
    console.error(`no benchmark ${b}`);
    process.exit(2);
  }
  console.log(`== ${b}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', `bench/${b}.ts`, ...rest], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
