// Reference model of the partition state machine (plain Maps: an executable statement of the
// semantics), a generator of op sequences against it, and run(): applies a sequence to a
// Partition and to the model and checks that results and the whole observable state agree after
// every step. Used by test/unit/partition-model.test.ts.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FileType,
  Partition,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  SetAttr,
  StatusCode,
  XATTR_CREATE,
  XATTR_REPLACE,
  type ChunkSlice,
  type InodeAttr,
  type OpResult,
  type PartitionOp,
  type Timestamp,
} from '../../src/metaserver/partition/index.ts';

const FS = 1;
const START = 0;
const END = 400;
const REMOTE = 1_000_000;
const NAMES = ['a', 'b', 'ab', 'B', 'é', '\u{1F600}', '\uffff', 'zz'];
const DIR = FileType.TYPE_DIRECTORY;
const REG = FileType.TYPE_S3;
const S = StatusCode;

type Status = StatusCode;
interface MInode {
  id: number;
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  length: number;
  c: Timestamp;
  m: Timestamp;
  a: Timestamp;
  parents: number[];
  symlink: string;
  rdev: number;
  dtime: number;
  xattrs: Map<string, Uint8Array>;
  chunks: Map<number, ChunkSlice[]>;
}
interface MEntry {
  ino: number;
  type: FileType;
}

const fmtBits: Record<number, number> = { 1: 0o040000, 2: 0o100000, 3: 0o120000, 4: 0o100000, 5: 0o010000, 6: 0o140000, 7: 0o020000, 8: 0o060000 };
const utf8Len = (s: string) => Buffer.byteLength(s);
const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const isReg = (t: number) => t === REG || t === FileType.TYPE_FILE;

function nameStatus(n: string): Status {
  if (n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\0') || !(n as unknown as { isWellFormed(): boolean }).isWellFormed()) return S.INVALID_NAME;
  return utf8Len(n) > 255 ? S.NAME_TOO_LONG : S.OK;
}

/** The reference model: the semantics in plain Maps, no performance tricks. */
class Model {
  inodes = new Map<number, MInode>();
  dirs = new Map<number, Map<string, MEntry>>();
  sealed = new Set<number>();
  bytes = new Map<number, number>();
  deleted = new Map<number, number>();
  nextId = 3;
  dentries = 0;

  attr(id: number): InodeAttr {
    const i = this.inodes.get(id)!;
    return {
      inodeId: id,
      fsId: FS,
      length: i.length,
      ctime: i.c.sec,
      ctimeNs: i.c.nsec,
      mtime: i.m.sec,
      mtimeNs: i.m.nsec,
      atime: i.a.sec,
      atimeNs: i.a.nsec,
      uid: i.uid,
      gid: i.gid,
      mode: i.mode,
      nlink: i.nlink,
      type: i.type,
      symlink: i.symlink,
      rdev: i.rdev,
      dtime: i.dtime,
      parent: [...i.parents],
    };
  }

  /** link/unlink answer the first parent only (answers must not grow with the link count). */
  private firstParentAttr(id: number) {
    const a = this.attr(id);
    return { ...a, parent: a.parent.slice(0, 1) };
  }

  private owns(id: number) {
    return id >= START && id <= END;
  }
  private local(id: number) {
    return this.owns(id) && this.inodes.has(id);
  }
  private inode(id: number): Status {
    if (!this.owns(id)) return S.ID_OUT_OF_RANGE;
    return this.inodes.has(id) ? S.OK : S.NOT_FOUND;
  }
  private dir(id: number): Status {
    const s = this.inode(id);
    if (s !== S.OK) return s;
    const i = this.inodes.get(id)!;
    if (i.type !== DIR) return S.NOT_DIRECTORY;
    return i.nlink === 0 ? S.NOT_FOUND : S.OK;
  }
  private createParent(id: number): Status {
    const s = this.dir(id);
    if (s !== S.OK) return s;
    return this.sealed.has(id) ? S.DIRECTORY_REMOVED : S.OK;
  }
  private entries(d: number): Map<string, MEntry> {
    let m = this.dirs.get(d);
    if (!m) this.dirs.set(d, (m = new Map()));
    return m;
  }
  private addBytes(d: number, delta: number) {
    this.bytes.set(d, Math.max(0, (this.bytes.get(d) ?? 0) + delta));
  }
  private childBytes(ino: number, type: number, hint?: number): number {
    if (!isReg(type)) return 0;
    if (this.local(ino)) return this.inodes.get(ino)!.length;
    return hint ?? 0;
  }
  subdirs(d: number): number {
    return [...(this.dirs.get(d)?.values() ?? [])].filter((e) => e.type === DIR).length;
  }

  newInode(op: { type: FileType; mode: number; uid: number; gid: number; symlink?: string; rdev?: number; time: Timestamp }, parent: number): number {
    const id = this.nextId++;
    const dir = op.type === DIR;
    const symlink = op.type === FileType.TYPE_SYM_LINK ? op.symlink! : '';
    this.inodes.set(id, {
      id,
      type: op.type,
      mode: fmtBits[op.type]! | (op.mode & 0o7777),
      uid: op.uid,
      gid: op.gid,
      nlink: dir ? 2 : 1,
      length: dir ? 4096 : utf8Len(symlink),
      c: op.time,
      m: op.time,
      a: op.time,
      parents: [parent],
      symlink,
      rdev: op.rdev ?? 0,
      dtime: 0,
      xattrs: new Map(),
      chunks: new Map(),
    });
    if (dir) this.dirs.set(id, new Map());
    return id;
  }

  private newInodeStatus(op: { type: FileType; symlink?: string }): Status {
    if (op.type === FileType.TYPE_SYM_LINK && !op.symlink) return S.SYM_LINK_EMPTY;
    if (op.type !== FileType.TYPE_SYM_LINK && op.symlink) return S.WRONG_TYPE;
    return this.nextId > END ? S.PARTITION_ALLOC_ID_FAIL : S.OK;
  }

  private addEntry(parent: number, name: string, ino: number, type: FileType, bytes: number, t: Timestamp) {
    this.entries(parent).set(name, { ino, type });
    this.addBytes(parent, bytes);
    this.dentries++;
    const p = this.inodes.get(parent)!;
    if (type === DIR) p.nlink++;
    p.m = t;
    p.c = t;
  }

  private dropLink(id: number, parent: number, t: Timestamp) {
    const i = this.inodes.get(id)!;
    i.nlink = i.type === DIR ? 0 : i.nlink - 1;
    const k = i.parents.indexOf(parent);
    if (k >= 0) i.parents.splice(k, 1);
    i.c = t;
    if (i.nlink === 0) {
      i.dtime = t.sec;
      this.deleted.set(id, t.sec);
    }
  }

  private trim(i: MInode, len: number) {
    const out = new Map<number, ChunkSlice[]>();
    for (const [k, list] of i.chunks) {
      const kept = list.filter((s) => s.offset < len).map((s) => (s.offset + s.len > len ? { ...s, len: len - s.offset } : s));
      if (kept.length) out.set(k, kept);
    }
    i.chunks = out;
  }

  private adjustParents(id: number, delta: number) {
    if (delta === 0) return;
    for (const p of this.inodes.get(id)!.parents) if (this.local(p) && this.inodes.get(p)!.type === DIR) this.addBytes(p, delta);
  }

  apply(op: PartitionOp): { status: Status; [k: string]: unknown } {
    switch (op.kind) {
      case 'createFile': {
        const s = this.createParent(op.parent);
        if (s !== S.OK) return { status: s };
        const n = nameStatus(op.name);
        if (n !== S.OK) return { status: n };
        const c = this.newInodeStatus(op);
        if (c !== S.OK) return { status: c };
        if (this.entries(op.parent).has(op.name)) return { status: S.DENTRY_EXIST };
        const id = this.newInode(op, op.parent);
        this.addEntry(op.parent, op.name, id, op.type, 0, op.time);
        return { status: S.OK, inode: this.attr(id), parent: this.attr(op.parent) };
      }
      case 'createInode': {
        const c = this.newInodeStatus(op);
        if (c !== S.OK) return { status: c };
        const id = this.newInode(op, op.parent);
        return { status: S.OK, inode: this.attr(id) };
      }
      case 'createDentry': {
        const s = this.createParent(op.parent);
        if (s !== S.OK) return { status: s };
        const n = nameStatus(op.name);
        if (n !== S.OK) return { status: n };
        if (op.ino === op.parent) return { status: S.PARAM_ERROR };
        const e = this.entries(op.parent).get(op.name);
        if (e) return e.ino === op.ino && e.type === op.type ? { status: S.OK, parent: this.attr(op.parent) } : { status: S.DENTRY_EXIST };
        if (this.owns(op.ino)) {
          const i = this.inodes.get(op.ino);
          if (!i || i.nlink === 0) return { status: S.NOT_FOUND };
          if (i.type !== op.type) return { status: S.WRONG_TYPE };
        }
        this.addEntry(op.parent, op.name, op.ino, op.type, this.childBytes(op.ino, op.type, op.length), op.time);
        return { status: S.OK, parent: this.attr(op.parent) };
      }
      case 'deleteDentry': {
        const s = this.dir(op.parent);
        if (s !== S.OK) return { status: s };
        const n = nameStatus(op.name);
        if (n !== S.OK) return { status: n };
        const e = this.entries(op.parent).get(op.name);
        if (!e) return { status: S.NOT_FOUND };
        const isDir = e.type === DIR;
        if (op.expectDir === true && !isDir) return { status: S.NOT_DIRECTORY };
        if (op.expectDir === false && isDir) return { status: S.IS_DIRECTORY };
        const local = this.local(e.ino);
        if (isDir && local && (this.dirs.get(e.ino)?.size ?? 0) > 0) return { status: S.DIRECTORY_NOT_EMPTY };
        const unlink = op.unlinkInode === true && local && this.inodes.get(e.ino)!.nlink > 0;
        const bytes = this.childBytes(e.ino, e.type, op.length);
        this.entries(op.parent).delete(op.name);
        this.addBytes(op.parent, -bytes);
        this.dentries--;
        const p = this.inodes.get(op.parent)!;
        if (isDir) p.nlink = Math.max(2, p.nlink - 1);
        p.m = p.c = op.time;
        if (unlink) this.dropLink(e.ino, op.parent, op.time);
        return { status: S.OK, dentry: { parent: op.parent, name: op.name, ino: e.ino, type: e.type }, effect: { ino: e.ino, type: e.type, unlinked: unlink } };
      }
      case 'link': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        const i = this.inodes.get(op.ino)!;
        if (i.nlink === 0) return { status: S.NOT_FOUND };
        if (i.type === DIR) return { status: S.NOT_PERMITTED };
        i.nlink++;
        i.parents.push(op.parent);
        i.c = op.time;
        return { status: S.OK, inode: this.firstParentAttr(op.ino) };
      }
      case 'unlink': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        const i = this.inodes.get(op.ino)!;
        if (i.nlink === 0) return { status: S.NOT_FOUND };
        if (i.type === DIR && (this.dirs.get(op.ino)?.size ?? 0) > 0) return { status: S.DIRECTORY_NOT_EMPTY };
        this.dropLink(op.ino, op.parent, op.time);
        return { status: S.OK, inode: this.firstParentAttr(op.ino) };
      }
      case 'setattr': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        const i = this.inodes.get(op.ino)!;
        if (op.mask & SetAttr.SIZE) {
          if (i.type === DIR) return { status: S.IS_DIRECTORY };
          if (!isReg(i.type)) return { status: S.WRONG_TYPE };
        }
        let delta = 0;
        if (op.mask !== 0) {
          if (op.mask & SetAttr.MODE) i.mode = (i.mode & 0o170000) | (op.mode! & 0o7777);
          if (op.mask & SetAttr.UID) i.uid = op.uid!;
          if (op.mask & SetAttr.SIZE && op.length !== i.length) {
            delta = op.length! - i.length;
            if (op.length! < i.length) this.trim(i, op.length!);
            i.length = op.length!;
            i.m = op.time;
            this.adjustParents(op.ino, delta);
          }
          i.c = op.time;
        }
        return { status: S.OK, inode: this.attr(op.ino), lengthDelta: delta };
      }
      case 'setXattr': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        const i = this.inodes.get(op.ino)!;
        if (op.name.startsWith('user.') && i.type !== DIR && !isReg(i.type)) return { status: S.NOT_PERMITTED };
        const has = i.xattrs.has(op.name);
        if (op.flags & XATTR_CREATE && has) return { status: S.XATTR_EXIST };
        if (op.flags & XATTR_REPLACE && !has) return { status: S.NO_XATTR };
        i.xattrs.set(op.name, op.value.slice());
        i.c = op.time;
        return { status: S.OK };
      }
      case 'removeXattr': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        const i = this.inodes.get(op.ino)!;
        if (!i.xattrs.delete(op.name)) return { status: S.NO_XATTR };
        i.c = op.time;
        return { status: S.OK };
      }
      case 'appendChunks': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        const i = this.inodes.get(op.ino)!;
        if (!isReg(i.type)) return { status: S.WRONG_TYPE };
        let end = op.minLength ?? 0;
        for (const c of op.chunks) {
          for (const sl of c.slices) end = Math.max(end, sl.offset + sl.len);
          if (c.slices.length === 0) continue;
          // Each slice gets the next append sequence of its chunk (what it carried is ignored).
          const old = i.chunks.get(c.index) ?? [];
          const top = old.reduce((m, x) => Math.max(m, x.seq ?? 0), 0);
          i.chunks.set(c.index, [...old, ...c.slices.map((x, k) => ({ ...x, seq: top + 1 + k }))]);
        }
        let delta = 0;
        if (end > i.length) {
          delta = end - i.length;
          i.length = end;
          this.adjustParents(op.ino, delta);
        }
        i.m = i.c = op.time;
        return { status: S.OK, inode: this.attr(op.ino), lengthDelta: delta };
      }
      case 'trimChunks': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        const i = this.inodes.get(op.ino)!;
        if (!isReg(i.type)) return { status: S.WRONG_TYPE };
        this.trim(i, op.length);
        return { status: S.OK };
      }
      case 'sealDirectory':
      case 'unsealDirectory': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        if (this.inodes.get(op.ino)!.type !== DIR) return { status: S.NOT_DIRECTORY };
        if (op.kind === 'sealDirectory') {
          if ((this.dirs.get(op.ino)?.size ?? 0) > 0) return { status: S.DIRECTORY_NOT_EMPTY };
          this.sealed.add(op.ino);
        } else this.sealed.delete(op.ino);
        return { status: S.OK };
      }
      case 'deleteInode': {
        const s = this.inode(op.ino);
        if (s !== S.OK) return { status: s };
        if (this.inodes.get(op.ino)!.nlink !== 0) return { status: S.BUSY };
        this.inodes.delete(op.ino);
        this.dirs.delete(op.ino);
        this.sealed.delete(op.ino);
        this.bytes.delete(op.ino);
        this.deleted.delete(op.ino);
        return { status: S.OK };
      }
      case 'rename':
        return this.rename(op);
      default:
        throw new Error(`model has no ${op.kind}`);
    }
  }

  private rename(op: Extract<PartitionOp, { kind: 'rename' }>): { status: Status; [k: string]: unknown } {
    for (const s of [this.dir(op.srcParent), this.dir(op.dstParent), nameStatus(op.srcName), nameStatus(op.dstName)]) if (s !== S.OK) return { status: s };
    if (op.flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) return { status: S.PARAM_ERROR };
    const exchange = (op.flags & RENAME_EXCHANGE) !== 0;
    const sd = this.entries(op.srcParent);
    const dd = this.entries(op.dstParent);
    const src = sd.get(op.srcName);
    if (!src) return { status: S.NOT_FOUND };
    const dst = dd.get(op.dstName);
    if (exchange && !dst) return { status: S.NOT_FOUND };
    if (op.flags & RENAME_NOREPLACE && dst) return { status: S.DENTRY_EXIST };
    const moved = { ino: src.ino, type: src.type, local: this.local(src.ino) };
    if ((op.srcParent === op.dstParent && op.srcName === op.dstName) || dst?.ino === src.ino) return { status: S.OK, moved, noop: true };
    if (!exchange && this.sealed.has(op.dstParent)) return { status: S.DIRECTORY_REMOVED };
    if (src.type === DIR && src.ino === op.dstParent) return { status: S.INVALID_RENAME };
    if (exchange && dst!.type === DIR && dst!.ino === op.srcParent) return { status: S.INVALID_RENAME };
    if (!exchange && dst) {
      if (src.type === DIR && dst.type !== DIR) return { status: S.NOT_DIRECTORY };
      if (src.type !== DIR && dst.type === DIR) return { status: S.IS_DIRECTORY };
      if (dst.type === DIR && this.local(dst.ino) && (this.dirs.get(dst.ino)?.size ?? 0) > 0) return { status: S.DIRECTORY_NOT_EMPTY };
    }
    const t = op.time;
    const srcBytes = this.childBytes(src.ino, src.type);
    const dstBytes = dst ? this.childBytes(dst.ino, dst.type) : 0;
    const sub0 = this.subdirs(op.srcParent);
    const dsub0 = this.subdirs(op.dstParent);
    const out: { status: Status; [k: string]: unknown } = { status: S.OK, moved, noop: false };
    if (exchange) {
      sd.set(op.srcName, dst!);
      dd.set(op.dstName, src);
      this.addBytes(op.srcParent, dstBytes - srcBytes);
      this.addBytes(op.dstParent, srcBytes - dstBytes);
      out.exchanged = { ino: dst!.ino, type: dst!.type, local: this.local(dst!.ino) };
    } else {
      sd.delete(op.srcName);
      dd.set(op.dstName, src);
      this.addBytes(op.srcParent, -srcBytes);
      this.addBytes(op.dstParent, srcBytes - dstBytes);
      if (dst) this.dentries--;
    }
    const sp = this.inodes.get(op.srcParent)!;
    const dp = this.inodes.get(op.dstParent)!;
    sp.nlink += this.subdirs(op.srcParent) - sub0;
    if (op.dstParent !== op.srcParent) dp.nlink += this.subdirs(op.dstParent) - dsub0;
    sp.m = sp.c = dp.m = dp.c = t;
    const move = (id: number, from: number, to: number) => {
      const i = this.inodes.get(id)!;
      const k = i.parents.indexOf(from);
      if (from !== to && k >= 0) i.parents[k] = to;
      i.c = t;
    };
    if (moved.local) move(src.ino, op.srcParent, op.dstParent);
    if (exchange) {
      if (this.local(dst!.ino)) move(dst!.ino, op.dstParent, op.srcParent);
    } else if (dst) {
      const unlinked = this.local(dst.ino) && this.inodes.get(dst.ino)!.nlink > 0;
      if (unlinked) this.dropLink(dst.ino, op.dstParent, t);
      out.replaced = { ino: dst.ino, type: dst.type, unlinked };
    }
    return out;
  }
}

/** Everything observable about the partition, in a comparable form. */
export function observe(p: Partition, ids: Iterable<number>): unknown {
  const out: unknown[] = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    const r = p.getInode(id);
    if (r.status !== S.OK) {
      out.push([id, r.status]);
      continue;
    }
    const { xattrs, chunks, ...attr } = r.inode;
    out.push(attr, [...xattrs].map(([k, v]) => [k, [...v]]), [...chunks]);
    if (attr.type === DIR) {
      const l = p.listDentry(id);
      const st = p.dirStats(id);
      assert.equal(l.status, S.OK);
      assert.equal(st.status, S.OK);
      if (l.status === S.OK && st.status === S.OK) out.push(l.entries.map((e) => [e.name, e.ino, e.type]), st.stats, st.sealed);
    }
  }
  return { out, deleted: p.deletionList(), stats: p.stats() };
}

function observeModel(m: Model, ids: Iterable<number>): unknown {
  const out: unknown[] = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    const i = m.inodes.get(id);
    if (!i) {
      out.push([id, S.NOT_FOUND]);
      continue;
    }
    out.push(
      m.attr(id),
      [...i.xattrs].sort((a, b) => cmp(a[0], b[0])).map(([k, v]) => [k, [...v]]),
      [...i.chunks].sort((a, b) => a[0] - b[0]),
    );
    if (i.type === DIR) {
      const entries = [...(m.dirs.get(id) ?? new Map<string, MEntry>())].sort((a, b) => cmp(a[0], b[0]));
      const subdirs = entries.filter(([, e]) => e.type === DIR).length;
      out.push(
        entries.map(([n, e]) => [n, e.ino, e.type]),
        { entries: entries.length, files: entries.length - subdirs, subdirs, bytes: m.bytes.get(id) ?? 0 },
        m.sealed.has(id),
      );
    }
  }
  const byType: Record<number, number> = {};
  for (const i of m.inodes.values()) byType[i.type] = (byType[i.type] ?? 0) + 1;
  // Used bytes of the fs, by definition: the lengths of the regular files still stored
  // (unlinked ones included until deleteInode), summed afresh instead of kept in step.
  let fileBytes = 0;
  for (const i of m.inodes.values()) if (isReg(i.type)) fileBytes += i.length;
  return {
    out,
    deleted: [...m.deleted].sort((a, b) => a[0] - b[0]).map(([ino, dtime]) => ({ ino, dtime })),
    stats: { inodes: m.inodes.size, dentries: m.dentries, fileBytes, byType, deleted: m.deleted.size, nextId: m.nextId, status: m.nextId > END ? 2 : 1 },
  };
}

// ---------------------------------------------------------------------------------------------
// op generation: seeds of small numbers, turned into ops against the model's current state so
// most ops hit existing inodes and names (and some miss on purpose).

export const seedArb = fc.record({
  k: fc.nat(21),
  a: fc.nat(1000),
  b: fc.nat(1000),
  c: fc.nat(1000),
  n1: fc.nat(NAMES.length + 1),
  n2: fc.nat(NAMES.length - 1),
  f: fc.nat(7),
});
export type Seed = typeof seedArb extends fc.Arbitrary<infer T> ? T : never;

function pick<T>(xs: T[], k: number): T | undefined {
  return xs.length === 0 ? undefined : xs[k % xs.length];
}

function toOp(m: Model, s: Seed, step: number): PartitionOp {
  const time = { sec: 1_700_000_000 + step, nsec: s.c % 1000 };
  const all = [...m.inodes.keys()];
  const dirs = all.filter((id) => m.inodes.get(id)!.type === DIR);
  const files = all.filter((id) => isReg(m.inodes.get(id)!.type));
  // Mostly existing ids; sometimes a missing local id, a remote id or an out-of-range id.
  const anyId = (k: number, pool: number[]): number => {
    if (k % 17 === 0) return END + 1 + (k % 5);
    if (k % 13 === 0) return 3 + (k % END);
    return pick(pool, k) ?? 1;
  };
  const name = (k: number) => (k === NAMES.length ? '..' : k === NAMES.length + 1 ? 'x'.repeat(256) : NAMES[k]!);
  const fileType = [REG, REG, DIR, DIR, FileType.TYPE_SYM_LINK, FileType.TYPE_FIFO, FileType.TYPE_CHAR_DEVICE, REG][s.f]!;
  const slice = (k: number): ChunkSlice => ({ chunkId: k, compaction: k % 3, offset: (k * 37) % 500, len: 1 + (k % 100), size: 1 + (k % 100), zero: k % 2 === 0 });
  switch (s.k) {
    case 0:
    case 1:
    case 2:
    case 3:
      return {
        kind: 'createFile',
        fsId: FS,
        parent: anyId(s.a, dirs),
        name: name(s.n1),
        type: fileType,
        mode: s.b & 0o7777,
        uid: s.c,
        gid: 7,
        symlink: fileType === FileType.TYPE_SYM_LINK ? (s.b % 9 === 0 ? '' : `t${s.b}`) : undefined,
        rdev: fileType === FileType.TYPE_CHAR_DEVICE ? s.c : undefined,
        time,
      };
    case 4:
      return { kind: 'createInode', fsId: FS, parent: anyId(s.a, dirs), type: fileType === FileType.TYPE_SYM_LINK ? REG : fileType, mode: 0o640, uid: 1, gid: 2, time };
    case 5: {
      // A dentry for an existing local inode (hard link or orphan), or for a remote inode.
      const remote = s.b % 3 === 0;
      const ino = remote ? REMOTE + s.b : anyId(s.b, all);
      const type = remote ? (s.b % 2 ? DIR : REG) : (m.inodes.get(ino)?.type ?? REG);
      return { kind: 'createDentry', fsId: FS, parent: anyId(s.a, dirs), name: name(s.n1), ino, type, length: remote && type === REG ? s.c : undefined, time };
    }
    case 6:
    case 7: {
      const parent = anyId(s.a, dirs);
      const names = [...(m.dirs.get(parent)?.keys() ?? [])];
      return {
        kind: 'deleteDentry',
        fsId: FS,
        parent,
        name: pick(names, s.b) ?? name(s.n1),
        expectDir: s.f < 2 ? s.f === 0 : undefined,
        unlinkInode: s.c % 4 !== 0,
        time,
      };
    }
    case 8:
      return { kind: 'link', fsId: FS, ino: anyId(s.a, all), parent: anyId(s.b, dirs), time };
    case 9: {
      const ino = anyId(s.a, all);
      return { kind: 'unlink', fsId: FS, ino, parent: pick(m.inodes.get(ino)?.parents ?? [], s.b) ?? 1, time };
    }
    case 10:
      return { kind: 'setattr', fsId: FS, ino: anyId(s.a, all), mask: [SetAttr.SIZE, SetAttr.MODE | SetAttr.UID, SetAttr.SIZE | SetAttr.MODE, 0][s.f % 4]!, length: s.b % 700, mode: s.c & 0o7777, uid: s.c, time };
    case 11:
      return { kind: 'setXattr', fsId: FS, ino: anyId(s.a, all), name: ['user.a', 'user.b', 'trusted.c'][s.b % 3]!, value: new Uint8Array([s.c & 255, s.b & 255]), flags: [0, XATTR_CREATE, XATTR_REPLACE][s.f % 3]!, time };
    case 12:
      return { kind: 'removeXattr', fsId: FS, ino: anyId(s.a, all), name: ['user.a', 'user.b', 'trusted.c'][s.b % 3]!, time };
    case 13:
    case 14:
    case 15: {
      const srcParent = anyId(s.a, dirs);
      const names = [...(m.dirs.get(srcParent)?.keys() ?? [])];
      return {
        kind: 'rename',
        fsId: FS,
        srcParent,
        srcName: pick(names, s.b) ?? name(s.n1),
        dstParent: anyId(s.c, dirs),
        dstName: NAMES[s.n2]!,
        flags: [0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_EXCHANGE, 3, 0][s.f]!,
        time,
      };
    }
    case 16:
      return { kind: 'appendChunks', fsId: FS, ino: anyId(s.a, files), chunks: [{ index: s.b % 3, slices: [slice(s.c), slice(s.c + 1)] }], minLength: s.f === 0 ? s.b : undefined, time };
    case 17:
      return { kind: 'trimChunks', fsId: FS, ino: anyId(s.a, files), length: s.b % 500 };
    case 18:
      return { kind: s.f % 2 ? 'sealDirectory' : 'unsealDirectory', fsId: FS, ino: anyId(s.a, dirs) };
    case 19:
      return { kind: 'deleteInode', fsId: FS, ino: anyId(s.a, [...m.deleted.keys(), ...all]) };
    default:
      return { kind: 'createFile', fsId: FS, parent: 1, name: `n${s.a}`, type: REG, mode: 0o644, uid: 0, gid: 0, time };
  }
}

/** Tally of (op kind, status) pairs, for checking what the generator reaches. */
export const coverage = new Map<string, number>();

export function run(seeds: Seed[]): { p: Partition; m: Model } {
  const p = new Partition({ partitionId: 1, fsId: FS, start: START, end: END });
  const m = new Model();
  const t0 = { sec: 1_700_000_000, nsec: 0 };
  const r0 = p.apply({ kind: 'createRootInode', fsId: FS, mode: 0o755, uid: 0, gid: 0, time: t0 });
  assert.equal(r0.status, S.OK);
  m.inodes.set(1, { id: 1, type: DIR, mode: 0o040755, uid: 0, gid: 0, nlink: 2, length: 4096, c: t0, m: t0, a: t0, parents: [], symlink: '', rdev: 0, dtime: 0, xattrs: new Map(), chunks: new Map() });
  m.dirs.set(1, new Map());
  const seen = new Set<number>([1]);
  seeds.forEach((s, step) => {
    const op = toOp(m, s, step);
    const got: OpResult = p.apply(op);
    const want = m.apply(op);
    coverage.set(`${op.kind} ${S[got.status]}`, (coverage.get(`${op.kind} ${S[got.status]}`) ?? 0) + 1);
    for (const id of m.inodes.keys()) seen.add(id);
    const ctx = `step ${step}: ${JSON.stringify(op)} → ${JSON.stringify(got)}`;
    assert.equal(S[got.status], S[want.status], ctx);
    if (want.status === S.OK) {
      for (const k of Object.keys(want)) assert.deepEqual((got as Record<string, unknown>)[k], want[k], `${ctx}: field ${k}`);
    }
    assert.deepEqual(observe(p, seen), observeModel(m, seen), ctx);
  });
  return { p, m };
}

