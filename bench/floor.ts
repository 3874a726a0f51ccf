// The floor a commit is measured against, in the same run as the commit bench: what the disk and
// the loopback network cost by themselves on this machine at this moment.
//
//   disk: pwrite of `size` bytes at the end of what was written so far + fdatasync, into a
//         preallocated file (as a log segment is), in a loop. Three ways, to separate the disk
//         from Node's costs:
//           sync     writeSync + fdatasyncSync on the main thread: the kernel and the disk only
//           promise  FileHandle.write then FileHandle.datasync: two threadpool jobs with a hop
//                    through the main thread between them (what RaftLog did)
//           dsync    FileHandle.write on a file opened O_DSYNC: one threadpool job, the write
//                    returns once the data is durable (what RaftLog does now)
//   rpc:  a framed-RPC call with an empty body to a replica process and back (raw method Ping).
import { closeSync, constants, fdatasyncSync, openSync, writeSync, ftruncateSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface Percentiles {
  p50: number;
  p99: number;
  n: number;
}

export function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
  return { p50: at(50), p99: at(99), n: s.length };
}

const FILE_BYTES = 64 << 20;

/** Creates `path` preallocated like a log segment: sparse ('truncate') or written with zeros. */
function preallocate(path: string, how: 'truncate' | 'zeros'): number {
  const fd = openSync(path, 'w+');
  if (how === 'zeros') {
    const zeros = Buffer.alloc(1 << 20);
    for (let off = 0; off < FILE_BYTES; off += zeros.length) writeSync(fd, zeros, 0, zeros.length, off);
  } else {
    ftruncateSync(fd, FILE_BYTES);
  }
  fdatasyncSync(fd);
  return fd;
}

/** pwrite + fdatasync of `size` bytes, `n` times, by `way`; milliseconds per iteration. */
export async function diskFloor(
  dir: string,
  size: number,
  n: number,
  how: 'truncate' | 'zeros',
  way: 'sync' | 'promise' | 'dsync',
): Promise<Percentiles> {
  const path = join(dir, `floor-${size}-${way}.dat`);
  const fd = preallocate(path, how);
  const data = Buffer.alloc(size, 0x5a);
  const lat: number[] = [];
  try {
    if (way === 'sync') {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        writeSync(fd, data, 0, size, i * size);
        fdatasyncSync(fd);
        lat.push(performance.now() - t0);
      }
    } else if (way === 'promise') {
      const fh = await open(path, 'r+');
      try {
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await fh.write(data, 0, size, i * size);
          await fh.datasync();
          lat.push(performance.now() - t0);
        }
      } finally {
        await fh.close();
      }
    } else {
      const fh = await open(path, constants.O_RDWR | constants.O_DSYNC);
      try {
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await fh.write(data, 0, size, i * size);
          lat.push(performance.now() - t0);
        }
      } finally {
        await fh.close();
      }
    }
  } finally {
    closeSync(fd);
    await rm(path, { force: true });
  }
  return percentiles(lat);
}

/** Round trips of `call`, one at a time, after a warm-up; milliseconds each. */
export async function rpcFloor(call: () => Promise<unknown>, n: number): Promise<Percentiles> {
  for (let i = 0; i < 200; i++) await call();
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    lat.push(performance.now() - t0);
  }
  return percentiles(lat);
}

export const fmt = (p: Percentiles): string => `p50 ${p.p50.toFixed(3)} ms  p99 ${p.p99.toFixed(3)} ms`;

/**
 * The disk floor of a one-machine cluster: `writers` threads, each doing pwrite + fdatasync of
 * `size` bytes into its own preallocated file in a loop, all at once — as the three replicas of
 * a Raft group on one disk do for every commit. Milliseconds per write, over every writer's
 * writes (each writer `n` of them). Threads, not processes: each blocks in its own system call,
 * which is what three processes do too, and the file system sees three concurrent writers.
 */
export async function diskFloorConcurrent(dir: string, size: number, n: number, how: 'truncate' | 'zeros', writers: number): Promise<Percentiles> {
  const { Worker } = await import('node:worker_threads');
  const paths = Array.from({ length: writers }, (_, i) => join(dir, `floor-${size}-w${i}.dat`));
  const fds = paths.map((p) => preallocate(p, how));
  for (const fd of fds) closeSync(fd);
  // Each worker waits on a shared flag so that all start writing together.
  const go = new Int32Array(new SharedArrayBuffer(4));
  const src = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { openSync, writeSync, fdatasyncSync, closeSync } = require('node:fs');
    const { path, size, n, go } = workerData;
    const fd = openSync(path, 'r+');
    const data = Buffer.alloc(size, 0x5a);
    const lat = new Float64Array(n);
    parentPort.postMessage('ready');
    Atomics.wait(go, 0, 0);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      writeSync(fd, data, 0, size, i * size);
      fdatasyncSync(fd);
      lat[i] = performance.now() - t0;
    }
    closeSync(fd);
    parentPort.postMessage(lat);
  `;
  try {
    const results = paths.map((path) => {
      const w = new Worker(src, { eval: true, workerData: { path, size, n, go } });
      let onReady!: () => void;
      const ready = new Promise<void>((r) => (onReady = r));
      const done = new Promise<Float64Array>((resolve, reject) => {
        w.on('message', (m: unknown) => (m === 'ready' ? onReady() : resolve(m as Float64Array)));
        w.on('error', reject);
      });
      return { ready, done, w };
    });
    await Promise.all(results.map((r) => r.ready));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const lats = await Promise.all(results.map((r) => r.done));
    await Promise.all(results.map((r) => r.w.terminate()));
    return percentiles(lats.flatMap((l) => [...l]));
  } finally {
    await Promise.all(paths.map((p) => rm(p, { force: true })));
  }
}
