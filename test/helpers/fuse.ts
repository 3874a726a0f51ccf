// Helpers for tests that mount FUSE file systems. Tests that need a mount fail (never skip)
// with a clear message when root or /dev/fuse is missing: mountFuse reports which.
//
// The test process serves its own mounts, so it must only touch them through async fs calls
// or child processes: a synchronous fs call on the mount would block the thread that replies.
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { abortConnection, mountFuse, MemFs, unmountDir, type FuseMount, type FuseOps, type MountFuseOptions } from '../../src/fuse/index.ts';

export interface TestMount {
  /** Parent temp directory (holds the mount point and anything else the test needs). */
  base: string;
  dir: string;
  mount: FuseMount;
  /** Unmounts (lazily if busy) and removes the temp directory. Safe to call twice. */
  cleanup(): Promise<void>;
}

export async function mountForTest<T extends FuseOps>(ops: T, options: MountFuseOptions = {}): Promise<TestMount & { ops: T }> {
  const base = await mkdtemp(join(tmpdir(), 'curvefs-fuse-'));
  const dir = join(base, 'mnt');
  await mkdir(dir);
  await chmod(base, 0o755); // other users' processes in tests must reach the mount

  let mount: FuseMount;
  try {
    mount = await mountFuse({ mountpoint: dir, ops, fsName: 'memfs-test', options: { unmountOnSignal: false, ...options } });
  } catch (e) {
    await rm(base, { recursive: true, force: true });
    throw e;
  }
  let done = false;
  return {
    base,
    dir,
    mount,
    ops,
    async cleanup() {
      if (done) return;
      done = true;
      await mount.unmount().catch(() => mount.unmount({ lazy: true }));
      await rm(base, { recursive: true, force: true });
    },
  };
}

export function mountMemFs(options: MountFuseOptions = {}): Promise<TestMount & { ops: MemFs }> {
  return mountForTest(new MemFs(), options);
}

export interface ServedMount {
  base: string;
  dir: string;
  /** The serving process (to kill it in tests). */
  child: ChildProcess;
  negotiated: { major: number; minor: number; flags: number; maxWrite: number };
  /** Server-side counters: requests, in-flight, kernel-referenced nodes, live inodes, open handles, CPU used (µs). */
  stats(): Promise<{ requests: number; inFlight: number; nodes: number; inodes: number; handles: number; cpuMicros: number }>;
  /** Unmounts, waits for the server to exit and removes the temp directory. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Mounts a MemFs served by a child process (see fuse-server.ts for why): the test process is
 * then an ordinary client that may hold files open and spawn programs freely.
 */
export async function startMemFsServer(options: MountFuseOptions = {}, at?: string): Promise<ServedMount> {
  // `at`: mount there and leave the directory in place on stop; else a fresh temp directory.
  const base = at ? dirname(at) : await mkdtemp(join(tmpdir(), 'curvefs-fuse-'));
  const dir = at ?? join(base, 'mnt');
  if (!at) {
    await mkdir(dir);
    await chmod(base, 0o755);
  }
  const child = fork(fileURLToPath(new URL('./fuse-server.ts', import.meta.url)), [dir, JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const first = await new Promise<{ ready?: boolean; error?: string; negotiated?: ServedMount['negotiated'] }>((resolve) => {
    child.once('message', (m) => resolve(m as never));
    void exited.then((code) => resolve({ error: `fuse server exited with code ${code} before mounting` }));
  });
  if (!first.ready) {
    if (!at) await rm(base, { recursive: true, force: true });
    throw new Error(`cannot mount FUSE: ${first.error}`);
  }
  let stopped = false;
  return {
    base,
    dir,
    child,
    negotiated: first.negotiated!,
    stats: () =>
      new Promise((resolve) => {
        const on = (m: unknown) => {
          const s = (m as { stats?: unknown }).stats;
          if (!s) return;
          child.off('message', on);
          resolve(s as never);
        };
        child.on('message', on);
        child.send({ cmd: 'stats' });
      }),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) child.send({ cmd: 'unmount' });
      const code = await Promise.race([exited, new Promise<'slow'>((r) => setTimeout(() => r('slow'), 20_000).unref())]);
      if (code === 'slow') {
        // A server that cannot unmount (a hung request): cut the connection, detach, and go.
        await abortConnection(dir).catch(() => undefined);
        await unmountDir(dir, { lazy: true }).catch(() => undefined);
        child.kill('SIGKILL');
        await exited;
      }
      if (!at) await rm(base, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program asynchronously (never spawnSync in a process that serves a mount). */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      if (err && code === -1 && !(err as { killed?: boolean }).killed && (err as { code?: unknown }).code === 'ENOENT') {
        reject(err);
        return;
      }
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Runs a shell command and fails the test with its output when it exits non-zero. */
export async function sh(script: string, cwd?: string): Promise<string> {
  const r = await run('sh', ['-c', script], { cwd });
  if (r.code !== 0) throw new Error(`sh -c ${JSON.stringify(script)} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export async function hasCommand(name: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${name}`])).code === 0;
}

export { waitFor } from './wait.ts';
