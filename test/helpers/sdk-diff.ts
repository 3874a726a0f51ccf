// Differential testing of the SDK against the local kernel file system (JuiceFS fsrand style):
// the same seeded sequence of namespace and data operations runs against a temporary directory
// through node:fs and against curvefs through the SDK; every result (value or errno) and the
// final trees must be equal. A failing seed replays exactly.
import * as nodefs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SeededRandom } from '../../src/common/index.ts';
import type { Fs } from '../../src/client/index.ts';

export type Op =
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'writeFile'; path: string; size: number; seed: number }
  | { op: 'writeAt'; path: string; offset: number; size: number; seed: number }
  | { op: 'readFile'; path: string }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'unlink'; path: string }
  | { op: 'rmdir'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'link'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'readlink'; path: string }
  | { op: 'stat'; path: string }
  | { op: 'lstat'; path: string }
  | { op: 'readdir'; path: string }
  | { op: 'chmod'; path: string; mode: number };

/** What both sides must agree on. */
export interface DiffTarget {
  name: string;
  mkdir(p: string, mode: number): Promise<void>;
  writeFile(p: string, data: Uint8Array): Promise<void>;
  writeAt(p: string, offset: number, data: Uint8Array): Promise<void>;
  readFile(p: string): Promise<Uint8Array>;
  truncate(p: string, size: number): Promise<void>;
  unlink(p: string): Promise<void>;
  rmdir(p: string): Promise<void>;
  rename(a: string, b: string): Promise<void>;
  link(a: string, b: string): Promise<void>;
  symlink(t: string, p: string): Promise<void>;
  readlink(p: string): Promise<string>;
  stat(p: string, follow: boolean): Promise<StatView>;
  readdir(p: string): Promise<string[]>;
  chmod(p: string, mode: number): Promise<void>;
}

export interface StatView {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  nlink: number;
}

const NAMES = ['a', 'b', 'c', 'd'];

function randomPath(r: SeededRandom): string {
  const depth = r.int(1, 4);
  const parts: string[] = [];
  for (let i = 0; i < depth; i++) parts.push(NAMES[r.int(0, NAMES.length)]!);
  return '/' + parts.join('/');
}

export function generateOps(seed: number, count: number): Op[] {
  const r = new SeededRandom(seed);
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const p = randomPath(r);
    const k = r.int(0, 100);
    if (k < 18) ops.push({ op: 'mkdir', path: p, mode: [0o755, 0o700, 0o777][r.int(0, 3)]! });
    else if (k < 32) ops.push({ op: 'writeFile', path: p, size: [0, 1, 100, 5000, 70000][r.int(0, 5)]!, seed: r.int(0, 1e9) });
    else if (k < 38) ops.push({ op: 'writeAt', path: p, offset: [0, 10, 4095, 9000, 100000][r.int(0, 5)]!, size: [1, 50, 3000][r.int(0, 3)]!, seed: r.int(0, 1e9) });
    else if (k < 44) ops.push({ op: 'readFile', path: p });
    else if (k < 48) ops.push({ op: 'truncate', path: p, size: [0, 5, 6000, 200000][r.int(0, 4)]! });
    else if (k < 56) ops.push({ op: 'unlink', path: p });
    else if (k < 62) ops.push({ op: 'rmdir', path: p });
    else if (k < 72) ops.push({ op: 'rename', from: p, to: randomPath(r) });
    else if (k < 76) ops.push({ op: 'link', from: p, to: randomPath(r) });
    else if (k < 80) ops.push({ op: 'symlink', target: r.int(0, 2) ? randomPath(r) : NAMES[r.int(0, 4)]!, path: p });
    else if (k < 83) ops.push({ op: 'readlink', path: p });
    else if (k < 89) ops.push({ op: 'stat', path: p });
    else if (k < 92) ops.push({ op: 'lstat', path: p });
    else if (k < 97) ops.push({ op: 'readdir', path: r.int(0, 3) ? p : '/' });
    else ops.push({ op: 'chmod', path: p, mode: [0o600, 0o644, 0o755][r.int(0, 3)]! });
  }
  return ops;
}

export function bytesFor(seed: number, size: number): Uint8Array {
  const r = new SeededRandom(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = r.int(0, 256);
  return out;
}

function digest(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex').slice(0, 16);
}

/** Runs one op, returning a comparable outcome: "ok[:value]" or "err:<errno name>". */
export async function runOp(t: DiffTarget, o: Op): Promise<string> {
  try {
    switch (o.op) {
      case 'mkdir': await t.mkdir(o.path, o.mode); return 'ok';
      case 'writeFile': await t.writeFile(o.path, bytesFor(o.seed, o.size)); return 'ok';
      case 'writeAt': await t.writeAt(o.path, o.offset, bytesFor(o.seed, o.size)); return 'ok';
      case 'readFile': return 'ok:' + digest(await t.readFile(o.path));
      case 'truncate': await t.truncate(o.path, o.size); return 'ok';
      case 'unlink': await t.unlink(o.path); return 'ok';
      case 'rmdir': await t.rmdir(o.path); return 'ok';
      case 'rename': await t.rename(o.from, o.to); return 'ok';
      case 'link': await t.link(o.from, o.to); return 'ok';
      case 'symlink': await t.symlink(o.target, o.path); return 'ok';
      case 'readlink': return 'ok:' + (await t.readlink(o.path));
      case 'stat': return 'ok:' + JSON.stringify(await t.stat(o.path, true));
      case 'lstat': return 'ok:' + JSON.stringify(await t.stat(o.path, false));
      case 'readdir': return 'ok:' + (await t.readdir(o.path)).sort().join(',');
      case 'chmod': await t.chmod(o.path, o.mode); return 'ok';
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('E')) return 'err:' + code;
    throw e;
  }
}

/** The whole tree as sorted lines: path, type, mode, nlink, size, content digest / link target. */
export async function snapshotTree(t: DiffTarget): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await t.readdir(dir)).sort()) {
      const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const s = await t.stat(p, false);
      let extra = '';
      if (s.type === 'file') extra = digest(await t.readFile(p));
      else if (s.type === 'symlink') extra = await t.readlink(p);
      out.push(`${p} ${s.type} ${(s.mode & 0o7777).toString(8)} ${s.nlink} ${s.type === 'dir' ? '-' : s.size} ${extra}`);
      if (s.type === 'dir') await walk(p);
    }
  };
  await walk('/');
  return out;
}

function typeOf(s: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): StatView['type'] {
  return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
}

/** node:fs on a local directory: the reference. */
export function localTarget(root: string): DiffTarget {
  const at = (p: string) => join(root, p);
  return {
    name: 'local',
    mkdir: (p, mode) => nodefs.mkdir(at(p), { mode }),
    writeFile: (p, d) => nodefs.writeFile(at(p), d),
    async writeAt(p, offset, d) {
      const fh = await nodefs.open(at(p), 'r+');
      try {
        await fh.write(d, 0, d.length, offset);
      } finally {
        await fh.close();
      }
    },
    readFile: async (p) => new Uint8Array(await nodefs.readFile(at(p))),
    truncate: (p, size) => nodefs.truncate(at(p), size),
    unlink: (p) => nodefs.unlink(at(p)),
    rmdir: (p) => nodefs.rmdir(at(p)),
    rename: (a, b) => nodefs.rename(at(a), at(b)),
    link: (a, b) => nodefs.link(at(a), at(b)),
    symlink: (t, p) => nodefs.symlink(t.startsWith('/') ? join(root, t) : t, at(p)),
    async readlink(p) {
      const t = await nodefs.readlink(at(p));
      return t.startsWith(root) ? t.slice(root.length) || '/' : t;
    },
    async stat(p, follow) {
      const s = follow ? await nodefs.stat(at(p)) : await nodefs.lstat(at(p));
      // An absolute target is stored with the scratch root in front: report the length the
      // link would have inside the fs.
      const size = s.isSymbolicLink() ? Buffer.byteLength(await this.readlink(p)) : s.isDirectory() ? 0 : s.size;
      return { type: typeOf(s), size, mode: s.mode & 0o7777, nlink: s.nlink };
    },
    readdir: (p) => nodefs.readdir(at(p)),
    chmod: (p, mode) => nodefs.chmod(at(p), mode),
  };
}

/** The curvefs SDK, rooted at `root` inside the fs (each run can use its own directory). */
export function sdkTarget(fs: Fs, root = ''): DiffTarget {
  const at = (p: string) => root + p;
  const readlink = async (p: string): Promise<string> => {
    const t = await fs.readlink(at(p));
    return root && t.startsWith(root + '/') ? t.slice(root.length) : t;
  };
  const stat = async (p: string, follow: boolean): Promise<StatView> => {
    const s = follow ? await fs.stat(at(p)) : await fs.lstat(at(p));
    // As for the local side: the length the link has relative to this run's root.
    const size = s.isSymbolicLink() ? Buffer.byteLength(await readlink(p)) : s.isDirectory() ? 0 : s.size;
    return { type: typeOf(s), size, mode: s.mode & 0o7777, nlink: s.nlink };
  };
  return {
    name: 'sdk',
    mkdir: (p, mode) => fs.mkdir(at(p), { mode }),
    writeFile: (p, d) => fs.writeFile(at(p), d),
    async writeAt(p, offset, d) {
      const fh = await fs.open(at(p), 'r+');
      try {
        await fh.write(offset, d);
      } finally {
        await fh.close();
      }
    },
    readFile: (p) => fs.readFile(at(p)),
    truncate: (p, size) => fs.truncate(at(p), size),
    unlink: (p) => fs.unlink(at(p)),
    rmdir: (p) => fs.rmdir(at(p)),
    rename: (a, b) => fs.rename(at(a), at(b)),
    link: (a, b) => fs.link(at(a), at(b)),
    symlink: (t, p) => fs.symlink(t.startsWith('/') ? root + t : t, at(p)),
    readlink,
    stat,
    readdir: (p) => fs.readdir(at(p)),
    chmod: (p, mode) => fs.chmod(at(p), mode),
  };
}
