// The file system as the Raft driver sees it: every byte the log, the hard state, the group's
// meta file and the snapshots put on disk goes through a RaftStorage. `nodeStorage` is the real
// one (node:fs, what production runs); the driver-level simulation (test/sim/driver-sim.ts)
// plugs in a simulated disk that loses or tears unsynced writes at a crash, fails writes with
// EIO/ENOSPC and flips bits at rest — so the production code is what the simulation tests.
//
// The interface is the small subset of POSIX the storage code needs, with the same meaning:
// a write is durable after datasync()/sync() of its file (or at once on a file opened `dsync`,
// O_DSYNC); a create, rename or unlink is durable after syncDir() of its directory. Errors
// carry the errno name in `code` ('ENOENT', 'EIO', 'ENOSPC' …) like node's.
import { constants, writeSync } from 'node:fs';
import { access, mkdir, open, readFile, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';

/** An open file. Positions are byte offsets; reads and writes may be short (callers loop). */
export interface StorageFile {
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  write(data: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * The same write on the calling thread. Only the real disk has it: RaftLog writes a lone small
   * entry this way (RaftLogOptions.inlineBytes); a storage without it is always written asynchronously.
   */
  writeSync?(data: Uint8Array, offset: number, length: number, position: number): number;
  /** Length of the file in bytes. */
  size(): Promise<number>;
  /** Bytes of disk actually allocated (st_blocks × 512): less than size() for a sparse file. */
  allocated(): Promise<number>;
  truncate(length: number): Promise<void>;
  /** Makes the file's data (and its size) durable. */
  datasync(): Promise<void>;
  /** Makes the file's data and metadata durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * 'read': an existing file, read only. 'update': an existing file, read and write ('r+').
 * 'create': created, or truncated to empty if it exists ('w').
 */
export type OpenMode = 'read' | 'update' | 'create';

export interface RaftStorage {
  /** `dsync`: every write returns only once its bytes are durable (O_DSYNC). */
  open(path: string, mode: OpenMode, opts?: { dsync?: boolean }): Promise<StorageFile>;
  /** Names in `dir` (unsorted). */
  readdir(dir: string): Promise<string[]>;
  /** Creates `dir` and its missing parents (mkdir -p). */
  mkdirp(dir: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Deletes a directory and everything in it (rm -rf); nothing if it does not exist. */
  removeTree(path: string): Promise<void>;
  /** The whole file; rejects with code 'ENOENT' when it does not exist. */
  readFile(path: string): Promise<Uint8Array>;
  /** Makes the directory's entries (creates, renames, unlinks) durable. */
  syncDir(dir: string): Promise<void>;
}

class NodeFile implements StorageFile {
  constructor(private readonly fh: FileHandle) {}
  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return (await this.fh.read(buf, offset, length, position)).bytesRead;
  }
  async write(data: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return (await this.fh.write(data, offset, length, position)).bytesWritten;
  }
  writeSync(data: Uint8Array, offset: number, length: number, position: number): number {
    return writeSync(this.fh.fd, data, offset, length, position);
  }
  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }
  async allocated(): Promise<number> {
    return (await this.fh.stat()).blocks * 512;
  }
  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }
  datasync(): Promise<void> {
    return this.fh.datasync();
  }
  sync(): Promise<void> {
    return this.fh.sync();
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

const OPEN_FLAGS: Record<OpenMode, number> = {
  read: constants.O_RDONLY,
  update: constants.O_RDWR,
  create: constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC,
};

/** The real disk, through node:fs. */
export const nodeStorage: RaftStorage = {
  async open(path, mode, opts) {
    return new NodeFile(await open(path, OPEN_FLAGS[mode] | (opts?.dsync ? constants.O_DSYNC : 0), 0o666));
  },
  readdir: (dir) => readdir(dir),
  async mkdirp(dir) {
    await mkdir(dir, { recursive: true });
  },
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  async exists(path) {
    try {
      await access(path);
      return true;
    } catch {
      return false;
    }
  },
  removeTree: (path) => rm(path, { recursive: true, force: true }),
  readFile: (path) => readFile(path),
  async syncDir(dir) {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
