// Durable Raft snapshots of one group: a directory holding the newest valid snapshot file.
//
// A snapshot is written (or received from the leader) under a temporary name, synced, checked,
// renamed to `<index>-<term>.snap` and the directory synced; only then are older snapshots
// deleted. At open the newest file that checks out is the snapshot; invalid ones are renamed
// to *.corrupt and reported, never loaded.
import { join } from 'node:path';
import { Crc64, CurveError, StatusCode, createLogger, type Logger } from '../../common/index.ts';
import type { SnapshotMeta } from '../core/types.ts';
import { setAside, writeFully } from '../durable-fs.ts';
import { nodeStorage, type RaftStorage, type StorageFile } from '../storage.ts';
import {
  TRAILER_BYTES,
  decodeSnapshotHeader,
  decodeTrailer,
  encodeSnapshotHeader,
  encodeTrailer,
  peekHeaderLength,
} from './format.ts';

/** Where a state machine streams its snapshot bytes. */
export interface SnapshotSink {
  write(chunk: Uint8Array): Promise<void>;
}

export interface SnapshotOpenReport {
  /** Files that failed their checks, renamed to *.corrupt. */
  corrupt: { file: string; reason: string }[];
  /** Older snapshots and leftover temporary files removed. */
  removed: string[];
}

const SNAP_NAME = /^(\d{20})-(\d{20})\.snap$/;
const WRITE_BUFFER = 1 << 20;
const READ_CHUNK = 1 << 20;

const snapName = (m: { index: number; term: number }): string =>
  `${String(m.index).padStart(20, '0')}-${String(m.term).padStart(20, '0')}.snap`;

export class SnapshotStore {
  private current: { meta: SnapshotMeta; file: string } | undefined;
  private tmpSeq = 0;
  private readonly log: Logger;

  private constructor(
    readonly dir: string,
    /** @internal */ readonly fs: RaftStorage,
    logger?: Logger,
  ) {
    this.log = logger ?? createLogger('raft/snapshot');
  }

  /** Opens the store in `dir`; files go through `storage` (the real disk by default). */
  static async open(dir: string, logger?: Logger, storage: RaftStorage = nodeStorage): Promise<{ store: SnapshotStore; report: SnapshotOpenReport }> {
    const fs = storage;
    await fs.mkdirp(dir);
    const store = new SnapshotStore(dir, fs, logger);
    const report: SnapshotOpenReport = { corrupt: [], removed: [] };
    const names = (await fs.readdir(dir)).sort().reverse();
    for (const n of names) {
      if (n.endsWith('.tmp')) {
        await fs.unlink(join(dir, n));
        report.removed.push(n);
        continue;
      }
      if (!SNAP_NAME.test(n)) continue;
      if (store.current) {
        await fs.unlink(join(dir, n));
        report.removed.push(n);
        continue;
      }
      const checked = await verifySnapshotFile(join(dir, n), fs);
      if ('error' in checked) {
        await setAside(fs, dir, n, '.corrupt');
        report.corrupt.push({ file: n, reason: checked.error });
        store.log.warn('snapshot file failed its checks; set aside', { dir, file: n, reason: checked.error });
        continue;
      }
      const m = SNAP_NAME.exec(n)!;
      if (Number(m[1]) !== checked.meta.index || Number(m[2]) !== checked.meta.term) {
        await setAside(fs, dir, n, '.corrupt');
        report.corrupt.push({ file: n, reason: 'file name does not match its header' });
        continue;
      }
      store.current = { meta: checked.meta, file: join(dir, n) };
    }
    if (report.removed.length > 0 || report.corrupt.length > 0) await fs.syncDir(dir);
    return { store, report };
  }

  /** Meta of the newest durable snapshot, if any. */
  get latest(): SnapshotMeta | undefined {
    return this.current?.meta;
  }

  /** Path of the newest durable snapshot file (for sending it to a follower as it is). */
  get latestFile(): string | undefined {
    return this.current?.file;
  }

  /** Starts writing a snapshot with `meta`; stream the state machine's bytes into it. */
  async createWriter(meta: SnapshotMeta): Promise<SnapshotWriter> {
    const tmp = join(this.dir, `${snapName(meta)}.${++this.tmpSeq}.tmp`);
    const fh = await this.fs.open(tmp, 'create');
    const w = new SnapshotWriter(this, meta, tmp, fh);
    await w.start();
    return w;
  }

  /** Starts receiving a snapshot file sent by the leader, byte for byte. */
  async createReceiver(): Promise<SnapshotReceiver> {
    const tmp = join(this.dir, `recv.${++this.tmpSeq}.tmp`);
    return new SnapshotReceiver(this, tmp, await this.fs.open(tmp, 'create'));
  }

  /**
   * The state-machine bytes of the current snapshot, in chunks. The data is checked against the
   * trailer's checksum as it streams: a mismatch throws at the end (open() already verified the
   * file, so this only catches corruption since).
   */
  async *readData(): AsyncGenerator<Uint8Array> {
    const cur = this.current;
    if (!cur) throw new CurveError(StatusCode.NOT_FOUND, `no snapshot in ${this.dir}`);
    yield* readDataOf(this.fs, cur.file);
  }

  /**
   * The whole current snapshot file in chunks, for sending to a follower. Reads through a handle
   * opened now, so a newer snapshot replacing this one does not cut the stream.
   */
  async openForSend(): Promise<{ meta: SnapshotMeta; size: number; chunks: AsyncGenerator<Uint8Array> }> {
    const cur = this.current;
    if (!cur) throw new CurveError(StatusCode.NOT_FOUND, `no snapshot in ${this.dir}`);
    const fh = await this.fs.open(cur.file, 'read');
    const size = await fh.size();
    return { meta: cur.meta, size, chunks: fileChunks(fh, 0, size, true) };
  }

  /** Makes a verified temporary file the current snapshot and deletes older ones. @internal */
  async install(tmp: string, meta: SnapshotMeta): Promise<void> {
    if (this.current && (meta.index < this.current.meta.index || (meta.index === this.current.meta.index && meta.term === this.current.meta.term))) {
      await this.fs.unlink(tmp);
      if (meta.index < this.current.meta.index) {
        throw new CurveError(StatusCode.STALE, `snapshot ${meta.index} is older than the current ${this.current.meta.index}`);
      }
      return;
    }
    const file = join(this.dir, snapName(meta));
    await this.fs.rename(tmp, file);
    await this.fs.syncDir(this.dir);
    const old = this.current;
    this.current = { meta, file };
    if (old && old.file !== file) await this.fs.unlink(old.file).catch(() => undefined);
  }
}

/** Streams one snapshot to a temporary file; commit() makes it the current snapshot. */
export class SnapshotWriter implements SnapshotSink {
  private readonly crc = new Crc64();
  private buf: Uint8Array[] = [];
  private bufBytes = 0;
  private offset = 0;
  private headerBytes = 0;
  private done = false;

  constructor(
    private readonly store: SnapshotStore,
    readonly meta: SnapshotMeta,
    private readonly tmp: string,
    private readonly fh: StorageFile,
  ) {}

  /** @internal */
  async start(): Promise<void> {
    const h = encodeSnapshotHeader(this.meta);
    this.headerBytes = h.length;
    await this.put(h);
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new CurveError(StatusCode.STORAGE_CLOSED, 'snapshot writer already finished');
    if (chunk.length === 0) return;
    // The caller may reuse its buffer once write() resolves; buffered chunks are copied.
    await this.put(this.bufBytes + chunk.length >= WRITE_BUFFER ? chunk : chunk.slice());
  }

  /** Writes the trailer, syncs, renames into place; older snapshots are deleted after. */
  async commit(): Promise<SnapshotMeta> {
    if (this.done) throw new CurveError(StatusCode.STORAGE_CLOSED, 'snapshot writer already finished');
    this.done = true;
    try {
      await this.flush();
      const dataLength = this.offset - this.headerBytes;
      // The checksum covers the trailer's magic and length too (everything before the field).
      this.crc.update(encodeTrailer(dataLength, 0n).subarray(0, TRAILER_BYTES - 8));
      const trailer = encodeTrailer(dataLength, this.crc.digest());
      await writeFully(this.fh, trailer, this.offset);
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
    await this.store.install(this.tmp, this.meta);
    return this.meta;
  }

  /** Drops the partial file. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => undefined);
    await this.store.fs.unlink(this.tmp).catch(() => undefined);
  }

  private async put(chunk: Uint8Array): Promise<void> {
    this.crc.update(chunk);
    this.buf.push(chunk);
    this.bufBytes += chunk.length;
    if (this.bufBytes >= WRITE_BUFFER) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.bufBytes === 0) return;
    const data = this.buf.length === 1 ? this.buf[0]! : Buffer.concat(this.buf, this.bufBytes);
    this.buf = [];
    const n = this.bufBytes;
    this.bufBytes = 0;
    await writeFully(this.fh, data, this.offset);
    this.offset += n;
  }
}

/**
 * Receives a snapshot file from the leader in order (each chunk at the offset where the last
 * ended), then checks it whole before it can be installed.
 */
export class SnapshotReceiver {
  private received = 0;
  private done = false;
  meta: SnapshotMeta | undefined;

  constructor(
    private readonly store: SnapshotStore,
    private readonly tmp: string,
    private readonly fh: StorageFile,
  ) {}

  get bytesReceived(): number {
    return this.received;
  }

  async write(offset: number, chunk: Uint8Array): Promise<void> {
    if (this.done) throw new CurveError(StatusCode.STORAGE_CLOSED, 'snapshot receiver already finished');
    if (offset !== this.received) {
      throw new CurveError(StatusCode.PARAM_ERROR, `snapshot chunk at ${offset}, expected ${this.received}`);
    }
    await writeFully(this.fh, chunk, offset);
    this.received += chunk.length;
  }

  /** Syncs and verifies the file; returns its meta. The file is not installed yet. */
  async finish(): Promise<SnapshotMeta> {
    if (this.done) throw new CurveError(StatusCode.STORAGE_CLOSED, 'snapshot receiver already finished');
    this.done = true;
    try {
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
    const checked = await verifySnapshotFile(this.tmp, this.store.fs);
    if ('error' in checked) {
      await this.store.fs.unlink(this.tmp).catch(() => undefined);
      throw new CurveError(StatusCode.PARSE_FROM_STRING_FAILED, `received snapshot: ${checked.error}`);
    }
    this.meta = checked.meta;
    return checked.meta;
  }

  /** Makes the received file the group's current snapshot (after finish()). */
  async install(): Promise<void> {
    if (!this.meta) throw new CurveError(StatusCode.PARAM_ERROR, 'snapshot not finished');
    await this.store.install(this.tmp, this.meta);
  }

  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.fh.close().catch(() => undefined);
    }
    await this.store.fs.unlink(this.tmp).catch(() => undefined);
  }
}

/** Reads the header and checks the whole file against its trailer. */
export async function verifySnapshotFile(
  path: string,
  fs: RaftStorage = nodeStorage,
): Promise<{ meta: SnapshotMeta; headerBytes: number; dataLength: number } | { error: string }> {
  const fh = await fs.open(path, 'read');
  try {
    const size = await fh.size();
    const first = new Uint8Array(Math.min(size, 4096));
    await fh.read(first, 0, first.length, 0);
    const len = peekHeaderLength(first);
    if (typeof len !== 'number') return len;
    if (size < len + TRAILER_BYTES) return { error: `file of ${size} bytes is shorter than header and trailer` };
    let head = first.subarray(0, Math.min(len, first.length));
    if (len > first.length) {
      head = new Uint8Array(len);
      await fh.read(head, 0, len, 0);
    }
    const meta = decodeSnapshotHeader(head);
    if ('error' in meta) return meta;
    const tb = new Uint8Array(TRAILER_BYTES);
    await fh.read(tb, 0, TRAILER_BYTES, size - TRAILER_BYTES);
    const trailer = decodeTrailer(tb);
    if ('error' in trailer) return trailer;
    if (trailer.dataLength !== size - len - TRAILER_BYTES) {
      return { error: `trailer says ${trailer.dataLength} data bytes, file holds ${size - len - TRAILER_BYTES}` };
    }
    const crc = new Crc64();
    for await (const c of fileChunks(fh, 0, size - 8, false)) crc.update(c);
    if (crc.digest() !== trailer.crc) return { error: 'checksum mismatch' };
    return { meta, headerBytes: len, dataLength: trailer.dataLength };
  } finally {
    await fh.close();
  }
}

async function* readDataOf(fs: RaftStorage, path: string): AsyncGenerator<Uint8Array> {
  const fh = await fs.open(path, 'read');
  try {
    const size = await fh.size();
    const first = new Uint8Array(Math.min(size, 16));
    await fh.read(first, 0, first.length, 0);
    const len = peekHeaderLength(first);
    if (typeof len !== 'number') throw new CurveError(StatusCode.PARSE_FROM_STRING_FAILED, `${path}: ${len.error}`);
    const crc = new Crc64();
    for await (const c of fileChunks(fh, 0, len, false)) crc.update(c);
    for await (const c of fileChunks(fh, len, size - TRAILER_BYTES, false)) {
      crc.update(c);
      yield c;
    }
    const tb = new Uint8Array(TRAILER_BYTES);
    await fh.read(tb, 0, TRAILER_BYTES, size - TRAILER_BYTES);
    const trailer = decodeTrailer(tb);
    crc.update(tb.subarray(0, TRAILER_BYTES - 8));
    if ('error' in trailer || crc.digest() !== trailer.crc) {
      throw new CurveError(StatusCode.PARSE_FROM_STRING_FAILED, `${path}: snapshot data checksum mismatch`);
    }
  } finally {
    await fh.close();
  }
}

/** Chunks of [from, to) of an open file; closes it at the end when `closeAtEnd`. */
async function* fileChunks(fh: StorageFile, from: number, to: number, closeAtEnd: boolean): AsyncGenerator<Uint8Array> {
  try {
    for (let off = from; off < to; ) {
      const n = Math.min(READ_CHUNK, to - off);
      const b = new Uint8Array(n);
      const bytesRead = await fh.read(b, 0, n, off);
      if (bytesRead === 0) throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `file shrank while reading at ${off}`);
      off += bytesRead;
      yield bytesRead === n ? b : b.subarray(0, bytesRead);
    }
  } finally {
    if (closeAtEnd) await fh.close();
  }
}
