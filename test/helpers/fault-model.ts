// The model of the multi-host fault suite (test/helpers/fault-suite.ts): what one client's
// acknowledged operations say its part of the namespace must be. Each client works only on names
// it made (basenames start with "c<k>-"), in shared directories and its own, so its model is a
// sequential one. An operation whose outcome is unknown (timeout, EIO) moves every name it touched
// into a *group* with two alternatives (before and after), and the client never touches those
// names again: the final tree must match one alternative of each group and the certain part
// exactly. The client uses the model to choose operations; the checker replays the client's log
// through the same code.
import { createHash } from 'node:crypto';
import { SeededRandom } from '../../src/common/index.ts';

export const SHARED_DIRS = ['/d0', '/d1', '/d2', '/d3'];

/**
 * The racing area: directories /race/r0 … that two clients move into each other at the same
 * moment (rX → rY/rX on one host while rY → rX/rY on another). They belong to no client's model;
 * fault-check.ts checks them on their own (RaceLine).
 */
export const RACE_ROOT = '/race';
export const RACE_DIRS = 4;

/** One side of a race round: client c moved race directory `from` into `to`. */
export interface RaceLine {
  race: number;
  c: number;
  from: number;
  to: number;
  r: 'ok' | 'unknown' | 'error' | 'skipped';
  err?: string;
}

export type Entry = { kind: 'dir' } | { kind: 'file'; file: number };
export interface FileState {
  size: number;
  version: number;
}

export type Op =
  | { op: 'create'; path: string; file: number; size: number }
  | { op: 'write'; path: string; file: number; version: number }
  | { op: 'mkdir'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'link'; from: string; to: string }
  | { op: 'unlink'; path: string }
  | { op: 'rmdir'; path: string };

/** One line of a client's log: the op, and whether it was acknowledged. */
export interface LogLine {
  c: number;
  n: number;
  o: Op;
  /** ok: acknowledged; unknown: timeout/EIO; error: a definite errno the model did not expect. */
  r: 'ok' | 'unknown' | 'error';
  err?: string;
  ms?: number;
  /** When the outcome was known (wall clock, ms): the op ran over [t - ms, t]. */
  t?: number;
}

export interface Group {
  op: Op;
  n: number;
  before: Map<string, Entry>;
  after: Map<string, Entry>;
  filesBefore: Map<number, FileState>;
  filesAfter: Map<number, FileState>;
}

/** Content of a file version: deterministic, so the checker needs no copy of it. */
export function content(file: number, version: number, size: number): Buffer {
  if (version === 0) return Buffer.alloc(0);
  const r = new SeededRandom(file * 7919 + version);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE(Math.floor(r.next() * 0x100000000), Math.min(i, size - 4));
  return b;
}

export function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

const isUnder = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');
const depth = (p: string) => p.split('/').length - 1;
const MAX_DEPTH = 8;

export class ClientModel {
  readonly entries = new Map<string, Entry>();
  readonly files = new Map<number, FileState>();
  readonly groups: Group[] = [];
  /** Paths (and everything beneath) no op may touch any more. */
  private readonly frozen = new Set<string>();
  private readonly frozenFiles = new Set<number>();
  private seq = 0;

  constructor(readonly client: number) {}

  prefix(): string {
    return `c${this.client}-`;
  }

  /** The next fresh name of this client. */
  name(kind: 'f' | 'd'): string {
    return `${this.prefix()}${kind}${++this.seq}`;
  }

  private isFrozen(p: string): boolean {
    for (const f of this.frozen) if (isUnder(p, f) || isUnder(f, p)) return true;
    const e = this.entries.get(p);
    return e?.kind === 'file' && this.frozenFiles.has(e.file);
  }

  usableDirs(): string[] {
    return [...SHARED_DIRS, ...[...this.entries].filter(([p, e]) => e.kind === 'dir' && !this.isFrozen(p)).map(([p]) => p)];
  }

  usable(kind: 'file' | 'dir'): string[] {
    return [...this.entries].filter(([p, e]) => e.kind === kind && !this.isFrozen(p)).map(([p]) => p);
  }

  pathsOf(file: number): string[] {
    return [...this.entries].filter(([, e]) => e.kind === 'file' && e.file === file).map(([p]) => p);
  }

  /** The next op, or undefined when the random choice found nothing to act on (try again). */
  choose(r: SeededRandom, nextFile: () => number): Op | undefined {
    const k = r.int(0, 100);
    // Trees stay at most MAX_DEPTH deep, so paths stay far below PATH_MAX however long the run.
    const dirs = this.usableDirs().filter((d) => depth(d) < MAX_DEPTH);
    const files = this.usable('file');
    const own = this.usable('dir');
    const pick = <T>(a: T[]) => (a.length > 0 ? a[r.int(0, a.length)] : undefined);
    const inDir = (kind: 'f' | 'd') => `${pick(dirs)!}/${this.name(kind)}`;
    if (k < 24) return { op: 'create', path: inDir('f'), file: nextFile(), size: pick([100, 4096, 20_000, 70_000])! };
    if (k < 44) {
      const p = pick(files);
      if (!p) return undefined;
      const e = this.entries.get(p) as { file: number };
      return { op: 'write', path: p, file: e.file, version: this.files.get(e.file)!.version + 1 };
    }
    if (k < 52) return { op: 'mkdir', path: inDir('d') };
    if (k < 66) {
      const p = pick(files);
      if (!p) return undefined;
      // A quarter of the renames replace another of our files (the replaced inode loses a link).
      const victim = r.int(0, 4) === 0 ? pick(files.filter((q) => !this.sameFile(p, q))) : undefined;
      return { op: 'rename', from: p, to: victim ?? inDir('f') };
    }
    if (k < 72) {
      const d = pick(own);
      if (!d) return undefined;
      const below = Math.max(0, ...[...this.entries.keys()].filter((p) => isUnder(p, d)).map((p) => depth(p) - depth(d)));
      const to = pick(dirs.filter((x) => !isUnder(x, d) && depth(x) + 1 + below <= MAX_DEPTH));
      return to ? { op: 'rename', from: d, to: `${to}/${this.name('d')}` } : undefined;
    }
    if (k < 82) {
      const p = pick(files);
      return p ? { op: 'link', from: p, to: inDir('f') } : undefined;
    }
    if (k < 94) {
      const p = pick(files);
      return p ? { op: 'unlink', path: p } : undefined;
    }
    const empty = own.filter((d) => ![...this.entries.keys()].some((p) => p.startsWith(d + '/')));
    const d = pick(empty);
    return d ? { op: 'rmdir', path: d } : undefined;
  }

  private sameFile(a: string, b: string): boolean {
    const x = this.entries.get(a);
    const y = this.entries.get(b);
    return x?.kind === 'file' && y?.kind === 'file' && x.file === y.file;
  }

  /** The state after `op` applied (pure: returns new maps). */
  private applied(op: Op): { entries: Map<string, Entry>; files: Map<number, FileState> } {
    const entries = new Map(this.entries);
    const files = new Map(this.files);
    switch (op.op) {
      case 'create':
        entries.set(op.path, { kind: 'file', file: op.file });
        files.set(op.file, { size: op.size, version: 0 });
        break;
      case 'write':
        files.set(op.file, { ...files.get(op.file)!, version: op.version });
        break;
      case 'mkdir':
        entries.set(op.path, { kind: 'dir' });
        break;
      case 'rename':
        for (const [p, e] of this.entries) {
          if (!isUnder(p, op.from)) continue;
          entries.delete(p);
          entries.set(op.to + p.slice(op.from.length), e);
        }
        break;
      case 'link':
        entries.set(op.to, this.entries.get(op.from)!);
        break;
      case 'unlink':
      case 'rmdir':
        entries.delete(op.path);
        break;
    }
    return { entries, files };
  }

  /** Paths and files an op touches (for groups). */
  private touched(op: Op): { paths: string[]; files: number[] } {
    const paths = new Set<string>();
    const files = new Set<number>();
    const addPath = (p: string) => {
      for (const q of this.entries.keys()) if (isUnder(q, p)) paths.add(q);
      paths.add(p);
    };
    const addFileOf = (p: string) => {
      const e = this.entries.get(p);
      if (e?.kind === 'file') {
        files.add(e.file);
        for (const q of this.pathsOf(e.file)) paths.add(q);
      }
    };
    switch (op.op) {
      case 'create':
        paths.add(op.path);
        files.add(op.file);
        break;
      case 'write':
        addFileOf(op.path);
        break;
      case 'mkdir':
      case 'rmdir':
        addPath(op.path);
        break;
      case 'rename':
        addPath(op.from);
        addPath(op.to);
        addFileOf(op.from);
        addFileOf(op.to);
        break;
      case 'link':
        paths.add(op.to);
        addFileOf(op.from);
        break;
      case 'unlink':
        addFileOf(op.path);
        break;
    }
    return { paths: [...paths], files: [...files] };
  }

  /** Records a result: ok applies the op; anything else makes its names a two-way group. */
  record(line: LogLine): void {
    const next = this.applied(line.o);
    if (line.r === 'ok') {
      this.replace(next.entries, next.files);
      return;
    }
    const t = this.touched(line.o);
    // A rename's destination paths are only known after applying it.
    const paths = new Set(t.paths);
    if (line.o.op === 'rename') {
      const to = line.o.to;
      for (const p of next.entries.keys()) if (isUnder(p, to)) paths.add(p);
    }
    const g: Group = { op: line.o, n: line.n, before: new Map(), after: new Map(), filesBefore: new Map(), filesAfter: new Map() };
    for (const p of paths) {
      const b = this.entries.get(p);
      const a = next.entries.get(p);
      if (b) g.before.set(p, b);
      if (a) g.after.set(p, a);
      this.frozen.add(p);
    }
    for (const m of [g.before, g.after]) for (const e of m.values()) if (e.kind === 'file') t.files.push(e.file);
    for (const f of t.files) {
      const b = this.files.get(f);
      const a = next.files.get(f);
      if (b) g.filesBefore.set(f, b);
      if (a) g.filesAfter.set(f, a);
      this.frozenFiles.add(f);
    }
    this.groups.push(g);
    for (const p of paths) this.entries.delete(p);
  }

  private replace(entries: Map<string, Entry>, files: Map<number, FileState>): void {
    this.entries.clear();
    for (const [k, v] of entries) this.entries.set(k, v);
    this.files.clear();
    for (const [k, v] of files) this.files.set(k, v);
  }
}
