#!/usr/bin/env node
// Runs the test suites with node's built-in runner and tsx.
//   node scripts/test.mjs                 all groups: unit sim integration e2e
//   node scripts/test.mjs unit sim        only those groups
//   node scripts/test.mjs test/unit/x.test.ts   only those files
// Before the tests it checks that generated code is current (scripts/gen-check.mjs).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const GROUPS = ['unit', 'sim', 'integration', 'e2e'];
const args = process.argv.slice(2);
const files = [];
const wanted = args.length === 0 ? GROUPS : args;

function walk(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
}
for (const w of wanted) {
  if (GROUPS.includes(w)) walk(join('test', w));
  else files.push(w);
}
if (files.length === 0) {
  console.error('no test files found for', wanted.join(' '));
  process.exit(1);
}

if (args.length === 0) {
  const gen = spawnSync(process.execPath, ['scripts/gen-check.mjs'], { stdio: 'inherit' });
  if (gen.status !== 0) process.exit(gen.status ?? 1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// The timeout is a backstop against a hung file, not a speed check: the FUSE end-to-end files
// (git, tar, make on a mount over a 3-replica cluster) take ~2 minutes on an idle 2-core machine
// and three times that on a loaded one.
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
