// A block store in a local directory: the default for one-machine clusters.
//
//   <dir>/STORE             marker: magic "CFSBSTOR", version, CRC-32C
//   <dir>/objects/<key>~    one file per object (block-file.ts format); the key's '/' become
//                           directories, so the key layout (object-key.ts) provides the fan-out
//   <dir>/tmp/              objects being written: <pid>.<instance>.<seq>
//
// A put writes a temp file, renames it over the target, then syncs the file's data and every
// directory that gained an entry (the target's, and the parents of directories it created) all
// at once, and answers only when all are on disk. A writer killed at any point leaves the object
// complete or absent (the rename follows the last write; the page cache outlives the process).
// Syncing after the rename rather than before it lets the data and the directories go to disk
// together (one journal commit on ext4 or XFS, where serial syncs were one each, four for the
// first object of a new file): a power loss before the answer may leave a renamed object with
// bytes missing, but such an object was never acknowledged, so no inode refers to it (the
// commit that records an object follows its put) — its checksums (block-file.ts) reject it if
// read, and gc/fsck remove it as unreferenced. The '~' suffix (not a key character) keeps a key
// "a" and a key "a/b" from colliding as file and directory.
import { mkdir, open, readdir, rename, rmdir, stat, unlink, writeFile, readFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CurveError, StatusCode, crc32c, processAlive } from '../common/index.ts';
import {
  checkKey, checkPrefix, checkRange, closedError,
  type BlockEntry, type BlockInfo, type BlockStore,
} from './block-store.ts';
import {
  BLOCK_FILE_FIXED_HEADER, BLOCK_FILE_SEGMENT, encodeBlockHeader, parseBlockHeader, parseFixedHeader,
  segmentSpan, verifySegments, type BlockFileHeader,
} from './block-file.ts';

const STORE_MAGIC = Buffer.from('CFSBSTOR', 'latin1');
const STORE_VERSION = 1;
const OBJECT_SUFFIX = '~';
/** First read of an object: covers the header of objects up to ~63 MiB and small objects whole. */
const FIRST_READ = 4096;
const DELETE_CONCURRENCY = 32;

export interface LocalBlockStoreOptions {
  /** fsync files and directories on put (default true). Off only for throwaway data. */
  fsync?: boolean;
}

export class LocalBlockStore implements BlockStore {
  private closed = false;
  private seq = 0;
  private readonly instance = randomBytes(4).toString('hex');
  private readonly objectsDir: string;
  private readonly tmpDir: string;
  private readonly fsync: boolean;
  private readonly dirSyncs = new Map<string, { running: Promise<void>; next: Promise<void> | undefined }>();
  /**
   * fsyncs made by puts (files' data, directories) and the waits for them in series (one per put):
   * for benchmarks and tests.
   */
  readonly syncs = { data: 0, dirs: 0, serial: 0 };

  private constructor(readonly dir: string, opts: LocalBlockStoreOptions) {
    this.objectsDir = join(dir, 'objects');
    this.tmpDir = join(dir, 'tmp');
    this.fsync = opts.fsync ?? true;
  }

  /** Opens (creating if needed) the store in `dir` and removes temp files of dead writers. */
  static async open(dir: string, opts: LocalBlockStoreOptions = {}): Promise<LocalBlockStore> {
    const store = new LocalBlockStore(dir, opts);
    await mkdir(store.objectsDir, { recursive: true });
    await mkdir(store.tmpDir, { recursive: true });
    await store.checkMarker();
    await store.removeDeadTemps();
    return store;
  }

  private async checkMarker(): Promise<void> {
    const path = join(this.dir, 'STORE');
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const marker = Buffer.alloc(16);
      STORE_MAGIC.copy(marker, 0);
      marker.writeUInt32LE(STORE_VERSION, 8);
      marker.writeUInt32LE(crc32c(marker.subarray(0, 12)), 12);
      const tmp = join(this.tmpDir, this.tempName());
      await writeFile(tmp, marker, { flush: true });
      await rename(tmp, path);
      await this.syncDir(this.dir);
      return;
    }
    if (bytes.length !== 16 || !bytes.subarray(0, 8).equals(STORE_MAGIC) || bytes.readUInt32LE(12) !== crc32c(bytes.subarray(0, 12))) {
      throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${path} is not a valid block store marker`);
    }
    const version = bytes.readUInt32LE(8);
    if (version !== STORE_VERSION) {
      throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${path}: unsupported block store version ${version}`);
    }
  }

  /** Temp files of processes that no longer run are leftovers of crashed puts. */
  private async removeDeadTemps(): Promise<void> {
    for (const name of await readdir(this.tmpDir)) {
      const pid = Number(name.split('.')[0]);
      if (!Number.isSafeInteger(pid) || pid === process.pid || processAlive(pid)) continue;
      await unlink(join(this.tmpDir, name)).catch(() => undefined);
    }
  }

  private tempName(): string {
    return `${process.pid}.${this.instance}.${this.seq++}`;
  }

  private pathOf(key: string): string {
    return join(this.objectsDir, ...key.split('/')) + OBJECT_SUFFIX;
  }

  private ensureOpen(): void {
    if (this.closed) throw closedError();
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.ensureOpen();
    checkKey(key);
    const header = encodeBlockHeader(bytes);
    const tmp = join(this.tmpDir, this.tempName());
    const fh = await open(tmp, 'wx');
    let renamed = false;
    try {
      await writeFully(fh, [header, bytes]);
      const dirs = await this.moveIntoPlace(tmp, this.pathOf(key));
      renamed = true;
      // The data and the new entries at once (see the top of the file for why this is safe).
      if (this.fsync) {
        this.syncs.data++;
        this.syncs.serial++;
        await Promise.all([fh.datasync(), ...dirs.map((d) => this.syncDir(d))]);
      }
    } catch (e) {
      if (!renamed) await unlink(tmp).catch(() => undefined);
      throw e;
    } finally {
      await fh.close();
    }
  }

  /**
   * Renames the finished temp file to `target`, creating directories as needed; answers the
   * directories that gained an entry: the target's, and the parent of each one created.
   */
  private async moveIntoPlace(tmp: string, target: string): Promise<string[]> {
    const dir = dirname(target);
    // A concurrent delete may remove an empty directory between our mkdir and rename; retry.
    for (let attempt = 0; ; attempt++) {
      const created = await mkdir(dir, { recursive: true });
      try {
        await rename(tmp, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 10) continue;
        throw e;
      }
      const dirs = [dir];
      if (created !== undefined) for (let d = dir; d !== dirname(created); d = dirname(d)) dirs.push(dirname(d));
      return dirs;
    }
  }

  /**
   * fsync of a directory, shared by concurrent callers (group commit): a caller joins the next
   * sync that starts after its call, never one already running (which may predate its rename).
   */
  private syncDir(dir: string): Promise<void> {
    const state = this.dirSyncs.get(dir);
    if (state?.next) return state.next;
    const start = (): Promise<void> => {
      const cur = this.dirSyncs.get(dir)!;
      cur.next = undefined;
      this.syncs.dirs++;
      cur.running = fsyncDir(dir).finally(() => {
        if (this.dirSyncs.get(dir) === cur && cur.next === undefined) this.dirSyncs.delete(dir);
      });
      return cur.running;
    };
    if (!state) {
      this.dirSyncs.set(dir, { running: Promise.resolve(), next: undefined });
      return start();
    }
    state.next = state.running.catch(() => undefined).then(start);
    return state.next;
  }

  async get(key: string, offset?: number, length?: number): Promise<Uint8Array> {
    this.ensureOpen();
    checkKey(key);
    checkRange(offset, length);
    const fh = await this.openObject(key);
    try {
      const { header, first } = await readHeader(fh, key);
      const off = offset ?? 0;
      if (off > header.dataLength) {
        throw new CurveError(StatusCode.PARAM_ERROR, `offset ${off} beyond object ${key} of ${header.dataLength} bytes`);
      }
      const end = length === undefined ? header.dataLength : Math.min(header.dataLength, off + length);
      if (end === off) return new Uint8Array(0);
      const span = segmentSpan(header, off, end);
      let bytes: Buffer;
      if (span.fileEnd <= first.length) {
        bytes = first.subarray(span.fileStart, span.fileEnd);
      } else {
        bytes = Buffer.allocUnsafe(span.fileEnd - span.fileStart);
        const n = await readFully(fh, bytes, span.fileStart);
        if (n !== bytes.length) {
          throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `corrupt block file ${key}: truncated data`);
        }
      }
      verifySegments(header, span.first, bytes, key);
      const skip = off - span.first * header.segmentSize;
      return bytes.subarray(skip, skip + (end - off));
    } finally {
      await fh.close();
    }
  }

  private async openObject(key: string): Promise<FileHandle> {
    try {
      return await open(this.pathOf(key), 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new CurveError(StatusCode.NOT_FOUND, `no block ${key}`);
      throw e;
    }
  }

  async head(key: string): Promise<BlockInfo | undefined> {
    this.ensureOpen();
    checkKey(key);
    let fh: FileHandle;
    try {
      fh = await this.openObject(key);
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
      throw e;
    }
    try {
      const { header } = await readHeader(fh, key);
      return { size: header.dataLength };
    } finally {
      await fh.close();
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.ensureOpen();
    for (const key of keys) checkKey(key);
    for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
      await Promise.all(keys.slice(i, i + DELETE_CONCURRENCY).map((k) => this.deleteOne(k)));
    }
  }

  private async deleteOne(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw e;
    }
    // Remove directories left empty so deleted inodes do not leave a skeleton behind.
    for (let d = dirname(path); d !== this.objectsDir && d.startsWith(this.objectsDir + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
    }
  }

  async *list(prefix: string): AsyncIterable<BlockEntry> {
    this.ensureOpen();
    checkPrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, cut + 1); // '' or 'a/b/'
    const namePrefix = prefix.slice(cut + 1);
    const start = dirKey === '' ? this.objectsDir : join(this.objectsDir, ...dirKey.slice(0, -1).split('/'));
    yield* this.walk(start, namePrefix);
  }

  /** Depth-first in key order: a directory "a" sorts as "a/", a file "a~" as key "a". */
  private async *walk(dir: string, namePrefix: string): AsyncGenerator<BlockEntry> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw e;
    }
    const items: { sortKey: string; name: string; isDir: boolean }[] = [];
    for (const ent of entries) {
      if (ent.isDirectory()) items.push({ sortKey: ent.name + '/', name: ent.name, isDir: true });
      else if (ent.name.endsWith(OBJECT_SUFFIX)) items.push({ sortKey: ent.name.slice(0, -1), name: ent.name, isDir: false });
    }
    items.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const item of items) {
      if (!item.sortKey.startsWith(namePrefix)) continue;
      const path = join(dir, item.name);
      if (item.isDir) {
        yield* this.walk(path, '');
        continue;
      }
      let size: number;
      let mtimeMs: number;
      try {
        ({ size, mtimeMs } = await this.sizeOf(path));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted while listing
        throw e;
      }
      const key = relative(this.objectsDir, path).split(sep).join('/').slice(0, -OBJECT_SUFFIX.length);
      yield { key, size, mtimeMs };
    }
  }

  /** Data size from the file size (the header length is a function of it), else from the header. */
  private async sizeOf(path: string): Promise<{ size: number; mtimeMs: number }> {
    const st = await stat(path);
    const fileSize = st.size;
    const mtimeMs = st.mtimeMs;
    const t = fileSize - BLOCK_FILE_FIXED_HEADER;
    const seg = BLOCK_FILE_SEGMENT;
    for (let n = Math.max(0, Math.ceil(t / (seg + 4)) - 1); n <= Math.ceil(t / (seg + 4)) + 1; n++) {
      const len = t - 4 * n;
      if (len >= 0 && Math.ceil(len / seg) === n) return { size: len, mtimeMs };
    }
    const fh = await open(path, 'r');
    try {
      return { size: (await readHeader(fh, path)).header.dataLength, mtimeMs };
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

async function readHeader(fh: FileHandle, what: string): Promise<{ header: BlockFileHeader; first: Buffer }> {
  let first = Buffer.allocUnsafe(FIRST_READ);
  first = first.subarray(0, await readFully(fh, first, 0));
  const fixed = parseFixedHeader(first, what);
  const headerLength = BLOCK_FILE_FIXED_HEADER + 4 * fixed.segments;
  if (first.length < headerLength) {
    const whole = Buffer.allocUnsafe(headerLength);
    const n = await readFully(fh, whole, 0);
    return { header: parseBlockHeader(whole.subarray(0, n), what), first: whole.subarray(0, n) };
  }
  return { header: parseBlockHeader(first, what), first };
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

async function writeFully(fh: FileHandle, parts: Uint8Array[]): Promise<void> {
  let pending = parts.filter((p) => p.length > 0);
  let position = 0;
  while (pending.length > 0) {
    const { bytesWritten } = await fh.writev(pending, position);
    position += bytesWritten;
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const p of pending) {
      if (skip >= p.length) {
        skip -= p.length;
        continue;
      }
      rest.push(skip > 0 ? p.subarray(skip) : p);
      skip = 0;
    }
    pending = rest;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

