// An append-only record of when this process believed it was the serving leader, for the
// failover tests and benchmark (not needed in production). One JSON object per line:
//   serve-start  the term's state is loaded; serving begins; `until` = lease deadline
//   renew        the lease was confirmed again; serving may go on until `until`
//   serve-end    serving stopped (deposed, fence lost, stop)
// Times are the host's monotonic clock in ms (election/types.ts monotonicClock), comparable
// across processes on one machine. Lines are written synchronously before the state they
// describe takes effect, so a crash (kill -9) never loses the record of a serving interval.
import { appendFileSync } from 'node:fs';

export type JournalKind = 'serve-start' | 'renew' | 'serve-end';

export interface JournalEvent {
  t: number;
  pid: number;
  address: string;
  ev: JournalKind;
  term: number;
  until?: number;
  reason?: string;
}

export class LeaderJournal {
  constructor(
    private readonly path: string,
    private readonly address: string,
  ) {}

  append(ev: JournalKind, t: number, term: number, extra: { until?: number; reason?: string } = {}): void {
    const rec: JournalEvent = { t, pid: process.pid, address: this.address, ev, term, ...extra };
    appendFileSync(this.path, JSON.stringify(rec) + '\n');
  }
}
