// Differential file-system testing (JuiceFS fsrand's approach): one seeded random sequence of
// system calls runs against a reference directory (tmpfs) and a directory under test, call by
// call; every return value and errno must match, and so must the final trees. A failing seed
// replays exactly: the generator draws from SeededRandom and looks only at the reference tree.
//
// Reusable for any file system under test: give it two directories and the compiled helper
// (buildFsDiffHelper) for the calls node:fs lacks (renameat2 flags, xattrs, fallocate,
// SEEK_DATA/SEEK_HOLE, calls as another user).
//
// Everything here is asynchronous: the process running it may be the one serving the mount.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as C } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../../src/common/index.ts';

// ---- the helper program ----

/** Compiles fsdiff-helper.c into `outDir` with cc; returns the binary's path. */
export async function buildFsDiffHelper(outDir: string): Promise<string> {
  const src = fileURLToPath(new URL('./fsdiff-helper.c', import.meta.url));
  const bin = join(outDir, 'fsdiff-helper');
  const r = await exec('cc', ['-O1', '-Wall', '-o', bin, src]);
  if (r.code !== 0) throw new Error(`cannot compile the fsdiff helper with cc: ${r.stderr}`);
  return bin;
}

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}
function exec(cmd: string, args: string[]): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}
/** As exec, with `fd` of this process as descriptor 3 of the child (execFile cannot pass it). */
function execWithFd(cmd: string, args: string[], fd: number): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe', fd] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

/** Runs one helper call; "ok <v>" → {ok: v}, "err <n>" → {err: NAME}. */
async function helper(bin: string, args: string[], opts: { uid?: number; fd?: number } = {}): Promise<Outcome> {
  const full = opts.uid !== undefined ? ['-u', String(opts.uid), ...args] : args;
  const r = opts.fd !== undefined ? await execWithFd(bin, full, opts.fd) : await exec(bin, full);
  const line = r.stdout.trim();
  if (r.code !== 0 || !line) throw new Error(`fsdiff helper ${full.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
  if (line.startsWith('err ')) return { err: ERRNO_NAMES.get(Number(line.slice(4))) ?? `E${line.slice(4)}` };
  return { ok: line.slice(3) };
}

// ---- operations ----

export type FsOp =
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'rmdir'; path: string }
  | { op: 'open'; path: string; flags: number; mode: number }
  | { op: 'close'; fd: number }
  | { op: 'write'; fd: number; offset: number; length: number; fill: number }
  | { op: 'read'; fd: number; offset: number; length: number }
  | { op: 'ftruncate'; fd: number; size: number }
  | { op: 'fstat'; fd: number }
  | { op: 'fsync'; fd: number }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'unlink'; path: string }
  | { op: 'link'; path: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'readlink'; path: string }
  | { op: 'rename'; path: string; to: string; flags: number }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'chown'; path: string; uid: number; gid: number; follow: boolean }
  | { op: 'utimes'; path: string; atime: number; mtime: number }
  | { op: 'stat'; path: string; follow: boolean }
  | { op: 'readdir'; path: string }
  | { op: 'setxattr'; path: string; name: string; value: string; flags: number; nofollow: boolean }
  | { op: 'getxattr'; path: string; name: string; nofollow: boolean }
  | { op: 'listxattr'; path: string; nofollow: boolean }
  | { op: 'removexattr'; path: string; name: string; nofollow: boolean }
  | { op: 'fallocate'; fd: number; mode: number; offset: number; length: number }
  | { op: 'lseek'; fd: number; offset: number; whence: number }
  | { op: 'user'; uid: number; call: string[] };

export type Outcome = { ok?: unknown; err?: string };

/** One directory a sequence runs in, with its open descriptors. */
export class FsDiffSide {
  readonly fds: fsp.FileHandle[] = [];
  constructor(
    readonly name: string,
    readonly root: string,
    readonly helperBin: string,
  ) {}
  p(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }
  async closeAll(): Promise<void> {
    for (const fd of this.fds.splice(0)) await fd.close().catch(() => undefined);
  }
}

function normStat(s: import('node:fs').Stats): Record<string, unknown> {
  const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : s.isFIFO() ? 'fifo' : 'other';
  const out: Record<string, unknown> = { type, perm: (s.mode & 0o7777).toString(8), nlink: s.nlink, uid: s.uid, gid: s.gid };
  if (type !== 'dir') out.size = s.size;
  if (type === 'file') out.blocks = s.blocks;
  return out;
}

function errOf(e: unknown): Outcome {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') return { err: code };
  throw e;
}

function fillBytes(length: number, fill: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (fill + i * 31) & 0xff;
  return b;
}

/** Executes one operation on one side. */
export async function runFsOp(side: FsDiffSide, op: FsOp): Promise<Outcome> {
  const p = (x: string) => side.p(x);
  try {
    switch (op.op) {
      case 'mkdir':
        await fsp.mkdir(p(op.path), op.mode);
        return { ok: true };
      case 'rmdir':
        await fsp.rmdir(p(op.path));
        return { ok: true };
      case 'open': {
        const fh = await fsp.open(p(op.path), op.flags, op.mode);
        side.fds.push(fh);
        return { ok: side.fds.length - 1 };
      }
      case 'close': {
        const fh = side.fds[op.fd]!;
        side.fds.splice(op.fd, 1);
        await fh.close();
        return { ok: true };
      }
      case 'write': {
        const r = await side.fds[op.fd]!.write(fillBytes(op.length, op.fill), 0, op.length, op.offset);
        return { ok: r.bytesWritten };
      }
      case 'read': {
        const buf = Buffer.alloc(op.length);
        const r = await side.fds[op.fd]!.read(buf, 0, op.length, op.offset);
        return { ok: [r.bytesRead, createHash('sha1').update(buf.subarray(0, r.bytesRead)).digest('hex').slice(0, 12)] };
      }
      case 'ftruncate':
        await side.fds[op.fd]!.truncate(op.size);
        return { ok: true };
      case 'fstat':
        return { ok: normStat(await side.fds[op.fd]!.stat()) };
      case 'fsync':
        await side.fds[op.fd]!.sync();
        return { ok: true };
      case 'truncate':
        await fsp.truncate(p(op.path), op.size);
        return { ok: true };
      case 'unlink':
        await fsp.unlink(p(op.path));
        return { ok: true };
      case 'link':
        await fsp.link(p(op.path), p(op.to));
        return { ok: true };
      case 'symlink':
        await fsp.symlink(op.target, p(op.path));
        return { ok: true };
      case 'readlink':
        return { ok: await fsp.readlink(p(op.path)) };
      case 'rename':
        if (op.flags === 0) {
          await fsp.rename(p(op.path), p(op.to));
          return { ok: true };
        }
        return await helper(side.helperBin, ['rename2', p(op.path), p(op.to), String(op.flags)]);
      case 'chmod':
        await fsp.chmod(p(op.path), op.mode);
        return { ok: true };
      case 'chown':
        if (op.follow) await fsp.chown(p(op.path), op.uid, op.gid);
        else await fsp.lchown(p(op.path), op.uid, op.gid);
        return { ok: true };
      case 'utimes': {
        await fsp.utimes(p(op.path), op.atime, op.mtime);
        const s = await fsp.stat(p(op.path));
        return { ok: [s.atimeMs, s.mtimeMs] };
      }
      case 'stat':
        return { ok: normStat(op.follow ? await fsp.stat(p(op.path)) : await fsp.lstat(p(op.path))) };
      case 'readdir':
        return { ok: (await fsp.readdir(p(op.path))).sort() };
      case 'setxattr':
        return await helper(side.helperBin, ['setxattr', p(op.path), op.name, op.value, String(op.flags), op.nofollow ? '1' : '0']);
      case 'getxattr':
        return await helper(side.helperBin, ['getxattr', p(op.path), op.name, op.nofollow ? '1' : '0']);
      case 'listxattr': {
        const r = await helper(side.helperBin, ['listxattr', p(op.path), op.nofollow ? '1' : '0']);
        return r.err ? r : { ok: String(r.ok).split(' ').filter(Boolean).sort() };
      }
      case 'removexattr':
        return await helper(side.helperBin, ['removexattr', p(op.path), op.name, op.nofollow ? '1' : '0']);
      case 'fallocate':
        return await helper(side.helperBin, ['fallocate', String(op.mode), String(op.offset), String(op.length)], { fd: side.fds[op.fd]!.fd });
      case 'lseek':
        // On directories SEEK_DATA/SEEK_HOLE is decided by the kernel's per-fs llseek (tmpfs:
        // EINVAL, FUSE: generic ENXIO), not by the file system under test.
        if ((await side.fds[op.fd]!.stat()).isDirectory()) return { ok: 'directory' };
        return await helper(side.helperBin, ['lseek', String(op.offset), String(op.whence)], { fd: side.fds[op.fd]!.fd });
      case 'user': {
        // Paths in a user call are relative to the root: arguments starting with "./" are joined.
        const args = op.call.map((a) => (a.startsWith('./') ? p(a.slice(2)) : a));
        return await helper(side.helperBin, args, { uid: op.uid });
      }
    }
  } catch (e) {
    return errOf(e);
  }
}

// ---- trees ----

export interface TreeEntry {
  path: string;
  type: string;
  perm: string;
  uid: number;
  gid: number;
  nlink: number;
  size?: number;
  blocks?: number;
  target?: string;
  content?: string;
  xattrs?: string;
  /** Canonical inode: the first path (in sorted order) that names the same inode. */
  inode: string;
}

/** Lists the tree under root (root included as ""), sorted, with hard links made canonical. */
export async function snapshotTree(root: string, helperBin?: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const firstPathOfIno = new Map<number, string>();
  async function walk(rel: string): Promise<void> {
    const abs = rel === '' ? root : join(root, rel);
    const s = await fsp.lstat(abs);
    const n = normStat(s);
    const canon = firstPathOfIno.get(s.ino) ?? rel;
    if (!firstPathOfIno.has(s.ino)) firstPathOfIno.set(s.ino, rel);
    const e: TreeEntry = { path: rel, type: n.type as string, perm: n.perm as string, uid: s.uid, gid: s.gid, nlink: s.nlink, inode: canon };
    if (n.type !== 'dir') e.size = s.size;
    if (n.type === 'file') {
      e.blocks = s.blocks;
      e.content = createHash('sha1').update(await fsp.readFile(abs)).digest('hex').slice(0, 16);
    }
    if (n.type === 'symlink') e.target = await fsp.readlink(abs);
    if (helperBin) {
      const x = await helper(helperBin, ['dumpxattr', abs]);
      e.xattrs = x.err ? `!${x.err}` : String(x.ok).split(' ').filter(Boolean).sort().join(' ');
    }
    out.push(e);
    if (n.type === 'dir') {
      for (const name of (await fsp.readdir(abs)).sort()) await walk(rel === '' ? name : `${rel}/${name}`);
    }
  }
  await walk('');
  return out;
}

/** The first difference between two trees, described, or null when equal. */
export function diffTrees(a: TreeEntry[], b: TreeEntry[], names = ['reference', 'target']): string | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = JSON.stringify(a[i] ?? null);
    const y = JSON.stringify(b[i] ?? null);
    if (x !== y) return `tree entry ${i} differs:\n  ${names[0]}: ${x}\n  ${names[1]}: ${y}`;
  }
  return null;
}

// ---- generation ----

interface PathInfo {
  path: string;
  type: string;
}

async function listPaths(root: string): Promise<PathInfo[]> {
  const out: PathInfo[] = [];
  async function walk(rel: string): Promise<void> {
    let names: string[];
    try {
      names = (await fsp.readdir(rel === '' ? root : join(root, rel))).sort();
    } catch {
      return; // unreadable for this sequence's purposes
    }
    for (const name of names) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const s = await fsp.lstat(join(root, child));
      const type = s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'file';
      out.push({ path: child, type });
      if (type === 'dir' && child.split('/').length < 4) await walk(child);
    }
  }
  await walk('');
  return out;
}

const NAMES = ['a', 'b', 'c', 'd', 'e'];
const XATTR_NAMES = ['user.x', 'user.y', 'user.long.name', 'trusted.t', 'security.s', 'system.bogus'];
const O = C;

/** Draws operations from a seed, choosing paths from the reference tree's current contents. */
export class FsOpGenerator {
  private readonly rng: SeededRandom;
  constructor(seed: number) {
    this.rng = new SeededRandom(seed);
  }
  private int(lo: number, hi: number): number {
    return this.rng.int(lo, hi);
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length)]!;
  }
  private chance(p: number): boolean {
    return this.rng.next() < p;
  }

  private existing(paths: PathInfo[], type?: string): string {
    const pool = type ? paths.filter((x) => x.type === type) : paths;
    if (pool.length === 0) return this.pick(NAMES);
    return this.pick(pool).path;
  }
  private fresh(paths: PathInfo[]): string {
    const dirs = paths.filter((x) => x.type === 'dir').map((x) => x.path);
    const r = this.rng.next();
    if (r < 0.03) return 'n'.repeat(256); // ENAMETOOLONG
    if (r < 0.08) return `${this.existing(paths, 'file')}/${this.pick(NAMES)}`; // ENOTDIR
    if (r < 0.12) return `zz/${this.pick(NAMES)}`; // ENOENT parent
    const parent = dirs.length && this.chance(0.7) ? this.pick(dirs) : '';
    return parent ? `${parent}/${this.pick(NAMES)}` : this.pick(NAMES);
  }
  private any(paths: PathInfo[]): string {
    return this.chance(0.65) ? this.existing(paths) : this.fresh(paths);
  }

  /** The next operation, given the reference tree and the number of open descriptors. */
  next(paths: PathInfo[], openFds: number): FsOp {
    for (;;) {
      const op = this.draw(paths, openFds, paths.length > 40);
      if (op) return op;
    }
  }

  private draw(paths: PathInfo[], fds: number, crowded: boolean): FsOp | null {
    const r = this.int(0, 100);
    const fd = () => this.int(0, fds);
    if (r < 6) return crowded ? null : { op: 'mkdir', path: this.fresh(paths), mode: this.pick([0o755, 0o700, 0o777, 0o1777, 0o2775]) };
    if (r < 10) return { op: 'rmdir', path: this.any(paths) };
    if (r < 20) {
      if (fds >= 8) return null;
      const flags = this.pick([
        O.O_RDONLY,
        O.O_WRONLY | O.O_CREAT,
        O.O_RDWR | O.O_CREAT,
        O.O_RDWR | O.O_CREAT | O.O_EXCL,
        O.O_RDWR | O.O_TRUNC,
        O.O_WRONLY | O.O_APPEND | O.O_CREAT,
        O.O_RDWR,
        O.O_RDONLY | O.O_DIRECTORY,
      ]);
      const path = flags & O.O_CREAT && !crowded && this.chance(0.5) ? this.fresh(paths) : this.existing(paths);
      return { op: 'open', path, flags, mode: this.pick([0o644, 0o600, 0o755, 0o4755, 0o2711]) };
    }
    if (r < 24) return fds ? { op: 'close', fd: fd() } : null;
    if (r < 33) {
      if (!fds) return null;
      const offset = this.chance(0.3) ? this.int(0, 70000) : this.int(0, 9000);
      return { op: 'write', fd: fd(), offset, length: this.int(1, 9000), fill: this.int(0, 256) };
    }
    if (r < 40) return fds ? { op: 'read', fd: fd(), offset: this.int(0, 20000), length: this.int(1, 12000) } : null;
    if (r < 42) return fds ? { op: 'ftruncate', fd: fd(), size: this.int(0, 30000) } : null;
    if (r < 44) return fds ? { op: 'fstat', fd: fd() } : null;
    if (r < 45) return fds ? { op: 'fsync', fd: fd() } : null;
    if (r < 47) return { op: 'truncate', path: this.any(paths), size: this.int(0, 30000) };
    if (r < 52) return { op: 'unlink', path: this.any(paths) };
    if (r < 56) return crowded ? null : { op: 'link', path: this.any(paths), to: this.fresh(paths) };
    if (r < 59) {
      // Targets never contain "..": following a link can never leave the tree.
      const target = this.chance(0.8) ? this.pick(NAMES) : `${this.pick(NAMES)}/${this.pick(NAMES)}`;
      return crowded ? null : { op: 'symlink', target, path: this.fresh(paths) };
    }
    if (r < 61) return { op: 'readlink', path: this.any(paths) };
    if (r < 69) {
      const flags = this.pick([0, 0, 0, 1, 2]);
      return { op: 'rename', path: this.any(paths), to: this.chance(0.5) ? this.existing(paths) : this.fresh(paths), flags };
    }
    if (r < 72) return { op: 'chmod', path: this.any(paths), mode: this.pick([0o755, 0o644, 0o600, 0o700, 0o777, 0o1777, 0o4755, 0o2755, 0o000]) };
    if (r < 74) {
      const id = () => this.pick([0, 1000, 1001]);
      return { op: 'chown', path: this.any(paths), uid: id(), gid: id(), follow: this.chance(0.6) };
    }
    if (r < 76) {
      const t = () => Math.round((1_000_000_000 + this.int(0, 100_000_000)) * 1000 + this.int(0, 1000)) / 1000;
      return { op: 'utimes', path: this.any(paths), atime: t(), mtime: t() };
    }
    if (r < 80) return { op: 'stat', path: this.any(paths), follow: this.chance(0.5) };
    if (r < 83) return { op: 'readdir', path: this.chance(0.2) ? '' : this.any(paths) };
    if (r < 86) {
      const value = Buffer.from(`v${this.int(0, 1000)}`.repeat(this.int(1, 4))).toString('hex');
      return { op: 'setxattr', path: this.any(paths), name: this.pick(XATTR_NAMES), value, flags: this.pick([0, 0, 1, 2]), nofollow: this.chance(0.3) };
    }
    if (r < 88) return { op: 'getxattr', path: this.any(paths), name: this.pick(XATTR_NAMES), nofollow: this.chance(0.3) };
    if (r < 89) return { op: 'listxattr', path: this.any(paths), nofollow: this.chance(0.3) };
    if (r < 90) return { op: 'removexattr', path: this.any(paths), name: this.pick(XATTR_NAMES), nofollow: this.chance(0.3) };
    if (r < 92) return fds ? { op: 'fallocate', fd: fd(), mode: this.pick([0, 1, 3]), offset: this.int(0, 40000), length: this.int(1, 20000) } : null;
    if (r < 94) return fds ? { op: 'lseek', fd: fd(), offset: this.int(0, 70000), whence: this.pick([3, 4]) } : null;
    // The same calls as an unprivileged user: the permission rules must match too.
    const uid = this.pick([1000, 1001]);
    const path = `./${this.any(paths)}`;
    const call = this.pick<string[]>([
      ['open', path, String(O.O_RDONLY), '0'],
      ['open', `./${this.fresh(paths)}`, String(O.O_WRONLY | O.O_CREAT), String(0o644)],
      ['open', path, String(O.O_WRONLY), '0'],
      ['mkdir', `./${this.fresh(paths)}`, String(0o755)],
      ['unlink', path],
      ['rmdir', path],
      ['rename', path, `./${this.fresh(paths)}`],
      ['write', path, '6869'],
      ['chmod', path, String(0o777)],
    ]);
    return { op: 'user', uid, call };
  }
}

// ---- running a sequence ----

export interface DiffRunOptions {
  seed: number;
  steps: number;
  reference: FsDiffSide;
  target: FsDiffSide;
  /** Called with each step (for logging). */
  onStep?: (i: number, op: FsOp, outcome: Outcome) => void;
}

export interface DiffRunResult {
  /** Null when every call and the final trees matched. */
  failure: string | null;
  steps: number;
}

/** Runs one seeded sequence on both sides; stops at the first difference. */
export async function runDifferential(o: DiffRunOptions): Promise<DiffRunResult> {
  const gen = new FsOpGenerator(o.seed);
  const history: string[] = [];
  try {
    for (let i = 0; i < o.steps; i++) {
      const paths = await listPaths(o.reference.root);
      const op = gen.next(paths, o.reference.fds.length);
      const a = await runFsOp(o.reference, op);
      const b = await runFsOp(o.target, op);
      const sa = JSON.stringify(a);
      const sb = JSON.stringify(b);
      history.push(`#${i} ${JSON.stringify(op)} → ${sa}`);
      o.onStep?.(i, op, a);
      if (sa !== sb) {
        return {
          steps: i + 1,
          failure:
            `seed ${o.seed} step ${i}: ${JSON.stringify(op)}\n  ${o.reference.name}: ${sa}\n  ${o.target.name}: ${sb}\n` +
            `last steps:\n  ${history.slice(-15).join('\n  ')}`,
        };
      }
    }
  } finally {
    await o.reference.closeAll();
    await o.target.closeAll();
  }
  const ta = await snapshotTree(o.reference.root, o.reference.helperBin);
  const tb = await snapshotTree(o.target.root, o.target.helperBin);
  const d = diffTrees(ta, tb, [o.reference.name, o.target.name]);
  return { steps: o.steps, failure: d ? `seed ${o.seed} final trees: ${d}\nlast steps:\n  ${history.slice(-15).join('\n  ')}` : null };
}

/** Empties a directory (between seeds). */
export async function clearDir(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir)) await fsp.rm(join(dir, name), { recursive: true, force: true });
}
