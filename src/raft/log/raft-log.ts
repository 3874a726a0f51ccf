// The durable Raft log of one group: a directory of preallocated segment files.
//
// Writes are buffered by append()/setHardState()/truncateSuffix()/resetTo() and made durable by
// sync(), which writes everything buffered with one write per segment — the group commit the
// driver relies on (it calls sync once per batch of Readies).
//
// How a write is made durable (RaftLogOptions.syncMode): by default the segment is opened O_DSYNC,
// so one pwrite returns only once its bytes are on disk — one threadpool job per sync. With
// 'fdatasync' a pwrite job is followed by an fdatasync job, and between the two the completion
// goes through the main thread's event loop: a hop that cost ~30–50 µs on an idle machine and
// far more on a busy one, on every follower's commit path (docs/benchmarks.md, Raft section).
// In 'dsync' mode a lone small entry (RaftLogOptions.inlineBytes) is written on the main thread
// instead: no threadpool job at all — no wake-up of a pool thread, no completion hop back through
// the event loop — while the loop stands still for one synced write. A batch of two or more
// entries still goes to the threadpool: several entries in one sync mean proposals are arriving
// concurrently, and then the main thread should decode, step and apply while the disk works
// (writing such batches inline halved the rate at 64 in flight).
//
// Files in the directory:
//   <sequence, 20 digits>.seg   segments, replayed in sequence order (see format.ts)
//   <sequence>.seg.tmp          a segment being prepared; deleted at open
//   <name>.cut                  set aside by versions that cut at any bad record; never read
import { join } from 'node:path';
import { CurveError, StatusCode, createLogger, type Logger } from '../../common/index.ts';
import type { Entry, HardState } from '../core/types.ts';
import { writeFully, writeFullySync } from '../durable-fs.ts';
import { nodeStorage, type RaftStorage, type StorageFile } from '../storage.ts';
import { isTornWrite, type DamageKind } from './damage.ts';
import {
  SEGMENT_HEADER_BYTES,
  RecordType,
  decodeSegmentHeader,
  encodeBaseRecord,
  entryRecordSize,
  writeEntryRecord,
  encodeHardStateRecord,
  encodePositionRecord,
  encodeSegmentHeader,
  encodeTruncateRecord,
  parseRecord,
} from './format.ts';
import { LogReplay } from './replay.ts';

export interface RaftLogOptions {
  /** Preallocated size of each segment (a larger record makes its segment grow). Default 64 MiB. */
  segmentBytes?: number;
  /**
   * How a new segment is preallocated: 'zeros' writes zeros over the whole file (blocks are
   * allocated up front, so appends never allocate), 'truncate' only sets the size (sparse).
   */
  preallocate?: 'zeros' | 'truncate';
  /**
   * How sync() makes writes durable: 'dsync' (default) opens segments O_DSYNC so the write itself
   * waits for the disk; 'fdatasync' writes, then fdatasyncs (two threadpool jobs).
   */
  syncMode?: 'dsync' | 'fdatasync';
  /**
   * In 'dsync' mode, a sync() of at most one entry whose records total at most this many bytes
   * writes them on the main thread (see the header). Default 4 KiB; 0 = never.
   */
  inlineBytes?: number;
  /** Where the files live: the real disk by default (the simulation passes its own). */
  storage?: RaftStorage;
  logger?: Logger;
}

/** What open() had to cut away: at most a torn final write. Empty `cuts` means the log was clean. */
export interface LogOpenReport {
  cuts: LogCut[];
  /** Leftover temporary files removed at open. */
  removedTemp: string[];
}

export interface LogCut {
  /** Segment file name. */
  segment: string;
  /** Byte offset in the segment where the cut was made. */
  offset: number;
  reason: string;
  /** Records loaded from this segment before the cut. */
  recordsBefore: number;
}

export interface LogOpenResult {
  log: RaftLog;
  hardState: HardState;
  /** Entries in the log, contiguous (may start at or below the latest snapshot's index). */
  entries: Entry[];
  /** When the log was emptied by resetTo(): the index/term it continues after. */
  base: { index: number; term: number } | undefined;
  report: LogOpenReport;
}

interface SegmentInfo {
  sequence: number;
  name: string;
  /** Highest entry index written to this segment (0 if none). */
  maxIndex: number;
  /** The segment holds a Base record: every earlier segment is obsolete. */
  hasBase: boolean;
}

interface PendingRecord {
  /** The encoded record; entries are encoded at write time, into the batch's buffer. */
  bytes?: Uint8Array;
  entry?: Entry;
  size: number;
  /** Entry index, or 0. */
  index: number;
  /** The log's last index once this record is applied, when the record changes it. */
  last?: number;
  hardState?: HardState;
  isBase: boolean;
}

/** See RaftLogOptions.inlineBytes. */
const DEFAULT_INLINE_BYTES = 4096;

const SEGMENT_NAME = /^(\d{20})\.seg$/;
const READ_CHUNK = 1 << 20;
/** How far past the end marker open() looks for bytes that should not be there. */
const TAIL_PROBE = 64 * 1024;

function record(bytes: Uint8Array, rest: Omit<PendingRecord, 'bytes' | 'size'>): PendingRecord {
  return { bytes, size: bytes.length, ...rest };
}

/**
 * Durable writes of every RaftLog in this process since it started: `writes` counts the writes that
 * return durable (O_DSYNC) plus fdatasyncs, `inline` those made on the calling thread. A benchmark
 * reads them to report disk syncs per commit (bench/raft-groups.ts); nothing else depends on them.
 */
export const logSyncCounters = { writes: 0, inline: 0 };

const segName = (seq: number): string => `${String(seq).padStart(20, '0')}.seg`;

/**
 * The log is damaged somewhere a crash cannot explain: this replica must not run on it (it may
 * have lost a vote or acknowledged entries) and is to be rebuilt from its peers.
 */
export class LogDamagedError extends CurveError {
  constructor(
    readonly dir: string,
    readonly segment: string,
    readonly offset: number,
    readonly reason: string,
    why: string,
  ) {
    super(StatusCode.STORAGE_INTERNAL_ERROR, `raft log ${dir} is damaged: ${segment} at offset ${offset}: ${reason} (${why}); the replica must be rebuilt from its peers`);
    this.name = 'LogDamagedError';
  }
}

export class RaftLog {
  private readonly segmentBytes: number;
  private readonly preallocate: 'zeros' | 'truncate';
  private readonly dsync: boolean;
  private readonly inlineBytes: number;
  private readonly log: Logger;
  private readonly fs: RaftStorage;
  private segments: SegmentInfo[] = [];
  private fh: StorageFile | undefined;
  /** File offset where the next record goes in the current segment. */
  private offset = 0;
  /** Offset after the records a segment starts with (header; restated hard state, position). */
  private segmentDataStart = SEGMENT_HEADER_BYTES;
  private pending: PendingRecord[] = [];
  /** Newest hard state placed in a segment, in write order; rewritten at each new segment. */
  private writtenHardState: HardState;
  /** The log's last index as of the newest record placed in a segment, in write order. */
  private writtenLastIndex: number;
  private lastIndexValue: number;
  private chain: Promise<void> = Promise.resolve();
  private spare: Promise<string> | undefined;
  private closed = false;
  private failed: Error | undefined;

  private constructor(
    private readonly dir: string,
    opts: RaftLogOptions,
    hardState: HardState,
    lastIndex: number,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    this.preallocate = opts.preallocate ?? 'truncate';
    this.dsync = (opts.syncMode ?? 'dsync') === 'dsync';
    this.inlineBytes = this.dsync ? (opts.inlineBytes ?? DEFAULT_INLINE_BYTES) : 0;
    this.log = opts.logger ?? createLogger('raft/log');
    this.fs = opts.storage ?? nodeStorage;
    this.writtenHardState = hardState;
    this.writtenLastIndex = lastIndex;
    this.lastIndexValue = lastIndex;
  }

  /**
   * Opens (creating if needed) the log in `dir`, cutting a torn final write (reported). Any other
   * damage — a bad record before the last segment's tail, a bad segment header, a missing segment,
   * records that contradict each other — throws LogDamagedError (STORAGE_INTERNAL_ERROR) naming
   * the file and offset, and changes nothing on disk.
   */
  static async open(dir: string, opts: RaftLogOptions = {}): Promise<LogOpenResult> {
    const fs = opts.storage ?? nodeStorage;
    await fs.mkdirp(dir);
    const names = (await fs.readdir(dir)).sort();
    const report: LogOpenReport = { cuts: [], removedTemp: [] };
    for (const n of names) {
      if (n.endsWith('.seg.tmp')) {
        await fs.unlink(join(dir, n));
        report.removedTemp.push(n);
      }
    }
    const seqs = names.flatMap((n) => {
      const m = SEGMENT_NAME.exec(n);
      return m ? [Number(m[1])] : [];
    });
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1]! + 1) {
        throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${dir}: segment ${segName(seqs[i - 1]! + 1)} is missing`);
      }
    }
    const replay = new LogReplay();
    const kept: SegmentInfo[] = [];
    let tailOffset = SEGMENT_HEADER_BYTES;
    for (let i = 0; i < seqs.length; i++) {
      const name = segName(seqs[i]!);
      const info: SegmentInfo = { sequence: seqs[i]!, name, maxIndex: 0, hasBase: false };
      const scan = await scanSegment(fs, join(dir, name), info.sequence, (r) => {
        replay.apply(r, name);
        if (r.type === RecordType.Entry) info.maxIndex = Math.max(info.maxIndex, r.entry.index);
        if (r.type === RecordType.Base) info.hasBase = true;
      });
      if (scan.cut) {
        // Only a torn final write may be cut: anything else is damage to records that were
        // synced (and perhaps acknowledged), and cutting it would roll back a vote or drop
        // committed entries. Stop instead, and leave every file as it is for the repair.
        const last = i === seqs.length - 1;
        const torn = last && scan.cut.kind !== 'header' && isTornWrite(await readFrom(fs, join(dir, name), scan.cut.offset), scan.cut.offset, scan.cut.kind);
        if (!torn) {
          throw new LogDamagedError(dir, name, scan.cut.offset, scan.cut.reason, last ? 'not a torn final write' : `${seqs.length - 1 - i} later segment(s) follow it`);
        }
        const cut: LogCut = { segment: name, offset: scan.cut.offset, reason: scan.cut.reason, recordsBefore: scan.records };
        await zeroTail(fs, join(dir, name), scan.cut.offset, opts.segmentBytes ?? 64 << 20);
        await fs.syncDir(dir);
        kept.push(info);
        tailOffset = scan.cut.offset;
        report.cuts.push(cut);
        (opts.logger ?? createLogger('raft/log')).warn('cut a torn final write off the log', { dir, ...cut });
        break;
      }
      kept.push(info);
      tailOffset = scan.end;
      if (i === seqs.length - 1) await clearStaleTail(fs, join(dir, name), scan.end, opts.preallocate ?? 'truncate');
    }
    // What was just read may include writes a killed predecessor issued but never synced: they
    // sit in the page cache, read back like any record, and would outlive this process only by
    // chance. Built upon (an O_DSYNC append makes only its own range durable), a power loss could
    // then drop them and keep what follows — a hole mid-log, and acknowledged entries lost or
    // the log refused. So everything kept is made durable, names included, before it is used
    // (found by the driver-level simulation, test/sim/driver-sim.test.ts).
    for (const s of kept) await syncFile(fs, join(dir, s.name));
    await fs.syncDir(dir);
    const log = new RaftLog(dir, opts, replay.hardState, replay.lastIndex);
    log.segments = kept;
    if (kept.length === 0) {
      const seq = seqs.length > 0 ? seqs[seqs.length - 1]! + 1 : 1;
      await log.createSegment(seq);
      log.segments = [{ sequence: seq, name: segName(seq), maxIndex: 0, hasBase: false }];
      tailOffset = SEGMENT_HEADER_BYTES;
    }
    log.fh = await log.openSegment(log.current.name);
    log.offset = tailOffset;
    const base = replay.base >= 0 && replay.entries.length === 0 ? { index: replay.base, term: replay.baseTerm } : undefined;
    return { log, hardState: replay.hardState, entries: replay.entries, base, report };
  }

  /** Index of the last entry appended (durable or buffered); -1 when the log has never held one. */
  get lastIndex(): number {
    return this.lastIndexValue;
  }

  /** Number of segment files in use. */
  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Buffers entries for the next sync(). If entries[0].index ≤ lastIndex, the entries from
   * there on are replaced (the conflicting suffix is truncated).
   */
  append(entries: readonly Entry[]): void {
    this.checkOpen();
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (this.lastIndexValue >= 0 && first > this.lastIndexValue + 1) {
      throw new CurveError(StatusCode.PARAM_ERROR, `append at ${first} leaves a gap after ${this.lastIndexValue}`);
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== first + i) throw new CurveError(StatusCode.PARAM_ERROR, `entries not contiguous at ${e.index}`);
      this.pending.push({ entry: e, size: entryRecordSize(e), index: e.index, last: e.index, isBase: false });
    }
    this.lastIndexValue = entries[entries.length - 1]!.index;
  }

  /** Buffers a hard state for the next sync(). */
  setHardState(hs: HardState): void {
    this.checkOpen();
    this.pending.push(record(encodeHardStateRecord(hs), { index: 0, hardState: { ...hs }, isBase: false }));
  }

  /** Buffers the removal of every entry at index ≥ from. */
  truncateSuffix(from: number): void {
    this.checkOpen();
    if (this.lastIndexValue >= 0 && from <= this.lastIndexValue) {
      this.pending.push(record(encodeTruncateRecord(from), { index: 0, last: from - 1, isBase: false }));
      this.lastIndexValue = from - 1;
    }
  }

  /** Buffers emptying the log: it continues after (index, term), e.g. after installing a snapshot. */
  resetTo(index: number, term: number): void {
    this.checkOpen();
    this.pending.push(record(encodeBaseRecord(index, term), { index: 0, last: index, isBase: true }));
    this.lastIndexValue = index;
  }

  /** True when records are buffered and not yet written. */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /**
   * Writes every buffered record, durably when `durable` (always, in 'dsync' mode): one write and
   * one sync however many records.
   * Calls are serialised; each resolves when its records (and all before) are written.
   * `mayInline` false: never on the main thread (a caller syncing several logs at once wants
   * their writes in parallel — and merged by the file system's journal — not one after another).
   */
  sync(durable = true, mayInline = true): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    return this.enqueue(() => this.writeBatch(batch, durable, mayInline));
  }

  /**
   * Deletes whole segments that hold only entries ≤ upto (the snapshot covers them). The
   * segment being written is never deleted. Returns the number of segments removed.
   */
  compactPrefix(upto: number): Promise<number> {
    return this.enqueueValue(async () => {
      let lastBase = -1;
      for (let i = 0; i < this.segments.length; i++) if (this.segments[i]!.hasBase) lastBase = i;
      let n = 0;
      while (n < this.segments.length - 1) {
        const s = this.segments[n]!;
        if (n < lastBase || s.maxIndex <= upto) n++;
        else break;
      }
      // Unlink from the lowest sequence up: a crash leaves a prefix gone, never a hole.
      for (let i = 0; i < n; i++) await this.fs.unlink(join(this.dir, this.segments[i]!.name));
      this.segments = this.segments.slice(n);
      return n;
    });
  }

  /** Waits for queued writes, then closes the files. Buffered, unsynced records are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain.catch(() => undefined);
    await this.fh?.close();
    this.fh = undefined;
    if (this.spare) {
      const tmp = await this.spare.catch(() => undefined);
      if (tmp) await this.fs.unlink(tmp).catch(() => undefined);
    }
  }

  private get current(): SegmentInfo {
    return this.segments[this.segments.length - 1]!;
  }

  private checkOpen(): void {
    if (this.closed) throw new CurveError(StatusCode.STORAGE_CLOSED, `raft log ${this.dir} is closed`);
    if (this.failed) throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `raft log ${this.dir} failed: ${this.failed.message}`);
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    return this.enqueueValue(job);
  }

  private enqueueValue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      this.checkOpen();
      return job();
    });
    // A failed write leaves the file in an unknown state: refuse everything after it.
    this.chain = run.then(
      () => undefined,
      (e: unknown) => {
        this.failed ??= e instanceof Error ? e : new Error(String(e));
      },
    );
    return run;
  }

  /**
   * True when a sync() now would write what is buffered on the calling thread (see
   * RaftLogOptions.inlineBytes): the caller's thread stands still for the disk, so whatever it
   * does "during" the write happens before or after it, and the caller picks which.
   */
  writesInline(mayInline = true): boolean {
    if (this.pending.length === 0 || this.fh?.writeSync === undefined) return false;
    const limit = this.inlineLimit(this.pending, mayInline);
    let bytes = 0;
    for (const r of this.pending) if ((bytes += r.size) > limit) return false;
    return true;
  }

  /** The most bytes of `batch` written on the calling thread: one entry at most, see inlineBytes. */
  private inlineLimit(batch: PendingRecord[], mayInline: boolean): number {
    if (!mayInline) return 0;
    let entries = 0;
    for (const r of batch) if (r.index > 0 && ++entries > 1) return 0;
    return this.inlineBytes;
  }

  private async writeBatch(batch: PendingRecord[], durable: boolean, mayInline: boolean): Promise<void> {
    const inlineBytes = this.inlineLimit(batch, mayInline);
    let i = 0;
    while (i < batch.length) {
      // The records that fit in the current segment (at least one when it holds none yet).
      let bytes = 0;
      let j = i;
      while (j < batch.length) {
        const size = batch[j]!.size;
        // A record too big for any segment still goes in, alone, into a fresh one.
        if (this.offset + bytes + size > this.segmentBytes && this.offset + bytes > this.segmentDataStart) break;
        bytes += size;
        j++;
      }
      if (j > i) {
        const buf = Buffer.allocUnsafe(bytes);
        const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
        let off = 0;
        for (let k = i; k < j; k++) {
          const r = batch[k]!;
          if (r.entry) writeEntryRecord(buf, view, off, r.entry);
          else buf.set(r.bytes!, off);
          off += r.size;
          if (r.index > 0) this.current.maxIndex = Math.max(this.current.maxIndex, r.index);
          if (r.isBase) this.current.hasBase = true;
          if (r.hardState) this.writtenHardState = r.hardState;
          if (r.last !== undefined) this.writtenLastIndex = r.last;
        }
        const fh = this.fh!;
        if (this.dsync) logSyncCounters.writes++;
        if (bytes <= inlineBytes && fh.writeSync) {
          logSyncCounters.inline++;
          writeFullySync(fh.writeSync.bind(fh), buf, this.offset);
        } else await writeFully(fh, buf, this.offset);
        this.offset += bytes;
        i = j;
      }
      if (i < batch.length) {
        // The old segment must be durable before the next one starts: replay stops at the
        // first segment's end, and a gap there would lose entries the new segment depends on.
        // (O_DSYNC: every write already was.)
        if (!this.dsync) await this.datasync();
        await this.rotate();
      }
    }
    // O_DSYNC writes are durable when they return, so even a sync(false) batch is.
    if (durable && batch.length > 0 && !this.dsync) await this.datasync();
  }

  private datasync(): Promise<void> {
    logSyncCounters.writes++;
    return this.fh!.datasync();
  }

  /** Opens a segment for appending; O_DSYNC in 'dsync' mode (see the header). */
  private openSegment(name: string): Promise<StorageFile> {
    return this.fs.open(join(this.dir, name), 'update', { dsync: this.dsync });
  }

  /** Switches to the next segment, which starts with the current hard state. */
  private async rotate(): Promise<void> {
    const seq = this.current.sequence + 1;
    await this.fh!.close();
    this.fh = undefined;
    await this.createSegment(seq);
    this.segments.push({ sequence: seq, name: segName(seq), maxIndex: 0, hasBase: false });
    this.fh = await this.openSegment(segName(seq));
    this.offset = SEGMENT_HEADER_BYTES;
    // The hard state and the log's end are restated so that compacting earlier segments never
    // loses them (the values in effect at this point of the write order, never newer ones).
    const parts = [encodeHardStateRecord(this.writtenHardState)];
    if (this.writtenLastIndex >= 0) parts.push(encodePositionRecord(this.writtenLastIndex));
    const head = Buffer.concat(parts);
    await writeFully(this.fh, head, this.offset);
    this.offset += head.length;
    this.segmentDataStart = this.offset;
  }

  /** Creates segment `seq` durably (via a preallocated temporary file) and prepares the next. */
  private async createSegment(seq: number): Promise<void> {
    const ready = this.spare;
    this.spare = undefined;
    let tmp = ready ? await ready.catch(() => undefined) : undefined;
    if (!tmp || !tmp.endsWith(`${segName(seq)}.tmp`)) {
      if (tmp) await this.fs.unlink(tmp).catch(() => undefined);
      tmp = await this.prepareSegment(seq);
    }
    await this.fs.rename(tmp, join(this.dir, segName(seq)));
    await this.fs.syncDir(this.dir);
    if (this.preallocate === 'zeros') {
      // Zero-filling 64 MiB takes tens of milliseconds: do the next one in the background.
      this.spare = this.prepareSegment(seq + 1);
      this.spare.catch(() => undefined);
    }
  }

  private async prepareSegment(seq: number): Promise<string> {
    const tmp = join(this.dir, `${segName(seq)}.tmp`);
    const fh = await this.fs.open(tmp, 'create');
    try {
      if (this.preallocate === 'zeros') {
        const zeros = new Uint8Array(Math.min(READ_CHUNK, this.segmentBytes));
        for (let off = 0; off < this.segmentBytes; off += zeros.length) {
          await writeFully(fh, zeros.subarray(0, Math.min(zeros.length, this.segmentBytes - off)), off);
        }
      } else {
        await fh.truncate(this.segmentBytes);
      }
      await writeFully(fh, encodeSegmentHeader(seq), 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  }
}

interface ScanResult {
  /** Offset just after the last good record. */
  end: number;
  records: number;
  cut?: { offset: number; reason: string; kind: DamageKind | 'header' };
}

/**
 * Reads a segment's records in order, handing each to `onRecord`, and stops at the end marker
 * or at the first record that is torn or corrupt (never reading past it).
 */
async function scanSegment(
  fs: RaftStorage,
  path: string,
  expectedSeq: number,
  onRecord: (r: import('./format.ts').DecodedRecord) => void,
): Promise<ScanResult> {
  const fh = await fs.open(path, 'read');
  try {
    const size = await fh.size();
    const head = new Uint8Array(SEGMENT_HEADER_BYTES);
    const bytesRead = await fh.read(head, 0, head.length, 0);
    const h = decodeSegmentHeader(head.subarray(0, bytesRead));
    if ('error' in h) return { end: 0, records: 0, cut: { offset: 0, reason: `segment header: ${h.error}`, kind: 'header' } };
    if (h.sequence !== expectedSeq) {
      return { end: 0, records: 0, cut: { offset: 0, reason: `segment header names sequence ${h.sequence}`, kind: 'header' } };
    }
    let buf = new Uint8Array(0);
    let bufStart = SEGMENT_HEADER_BYTES;
    let pos = SEGMENT_HEADER_BYTES;
    let records = 0;
    const fill = async (need: number): Promise<boolean> => {
      // Re-reads from pos a window of at least `need` bytes; false at end of file.
      if (bufStart + buf.length >= size) return false;
      const len = Math.min(Math.max(need, READ_CHUNK), size - pos);
      const next = new Uint8Array(len);
      const r = await fh.read(next, 0, len, pos);
      buf = next.subarray(0, r);
      bufStart = pos;
      return true;
    };
    for (;;) {
      if (pos >= size) return { end: pos, records };
      const p = parseRecord(buf.subarray(pos - bufStart));
      if (p.kind === 'short') {
        if (!(await fill(p.need)) || buf.length < p.need) {
          return { end: pos, records, cut: { offset: pos, reason: `record cut short: needs ${p.need} bytes, file ends at ${size}`, kind: 'short' } };
        }
        continue;
      }
      if (p.kind === 'bad') return { end: pos, records, cut: { offset: pos, reason: p.reason, kind: 'bad' } };
      if (p.kind === 'end') {
        // Bytes after the end marker mean a record whose first bytes were lost: cut them too.
        const probe = new Uint8Array(Math.min(TAIL_PROBE, size - pos));
        const r = await fh.read(probe, 0, probe.length, pos);
        const nz = probe.subarray(0, r).findIndex((x) => x !== 0);
        if (nz >= 0) return { end: pos, records, cut: { offset: pos, reason: `non-zero bytes ${nz} bytes after the end of the records`, kind: 'end' } };
        return { end: pos, records };
      }
      onRecord(p.record);
      records++;
      pos += p.size;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The last segment ended cleanly at `end` (zeros for TAIL_PROBE bytes after it), but a torn
 * final write whose first sectors were lost while later ones landed can leave bytes further on.
 * New records go at `end`; if such bytes stayed, this segment — once no longer the last — would
 * show data after its end marker and refuse to open. So they are cleared now: a sparse segment
 * whose allocated blocks reach past the probe is cut back to `end` and extended again (metadata
 * only); a zero-filled one is read through and, only if it holds any, zero-filled again.
 */
async function clearStaleTail(fs: RaftStorage, path: string, end: number, preallocate: 'zeros' | 'truncate'): Promise<void> {
  const fh = await fs.open(path, 'update');
  try {
    const st = { size: await fh.size() };
    const allocated = await fh.allocated();
    if (allocated <= end + TAIL_PROBE + 4096) return; // nothing can lie past the probe
    // Sparse, with blocks past the probe: only stale bytes can be there.
    let stale = allocated < st.size - TAIL_PROBE;
    if (!stale) {
      // Fully allocated (zero-filled): look.
      const buf = new Uint8Array(READ_CHUNK);
      for (let off = end + TAIL_PROBE; off < st.size && !stale; off += buf.length) {
        const bytesRead = await fh.read(buf, 0, Math.min(buf.length, st.size - off), off);
        stale = buf.subarray(0, bytesRead).some((x) => x !== 0);
      }
    }
    if (!stale) return;
    await fh.truncate(end);
    await fh.truncate(st.size);
    if (preallocate === 'zeros') {
      const zeros = new Uint8Array(READ_CHUNK);
      for (let off = end; off < st.size; off += zeros.length) await writeFully(fh, zeros.subarray(0, Math.min(zeros.length, st.size - off)), off);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes whatever of `path` is in the page cache durable. */
async function syncFile(fs: RaftStorage, path: string): Promise<void> {
  const fh = await fs.open(path, 'update');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** The bytes of `path` from `offset` to the end of the file (only read when a bad spot was found). */
async function readFrom(fs: RaftStorage, path: string, offset: number): Promise<Uint8Array> {
  const fh = await fs.open(path, 'read');
  try {
    const size = await fh.size();
    const b = new Uint8Array(Math.max(0, size - offset));
    let done = 0;
    while (done < b.length) {
      const bytesRead = await fh.read(b, done, b.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return b.subarray(0, done);
  } finally {
    await fh.close();
  }
}

/** Replaces everything from `offset` on with zeros (truncate, then extend sparsely), durably. */
async function zeroTail(fs: RaftStorage, path: string, offset: number, segmentBytes: number): Promise<void> {
  const fh = await fs.open(path, 'update');
  try {
    await fh.truncate(offset);
    await fh.truncate(Math.max(offset, segmentBytes));
    await fh.sync();
  } finally {
    await fh.close();
  }
}
