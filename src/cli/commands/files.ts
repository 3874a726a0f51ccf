// File commands that work through the SDK, no mount needed:
// ls stat mkdir put get cat rm mv ln tree du.
import * as local from 'node:fs/promises';
import { once } from 'node:events';
import { join, basename } from 'node:path';
import type { Command } from 'commander';
import type { FileHandle, Fs, Stat } from '../../client/index.ts';
import { intArg, parseOctalMode } from '../../common/index.ts';
import { humanBytes, printJson, printTable, Progress } from '../output.ts';
import { withFs, type GlobalOptions } from '../context.ts';

type Globals = () => GlobalOptions;

function typeChar(s: Stat): string {
  return s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : s.isFile() ? '-' : s.isFIFO() ? 'p' : s.isSocket() ? 's' : s.isCharacterDevice() ? 'c' : 'b';
}

function modeString(s: Stat): string {
  const bits = 'rwxrwxrwx';
  let out = typeChar(s);
  for (let i = 0; i < 9; i++) out += s.mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

function statJson(path: string, s: Stat) {
  return {
    path, ino: s.ino, type: typeChar(s), mode: (s.mode & 0o7777).toString(8), nlink: s.nlink, uid: s.uid, gid: s.gid,
    size: s.size, atime: new Date(s.atimeMs).toISOString(), mtime: new Date(s.mtimeMs).toISOString(),
    ctime: new Date(s.ctimeMs).toISOString(), ...(s.isSymbolicLink() ? { target: s.symlink } : {}),
  };
}

function join2(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir.replace(/\/+$/, '')}/${name}`;
}

/** Copies a local file or tree into the fs; returns bytes copied. */
async function putTree(fs: Fs, src: string, dst: string, progress: Progress, done: { bytes: number }): Promise<void> {
  const st = await local.lstat(src);
  if (st.isDirectory()) {
    await fs.mkdir(dst, { recursive: true, mode: st.mode & 0o7777 });
    for (const name of (await local.readdir(src)).sort()) await putTree(fs, join(src, name), join2(dst, name), progress, done);
  } else if (st.isSymbolicLink()) {
    await fs.symlink(await local.readlink(src), dst);
  } else if (st.isFile()) {
    const fh = await fs.open(dst, 'w', st.mode & 0o7777);
    const inp = await local.open(src, 'r');
    try {
      // One reused read buffer: the SDK copies what it is given into its own write buffers.
      const buf = Buffer.allocUnsafe(READ_STEP);
      for (let offset = 0; ; ) {
        const { bytesRead } = await inp.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        await fh.write(offset, buf.subarray(0, bytesRead));
        offset += bytesRead;
        done.bytes += bytesRead;
        progress.update(done.bytes, humanBytes(done.bytes));
      }
    } finally {
      await inp.close();
      await fh.close();
    }
  }
}

async function getTree(fs: Fs, src: string, dst: string, progress: Progress, done: { bytes: number }): Promise<void> {
  const st = await fs.lstat(src);
  if (st.isDirectory()) {
    await local.mkdir(dst, { recursive: true, mode: st.mode & 0o7777 });
    for (const name of (await fs.readdir(src)).sort()) await getTree(fs, join2(src, name), join(dst, name), progress, done);
  } else if (st.isSymbolicLink()) {
    await local.symlink(st.symlink, dst);
  } else if (st.isFile()) {
    const out = await local.open(dst, 'w', st.mode & 0o7777);
    const fh = await fs.open(src, 'r');
    try {
      await copyOut(fh, fh.size, async (buf, off) => {
        await out.write(buf, 0, buf.length, off);
        done.bytes += buf.length;
        progress.update(done.bytes, humanBytes(done.bytes));
      });
    } finally {
      await fh.close();
      await out.close();
    }
  }
}

/** Bytes per read of `get` and `cat`, and reads kept in flight (bounded memory: their product). */
const READ_STEP = 4 * 1024 * 1024;
const READS_IN_FLIGHT = 4;

/**
 * Reads a file front to back with a few reads in flight (the next blocks are fetched while one
 * is written out) and hands each piece to `sink` in order.
 */
async function copyOut(fh: FileHandle, size: number, sink: (buf: Uint8Array, offset: number) => Promise<void>): Promise<void> {
  const reads: Array<Promise<Uint8Array>> = [];
  let next = 0;
  const issue = () => {
    for (; reads.length < READS_IN_FLIGHT && next < size; next += READ_STEP) reads.push(fh.read(next, READ_STEP));
  };
  try {
    for (let off = 0; off < size; ) {
      issue();
      const buf = await reads.shift()!;
      if (buf.length === 0) break;
      issue();
      await sink(buf, off);
      off += buf.length;
    }
  } finally {
    // Reads still in flight after a failure must not become unhandled rejections.
    for (const r of reads) r.catch(() => undefined);
  }
}

async function localSize(p: string): Promise<number> {
  const st = await local.lstat(p);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let total = 0;
  for (const n of await local.readdir(p)) total += await localSize(join(p, n));
  return total;
}

export function registerFileCommands(program: Command, g: Globals): void {
  program
    .command('ls')
    .description('list a directory (or show one entry)')
    .argument('[path]', 'path in the fs', '/')
    .option('-l, --long', 'long listing')
    .action(async (path: string, o: { long?: boolean }) => {
      await withFs(g(), async ({ fs }) => {
        const st = await fs.lstat(path);
        const names = st.isDirectory() ? await fs.readdir(path) : [basename(path)];
        if (g().json || o.long) {
          const rows: Array<[string, string, Stat]> = [];
          for (const n of names) {
            const p = st.isDirectory() ? join2(path, n) : path;
            rows.push([n, p, await fs.lstat(p)]);
          }
          if (g().json) return printJson(rows.map(([, p, s]) => statJson(p, s)));
          printTable(['mode', 'nlink', 'uid', 'gid', 'size', 'mtime', 'name'], rows.map(([n, , s]) => [
            modeString(s), s.nlink, s.uid, s.gid, s.size, new Date(s.mtimeMs).toISOString(), n + (s.isSymbolicLink() ? ` -> ${s.symlink}` : ''),
          ]));
          return;
        }
        for (const n of names) process.stdout.write(n + '\n');
      });
    });

  program
    .command('stat')
    .description('show an entry\'s attributes')
    .argument('<path>')
    .action(async (path: string) => {
      await withFs(g(), async ({ fs }) => {
        const s = statJson(path, await fs.lstat(path));
        if (g().json) return printJson(s);
        for (const [k, v] of Object.entries(s)) process.stdout.write(`${k.padEnd(6)} ${v}\n`);
      });
    });

  program
    .command('mkdir')
    .description('create directories')
    .argument('<paths...>')
    .option('-p, --parents', 'create missing parents, no error if it exists')
    .option('-m, --mode <octal>', 'permission bits in octal', parseOctalMode, 0o755)
    .action(async (paths: string[], o: { parents?: boolean; mode: number }) => {
      await withFs(g(), async ({ fs }) => {
        for (const p of paths) await fs.mkdir(p, { recursive: o.parents, mode: o.mode });
      });
    });

  program
    .command('put')
    .description('copy a local file or directory tree into the fs')
    .argument('<local>')
    .argument('<path>', 'destination in the fs (an existing directory receives the source by name)')
    .action(async (src: string, dst: string) => {
      await withFs(g(), async ({ fs }) => {
        let target = dst;
        if (await fs.exists(dst)) {
          const st = await fs.stat(dst);
          if (st.isDirectory()) target = join2(dst, basename(src));
        }
        const total = await localSize(src);
        const progress = new Progress(`put ${basename(src)}`, total, !g().json);
        const done = { bytes: 0 };
        await putTree(fs, src, target, progress, done);
        progress.done();
        if (g().json) printJson({ path: target, bytes: done.bytes });
      });
    });

  program
    .command('get')
    .description('copy a file or directory tree out of the fs')
    .argument('<path>')
    .argument('<local>')
    .action(async (src: string, dst: string) => {
      await withFs(g(), async ({ fs }) => {
        let target = dst;
        try {
          if ((await local.stat(dst)).isDirectory()) target = join(dst, basename(src));
        } catch {
          /* a new name */
        }
        let total = 0;
        for await (const e of fs.walk(src)) if (e.stat.isFile()) total += e.stat.size;
        const progress = new Progress(`get ${basename(src)}`, total, !g().json);
        const done = { bytes: 0 };
        await getTree(fs, src, target, progress, done);
        progress.done();
        if (g().json) printJson({ path: target, bytes: done.bytes });
      });
    });

  program
    .command('cat')
    .description('print files')
    .argument('<paths...>')
    .action(async (paths: string[]) => {
      await withFs(g(), async ({ fs }) => {
        for (const p of paths) {
          const fh = await fs.open(p, 'r');
          try {
            await copyOut(fh, fh.size, async (buf) => {
              if (!process.stdout.write(buf)) await once(process.stdout, 'drain');
            });
          } finally {
            await fh.close();
          }
        }
      });
    });

  program
    .command('rm')
    .description('remove files or (with -r) trees')
    .argument('<paths...>')
    .option('-r, --recursive', 'remove directories and their contents')
    .option('-f, --force', 'ignore missing paths')
    .action(async (paths: string[], o: { recursive?: boolean; force?: boolean }) => {
      await withFs(g(), async ({ fs }) => {
        for (const p of paths) await fs.rm(p, o);
      });
    });

  program
    .command('mv')
    .description('rename or move an entry (atomic, also across partitions)')
    .argument('<from>')
    .argument('<to>')
    .option('-n, --no-clobber', 'fail if the target exists (RENAME_NOREPLACE)')
    .option('--exchange', 'swap the two entries (RENAME_EXCHANGE)')
    .action(async (from: string, to: string, o: { clobber: boolean; exchange?: boolean }) => {
      await withFs(g(), async ({ fs }) => {
        let target = to;
        if (!o.exchange && (await fs.exists(to)) && (await fs.stat(to)).isDirectory() && !(await fs.lstat(from)).isDirectory()) {
          target = join2(to, basename(from));
        }
        await fs.rename(from, target, { noReplace: !o.clobber, exchange: o.exchange });
      });
    });

  program
    .command('ln')
    .description('make a hard link (or with -s a symbolic link)')
    .argument('<target>')
    .argument('<path>')
    .option('-s, --symbolic', 'symbolic link')
    .action(async (target: string, path: string, o: { symbolic?: boolean }) => {
      await withFs(g(), async ({ fs }) => {
        if (o.symbolic) await fs.symlink(target, path);
        else await fs.link(target, path);
      });
    });

  program
    .command('tree')
    .description('show a directory tree')
    .argument('[path]', 'root of the tree', '/')
    .option('-L, --level <n>', 'maximum depth', intArg('a depth', { min: 1 }), 64)
    .action(async (path: string, o: { level: number }) => {
      await withFs(g(), async ({ fs }) => {
        const max = o.level;
        const lines: Array<{ path: string; depth: number; type: string }> = [];
        const walk = async (p: string, depth: number, prefix: string): Promise<void> => {
          if (depth >= max) return;
          const names = (await fs.readdir(p)).sort();
          for (const [i, n] of names.entries()) {
            const child = join2(p, n);
            const st = await fs.lstat(child);
            const last = i === names.length - 1;
            lines.push({ path: child, depth, type: typeChar(st) });
            if (!g().json) process.stdout.write(`${prefix}${last ? '└── ' : '├── '}${n}${st.isSymbolicLink() ? ` -> ${st.symlink}` : ''}\n`);
            if (st.isDirectory()) await walk(child, depth + 1, prefix + (last ? '    ' : '│   '));
          }
        };
        if (!g().json) process.stdout.write(path + '\n');
        await walk(path, 0, '');
        if (g().json) printJson(lines);
      });
    });

  program
    .command('du')
    .description('bytes and entries under a path')
    .argument('[path]', 'root', '/')
    .action(async (path: string) => {
      await withFs(g(), async ({ fs }) => {
        let bytes = 0, files = 0, dirs = 0;
        for await (const e of fs.walk(path)) {
          if (e.stat.isDirectory()) dirs++;
          else {
            files++;
            if (e.stat.isFile()) bytes += e.stat.size;
          }
        }
        if (g().json) return printJson({ path, bytes, files, dirs });
        process.stdout.write(`${humanBytes(bytes)}\t${files} files\t${dirs} dirs\t${path}\n`);
      });
    });
}
