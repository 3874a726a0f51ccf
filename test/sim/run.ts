// Runs Raft simulation seeds from the command line.
//   npx tsx test/sim/run.ts --seeds 10000 [--start S]   many seeds; prints every failing seed
//   npx tsx test/sim/run.ts --seed N                    replays one seed verbosely (event trace)
import { runSeed, scenarioFor } from './simulation.ts';
import { intFlag } from './cli-flag.ts';


const one = intFlag('seed');
if (one !== undefined) {
  console.log(`scenario ${JSON.stringify(scenarioFor(one))}`);
  const r = runSeed(one, {}, (line) => console.log(line));
  console.log(`seed ${one}: ${r.ok ? 'ok' : 'FAILED'} trace ${r.traceHash} ${JSON.stringify(r.stats)}`);
  if (!r.ok) console.log(r.failure);
  process.exit(r.ok ? 0 : 1);
}

const count = intFlag('seeds') ?? 1000;
const startSeed = intFlag('start') ?? 0;
const failed: number[] = [];
const t0 = performance.now();
for (let s = startSeed; s < startSeed + count; s++) {
  const r = runSeed(s);
  if (!r.ok) {
    failed.push(s);
    console.log(`FAILED seed ${s}: ${r.failure?.split('\n')[0]}`);
    console.log(`  replay: npx tsx test/sim/run.ts --seed ${s}`);
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(`${count} seeds from ${startSeed}: ${count - failed.length} ok, ${failed.length} failed, ${secs.toFixed(1)} s`);
process.exit(failed.length ? 1 : 0);
