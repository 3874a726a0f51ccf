// `curvefs up` as a process for tests, as an operator runs it at a terminal: in its own process
// group (interrupt() sends SIGINT to the whole group, like Ctrl-C), its output kept line by line,
// its children found through its pid files (<dir>/pids/<name>.json).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { mountInfo } from '../../src/fuse/index.ts';
import { pollUntil } from '../../src/common/index.ts';
import { CURVEFS_BIN, runCurvefs } from './curvefs-mount-proc.ts';

export interface PidRecord {
  name: string;
  pid: number;
  startTime: string;
}

/** The pid files of the cluster in `dir`, by name. */
export function pidRecords(dir: string): Map<string, PidRecord> {
  const out = new Map<string, PidRecord>();
  let names: string[] = [];
  try {
    names = readdirSync(join(dir, 'pids')).filter((n) => n.endsWith('.json'));
  } catch {
    return out;
  }
  for (const n of names) {
    const r = JSON.parse(readFileSync(join(dir, 'pids', n), 'utf8')) as PidRecord;
    out.set(r.name, r);
  }
  return out;
}

/** Whether the process a record names still runs (same pid and start time, not a zombie). */
export function alive(r: PidRecord): boolean {
  try {
    const stat = readFileSync(`/proc/${r.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] === r.startTime && fields[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `text` (orphans of a cluster directory). */
export function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

export class UpProc {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly dir: string, readonly proc: ChildProcess) {
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
    const keep = (l: string) => {
      this.lines.push(l);
      for (const w of this.waiters) w();
    };
    createInterface({ input: proc.stdout! }).on('line', keep);
    createInterface({ input: proc.stderr! }).on('line', keep);
    proc.once('exit', () => {
      for (const w of this.waiters) w();
    });
  }

  static start(dir: string, args: string[] = []): UpProc {
    const proc = spawn(process.execPath, [CURVEFS_BIN, '--dir', dir, 'up', '--fresh-ports', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, CURVEFS_LOG: 'warn' },
    });
    return new UpProc(dir, proc);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get output(): string {
    return this.lines.join('\n');
  }

  /** The first output line matching `re` (from index `from` on); fails if `up` exits first. */
  waitForLine(re: RegExp, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = re.exec(this.lines[i]!);
          if (m) {
            this.waiters.delete(check);
            return resolve(m);
          }
        }
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
          this.waiters.delete(check);
          reject(new Error(`curvefs up exited (${this.proc.exitCode ?? this.proc.signalCode}) before printing ${re}:\n${this.output}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  async waitUp(): Promise<void> {
    await this.waitForLine(/^cluster is up; Ctrl-C to stop$/);
  }

  /** Ctrl-C at the terminal: SIGINT to the whole process group. */
  async interrupt(): Promise<number | null> {
    process.kill(-this.pid, 'SIGINT');
    return this.exited;
  }

  async kill9(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** kill -9 of one recorded process; resolves once it is gone. */
export async function kill9(r: PidRecord): Promise<void> {
  try {
    process.kill(r.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  await pollUntil(`${r.name} (pid ${r.pid}) to die`, 10_000, async () => (alive(r) ? undefined : true));
}

/** A `curvefs up` cluster in a fresh temporary directory (others may enter it: the mount is tested as other users too). */
export interface UpInTemp {
  base: string;
  /** The cluster directory (`base/c`); the mount is at `dir/mnt`. */
  dir: string;
  up: UpProc;
}

/** Starts `curvefs up` in a new directory under the system's temp dir and waits until it is up. */
export async function startUpInTemp(prefix: string): Promise<UpInTemp> {
  const base = await mkdtemp(join(tmpdir(), prefix));
  await chmod(base, 0o755);
  const dir = join(base, 'c');
  const up = UpProc.start(dir);
  await up.waitUp();
  return { base, dir, up };
}

/** Stops what startUpInTemp started, whatever state it is in, and removes its directory. */
export async function stopUpInTemp(t: UpInTemp | undefined): Promise<void> {
  if (!t) return;
  await t.up.interrupt().catch(() => undefined);
  for (const pid of processesMentioning(t.dir)) process.kill(pid, 'SIGKILL');
  if (await mountInfo(join(t.dir, 'mnt'))) await runCurvefs(['umount', '--lazy', join(t.dir, 'mnt')]);
  await rm(t.base, { recursive: true, force: true });
}
