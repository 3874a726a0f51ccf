// The workload of `curvefs bench`: small-file metadata and data operations and one big file,
// through the ordinary file API on a directory (a curvefs mount, or any file system for the
// floor), one operation at a time so each latency is one round through the kernel and the mount.
// Synchronous calls: a benchmark wants nothing between the timer and the system call.
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

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
function phase(name: string, n: number, bytesPerOp: number, op: (i: number) => void): PhaseResult {
  const lat = new Float64Array(n);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    op(i);
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
 * The small files' data is random, so no layer can compress or deduplicate it.
 */
export function runBench(dir: string, p: BenchParams): PhaseResult[] {
  const work = join(dir, `.curvefs-bench-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(work);
  try {
    const name = (i: number) => join(work, `f${i}`);
    const small = randomBytes(p.fileSize);
    const block = randomBytes(p.blockSize);
    const readBuf = Buffer.alloc(Math.max(p.fileSize, p.blockSize));
    const out: PhaseResult[] = [];
    out.push(phase('create', p.files, 0, (i) => closeSync(openSync(name(i), 'wx', 0o644))));
    out.push(
      phase('write', p.files, p.fileSize, (i) => {
        const fd = openSync(name(i), 'w');
        try {
          for (let off = 0; off < small.length; ) off += writeSync(fd, small, off, small.length - off, off);
        } finally {
          closeSync(fd);
        }
      }),
    );
    out.push(phase('stat', p.files, 0, (i) => statSync(name(i))));
    out.push(
      phase('read', p.files, p.fileSize, (i) => {
        const fd = openSync(name(i), 'r');
        try {
          let got = 0;
          for (let r; got < p.fileSize && (r = readSync(fd, readBuf, got, p.fileSize - got, got)) > 0; ) got += r;
          if (got !== p.fileSize) throw new Error(`read ${got} of ${p.fileSize} bytes of ${name(i)}`);
        } finally {
          closeSync(fd);
        }
      }),
    );
    out.push(phase('unlink', p.files, 0, (i) => unlinkSync(name(i))));
    const big = join(work, 'big');
    const blocks = Math.max(1, Math.floor(p.bigFileSize / p.blockSize));
    let fd = openSync(big, 'wx', 0o644);
    try {
      const w = phase('big-write', blocks, p.blockSize, (i) => {
        for (let off = 0; off < block.length; ) off += writeSync(fd, block, off, block.length - off, i * p.blockSize + off);
      });
      // The data is written only once it is durable: the fsync counts in the phase's time.
      const t = process.hrtime.bigint();
      fsyncSync(fd);
      w.seconds += Number(process.hrtime.bigint() - t) / 1e9;
      w.opsPerSec = w.ops / w.seconds;
      w.mibPerSec = (w.ops * p.blockSize) / 2 ** 20 / w.seconds;
      out.push(w);
    } finally {
      closeSync(fd);
    }
    fd = openSync(big, 'r');
    try {
      out.push(
        phase('big-read', blocks, p.blockSize, (i) => {
          let got = 0;
          for (let r; got < p.blockSize && (r = readSync(fd, readBuf, got, p.blockSize - got, i * p.blockSize + got)) > 0; ) got += r;
          if (got !== p.blockSize) throw new Error(`read ${got} of ${p.blockSize} bytes at ${i * p.blockSize} of the big file`);
        }),
      );
    } finally {
      closeSync(fd);
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
