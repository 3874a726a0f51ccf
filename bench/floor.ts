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
