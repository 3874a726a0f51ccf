// `curvefs bench DIR`: a quick benchmark a user runs against a mount (like `juicefs bench`), or
// with --sdk against a path of the fs through the SDK (no kernel, no FUSE) — create, write,
// stat, read and unlink of small files, then a big file written and read in blocks — printing
// ops/s and the p50/p99 latency of each phase. The same workload runs first on
// a tmpfs (the floor: what the kernel alone costs on this machine, now) and each figure is given
// as a ratio to it, since a lone number on a busy machine says little.
import type { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { intArg } from '../../common/index.ts';
import { CliError, EXIT, humanBytes, printJson, printTable } from '../output.ts';
import { withFs, type GlobalOptions } from '../context.ts';
import type { Fs } from '../../client/index.ts';
import { localFiles, runBench, type BenchFiles, type BenchParams, type PhaseResult } from './bench-run.ts';
import { parseSize } from './fs-admin.ts';

interface BenchFlags {
  files: number;
  fileSize: number;
  bigFileSize: number;
  blockSize: number;
  floor?: string | false;
  sdk?: boolean;
}

/** The fs through the SDK: each call is the SDK's own (open, write, close: a commit each). */
function sdkFiles(fs: Fs): BenchFiles {
  return {
    mkdir: (p) => fs.mkdir(p),
    rmTree: (p) => fs.rm(p, { recursive: true, force: true }),
    create: async (p) => (await fs.open(p, 'wx', 0o644)).close(),
    writeWhole: async (p, data) => {
      const fh = await fs.open(p, 'w', 0o644);
      try {
        await fh.write(0, data);
      } finally {
        await fh.close();
      }
    },
    stat: async (p) => void (await fs.stat(p)),
    readWhole: async (p, length) => {
      const fh = await fs.open(p, 'r');
      try {
        return (await fh.read(0, length)).length;
      } finally {
        await fh.close();
      }
    },
    unlink: (p) => fs.unlink(p),
    openWrite: async (p) => {
      const fh = await fs.open(p, 'wx', 0o644);
      return { write: async (data, offset) => void (await fh.write(offset, data)), fsync: () => fh.flush(), close: () => fh.close() };
    },
    openRead: async (p) => {
      const fh = await fs.open(p, 'r');
      return { read: async (length, offset) => (await fh.read(offset, length)).length, close: () => fh.close() };
    },
  };
}

/** A directory to benchmark: exists (exit 3 if not) and is a directory (exit 6). */
function directory(dir: string, what: string): string {
  const abs = resolve(dir);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`${what} ${abs} does not exist`, EXIT.NOT_FOUND, 'ENOENT');
    throw e;
  }
  if (!st.isDirectory()) throw new CliError(`${what} ${abs} is not a directory`, EXIT.INVALID, 'ENOTDIR');
  return abs;
}

/** Where the floor runs by default: /dev/shm when it is a tmpfs, else the temp dir when that is one. */
export function defaultFloor(mounts = readMounts()): string | undefined {
  for (const dir of ['/dev/shm', tmpdir()]) if (mounts.some((m) => m.dir === dir && m.type === 'tmpfs')) return dir;
  return undefined;
}

function readMounts(): Array<{ dir: string; type: string }> {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2)
      .map((f) => ({ dir: f[1]!.replace(/\\040/g, ' '), type: f[2]! }));
  } catch {
    return [];
  }
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits));

export async function bench(g: GlobalOptions, dirArg: string, o: BenchFlags): Promise<void> {
  if (!o.sdk) return benchOn(g, localFiles(), directory(dirArg, 'directory'), o);
  await withFs(g, async ({ fs }) => {
    const path = dirArg.startsWith('/') ? dirArg : `/${dirArg}`;
    if (!(await fs.stat(path)).isDirectory()) throw new CliError(`${path} in the fs is not a directory`, EXIT.INVALID, 'ENOTDIR');
    await benchOn(g, sdkFiles(fs), path, o, 'the SDK');
  });
}

async function benchOn(g: GlobalOptions, files: BenchFiles, dir: string, o: BenchFlags, via = 'system calls'): Promise<void> {
  const floorDir = o.floor === false ? undefined : o.floor !== undefined ? directory(o.floor, 'floor directory') : defaultFloor();
  const params: BenchParams = { files: o.files, fileSize: o.fileSize, bigFileSize: Math.max(o.bigFileSize, o.blockSize), blockSize: o.blockSize };
  const load = loadavg().map((x) => Number(x.toFixed(2)));
  if (!g.json) {
    process.stdout.write(
      `curvefs bench ${dir} through ${via}: ${params.files} files of ${humanBytes(params.fileSize)}, a ${humanBytes(params.bigFileSize)} file in ${humanBytes(params.blockSize)} blocks; ` +
        `floor: ${floorDir ?? 'none'}; load average ${load.join(' ')}\n`,
    );
  }
  // A short unmeasured round first, so the first measured run does not pay for a cold JIT.
  const local = localFiles();
  if (floorDir !== undefined) await runBench(local, floorDir, { ...params, files: Math.min(params.files, 50), bigFileSize: params.blockSize });
  else await runBench(files, dir, { ...params, files: Math.min(params.files, 50), bigFileSize: params.blockSize });
  // The floor first: the ratio then compares two runs a few seconds apart.
  const floor = floorDir !== undefined ? await runBench(local, floorDir, params) : undefined;
  const target = await runBench(files, dir, params);
  const ratio = (r: PhaseResult) => {
    const f = floor?.find((x) => x.phase === r.phase);
    return f ? r.opsPerSec / f.opsPerSec : undefined;
  };
  if (g.json) {
    printJson({
      dir,
      via: o.sdk ? 'sdk' : 'mount',
      params,
      loadAverage: load,
      phases: target.map((r) => ({ ...r, floorOpsPerSec: floor?.find((x) => x.phase === r.phase)?.opsPerSec, ratioToFloor: ratio(r) })),
      floor: floorDir,
    });
    return;
  }
  printTable(
    ['phase', 'ops', 'ops/s', 'p50 ms', 'p99 ms', 'MiB/s', 'floor ops/s', 'x floor'],
    target.map((r) => {
      const f = floor?.find((x) => x.phase === r.phase);
      const x = ratio(r);
      return [r.phase, r.ops, fmt(r.opsPerSec), fmt(r.p50Ms, 3), fmt(r.p99Ms, 3), fmt(r.mibPerSec, 1), fmt(f?.opsPerSec), x === undefined ? '-' : x.toPrecision(2)];
    }),
  );
  if (floor) process.stdout.write('x floor: ops/s here ÷ ops/s on the floor (1 = as fast as tmpfs on this machine now)\n');
}

export function registerBenchCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('bench')
    .description('quick benchmark of a directory (a mount): small-file create/write/stat/read/unlink and a big file, beside a tmpfs floor')
    .argument('<dir>', 'where to run (a directory of a curvefs mount; with --sdk a path in the fs); a work directory is made in it and removed')
    .option('--sdk', 'run through the SDK on the fs (--fs, default the cluster\'s) instead of a mounted directory')
    .option('--files <n>', 'small files', intArg('a file count', { min: 1 }), 1000)
    .option('--file-size <size>', 'bytes of each small file', parseSize, parseSize('4KiB'))
    .option('--big-file-size <size>', 'bytes of the big file', parseSize, parseSize('64MiB'))
    .option('--block-size <size>', 'write and read size of the big file', parseSize, parseSize('1MiB'))
    .option('--floor <dir>', 'where the floor runs (default: /dev/shm when it is a tmpfs)')
    .option('--no-floor', 'no floor run')
    .action(async (dir: string, o: BenchFlags) => {
      if (o.blockSize < 1) throw new CliError('--block-size must be at least 1 byte', EXIT.USAGE, 'usage');
      await bench(g(), dir, o);
    });
}
