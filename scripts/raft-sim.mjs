#!/usr/bin/env node
// Runs the deterministic Raft simulation (test/sim/run.ts) through tsx.
//   node scripts/raft-sim.mjs --seeds 10000 [--start S]   many seeds; prints each failing seed
//   node scripts/raft-sim.mjs --seed N                    replays one seed with its event trace
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/sim/run.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
