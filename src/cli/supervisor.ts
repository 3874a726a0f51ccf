// Starts and stops the processes of a one-machine cluster (`curvefs up`): each a child running
// `curvefs <role> ...`, its output appended to a log file, stopped with SIGTERM (then SIGKILL
// after a grace period) in reverse start order.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CURVEFS_BIN = fileURLToPath(new URL('../../bin/curvefs.mjs', import.meta.url));

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export class Supervisor {
  private readonly procs: ManagedProcess[] = [];
  private stopping = false;
  /** Called when a child exits while the cluster is not stopping. */
  onUnexpectedExit: (p: ManagedProcess, code: number | null) => void = () => undefined;

  constructor(private readonly logDir: string) {
    mkdirSync(logDir, { recursive: true });
  }

  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
    const logFile = join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [CURVEFS_BIN, ...args], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const p: ManagedProcess = { name, child, logFile, exited };
    exited.then((code) => {
      if (!this.stopping) this.onUnexpectedExit(p, code);
    });
    this.procs.push(p);
    return p;
  }

  processes(): readonly ManagedProcess[] {
    return this.procs;
  }

  /** SIGTERM in reverse start order, SIGKILL whatever is left after `graceMs`. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const p of [...this.procs].reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }
  }
}
