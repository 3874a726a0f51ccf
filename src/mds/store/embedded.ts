// The embedded store: a durable single-node key-value store in one directory, for running the
// MDS without etcd. State lives in memory; every committed transaction is appended to kv.log
// and to its copy kv.log.mirror, and both are fdatasynced before it is acknowledged (concurrent
// transactions share one sync: group commit). When the log grows past `compactBytes` the whole
// state is written to kv.snap and to kv.snap.mirror (each: temp file, fsync, rename, fsync dir)
// and both logs are truncated. Formats: embedded-codec.ts.
//
// Why two copies: the MDS's state (file systems, topology, id counters) has no other replica
// on one machine, so with one copy a single flipped byte stopped the MDS for good (issue [H]
// scenario 7). Every record and snapshot carries its own checksum, so at open each record is
// taken from whichever copy holds it intact and the damaged copy is rewritten (a compaction).
//
// Opening: the newest intact snapshot copy is loaded (a copy that fails its magic, version or
// CRC-64 is reported in `openReport.repaired`; both bad fails the open). The logs are replayed
// from the snapshot's revision, record by record from whichever copy is intact; an incomplete
// last record (a write torn by a crash, never acknowledged) is cut off and reported; a record
// damaged in both copies with more data after it is corruption and fails the open.
import { open, rename, readFile, type FileHandle } from 'node:fs/promises';
import { mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CurveError, StatusCode, createLogger } from '../../common/index.ts';
import { LockFile } from './lock-file.ts';
import { MvccMap, Overlay } from './mvcc-map.ts';
import { decodeSnapshot, encodeRecord, encodeSnapshot, scanRecord, type RecordScan, type Snapshot } from './embedded-codec.ts';
import type { KvEntry, KvOp, KvStore, TxnRequest, TxnResult } from './types.ts';
import { validateTxn } from './validate.ts';

const log = createLogger('mds/store');

export const LOG_FILE = 'kv.log';
export const SNAP_FILE = 'kv.snap';
export const LOG_MIRROR_FILE = 'kv.log.mirror';
export const SNAP_MIRROR_FILE = 'kv.snap.mirror';
export const LOCK_FILE = 'kv.lock';

export interface EmbeddedStoreOptions {
  /** Log size that triggers compaction into the snapshot (default 8 MiB). */
  compactBytes?: number;
}

export interface OpenReport {
  snapshotRevision: number;
  replayedRecords: number;
  /** Bytes cut from the end of the log (a torn last write), 0 when the log was clean. */
  tornTailBytes: number;
  tornTailReason?: string;
  /** Files found damaged and rewritten from the other copy. */
  repaired: string[];
}

interface Pending {
  req: TxnRequest;
  resolve: (r: TxnResult) => void;
  reject: (e: unknown) => void;
}

export class EmbeddedStore implements KvStore {
  readonly kind = 'embedded' as const;
  private readonly state = new MvccMap();
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private logBytes = 0;

  private constructor(
    readonly dir: string,
    private fh: FileHandle,
    private mirror: FileHandle,
    private readonly lock: LockFile,
    private readonly compactBytes: number,
    readonly openReport: OpenReport,
  ) {}

  static async open(dir: string, opts: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    // The store holds S3 credentials: owner only (the mode applies when the directory is new).
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lock = LockFile.acquire(join(dir, LOCK_FILE));
    try {
      const state = new MvccMap();
      const report: OpenReport = { snapshotRevision: 0, replayedRecords: 0, tornTailBytes: 0, repaired: [] };
      // A copy that is missing (a store from before the mirror, or a crash before the first
      // compaction renamed both) is rewritten, not reported.
      let rewrite = false;
      const snaps: { name: string; snap?: Snapshot; error?: string }[] = [];
      for (const name of [SNAP_FILE, SNAP_MIRROR_FILE]) {
        const buf = await readOptional(join(dir, name));
        if (!buf) continue;
        try {
          snaps.push({ name, snap: decodeSnapshot(buf) });
        } catch (e) {
          snaps.push({ name, error: `${join(dir, name)}: ${(e as Error).message}` });
        }
      }
      const good = snaps.filter((x) => x.snap).sort((a, b) => b.snap!.revision - a.snap!.revision);
      if (snaps.length > 0 && good.length === 0) {
        throw storageError(`both copies of the snapshot are damaged: ${snaps.map((x) => x.error).join('; ')}`);
      }
      for (const x of snaps) if (x.error) report.repaired.push(x.name);
      if (snaps.length === 1 || snaps.some((x) => x.error) || (good.length === 2 && good[0]!.snap!.revision !== good[1]!.snap!.revision)) rewrite = true;
      if (good.length > 0) {
        const snap = good[0]!.snap!;
        state.load(snap.revision, snap.entries.map((e) => ({ ...e })));
        report.snapshotRevision = snap.revision;
      }
      const logPath = join(dir, LOG_FILE);
      const primary = (await readOptional(logPath)) ?? new Uint8Array(0);
      const mirrorBuf = await readOptional(join(dir, LOG_MIRROR_FILE));
      if (!mirrorBuf && primary.length > 0) rewrite = true;
      const second = mirrorBuf ?? primary;
      let offset = 0;
      while (offset < Math.max(primary.length, second.length)) {
        const a = scanRecord(primary, offset);
        const b = scanRecord(second, offset);
        let scan: RecordScan;
        if (a.kind === 'record') {
          scan = a;
          if (b.kind !== 'record') {
            // A copy too short for the record is a torn write; one holding other bytes is damaged.
            if (second.length >= a.end && !report.repaired.includes(LOG_MIRROR_FILE)) report.repaired.push(LOG_MIRROR_FILE);
            rewrite = true;
          }
        } else if (b.kind === 'record') {
          scan = b;
          if (primary.length >= b.end && !report.repaired.includes(LOG_FILE)) report.repaired.push(LOG_FILE);
          rewrite = true;
        } else if (a.kind === 'torn' && b.kind === 'torn') {
          report.tornTailBytes = Math.max(primary.length, second.length) - offset;
          report.tornTailReason = a.reason;
          if (primary.length !== second.length) rewrite = true;
          break;
        } else {
          const why = a.kind === 'corrupt' ? a.reason : (b as { reason: string }).reason;
          throw storageError(`${logPath}: the record at offset ${offset} is damaged in both copies (${LOG_FILE}: ${a.reason}; ${LOG_MIRROR_FILE}: ${(b as { reason: string }).reason}): ${why}`);
        }
        const rec = scan.record;
        if (rec.revision > state.revision) {
          if (rec.revision !== state.revision + 1) {
            throw storageError(`${logPath}: revision gap at offset ${offset}: ${state.revision} then ${rec.revision}`);
          }
          state.apply(rec.ops, rec.revision);
          report.replayedRecords++;
        }
        offset = scan.end;
      }
      const fh = await open(logPath, 'a+', 0o600);
      const mirror = await open(join(dir, LOG_MIRROR_FILE), 'a+', 0o600);
      // A log created by an older version (mode 0644) is tightened too.
      await fh.chmod(0o600);
      await mirror.chmod(0o600);
      if (report.tornTailBytes > 0) {
        log.warn('cut a torn tail from the store log', { file: logPath, bytes: report.tornTailBytes, reason: report.tornTailReason });
      }
      if (!rewrite) {
        await fh.truncate(offset);
        await fh.sync();
        await mirror.truncate(offset);
        await mirror.sync();
      }
      fsyncDir(dir);
      const store = new EmbeddedStore(dir, fh, mirror, lock, opts.compactBytes ?? 8 << 20, report);
      store.state.load(state.revision, state.entries());
      store.logBytes = offset;
      if (rewrite) {
        if (report.repaired.length > 0) log.warn('repaired the store from its second copy', { dir, files: report.repaired });
        // Both snapshots from the state just loaded, both logs emptied: the copies agree again.
        await store.compact();
      }
      return store;
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.checkOpen();
    return this.state.get(key);
  }

  async list(prefix: string): Promise<KvEntry[]> {
    this.checkOpen();
    return this.state.list(prefix);
  }

  async revision(): Promise<number> {
    this.checkOpen();
    return this.state.revision;
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    this.checkOpen();
    validateTxn(req);
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      // Started from a microtask so that `flushing` is set before the loop can clear it.
      if (!this.flushing) this.flushing = Promise.resolve().then(() => this.flushLoop());
    });
  }

  /** Drains the queue: checks each transaction in order, writes all changes with one sync. */
  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const overlay = new Overlay(this.state);
        let rev = this.state.revision;
        const results: TxnResult[] = [];
        const records: Uint8Array[] = [];
        const applied: { ops: KvOp[]; revision: number }[] = [];
        for (const p of batch) {
          const fail = this.state.check(p.req, overlay.get);
          if (fail) {
            results.push({ ok: false, reason: fail });
            continue;
          }
          const changing = p.req.ops.filter((op) => op.type === 'put' || overlay.get(op.key) !== undefined);
          if (changing.length === 0) {
            results.push({ ok: true, revision: rev });
            continue;
          }
          rev += 1;
          overlay.apply(changing, rev);
          records.push(encodeRecord({ revision: rev, ops: changing }));
          applied.push({ ops: changing, revision: rev });
          results.push({ ok: true, revision: rev });
        }
        try {
          if (records.length > 0) {
            const buf = Buffer.concat(records);
            await Promise.all([this.fh.write(buf), this.mirror.write(buf)]);
            await Promise.all([this.fh.datasync(), this.mirror.datasync()]);
            this.logBytes += buf.length;
          }
        } catch (e) {
          // Nothing of this batch is acknowledged; the state in memory is unchanged. The log may
          // hold some of it, which a restart will replay — the caller sees an error, as with etcd.
          const err = storageError(`write to ${join(this.dir, LOG_FILE)} failed: ${(e as Error).message}`);
          for (const p of batch) p.reject(err);
          this.closed = true;
          return;
        }
        for (const a of applied) this.state.apply(a.ops, a.revision);
        batch.forEach((p, i) => p.resolve(results[i]!));
        if (this.logBytes >= this.compactBytes) await this.compact();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Writes the whole state to both snapshot copies and empties both logs. */
  async compact(): Promise<void> {
    const buf = encodeSnapshot({ revision: this.state.revision, entries: this.state.entries() });
    // One copy after the other: a crash between them leaves one new and one old snapshot, and
    // the logs (still whole) cover the difference.
    for (const name of [SNAP_FILE, SNAP_MIRROR_FILE]) {
      const path = join(this.dir, name);
      const tmp = `${path}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.chmod(0o600); // a leftover temporary file keeps its old mode through 'w'
        await fh.write(buf);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      fsyncDir(this.dir);
    }
    // Records up to the snapshot's revision are skipped on replay, so a crash before this
    // truncate is harmless.
    for (const fh of [this.fh, this.mirror]) {
      await fh.truncate(0);
      await fh.sync();
    }
    this.logBytes = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing) await this.flushing;
    this.closed = true;
    await this.fh.close();
    await this.mirror.close();
    this.lock.release();
  }

  private checkOpen(): void {
    if (this.closed) throw new CurveError(StatusCode.STORAGE_CLOSED, `embedded store ${this.dir} is closed`);
  }
}

async function readOptional(path: string): Promise<Uint8Array | undefined> {
  return readFile(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
}

function storageError(msg: string): CurveError {
  return new CurveError(StatusCode.MDS_STORAGE_ERROR, msg);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
