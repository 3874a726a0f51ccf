// Runs seeds of the driver-level simulation (driver-sim.ts) from the command line; started by
// scripts/raft-sim.mjs (docs/testing.md).
//   --seeds N [--start S] [--steps M]   many seeds; prints each failing seed and a summary
//   --seed N [--steps M] [--trace]      replays one seed (with --trace: every event)
//   --hard                              with every fault 2-4x as frequent (either mode)
//   --inline                            lone small log writes made inline (SimDisk.inlineWrites)
import { HARD, driverScenario, runDriverSeed, type DriverScenario } from './driver-sim.ts';
import { intFlag } from './cli-flag.ts';


const steps = intFlag('steps') ?? 3000;
const over: Partial<DriverScenario> = { ...(process.argv.includes('--hard') ? HARD : {}), ...(process.argv.includes('--inline') ? { inlineWrites: true } : {}) };
const one = intFlag('seed');
if (one !== undefined) {
  const trace = process.argv.includes('--trace');
  console.log(`scenario ${JSON.stringify(driverScenario(one, steps, over))}`);
  const r = await runDriverSeed(one, steps, over, trace ? (l) => console.log(l) : undefined);
  console.log(`seed ${one}: ${r.ok ? 'ok' : 'FAILED'} trace ${r.traceHash} ${JSON.stringify(r.stats)}`);
  if (!r.ok) console.log(r.failure);
  process.exit(r.ok ? 0 : 1);
}

const count = intFlag('seeds') ?? 100;
const start = intFlag('start') ?? 0;
const failed: number[] = [];
const totals: Record<string, number> = {};
const t0 = performance.now();
for (let s = start; s < start + count; s++) {
  const r = await runDriverSeed(s, steps, over);
  for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
  if (!r.ok) {
    failed.push(s);
    console.log(`FAILED seed ${s}: ${r.failure?.split('\n')[0]}`);
    console.log(`  replay: node scripts/raft-sim.mjs --seed ${s} --steps ${steps}${over.crashRate ? ' --hard' : ''}${over.inlineWrites ? ' --inline' : ''} --trace`);
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(`${count} seeds from ${start}, ${steps} steps each: ${count - failed.length} ok, ${failed.length} failed, ${secs.toFixed(1)} s`);
console.log(`totals ${JSON.stringify(totals)}`);
process.exit(failed.length ? 1 : 0);
