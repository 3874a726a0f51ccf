// The workload of `curvefs bench`: small-file metadata and data operations and one big file,
// one operation at a time so each latency is one round through the stack, on a `BenchFiles`:
// the ordinary file API on a directory (a curvefs mount, or tmpfs for the floor: synchronous
// calls, nothing between the timer and the system call) or the curvefs SDK (no kernel, no FUSE).
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';

/** What the workload needs of a file system; paths are absolute in it. */
export interface BenchFiles {
  mkdir(path: string): Promise<void>;
  rmTree(path: string): Promise<void>;
  /** Creates an empty file; fails if it exists. */
  create(path: string): Promise<void>;
  /** Opens (creating or truncating), writes `data` whole, closes. */
  writeWhole(path: string, data: Uint8Array): Promise<void>;
  stat(path: string): Promise<void>;
  /** Opens, reads `length` bytes from 0, closes; returns the bytes read. */
  readWhole(path: string, length: number): Promise<number>;
  unlink(path: string): Promise<void>;
  openWrite(path: string): Promise<{ write(data: Uint8Array, offset: number): Promise<void>; fsync(): Promise<void>; close(): Promise<void> }>;
  openRead(path: string): Promise<{ read(length: number, offset: number): Promise<number>; close(): Promise<void> }>;
}

/** A local directory (a mount, tmpfs) through synchronous system calls. */
export function localFiles(): BenchFiles {
  let buf = Buffer.alloc(0);
  const readAt = (fd: number, length: number, offset: number) => {
    if (buf.length < length) buf = Buffer.alloc(length);
    let got = 0;
    for (let r; got < length && (r = readSync(fd, buf, got, length - got, offset + got)) > 0; ) got += r;
    return got;
  };
  const writeAt = (fd: number, data: Uint8Array, offset: number) => {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off, offset + off);
  };
  return {
    mkdir: async (p) => void mkdirSync(p),
    rmTree: async (p) => rmSync(p, { recursive: true, force: true }),
    create: async (p) => closeSync(openSync(p, 'wx', 0o644)),
    writeWhole: async (p, data) => {
      const fd = openSync(p, 'w', 0o644);
      try {
        writeAt(fd, data, 0);
      } finally {
        closeSync(fd);
      }
    },
    stat: async (p) => void statSync(p),
    readWhole: async (p, length) => {
      const fd = openSync(p, 'r');
      try {
        return readAt(fd, length, 0);
      } finally {
        closeSync(fd);
      }
    },
    unlink: async (p) => unlinkSync(p),
    openWrite: async (p) => {
      const fd = openSync(p, 'wx', 0o644);
      return { write: async (data, offset) => writeAt(fd, data, offset), fsync: async () => fsyncSync(fd), close: async () => closeSync(fd) };
    },
    openRead: async (p) => {
      const fd = openSync(p, 'r');
      return { read: async (length, offset) => readAt(fd, length, offset), close: async () => closeSync(fd) };
    },
  };
}

export interface BenchParams {
  /** Small files per phase. */
  files: number;
  /** Bytes written to, then read from, each small file. */
  fileSize: number;
  /** Bytes of the big file, written then read in `blockSize` pieces. */
  bigFileSize: number;
  blockSize: number;
}

export interface PhaseResult {
  phase: string;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Data phases: MiB/s. */
  mibPerSec?: number;
}

export const PHASES = ['create', 'write', 'stat', 'read', 'unlink', 'big-write', 'big-read'] as const;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs `op(i)` for i in [0, n) one after another, timing each. */
async function phase(name: string, n: number, bytesPerOp: number, op: (i: number) => Promise<unknown>): Promise<PhaseResult> {
  const lat = new Float64Array(n);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await op(i);
    lat[i] = Number(process.hrtime.bigint() - t) / 1e6;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort();
  const r: PhaseResult = { phase: name, ops: n, seconds, opsPerSec: n / seconds, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) };
  if (bytesPerOp > 0) r.mibPerSec = (n * bytesPerOp) / 2 ** 20 / seconds;
  return r;
}

/**
 * Runs every phase in a new directory under `dir` and removes it afterwards (also on failure).
 * The data is random, so no layer can compress or deduplicate it.
 */
export async function runBench(files: BenchFiles, dir: string, p: BenchParams): Promise<PhaseResult[]> {
  const work = posix.join(dir, `.curvefs-bench-${process.pid}-${randomBytes(4).toString('hex')}`);
  await files.mkdir(work);
  try {
    const name = (i: number) => posix.join(work, `f${i}`);
    const small = randomBytes(p.fileSize);
    const block = randomBytes(p.blockSize);
    const out: PhaseResult[] = [];
    out.push(await phase('create', p.files, 0, (i) => files.create(name(i))));
    out.push(await phase('write', p.files, p.fileSize, (i) => files.writeWhole(name(i), small)));
    out.push(await phase('stat', p.files, 0, (i) => files.stat(name(i))));
    out.push(
      await phase('read', p.files, p.fileSize, async (i) => {
        const got = await files.readWhole(name(i), p.fileSize);
        if (got !== p.fileSize) throw new Error(`read ${got} of ${p.fileSize} bytes of ${name(i)}`);
      }),
    );
    out.push(await phase('unlink', p.files, 0, (i) => files.unlink(name(i))));
    const big = posix.join(work, 'big');
    const blocks = Math.max(1, Math.floor(p.bigFileSize / p.blockSize));
    const w = await files.openWrite(big);
    try {
      const written = await phase('big-write', blocks, p.blockSize, (i) => w.write(block, i * p.blockSize));
      // The data is written only once it is durable: the fsync counts in the phase's time.
      const t = process.hrtime.bigint();
      await w.fsync();
      written.seconds += Number(process.hrtime.bigint() - t) / 1e9;
      written.opsPerSec = written.ops / written.seconds;
      written.mibPerSec = (written.ops * p.blockSize) / 2 ** 20 / written.seconds;
      out.push(written);
    } finally {
      await w.close();
    }
    const r = await files.openRead(big);
    try {
      out.push(
        await phase('big-read', blocks, p.blockSize, async (i) => {
          const got = await r.read(p.blockSize, i * p.blockSize);
          if (got !== p.blockSize) throw new Error(`read ${got} of ${p.blockSize} bytes at ${i * p.blockSize} of the big file`);
        }),
      );
    } finally {
      await r.close();
    }
    return out;
  } finally {
    await files.rmTree(work);
  }
}
