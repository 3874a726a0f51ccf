// What the FUSE benches share: a client process that runs one phase of system calls over N files
// (synchronous node:fs calls, timed by the client itself), and a process's CPU time from /proc.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** getattr = stat(2) of the directory's parent (the mount root); the others work on `dir`/f<i>. */
export type LoopPhase = 'getattr' | 'create' | 'stat' | 'unlink';

// The client: one loop of one phase over `n` files in `dir`; prints the loop's milliseconds.
const CLIENT = `
const fs = require('node:fs');
const [dir, phase, n] = [process.argv[1], process.argv[2], Number(process.argv[3])];
const root = require('node:path').dirname(dir);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const p = dir + '/f' + i;
  if (phase === 'getattr') fs.statSync(root);
  else if (phase === 'create') fs.closeSync(fs.openSync(p, 'wx'));
  else if (phase === 'stat') fs.statSync(p);
  else if (phase === 'unlink') fs.unlinkSync(p);
}
console.log(performance.now() - t0);
`;

/** Runs one phase over `files` files in a child process; resolves to the loop's milliseconds. */
export function runLoopClient(dir: string, phase: LoopPhase, files: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', CLIENT, dir, phase, String(files)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`client ${phase} in ${dir} exited ${code}`))));
  });
}

/** user + system CPU µs of a process from /proc (clock ticks of 10 ms). */
export async function procCpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** A mounted file system under measurement: its client process first, then its servers. */
export interface Target {
  label: string;
  dir: string;
  client: number;
  servers: number[];
}

/** Targets from arguments LABEL=DIR@PID[+PID...] (an argument after a --option is its value). */
export function parseTargets(args: string[]): Target[] {
  return args
    .filter((a, i, all) => /^[^-][^=]*=.+@\d/.test(a) && !all[i - 1]?.startsWith('--'))
    .map((a) => {
      const [label, rest] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
      const [dir, pids] = [rest.slice(0, rest.lastIndexOf('@')), rest.slice(rest.lastIndexOf('@') + 1)];
      const [client, ...servers] = pids.split('+').map(Number);
      return { label, dir, client: client!, servers };
    });
}
