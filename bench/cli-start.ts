// Start time of `curvefs` commands: the compiled JavaScript in dist/ against the TypeScript
// sources through tsx, measured in the same run, alternating, as the ratio of medians. The
// commands need no cluster: --version (the launcher and the CLI's own modules), --help (every
// command registered), inspect of a missing file (loads the snapshot parser, exits 3), and
// `ls` against a dead MDS (loads the client and RPC stack, exits 5).
//   npx tsx bench/cli-start.ts [--runs N]      (builds dist/ first when it is not current)
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CURVEFS_BIN } from '../src/cli/supervisor.ts';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 15;
const ROOT = join(import.meta.dirname, '..');

const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);

const dead = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => resolve(port));
  });
});

const commands: Array<{ name: string; args: string[]; code: number }> = [
  { name: '--version', args: ['--version'], code: 0 },
  { name: '--help', args: ['--help'], code: 0 },
  { name: 'inspect (missing file)', args: ['inspect', '/nonexistent/curvefs.snap'], code: 3 },
  { name: 'ls (dead MDS)', args: ['--mds', `127.0.0.1:${dead}`, 'ls', '/'], code: 5 },
];

function once(runtime: 'dist' | 'tsx', args: string[], code: number): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CURVEFS_BIN, ...args], { encoding: 'utf8', env: { ...process.env, CURVEFS_RUNTIME: runtime } });
  const ms = performance.now() - t0;
  if (r.status !== code) throw new Error(`${args.join(' ')} (${runtime}) exited ${r.status}, expected ${code}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`curvefs command start time, median of ${RUNS} runs each, dist vs tsx alternating (load ${loadavg()[0]!.toFixed(2)})`);
console.log('command                    tsx ms   dist ms   tsx/dist');
for (const c of commands) {
  // One unmeasured run of each warms the page cache and tsx's transform cache.
  once('tsx', c.args, c.code);
  once('dist', c.args, c.code);
  const tsx: number[] = [];
  const dist: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    tsx.push(once('tsx', c.args, c.code));
    dist.push(once('dist', c.args, c.code));
  }
  const [t, d] = [median(tsx), median(dist)];
  console.log(`${c.name.padEnd(25)} ${t.toFixed(0).padStart(7)} ${d.toFixed(0).padStart(9)} ${(t / d).toFixed(2).padStart(10)}`);
}
