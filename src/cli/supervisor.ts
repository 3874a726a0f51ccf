// Starts, restarts and stops the processes of a one-machine cluster (`curvefs up`): each a child
// running `curvefs <role> ...`, its output appended to a log file (size-bounded: rotated by
// log-rotation.ts, checked every few seconds), its pid in a pid file (so the
// next `up` finds it if this one is killed), restarted with backoff when it dies on its own, and
// stopped with SIGTERM (then SIGKILL after a grace period) in reverse start order.
//
// Children run in their own process group: a Ctrl-C at the terminal reaches only `up`, which
// then stops them in order (the mount first, while the metaservers and the MDS can still take
// its last writes). Were they in the terminal's group, all would get SIGINT at once and `up`
// would see its children die "unexpectedly".
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LOG_ROTATION, rotateIfLarge, type LogRotation } from './log-rotation.ts';
import { PidDir } from './pidfiles.ts';
import { packageRoot } from './version.ts';

/** The launcher children run: it picks the compiled dist/ or the sources, as for the user. */
export const CURVEFS_BIN = join(packageRoot(), 'bin', 'curvefs.mjs');

/** Restart delays: doubling from the first, capped; back to the first after a long healthy run. */
export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** A child that ran this long before dying is restarted after the initial delay again. */
  resetAfterMs: number;
}

/**
 * Node/V8 flags for every child, from CURVEFS_NODE_FLAGS (space-separated; none by default): for
 * profiling and GC studies with flags NODE_OPTIONS refuses (--trace-gc, --min-semi-space-size,
 * --single-threaded-gc). No V8 flag is set by default: a 64 MiB young generation cut a
 * metaserver's scavenges ~20× but did not measurably cut its CPU per create (docs/benchmarks.md,
 * "V8's worker threads and flags").
 */
function childNodeFlags(): string[] {
  return (process.env.CURVEFS_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
}

export const DEFAULT_RESTART: RestartPolicy = { initialDelayMs: 1000, maxDelayMs: 30_000, resetAfterMs: 60_000 };

export interface ManagedProcess {
  name: string;
  /** The current incarnation (replaced at each restart). */
  child: ChildProcess;
  logFile: string;
  /** Settles when the current incarnation exits. */
  exited: Promise<number | null>;
  restarts: number;
  /** Set once this child is being stopped on purpose: its exit is not a crash. */
  stopRequested: boolean;
}

export class Supervisor {
  private readonly procs: ManagedProcess[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private rotationTimer: NodeJS.Timeout | undefined;
  readonly pids: PidDir;
  /** Lines for the operator (restarts); `up` prints them. */
  log: (line: string) => void = () => undefined;

  constructor(
    private readonly logDir: string,
    pidDir: string,
    private readonly restart: RestartPolicy | false = DEFAULT_RESTART,
    private readonly rotation: LogRotation & { checkMs: number } = { ...DEFAULT_LOG_ROTATION, checkMs: 5000 },
  ) {
    mkdirSync(logDir, { recursive: true });
    this.pids = new PidDir(pidDir);
  }

  /** Rotates every child's log that has reached its bound (also run every `checkMs`). */
  rotateLogs(): void {
    for (const p of this.procs) {
      try {
        if (rotateIfLarge(p.logFile, this.rotation)) this.log(`${p.name} log rotated (${p.logFile}.1 … .${this.rotation.keep})`);
      } catch (e) {
        this.log(`${p.name} log rotation failed: ${(e as Error).message}`);
      }
    }
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
    const p = { name, logFile: join(this.logDir, `${name}.log`), restarts: 0, stopRequested: false } as ManagedProcess;
    this.spawnInto(p, args, env, this.restart ? this.restart.initialDelayMs : 0);
    this.procs.push(p);
    if (!this.rotationTimer) {
      this.rotationTimer = setInterval(() => this.rotateLogs(), this.rotation.checkMs);
      this.rotationTimer.unref();
    }
    return p;
  }

  private spawnInto(p: ManagedProcess, args: string[], env: NodeJS.ProcessEnv, nextDelayMs: number): void {
    // A log left large by an earlier run is rotated before the child appends to it.
    try {
      rotateIfLarge(p.logFile, this.rotation);
    } catch {
      // Logging on into the large file beats not starting the child.
    }
    const fd = openSync(p.logFile, 'a');
    const child = spawn(process.execPath, [...childNodeFlags(), CURVEFS_BIN, ...args], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
      detached: true,
    });
    closeSync(fd);
    const startedAt = performance.now();
    p.child = child;
    if (child.pid !== undefined) this.pids.write(p.name, child.pid);
    p.exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code, signal) => {
        this.pids.remove(p.name);
        resolve(code);
        if (this.stopping || p.stopRequested) return;
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (!this.restart) return this.log(`${p.name} exited unexpectedly (${how}); see ${p.logFile}`);
        const policy = this.restart;
        const delay = performance.now() - startedAt >= policy.resetAfterMs ? policy.initialDelayMs : nextDelayMs;
        this.log(`${p.name} exited unexpectedly (${how}); restarting in ${(delay / 1000).toFixed(1)} s (restart ${p.restarts + 1}); see ${p.logFile}`);
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (this.stopping || p.stopRequested) return;
          p.restarts++;
          this.spawnInto(p, args, env, Math.min(delay * 2, policy.maxDelayMs));
          this.log(`${p.name} restarted (pid ${p.child.pid})`);
        }, delay);
        this.timers.add(t);
      }),
    );
  }

  processes(): readonly ManagedProcess[] {
    return this.procs;
  }

  /** SIGTERM in reverse start order, SIGKILL whatever is left after `graceMs`; no more restarts. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.rotationTimer) clearInterval(this.rotationTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of [...this.procs].reverse()) await this.stopOne(p, graceMs);
  }

  /** Stops one child for good (no restart), e.g. the mount before the cluster. */
  async stopOne(p: ManagedProcess, graceMs = 10_000): Promise<void> {
    p.stopRequested = true;
    const i = this.procs.indexOf(p);
    if (i >= 0) this.procs.splice(i, 1);
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGTERM');
    const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
  }
}
