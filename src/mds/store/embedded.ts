// The embedded store: a durable single-node key-value store in one directory, for running the
// MDS without etcd. State lives in memory; every committed transaction is appended to kv.log
// and fdatasynced before it is acknowledged (concurrent transactions share one sync: group
// commit). When the log grows past `compactBytes` the whole state is written to kv.snap
// (temp file, fsync, rename, fsync dir) and the log is truncated. Formats: embedded-codec.ts.
//
// Opening: the snapshot must be intact (magic, version, CRC-64) or the open fails. The log is
// replayed from the snapshot's revision; an incomplete last record (a write torn by a crash,
// which was never acknowledged) is cut off and reported in `openReport`; an invalid record
// followed by more data is corruption and fails the open.
import { open, rename, readFile, type FileHandle } from 'node:fs/promises';
import { mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CurveError, StatusCode, createLogger } from '../../common/index.ts';
import { LockFile } from './lock-file.ts';
import { MvccMap, Overlay } from './mvcc-map.ts';
import { decodeSnapshot, encodeRecord, encodeSnapshot, scanRecord } from './embedded-codec.ts';
import type { KvEntry, KvOp, KvStore, TxnRequest, TxnResult } from './types.ts';
import { validateTxn } from './validate.ts';

const log = createLogger('mds/store');

export const LOG_FILE = 'kv.log';
export const SNAP_FILE = 'kv.snap';
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
      const report: OpenReport = { snapshotRevision: 0, replayedRecords: 0, tornTailBytes: 0 };
      const snapBuf = await readFile(join(dir, SNAP_FILE)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (snapBuf) {
        try {
          const snap = decodeSnapshot(snapBuf);
          state.load(snap.revision, snap.entries.map((e) => ({ ...e })));
          report.snapshotRevision = snap.revision;
        } catch (e) {
          throw storageError(`${join(dir, SNAP_FILE)}: ${(e as Error).message}`);
        }
      }
      const logPath = join(dir, LOG_FILE);
      const logBuf = await readFile(logPath).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return new Uint8Array(0);
        throw e;
      });
      let offset = 0;
      while (offset < logBuf.length) {
        const scan = scanRecord(logBuf, offset);
        if (scan.kind === 'corrupt') throw storageError(`${logPath}: ${scan.reason}`);
        if (scan.kind === 'torn') {
          report.tornTailBytes = logBuf.length - offset;
          report.tornTailReason = scan.reason;
          break;
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
      // A log created by an older version (mode 0644) is tightened too.
      await fh.chmod(0o600);
      if (report.tornTailBytes > 0) {
        log.warn('cut a torn tail from the store log', { file: logPath, bytes: report.tornTailBytes, reason: report.tornTailReason });
        await fh.truncate(offset);
        await fh.sync();
      }
      fsyncDir(dir);
      const store = new EmbeddedStore(dir, fh, lock, opts.compactBytes ?? 8 << 20, report);
      store.state.load(state.revision, state.entries());
      store.logBytes = offset;
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
            await this.fh.write(buf);
            await this.fh.datasync();
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

  /** Writes the whole state to the snapshot file and empties the log. */
  async compact(): Promise<void> {
    const snapPath = join(this.dir, SNAP_FILE);
    const tmp = `${snapPath}.tmp`;
    const buf = encodeSnapshot({ revision: this.state.revision, entries: this.state.entries() });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.chmod(0o600); // a leftover temporary file keeps its old mode through 'w'
      await fh.write(buf);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, snapPath);
    fsyncDir(this.dir);
    // Records up to the snapshot's revision are skipped on replay, so a crash before this
    // truncate is harmless.
    await this.fh.truncate(0);
    await this.fh.sync();
    this.logBytes = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing) await this.flushing;
    this.closed = true;
    await this.fh.close();
    this.lock.release();
  }

  private checkOpen(): void {
    if (this.closed) throw new CurveError(StatusCode.STORAGE_CLOSED, `embedded store ${this.dir} is closed`);
  }
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
