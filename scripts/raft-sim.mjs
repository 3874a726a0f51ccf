#!/usr/bin/env node
// Runs the deterministic Raft simulations through tsx (docs/testing.md, docs/raft.md).
// The driver-level simulation (test/sim/driver-run.ts: the production RaftNode, log and snapshot
// code on a simulated disk, network and clocks):
//   node scripts/raft-sim.mjs --seeds N [--start S] [--steps M]   many seeds; prints each failing seed
//   node scripts/raft-sim.mjs --seed N [--steps M] [--trace]      replays one seed (--trace: every event)
// The core simulation (test/sim/run.ts: RawNode under an idealised driver):
//   node scripts/raft-sim.mjs --core --seeds 10000 [--start S]
//   node scripts/raft-sim.mjs --core --seed N
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const core = args.includes('--core');
const script = core ? 'test/sim/run.ts' : 'test/sim/driver-run.ts';
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, script), ...args.filter((a) => a !== '--core')], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
