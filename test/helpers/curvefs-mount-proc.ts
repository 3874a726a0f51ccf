// Runs `curvefs mount FS DIR` as a child process for tests: the mount is served by another
// process, so the test may use any fs call on it (a process must never block on a mount it
// serves itself). stop() unmounts with SIGTERM and waits; kill() is kill -9 (the mount goes stale
// until someone runs `curvefs mount` or `curvefs umount` on the directory again).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CURVEFS_BIN = join(ROOT, 'bin', 'curvefs.mjs');

export interface MountProcOptions {
  mdsAddrs: string[];
  fsName: string;
  dir: string;
  /** Extra flags for `curvefs mount` (e.g. ['--entry-timeout', '0']). */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Flags for node itself (e.g. ['--cpu-prof'], which NODE_OPTIONS does not accept). */
  nodeArgs?: string[];
}

/** Mount processes still running: asked to unmount if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  // A test process that ends early (a failure before its after hook, a runner cancel) must not
  // leave mounts served by orphans: SIGTERM makes each unmount cleanly and exit.
  for (const p of live) p.kill('SIGTERM');
});

export class MountProc {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    readonly opts: MountProcOptions,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  }

  static async start(opts: MountProcOptions): Promise<MountProc> {
    const proc = spawn(
      process.execPath,
      [...(opts.nodeArgs ?? []), CURVEFS_BIN, '--mds', opts.mdsAddrs.join(','), 'mount', opts.fsName, opts.dir, ...(opts.args ?? [])],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
    );
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const m = new MountProc(opts, proc);
    const keep = (l: string) => {
      m.output.push(l);
      if (m.output.length > 300) m.output.shift();
    };
    createInterface({ input: proc.stderr! }).on('line', keep);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        keep(l);
        if (l.startsWith('mounted ')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`curvefs mount exited with ${code} before mounting:\n${m.output.join('\n')}`)));
    });
    return m;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Clean unmount (SIGTERM): resolves with the exit code once the process is gone. */
  async stop(): Promise<number | null> {
    if (this.running) this.proc.kill('SIGTERM');
    return this.exited;
  }

  /** kill -9 of the mount process. */
  async kill(): Promise<void> {
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** Runs the curvefs CLI and returns its exit code and output. */
export function runCurvefs(args: string[], env?: NodeJS.ProcessEnv, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CURVEFS_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d));
    p.stderr!.on('data', (d: Buffer) => (stderr += d));
    p.once('error', reject);
    p.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
