// Rebuilds the log's content from its records in write order (pure; used at open).
// The log is append-only, so a later record overrides an earlier one: an entry at an index
// at or below the last one drops the old suffix first, a Truncate record drops a suffix, a Base
// record empties the log.
import { CurveError, StatusCode } from '../../common/index.ts';
import type { Entry, HardState } from '../core/types.ts';
import { RecordType, type DecodedRecord } from './format.ts';

export class LogReplay {
  entries: Entry[] = [];
  /** Index just before entries[0]; -1 while unknown (no Base record seen and no entry yet). */
  base = -1;
  baseTerm = 0;
  /** True while the base came from the first kept segment's Position record (a compacted prefix). */
  private baseFromPosition = false;
  hardState: HardState = { term: 0, vote: 0, commit: 0 };

  get lastIndex(): number {
    return this.base < 0 ? -1 : this.base + this.entries.length;
  }

  /** Applies one record; throws STORAGE_INTERNAL_ERROR when the records contradict each other. */
  apply(r: DecodedRecord, where: string): void {
    switch (r.type) {
      case RecordType.HardState:
        this.hardState = r.hardState;
        return;
      case RecordType.Base:
        this.entries = [];
        this.base = r.index;
        this.baseTerm = r.term;
        this.baseFromPosition = false;
        return;
      case RecordType.Position:
        if (this.base < 0) {
          this.base = r.lastIndex;
          this.baseFromPosition = true;
        } else if (r.lastIndex !== this.lastIndex) {
          throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${where}: segment starts after ${r.lastIndex} but the log ends at ${this.lastIndex}`);
        }
        return;
      case RecordType.Truncate:
        if (this.base >= 0 && r.from <= this.lastIndex) {
          this.entries.length = Math.max(0, r.from - 1 - this.base);
        }
        return;
      case RecordType.Entry: {
        const e = r.entry;
        if (this.base < 0) {
          this.base = e.index - 1;
          this.entries.push(e);
          return;
        }
        if (e.index <= this.base && this.baseFromPosition) {
          // The entry rewrites a suffix that began in a segment compaction removed: everything
          // below it was covered by the snapshot, and an entry always replaces what follows it.
          this.base = e.index - 1;
          this.entries = [e];
          return;
        }
        if (e.index <= this.base) {
          // Every record before this one was compacted away, and an entry lower than the start
          // of what is left can only come from a log whose segments were not deleted in order.
          throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${where}: entry ${e.index} precedes log start ${this.base + 1}`);
        }
        if (e.index > this.lastIndex + 1) {
          throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${where}: entry ${e.index} leaves a gap after ${this.lastIndex}`);
        }
        this.entries.length = e.index - 1 - this.base;
        this.entries.push(e);
        return;
      }
    }
  }
}
