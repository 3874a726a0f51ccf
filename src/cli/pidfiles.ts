// Pid files of `curvefs up` and its children (<dir>/pids/<name>.json), so that the next `up`
// finds processes a killed `up` left behind. Each records the pid and the process's start time
// (/proc/<pid>/stat, field 22): after a reboot or a long time a pid is reused by an unrelated
// process, and the start time tells the two apart, so nothing innocent is ever signalled.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from '../common/index.ts';

export interface PidRecord {
  name: string;
  pid: number;
  /** Clock ticks since boot when the process started (a string: it is only compared). */
  startTime: string;
}

/** The start time of a live process, or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." — comm may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall; fields[0] here is field 3 (state)
  } catch {
    return undefined;
  }
}

/** True while the very process the record describes runs (not a later one with its pid). */
export function recordAlive(r: PidRecord): boolean {
  const st = processStartTime(r.pid);
  if (st === undefined || st !== r.startTime) return false;
  // A zombie has exited; its parent has just not reaped it yet.
  try {
    const state = readFileSync(`/proc/${r.pid}/stat`, 'utf8');
    return state.slice(state.lastIndexOf(')') + 2, state.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export class PidDir {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  write(name: string, pid: number): void {
    const startTime = processStartTime(pid);
    if (startTime === undefined) return; // already gone: nothing to find later
    mkdirSync(this.dir, { recursive: true });
    const rec: PidRecord = { name, pid, startTime };
    writeFileSync(this.file(name) + '.tmp', JSON.stringify(rec) + '\n');
    renameSync(this.file(name) + '.tmp', this.file(name));
  }

  remove(name: string): void {
    rmSync(this.file(name), { force: true });
  }

  read(name: string): PidRecord | undefined {
    try {
      const r = JSON.parse(readFileSync(this.file(name), 'utf8')) as PidRecord;
      return Number.isSafeInteger(r.pid) && r.pid > 0 && typeof r.startTime === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every record in the directory (unreadable ones are skipped). */
  all(): PidRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    return names.map((n) => this.read(n.slice(0, -'.json'.length))).filter((r): r is PidRecord => r !== undefined);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopRecorded(r: PidRecord, graceMs: number): Promise<'stopped' | 'killed'> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(r.pid, sig);
    } catch {
      /* exited meanwhile */
    }
  };
  signal('SIGTERM');
  try {
    await pollUntil(`${r.name} (pid ${r.pid}) to stop`, graceMs, async () => (recordAlive(r) ? undefined : true), { minDelayMs: 20, maxDelayMs: 200 });
    return 'stopped';
  } catch {
    signal('SIGKILL');
    await pollUntil(`${r.name} (pid ${r.pid}) to die`, 10_000, async () => (recordAlive(r) ? undefined : true), { minDelayMs: 20, maxDelayMs: 200 });
    return 'killed';
  }
}
