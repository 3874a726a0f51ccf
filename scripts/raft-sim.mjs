#!/usr/bin/env node
// Runs the driver-level Raft simulation (test/sim/driver-sim.ts, docs/testing.md) through tsx.
//   node scripts/raft-sim.mjs --seeds N [--start S] [--steps M]   many seeds
//   node scripts/raft-sim.mjs --seed N [--steps M] [--trace]      replay one seed
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/sim/driver-run.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
