// Creates through a mount by 1, 4 and 16 processes at once, each in its own directory and all in
// one directory: shows whether the mount serves concurrent callers concurrently (the kernel sends
// their requests at once; a client that serialised them would not scale with processes). Each
// worker is python3 (no Node start-up in the timing), released by one start signal once all are
// ready; the rate is all files / the wall time from the signal until the last worker is done.
//   npx tsx bench/fuse-meta-procs.ts --files 1600 [--procs 1,4,16] LABEL=MOUNT [LABEL=MOUNT ...]
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const FILES = Number(arg('files', '1600'));
const PROCS = arg('procs', '1,4,16').split(',').map(Number);
const mounts = process.argv.slice(2).filter((a) => a.includes('=') && !a.startsWith('--')).map((a) => a.split('=') as [string, string]);

// Waits for a line on stdin (the start signal), then creates its files and exits.
const WORKER = `
import os, sys
d, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
for i in range(n):
    os.close(os.open(os.path.join(d, "%s-%d" % (prefix, i)), flags, 0o644))
`;

async function run(mnt: string, procs: number, shared: boolean): Promise<number> {
  const base = join(mnt, `procs-${process.pid}-${Date.now()}-${procs}-${shared ? 'one' : 'own'}`);
  await mkdir(base);
  const per = Math.floor(FILES / procs);
  const workers = [];
  for (let w = 0; w < procs; w++) {
    const dir = shared ? base : join(base, `w${w}`);
    if (!shared) await mkdir(dir);
    const child = spawn('python3', ['-c', WORKER, dir, `p${w}`, String(per)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const done = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`)))));
    workers.push({ child, ready, done });
  }
  await Promise.all(workers.map((w) => w.ready));
  const t0 = performance.now();
  for (const w of workers) w.child.stdin.end('go\n');
  await Promise.all(workers.map((w) => w.done));
  return Math.round((per * procs) / ((performance.now() - t0) / 1000));
}

console.log(`# ${FILES} creates per run; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`| mount | ${PROCS.map((p) => `${p} proc own dir | ${p} proc one dir`).join(' | ')} |`);
console.log(`|---|${PROCS.map(() => '---:|---:').join('|')}|`);
for (const [label, mnt] of mounts) {
  const cells = [];
  for (const p of PROCS) {
    cells.push(await run(mnt, p, false));
    cells.push(p === 1 ? cells[cells.length - 1]! : await run(mnt, p, true));
  }
  console.log(`| ${label} | ${cells.join(' | ')} |`);
}
console.log(`# end, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
