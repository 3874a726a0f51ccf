// Helpers shared by the benchmarks that drive side clusters: numeric flags, and the CPU seconds
// processes used (from /proc, so a process's cost is measured whatever else the machine runs).
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The number after `--name` on the command line, else `def`. */
export function numberArg(name: string, def: string): number {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1]! : def);
}

/** CPU seconds (user + system) used so far by the processes `pids`, from /proc. */
export async function cpuSec(pids: number[]): Promise<number> {
  const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString());
  let ticks = 0;
  for (const pid of pids) {
    const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  }
  return ticks / hz;
}
