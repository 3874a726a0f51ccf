// A simulated disk for the driver-level simulation: a RaftStorage (src/raft/storage.ts) whose
// files live in memory and whose faults are those of a real disk under a crash.
//
// Each file has what a reader sees now (`data`) and what survives a crash (`durable`). A write
// changes `data` when it is issued; it reaches `durable` when it completes on a file opened
// dsync (O_DSYNC), or with the next datasync()/sync() of the file. A crash (crash()) keeps of
// every file's unsynced changes all, none, or an arbitrary subset of its 512-byte sectors (a torn
// write), and of the directory operations not yet made durable by syncDir() a random prefix
// (journalled metadata is ordered). Operations take simulated time; those of a process that
// crashed meanwhile never complete (its awaits hang, like the code of a killed process).
//
// Faults on demand: `errorRate` makes writes, syncs and creates fail with EIO or ENOSPC (a write
// that fails may have changed `data`, as on a real disk); `corruptAtRest()` flips one bit of a
// file's durable bytes; `slowRate` makes an operation take 5–50 ms, or rarely 200–1000 ms (a
// stuck fsync, longer than an election timeout).
//
// Simplifications: directories are created and removed durably at once (mkdir -p of the group's
// folders, rm -rf of a destroyed replica); st_blocks counts the 4 KiB blocks holding a non-zero
// byte (sparse files are what the log makes by default).
import { dirname } from 'node:path';
import type { OpenMode, RaftStorage, StorageFile } from '../../src/raft/index.ts';
import type { Proc, SimWorld } from './sim-world.ts';

const SECTOR = 512;

interface Inode {
  ino: number;
  data: Uint8Array;
  size: number;
  durable: Uint8Array;
  durableSize: number;
  /** data/size differ from durable/durableSize. */
  dirty: boolean;
}

type NsOp = { kind: 'link'; path: string; ino: number } | { kind: 'unlink'; path: string } | { kind: 'rename'; from: string; to: string };

export interface SimDiskStats {
  writes: number;
  syncs: number;
  errors: number;
  tornFiles: number;
  lostFiles: number;
  lostNsOps: number;
  bitFlips: number;
  /** Writes made through writeSync (inlineWrites). */
  inlineWrites: number;
}

function errno(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

function grow(b: Uint8Array, need: number): Uint8Array {
  if (b.length >= need) return b;
  const n = new Uint8Array(Math.max(need, b.length * 2, 4096));
  n.set(b);
  return n;
}

export class SimDisk {
  private readonly inodes = new Map<number, Inode>();
  private nextIno = 1;
  /** path -> inode: the namespace as processes see it, and as it survives a crash. */
  private readonly names = new Map<string, number>();
  private readonly durableNames = new Map<string, number>();
  private readonly dirs = new Set<string>(['/']);
  private pendingNs: NsOp[] = [];
  /** Probability that a write, sync or create fails (EIO or ENOSPC). */
  errorRate = 0;
  /** A broken disk for proving the checks: O_DSYNC writes return but persist nothing. */
  lieAboutSync = false;
  /**
   * Files offer `writeSync` (StorageFile), so the Raft log writes a lone small entry inline as on
   * the real disk (RaftLogOptions.inlineBytes): done at once in simulated time, failing with
   * EIO/ENOSPC at `errorRate`, durable at once under O_DSYNC. Off by default (the async path).
   */
  inlineWrites = false;
  /** Probability that an operation stalls 5–50 ms (a tenth of those: 200–1000 ms, a stuck fsync). */
  slowRate = 0.01;
  /** At-rest corruption was injected: a refusal to open is then expected, not a bug. */
  corrupted: string[] = [];
  readonly stats: SimDiskStats = { writes: 0, syncs: 0, errors: 0, tornFiles: 0, lostFiles: 0, lostNsOps: 0, bitFlips: 0, inlineWrites: 0 };

  constructor(
    private readonly world: SimWorld,
    readonly name: string,
  ) {}

  /** The file system as process `proc` sees it. */
  storage(proc: Proc): RaftStorage {
    return new SimStorage(this, proc);
  }

  /**
   * The machine lost power: what was not durable is kept whole, lost, or torn at sector
   * granularity, per file; of the pending directory operations a random prefix survives.
   */
  crash(mode: 'random' | 'lose' = 'random'): void {
    const rng = this.world.rng;
    const keep = mode === 'lose' ? 0 : rng.int(0, this.pendingNs.length + 1);
    this.stats.lostNsOps += this.pendingNs.length - keep;
    for (let i = 0; i < keep; i++) applyNs(this.durableNames, this.pendingNs[i]!);
    this.pendingNs = [];
    this.names.clear();
    for (const [p, i] of this.durableNames) this.names.set(p, i);
    const live = new Set(this.durableNames.values());
    for (const [ino, f] of [...this.inodes]) {
      if (!live.has(ino)) {
        this.inodes.delete(ino);
        continue;
      }
      if (!f.dirty) continue;
      const r = mode === 'lose' ? 0 : rng.next();
      if (r < 0.3) {
        this.stats.lostFiles++;
      } else if (r < 0.5) {
        f.durable = f.data.slice(0, Math.max(f.size, 1));
        f.durableSize = f.size;
      } else {
        this.stats.tornFiles++;
        const size = rng.next() < 0.5 ? f.size : f.durableSize;
        const out = new Uint8Array(Math.max(size, 1));
        const span = Math.max(f.size, f.durableSize);
        for (let s = 0; s * SECTOR < Math.min(span, size); s++) {
          const a = s * SECTOR;
          const b = Math.min(a + SECTOR, size);
          const fresh = rng.next() < 0.5;
          const src = fresh ? f.data : f.durable;
          const srcSize = fresh ? f.size : f.durableSize;
          if (a < srcSize) out.set(src.subarray(a, Math.min(b, srcSize, src.length)), a);
        }
        f.durable = out;
        f.durableSize = size;
      }
      f.data = f.durable.slice();
      f.size = f.durableSize;
      f.dirty = false;
    }
  }

  /**
   * Flips one bit of one file's durable bytes (among its non-zero extent), as a disk does at
   * rest. Only while its process is down. Returns what was flipped, or undefined if no file has data.
   */
  corruptAtRest(filter: (path: string) => boolean = () => true): string | undefined {
    const rng = this.world.rng;
    const paths = [...this.durableNames.keys()].filter(filter).sort();
    const candidates = paths.filter((p) => {
      const f = this.inodes.get(this.durableNames.get(p)!)!;
      return lastNonZero(f.durable, f.durableSize) > 0;
    });
    if (candidates.length === 0) return undefined;
    const path = candidates[rng.int(0, candidates.length)]!;
    const f = this.inodes.get(this.durableNames.get(path)!)!;
    const off = rng.int(0, lastNonZero(f.durable, f.durableSize));
    const bit = 1 << rng.int(0, 8);
    f.durable[off]! ^= bit;
    f.data = f.durable.slice();
    f.size = f.durableSize;
    f.dirty = false;
    this.stats.bitFlips++;
    const what = `${path} byte ${off} bit ${Math.log2(bit)}`;
    this.corrupted.push(what);
    return what;
  }

  /** Prints the files under `prefix` (debugging a failing seed). */
  debugDump(prefix: string): void {
    for (const [p, ino] of [...this.names].sort()) {
      if (!p.startsWith(prefix)) continue;
      const f = this.inodes.get(ino)!;
      console.log(`${p} ino ${ino} size ${f.size} durable ${f.durableSize} dirty ${f.dirty} last non-zero byte ${lastNonZero(f.data, f.size) - 1}`);
    }
  }

  /** Paths of the files that would survive a crash now (for tests). */
  durablePaths(): string[] {
    return [...this.durableNames.keys()].sort();
  }

  // ---- what SimStorage calls --------------------------------------------------------------

  /** @internal Completes after a simulated latency, or never if `proc` died meanwhile. */
  io<T>(proc: Proc, fn: () => T, failable = false): Promise<T> {
    const rng = this.world.rng;
    const r = rng.next();
    // Mostly fast; sometimes slow; rarely stuck for longer than an election timeout.
    const delay = r < this.slowRate / 10 ? 200 + rng.next() * 800 : r < this.slowRate ? 5 + rng.next() * 45 : 0.02 + rng.next() * 0.3;
    const fail = failable && this.errorRate > 0 && rng.next() < this.errorRate ? (rng.next() < 0.5 ? 'EIO' : 'ENOSPC') : undefined;
    return new Promise<T>((resolve, reject) => {
      this.world.schedule(delay, () => {
        if (!proc.alive) return;
        if (fail) {
          this.stats.errors++;
          reject(errno(fail, `simulated ${fail} on ${this.name}`));
          return;
        }
        try {
          resolve(fn());
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** A synchronous write's injected failure, if any (see inlineWrites). */
  /** @internal */ syncFailure(): string | undefined {
    const rng = this.world.rng;
    return this.errorRate > 0 && rng.next() < this.errorRate ? (rng.next() < 0.5 ? 'EIO' : 'ENOSPC') : undefined;
  }

  /** @internal */ lookup(path: string): Inode {
    const ino = this.names.get(path);
    if (ino === undefined) throw errno('ENOENT', `no such file ${path}`);
    return this.inodes.get(ino)!;
  }

  /** @internal */ create(path: string): Inode {
    if (!this.dirs.has(dirname(path))) throw errno('ENOENT', `no directory for ${path}`);
    const existing = this.names.get(path);
    if (existing !== undefined) {
      const f = this.inodes.get(existing)!;
      this.truncate(f, 0);
      return f;
    }
    const f: Inode = { ino: this.nextIno++, data: new Uint8Array(0), size: 0, durable: new Uint8Array(0), durableSize: 0, dirty: false };
    this.inodes.set(f.ino, f);
    this.nsOp({ kind: 'link', path, ino: f.ino });
    return f;
  }

  /** @internal */ write(f: Inode, src: Uint8Array, position: number): void {
    f.data = grow(f.data, position + src.length);
    f.data.set(src, position);
    f.size = Math.max(f.size, position + src.length);
    f.dirty = true;
    this.stats.writes++;
  }

  /** @internal The write [position, end) reached the disk (O_DSYNC). */
  writeThrough(f: Inode, position: number, end: number): void {
    if (this.lieAboutSync) return;
    f.durable = grow(f.durable, end);
    f.durable.set(f.data.subarray(position, Math.min(end, f.size)), position);
    f.durableSize = Math.max(f.durableSize, Math.min(end, f.size));
    f.dirty = !sameBytes(f);
  }

  /** @internal */ truncate(f: Inode, length: number): void {
    if (length < f.size) f.data.fill(0, length, f.size);
    else f.data = grow(f.data, length);
    f.size = length;
    f.dirty = true;
  }

  /** @internal */ syncFile(f: Inode): void {
    this.stats.syncs++;
    f.durable = f.data.slice(0, Math.max(f.size, 1));
    f.durableSize = f.size;
    f.dirty = false;
  }

  /** @internal */ nsOp(op: NsOp): void {
    applyNs(this.names, op);
    this.pendingNs.push(op);
  }

  /** @internal Makes the first `n` pending directory operations durable. */
  syncNs(n: number): void {
    const done = this.pendingNs.splice(0, Math.min(n, this.pendingNs.length));
    for (const op of done) applyNs(this.durableNames, op);
  }

  /** @internal */ get pendingNsCount(): number {
    return this.pendingNs.length;
  }

  /** @internal */ mkdirp(dir: string): void {
    for (let d = dir; !this.dirs.has(d); d = dirname(d)) this.dirs.add(d);
  }

  /** @internal */ hasDir(dir: string): boolean {
    return this.dirs.has(dir);
  }

  /** @internal */ list(dir: string): string[] {
    if (!this.dirs.has(dir)) throw errno('ENOENT', `no such directory ${dir}`);
    const out = new Set<string>();
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const p of [...this.names.keys(), ...this.dirs]) {
      if (p.startsWith(prefix) && p.length > prefix.length && dirname(p) === dir) out.add(p.slice(prefix.length));
    }
    return [...out];
  }

  /** @internal rm -rf, durable at once (see the header). */
  removeTree(dir: string): void {
    const prefix = `${dir}/`;
    this.syncNs(this.pendingNs.length);
    for (const m of [this.names, this.durableNames]) for (const p of [...m.keys()]) if (p.startsWith(prefix)) m.delete(p);
    for (const d of [...this.dirs]) if (d === dir || d.startsWith(prefix)) this.dirs.delete(d);
  }

  /** @internal */ hasName(path: string): boolean {
    return this.names.has(path) || this.dirs.has(path);
  }
}

function applyNs(m: Map<string, number>, op: NsOp): void {
  if (op.kind === 'link') m.set(op.path, op.ino);
  else if (op.kind === 'unlink') m.delete(op.path);
  else {
    const ino = m.get(op.from);
    if (ino === undefined) return;
    m.delete(op.from);
    m.set(op.to, ino);
  }
}

function sameBytes(f: Inode): boolean {
  if (f.size !== f.durableSize) return false;
  for (let i = 0; i < f.size; i++) if (f.data[i] !== f.durable[i]) return false;
  return true;
}

function lastNonZero(b: Uint8Array, size: number): number {
  let d = Math.min(size, b.length);
  while (d > 0 && b[d - 1] === 0) d--;
  return d;
}

class SimFile implements StorageFile {
  private closed = false;
  writeSync?: (data: Uint8Array, offset: number, length: number, position: number) => number;
  constructor(
    private readonly disk: SimDisk,
    private readonly proc: Proc,
    private readonly f: Inode,
    private readonly dsync: boolean,
    private readonly writable: boolean,
  ) {
    if (disk.inlineWrites) this.writeSync = (data, offset, length, position) => this.writeNow(data, offset, length, position);
  }

  /** The synchronous write (SimDisk.inlineWrites): a dead process's call writes nothing. */
  private writeNow(data: Uint8Array, offset: number, length: number, position: number): number {
    this.check();
    if (!this.proc.alive) throw errno('EIO', 'the process is dead');
    if (!this.writable) throw errno('EBADF', 'file is open read-only');
    const fail = this.disk.syncFailure();
    if (fail) {
      this.disk.stats.errors++;
      throw errno(fail, `simulated ${fail} on ${this.disk.name}`);
    }
    this.disk.stats.inlineWrites++;
    this.disk.write(this.f, data.slice(offset, offset + length), position);
    if (this.dsync) this.disk.writeThrough(this.f, position, position + length);
    return length;
  }

  private check(): void {
    if (this.closed) throw errno('EBADF', 'file is closed');
  }

  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.disk.io(this.proc, () => {
      this.check();
      const n = Math.max(0, Math.min(length, this.f.size - position));
      buf.set(this.f.data.subarray(position, position + n), offset);
      return n;
    });
  }

  write(data: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.check();
    if (!this.proc.alive) return new Promise(() => undefined);
    if (!this.writable) return Promise.reject(errno('EBADF', 'file is open read-only'));
    // The bytes are in the page cache (and may reach the disk) from the moment of the call.
    this.disk.write(this.f, data.slice(offset, offset + length), position);
    return this.disk.io(
      this.proc,
      () => {
        if (this.dsync) this.disk.writeThrough(this.f, position, position + length);
        return length;
      },
      true,
    );
  }

  size(): Promise<number> {
    return this.disk.io(this.proc, () => this.f.size);
  }

  allocated(): Promise<number> {
    return this.disk.io(this.proc, () => {
      let blocks = 0;
      for (let b = 0; b * 4096 < this.f.size; b++) {
        const end = Math.min((b + 1) * 4096, this.f.size);
        for (let i = b * 4096; i < end; i++) {
          if (this.f.data[i] !== 0) {
            blocks++;
            break;
          }
        }
      }
      return blocks * 4096;
    });
  }

  truncate(length: number): Promise<void> {
    this.check();
    if (!this.proc.alive) return new Promise(() => undefined);
    this.disk.truncate(this.f, length);
    return this.disk.io(this.proc, () => undefined);
  }

  datasync(): Promise<void> {
    return this.disk.io(this.proc, () => this.disk.syncFile(this.f), true);
  }

  sync(): Promise<void> {
    return this.datasync();
  }

  close(): Promise<void> {
    this.closed = true;
    return this.disk.io(this.proc, () => undefined);
  }
}

class SimStorage implements RaftStorage {
  constructor(
    private readonly disk: SimDisk,
    private readonly proc: Proc,
  ) {}

  open(path: string, mode: OpenMode, opts?: { dsync?: boolean }): Promise<StorageFile> {
    return this.disk.io(
      this.proc,
      () => {
        const f = mode === 'create' ? this.disk.create(path) : this.disk.lookup(path);
        return new SimFile(this.disk, this.proc, f, opts?.dsync === true, mode !== 'read');
      },
      mode === 'create',
    );
  }

  readdir(dir: string): Promise<string[]> {
    return this.disk.io(this.proc, () => this.disk.list(dir));
  }

  mkdirp(dir: string): Promise<void> {
    return this.disk.io(this.proc, () => this.disk.mkdirp(dir));
  }

  rename(from: string, to: string): Promise<void> {
    return this.disk.io(this.proc, () => {
      this.disk.lookup(from);
      this.disk.nsOp({ kind: 'rename', from, to });
    });
  }

  unlink(path: string): Promise<void> {
    return this.disk.io(this.proc, () => {
      this.disk.lookup(path);
      this.disk.nsOp({ kind: 'unlink', path });
    });
  }

  exists(path: string): Promise<boolean> {
    return this.disk.io(this.proc, () => this.disk.hasName(path));
  }

  removeTree(path: string): Promise<void> {
    return this.disk.io(this.proc, () => this.disk.removeTree(path));
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.disk.io(this.proc, () => {
      const f = this.disk.lookup(path);
      return f.data.slice(0, f.size);
    });
  }

  syncDir(dir: string): Promise<void> {
    // Everything issued before the call is made durable (ordered metadata journal).
    const n = this.disk.pendingNsCount;
    return this.disk.io(this.proc, () => {
      if (!this.disk.hasDir(dir)) throw errno('ENOENT', `no such directory ${dir}`);
      this.disk.syncNs(n);
    });
  }
}
