// The key/value records of a partition inside a CURVEFS snapshot (docs/formats.md, "CURVEFS
// snapshot"). Keys: record type (1 byte), partition id (u32 BE), then the fixed-width big-endian
// ids and name bytes of the record, so byte order = namespace order and a directory's entries
// are one contiguous key range. Values: LEB128 varints and length-prefixed bytes.
import { Out, In, DecodeError, readU32be, readU64be } from './bytes.ts';
import { Directory, LEAF_MAX } from './directory.ts';
import {
  F_ATIME,
  F_CTIME,
  F_LENGTH,
  F_MTIME,
  F_PARENT,
  F64_STRIDE,
  InodeExtra,
  PAGE_SIZE,
  U_ATIME_NS,
  U_CTIME_NS,
  U_GID,
  U_MODE,
  U_MTIME_NS,
  U_NLINK,
  U_UID,
  U32_STRIDE,
  type Page,
} from './inode-store.ts';
import { checkName, isPlainName, readUtf8, utf8Length, writeUtf8, compareNames } from './names.ts';
import { Partition, typeMode } from './partition.ts';
import { ClientWindow } from './request-table.ts';
import { FileType, MAX_INODE_ID, MAX_NAME_BYTES, PartitionStatus, S_IFMT, StatusCode, type ChunkSlice, type OpResult } from './types.ts';
import type { PartitionView } from './view.ts';

/** Record types, in the order they appear in a snapshot (the first key byte). */
export const RecordType = {
  PARTITION: 1,
  INODE: 2,
  CHUNKS: 3,
  DENTRY: 4,
  DELETED: 5,
  REQUESTS: 6,
  /** A name in the trash (TRASH_VERSION on). */
  TRASH: 7,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];
export const RECORD_TYPES: readonly RecordType[] = [1, 2, 3, 4, 5, 6, 7];
export const RECORD_NAMES: Record<number, string> = {
  1: 'partition',
  2: 'inode',
  3: 'chunks',
  4: 'dentry',
  5: 'deleted',
  6: 'requests',
  7: 'trash',
};

/**
 * The first snapshot version whose chunk records carry each slice's append sequence (after its
 * zero flag). Older chunk records have none: the loader gives their slices sequences in their
 * chunk-id order (then compaction), which is how those versions ordered overlapping slices.
 */
export const SLICE_SEQ_VERSION = 3;

/** The first snapshot version that may hold TRASH records (the per-partition trash). */
export const TRASH_VERSION = 4;

/**
 * The first snapshot version whose chunk records carry each slice's owner after its sequence
 * (0 = the inode's own objects; a clone's shared slice names its source, architecture.md §6d).
 */
export const SLICE_OWNER_VERSION = 5;

/**
 * The first snapshot version whose TRASH records may hold a directory or an inode of another
 * partition (removed directories go to the trash, architecture.md §6c). Same record layout; an
 * older reader refuses the version rather than one of these entries.
 */
export const TRASH_DIR_VERSION = 6;

/** Inode record flag: the directory is sealed. */
const FLAG_SEALED = 1;

const enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// encoding

/** Starts a pair whose key is `keyLen` bytes; returns where the value length goes. */
function beginKey(w: Out, type: number, pid: number, keyLen: number): void {
  w.u32le(keyLen);
  w.u8(type);
  w.u32be(pid);
}
function beginValue(w: Out): number {
  const at = w.pos;
  w.pos += 4;
  return at;
}
function endValue(w: Out, at: number): void {
  w.patch32le(at, w.pos - at - 4);
}

/**
 * Writes the records of one type of a frozen partition into `w`, yielding whenever `w` holds a
 * chunk's worth of bytes (the caller takes the chunk and resumes). Returns the pair count.
 */
export function* encodeRecords(view: PartitionView, type: RecordType, w: Out): Generator<void, number> {
  switch (type) {
    case RecordType.PARTITION:
      return yield* encodePartition(view, w);
    case RecordType.INODE:
      return yield* encodeInodes(view, w);
    case RecordType.CHUNKS:
      return yield* encodeChunks(view, w);
    case RecordType.DENTRY:
      return yield* encodeDentries(view, w);
    case RecordType.DELETED:
      return yield* encodeDeleted(view, w);
    case RecordType.REQUESTS:
      return yield* encodeRequests(view, w);
    case RecordType.TRASH:
      return yield* encodeTrash(view, w);
  }
}

function* encodePartition(v: PartitionView, w: Out): Generator<void, number> {
  w.reserve(128);
  beginKey(w, RecordType.PARTITION, v.partitionId, 5);
  const at = beginValue(w);
  w.varint(v.fsId);
  w.varint(v.start);
  w.varint(v.end);
  w.varint(v.nextId);
  w.varint(v.status);
  // Two reserved fields (version 1: the LRU clock and client bound of the request table).
  w.varint(0);
  w.varint(0);
  w.varint(v.limits.window);
  w.varint(v.maxLinks);
  w.varint(v.inodeCount);
  w.varint(v.dentryCount);
  w.varint(v.chunkLists);
  w.varint(v.deletedCount);
  w.varint(v.clients.length);
  endValue(w, at);
  return 1;
}

/**
 * Inode slots a scan visits between two yields when it writes few records (block maps and the
 * deletion list are nearly empty in most partitions): without it, one such scan of a million
 * inodes holds the event loop for tens of milliseconds. A yield with a part-full buffer just
 * makes a shorter chunk.
 */
const SCAN_SLOTS_PER_YIELD = 8192;

/** Visits the existing inode slots of a frozen page table in id order. */
function* slots(v: PartitionView): Generator<[Page, number, number]> {
  const pages = v.pages;
  for (let pn = 0; pn < pages.length; pn++) {
    const p = pages[pn];
    if (p === undefined) continue;
    const base = v.start + pn * PAGE_SIZE;
    for (let i = 0; i < p.cap; i++) if (p.type[i] !== 0) yield [p, i, base + i];
  }
}

function* encodeInodes(v: PartitionView, w: Out): Generator<void, number> {
  let n = 0;
  const pages = v.pages;
  for (let pn = 0; pn < pages.length; pn++) {
    const p = pages[pn];
    if (p === undefined) continue;
    const base = v.start + pn * PAGE_SIZE;
    const f64 = p.f64;
    const u32 = p.u32;
    for (let i = 0; i < p.cap; i++) {
      const type = p.type[i]!;
      if (type === 0) continue;
      const ex = p.extras?.[i];
      const dir = p.dirs?.[i];
      let bound = 160;
      if (ex !== undefined) {
        bound += ex.symlink.length * 3 + (ex.parents?.length ?? 0) * 9;
        if (ex.xattrs) for (const [k, val] of ex.xattrs) bound += k.length * 3 + val.length + 10;
      }
      if (w.full(bound)) yield;
      w.reserve(bound);
      beginKey(w, RecordType.INODE, v.partitionId, 13);
      w.u64be(base + i);
      const at = beginValue(w);
      const f = i * F64_STRIDE;
      const u = i * U32_STRIDE;
      w.u8(type);
      w.varint(u32[u + U_MODE]!);
      w.varint(u32[u + U_UID]!);
      w.varint(u32[u + U_GID]!);
      w.varint(u32[u + U_NLINK]!);
      w.varint(f64[f + F_LENGTH]!);
      w.varint(f64[f + F_CTIME]!);
      w.varint(u32[u + U_CTIME_NS]!);
      w.varint(f64[f + F_MTIME]!);
      w.varint(u32[u + U_MTIME_NS]!);
      w.varint(f64[f + F_ATIME]!);
      w.varint(u32[u + U_ATIME_NS]!);
      w.varint(ex?.rdev ?? 0);
      w.varint(ex?.dtime ?? 0);
      w.u8(dir?.sealed ? FLAG_SEALED : 0);
      w.varint(dir?.bytes ?? 0);
      const p0 = f64[f + F_PARENT]!;
      const more = ex?.parents;
      w.varint(p0 === 0 ? 0 : 1 + (more?.length ?? 0));
      if (p0 !== 0) {
        w.varint(p0);
        if (more) for (const x of more) w.varint(x);
      }
      const sym = ex?.symlink ?? '';
      w.varint(utf8Length(sym));
      w.pos = writeUtf8(sym, w.buf, w.pos);
      const xs = ex?.xattrs;
      if (xs) {
        const names = [...xs.keys()].sort(compareNames);
        w.varint(names.length);
        for (const k of names) {
          const val = xs.get(k)!;
          w.varint(utf8Length(k));
          w.pos = writeUtf8(k, w.buf, w.pos);
          w.varint(val.length);
          w.bytes(val);
        }
      } else {
        w.varint(0);
      }
      endValue(w, at);
      n++;
    }
  }
  return n;
}

function* encodeChunks(v: PartitionView, w: Out): Generator<void, number> {
  let n = 0;
  let scanned = 0;
  for (const [p, i, ino] of slots(v)) {
    if (++scanned % SCAN_SLOTS_PER_YIELD === 0) yield;
    const chunks = p.extras?.[i]?.chunks;
    if (!chunks) continue;
    for (const index of [...chunks.keys()].sort((a, b) => a - b)) {
      const list = chunks.get(index)!;
      const bound = 40 + list.length * 70;
      if (w.full(bound)) yield;
      w.reserve(bound);
      beginKey(w, RecordType.CHUNKS, v.partitionId, 21);
      w.u64be(ino);
      w.u64be(index);
      const at = beginValue(w);
      w.varint(list.length);
      for (const s of list) {
        w.varint(s.chunkId);
        w.varint(s.compaction);
        w.varint(s.offset);
        w.varint(s.len);
        w.varint(s.size);
        w.u8(s.zero ? 1 : 0);
        w.varint(s.seq ?? 0);
        w.varint(s.owner ?? 0);
      }
      endValue(w, at);
      n++;
    }
  }
  return n;
}

function* encodeDentries(v: PartitionView, w: Out): Generator<void, number> {
  let n = 0;
  const pid = v.partitionId;
  const pages = v.pages;
  for (let pn = 0; pn < pages.length; pn++) {
    const p = pages[pn];
    if (p === undefined || p.dirs === null) continue;
    const base = v.start + pn * PAGE_SIZE;
    for (let i = 0; i < p.dirs.length; i++) {
      const d = p.dirs[i];
      if (d === undefined || p.type[i] === 0) continue;
      const parent = base + i;
      for (const leaf of d.leaves) {
        const names = leaf.names;
        const vals = leaf.vals;
        for (let k = 0; k < names.length; k++) {
          const name = names[k]!;
          const bound = 40 + name.length * 3;
          if (w.full(bound)) yield;
          w.reserve(bound);
          const keyAt = w.pos;
          w.pos += 4;
          w.u8(RecordType.DENTRY);
          w.u32be(pid);
          w.u64be(parent);
          w.pos = writeUtf8(name, w.buf, w.pos);
          w.patch32le(keyAt, w.pos - keyAt - 4);
          const at = beginValue(w);
          const val = vals[k]!;
          w.varint(Math.floor(val / 16));
          w.u8(val % 16);
          endValue(w, at);
          n++;
        }
      }
    }
  }
  return n;
}

function* encodeDeleted(v: PartitionView, w: Out): Generator<void, number> {
  let n = 0;
  let scanned = 0;
  for (const [p, i, ino] of slots(v)) {
    if (++scanned % SCAN_SLOTS_PER_YIELD === 0) yield;
    if (p.u32[i * U32_STRIDE + U_NLINK] !== 0) continue;
    if (w.full(40)) yield;
    w.reserve(40);
    beginKey(w, RecordType.DELETED, v.partitionId, 13);
    w.u64be(ino);
    const at = beginValue(w);
    w.varint(p.extras?.[i]?.dtime ?? 0);
    endValue(w, at);
    n++;
  }
  return n;
}

/** Key: inode id. Value: parent, type, trashedAt (s), name (length-prefixed UTF-8). */
function* encodeTrash(v: PartitionView, w: Out): Generator<void, number> {
  let n = 0;
  for (const t of v.trash) {
    const bound = 60 + utf8Length(t.name);
    if (w.full(bound)) yield;
    w.reserve(bound);
    beginKey(w, RecordType.TRASH, v.partitionId, 13);
    w.u64be(t.ino);
    const at = beginValue(w);
    w.varint(t.parent);
    w.varint(t.type);
    w.varint(t.trashedAt);
    w.varint(utf8Length(t.name));
    w.pos = writeUtf8(t.name, w.buf, w.pos);
    endValue(w, at);
    n++;
  }
  return n;
}

function* encodeRequests(v: PartitionView, w: Out): Generator<void, number> {
  let n = 0;
  for (const [clientId, win] of v.clients) {
    const results = [...win.results].map(([seq, r]) => [seq, enc.encode(JSON.stringify(r))] as const);
    let bound = 60;
    for (const [, b] of results) bound += b.length + 20;
    if (w.full(bound)) yield;
    w.reserve(bound);
    beginKey(w, RecordType.REQUESTS, v.partitionId, 13);
    w.u64be(clientId);
    const at = beginValue(w);
    w.varint(0); // reserved (version 1: the client's LRU stamp)
    w.varint(win.floor);
    w.varint(results.length);
    for (const [seq, b] of results) {
      w.varint(seq);
      w.varint(b.length);
      w.bytes(b);
    }
    endValue(w, at);
    n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// loading

/** Raised for a pair that does not decode into valid state. */
export class RecordError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Expected {
  inodes: number;
  dentries: number;
  chunkLists: number;
  deleted: number;
  clients: number;
}

/**
 * Builds Partitions from the pairs of a snapshot, in key order. Nothing it builds is visible to
 * anyone until finish() succeeds (and the container's checksum matched).
 */
export class SnapshotLoader {
  readonly partitions = new Map<number, Partition>();
  private readonly expected = new Map<number, Expected>();
  private readonly clients = new Map<number, [number, ClientWindow][]>();
  // Key order, part 2: the ids (and name) of the previous key of the same type and partition.
  private orderType = 0;
  private orderPid = -1;
  private orderFirst = true;
  private orderA = 0;
  private orderB = 0;
  private orderName = '';
  // Dentries of the directory being filled, appended a whole leaf at a time.
  private fillDir: Directory | undefined;
  private fillNames: string[] = [];
  private fillVals: number[] = [];
  /** Record counts per partition, indexed by record type. */
  private readonly counts = new Map<number, number[]>();
  // The partition of the previous pair (pairs come grouped by partition within a type).
  private lastPid = -1;
  private lastPartition: Partition | undefined;
  private lastCounts: number[] = [];
  private readonly v = new In(new Uint8Array(0), 0, 0);
  /** The snapshot's format version (its header; SLICE_SEQ_VERSION decides the chunk records). */
  private version = SLICE_SEQ_VERSION;

  header(h: { version: number }): void {
    this.version = h.version;
  }

  /** Applies one pair: key = buf[ks, ke), value = buf[vs, ve). */
  pair(buf: Uint8Array, ks: number, ke: number, vs: number, ve: number): void {
    if (ke - ks < 5) throw new RecordError('key shorter than 5 bytes');
    const type = buf[ks]!;
    const pid = readU32be(buf, ks + 1);
    // Key order, part 1: (type, partition) never decreases; equal pairs compare their ids below.
    if (type !== this.orderType || pid !== this.orderPid) {
      if (type < this.orderType || (type === this.orderType && pid < this.orderPid)) throw new RecordError('keys out of order');
      this.flushFill();
      this.fillDir = undefined;
      this.orderType = type;
      this.orderPid = pid;
      this.orderFirst = true;
    } else if (type === RecordType.PARTITION) {
      throw new RecordError('keys out of order or duplicated');
    }
    const v = this.v;
    v.buf = buf;
    v.pos = vs;
    v.end = ve;
    try {
      if (type === RecordType.PARTITION) {
        if (ke - ks !== 5) throw new RecordError('partition key must be 5 bytes');
        this.loadPartition(pid, v);
        return;
      }
      if (pid !== this.lastPid) {
        this.lastPartition = this.partitions.get(pid);
        if (this.lastPartition === undefined) throw new RecordError(`record for partition ${pid} before its partition record`);
        this.lastPid = pid;
        this.lastCounts = this.counts.get(pid)!;
      }
      const p = this.lastPartition!;
      if (type >= 1 && type <= 6) this.lastCounts[type]!++; // TRASH is not counted in the partition record
      switch (type) {
        case RecordType.INODE: {
          const ino = keyId(buf, ks, ke, 13);
          this.ordered(ino, 0);
          this.loadInode(p, ino, v);
          break;
        }
        case RecordType.CHUNKS:
          this.loadChunks(p, buf, ks, ke, v);
          break;
        case RecordType.DENTRY:
          this.loadDentry(p, buf, ks, ke, v);
          break;
        case RecordType.DELETED: {
          const ino = keyId(buf, ks, ke, 13);
          this.ordered(ino, 0);
          this.loadDeleted(p, ino, v);
          break;
        }
        case RecordType.REQUESTS: {
          const client = keyId(buf, ks, ke, 13);
          this.ordered(client, 0);
          this.loadRequests(pid, client, v);
          break;
        }
        case RecordType.TRASH: {
          if (this.version < TRASH_VERSION) throw new RecordError(`trash record in a version ${this.version} snapshot`);
          const ino = keyId(buf, ks, ke, 13);
          this.ordered(ino, 0);
          this.loadTrash(p, ino, v);
          break;
        }
        default:
          throw new RecordError(`unknown record type ${type}`);
      }
      v.done();
    } catch (e) {
      if (e instanceof DecodeError || e instanceof RangeError || e instanceof TypeError || e instanceof SyntaxError) {
        throw new RecordError(`${RECORD_NAMES[type] ?? `type ${type}`} record of partition ${pid}: ${e.message}`);
      }
      throw e;
    }
  }

  /** Cross-record checks; returns the partitions by id. */
  finish(): Map<number, Partition> {
    this.flushFill();
    for (const [pid, p] of this.partitions) {
      const exp = this.expected.get(pid)!;
      const c = this.counts.get(pid)!;
      const got: Expected = {
        inodes: c[RecordType.INODE] ?? 0,
        dentries: c[RecordType.DENTRY] ?? 0,
        chunkLists: c[RecordType.CHUNKS] ?? 0,
        deleted: c[RecordType.DELETED] ?? 0,
        clients: c[RecordType.REQUESTS] ?? 0,
      };
      for (const k of Object.keys(exp) as (keyof Expected)[]) {
        if (exp[k] !== got[k]) throw new RecordError(`partition ${pid}: ${got[k]} ${k} records, its partition record says ${exp[k]}`);
      }
      if (p.deleted.size !== countUnlinked(p)) throw new RecordError(`partition ${pid}: deletion list does not match the nlink-0 inodes`);
      p.requests.load(this.clients.get(pid) ?? []);
    }
    return this.partitions;
  }

  /** Strictly increasing (a, b) within one record type and partition. */
  private ordered(a: number, b: number): void {
    if (!this.orderFirst && (a < this.orderA || (a === this.orderA && b <= this.orderB))) {
      throw new RecordError('keys out of order or duplicated');
    }
    this.orderFirst = false;
    this.orderA = a;
    this.orderB = b;
  }

  /** Moves the dentries gathered for the current directory into it as one leaf. */
  private flushFill(): void {
    if (this.fillDir !== undefined && this.fillNames.length > 0) {
      this.fillDir.appendLeaf(this.fillNames.slice(), this.fillVals.slice(), 0);
    }
    this.fillNames.length = 0;
    this.fillVals.length = 0;
  }

  private loadPartition(pid: number, v: In): void {
    const fsId = v.varint();
    const start = v.varint();
    const end = v.varint();
    const nextId = v.varint();
    const status = v.varint();
    v.varint(); // reserved (version 1: LRU clock)
    v.varint(); // reserved (version 1: client bound)
    const window = v.varint();
    const maxLinks = v.varint();
    const exp: Expected = {
      inodes: v.varint(),
      dentries: v.varint(),
      chunkLists: v.varint(),
      deleted: v.varint(),
      clients: v.varint(),
    };
    v.done();
    if (status < PartitionStatus.READWRITE || status > PartitionStatus.DELETING) throw new RecordError(`partition ${pid}: bad status ${status}`);
    if (window < 1 || maxLinks < 1 || maxLinks > 0xffffffff) throw new RecordError(`partition ${pid}: bad request-table limits`);
    if (nextId < start) throw new RecordError(`partition ${pid}: nextId below the range`);
    let p: Partition;
    try {
      p = new Partition({ partitionId: pid, fsId, start, end, nextId, status, requestLimits: { window }, maxLinks });
    } catch (e) {
      throw new RecordError(`partition ${pid}: ${(e as Error).message}`);
    }
    this.partitions.set(pid, p);
    this.expected.set(pid, exp);
    this.counts.set(pid, [0, 0, 0, 0, 0, 0, 0]);
  }

  private loadInode(p: Partition, ino: number, v: In): void {
    if (!p.owns(ino)) throw new RecordError(`inode ${ino} outside the range`);
    if (ino >= p.nextId) throw new RecordError(`inode ${ino} at or beyond nextId ${p.nextId}`);
    const type = v.u8();
    if (type < FileType.TYPE_DIRECTORY || type > FileType.TYPE_BLOCK_DEVICE) throw new RecordError(`inode ${ino}: bad type ${type}`);
    const mode = v.varint();
    const uid = v.varint();
    const gid = v.varint();
    const nlink = v.varint();
    if ((mode & S_IFMT) !== typeMode(type) || mode > 0o177777) throw new RecordError(`inode ${ino}: mode does not match type`);
    if (uid > 0xffffffff || gid > 0xffffffff || nlink > 0xffffffff) throw new RecordError(`inode ${ino}: bad uid/gid/nlink`);
    const length = v.varint();
    const ctime = v.varint();
    const ctimeNs = ns(v);
    const mtime = v.varint();
    const mtimeNs = ns(v);
    const atime = v.varint();
    const atimeNs = ns(v);
    const rdev = v.varint();
    const dtime = v.varint();
    const flags = v.u8();
    const dirBytes = v.varint();
    if (flags & ~FLAG_SEALED || (type !== FileType.TYPE_DIRECTORY && (flags !== 0 || dirBytes !== 0))) {
      throw new RecordError(`inode ${ino}: directory fields on a non-directory`);
    }
    const np = v.varint();
    if (np > 65536) throw new RecordError(`inode ${ino}: ${np} parents`);
    let parent0 = 0;
    let more: number[] | null = null;
    for (let k = 0; k < np; k++) {
      const x = v.varint();
      if (x === 0) throw new RecordError(`inode ${ino}: parent 0`);
      if (k === 0) parent0 = x;
      else (more ??= []).push(x);
    }
    const symLen = v.varint();
    const symlink = symLen > 0 ? utf8.decode(v.take(symLen)) : '';
    if ((type === FileType.TYPE_SYM_LINK) !== (symlink !== '')) throw new RecordError(`inode ${ino}: symlink target does not match type`);
    const nx = v.varint();
    let xattrs: Map<string, Uint8Array> | null = null;
    let xattrBytes = 0;
    let prevName: string | undefined;
    for (let k = 0; k < nx; k++) {
      const nb = v.take(v.varint());
      const name = utf8.decode(nb);
      const val = copyBytes(v.take(v.varint()));
      if (prevName !== undefined && compareNames(prevName, name) >= 0) throw new RecordError(`inode ${ino}: xattr names out of order`);
      prevName = name;
      xattrs ??= new Map();
      xattrs.set(name, val);
      xattrBytes += nb.length + val.length;
    }
    if (p.store.exists(ino)) throw new RecordError(`inode ${ino} twice`);

    const page = p.store.writable(ino);
    const i = p.store.index(ino);
    const f = i * F64_STRIDE;
    const u = i * U32_STRIDE;
    page.f64[f + F_LENGTH] = length;
    page.f64[f + F_CTIME] = ctime;
    page.f64[f + F_MTIME] = mtime;
    page.f64[f + F_ATIME] = atime;
    page.f64[f + F_PARENT] = parent0;
    page.u32[u + U_CTIME_NS] = ctimeNs;
    page.u32[u + U_MTIME_NS] = mtimeNs;
    page.u32[u + U_ATIME_NS] = atimeNs;
    page.u32[u + U_UID] = uid;
    page.u32[u + U_GID] = gid;
    page.u32[u + U_MODE] = mode;
    page.u32[u + U_NLINK] = nlink;
    page.type[i] = type;
    if (symlink !== '' || rdev !== 0 || dtime !== 0 || more !== null || xattrs !== null) {
      page.extras ??= [];
      page.extras[i] = new InodeExtra(symlink, rdev, dtime, more, xattrs, xattrBytes, null);
    }
    if (flags !== 0 || dirBytes !== 0) {
      page.dirs ??= [];
      const d = new Directory(p.cow.epoch);
      d.sealed = (flags & FLAG_SEALED) !== 0;
      d.bytes = dirBytes;
      page.dirs[i] = d;
    }
    p.inodeCount++;
    p.typeCounts[type]!++;
    if (type === FileType.TYPE_S3 || type === FileType.TYPE_FILE) p.fileBytes += length;
  }

  private loadChunks(p: Partition, buf: Uint8Array, ks: number, ke: number, v: In): void {
    if (ke - ks !== 21) throw new RecordError('chunks key must be 21 bytes');
    const ino = readU64be(buf, ks + 5);
    const index = readU64be(buf, ks + 13);
    if (ino < 0 || index < 0) throw new RecordError('id beyond 2^53');
    this.ordered(ino, index);
    if (!p.owns(ino) || !p.store.exists(ino)) throw new RecordError(`chunks of missing inode ${ino}`);
    const page = p.store.page(ino)!;
    const i = p.store.index(ino);
    const type = page.type[i]!;
    if (type !== FileType.TYPE_S3 && type !== FileType.TYPE_FILE) throw new RecordError(`chunks of non-file inode ${ino}`);
    const n = v.varint();
    if (n === 0) throw new RecordError(`empty chunk list of inode ${ino}`);
    const withSeq = this.version >= SLICE_SEQ_VERSION;
    let list: ChunkSlice[] = [];
    for (let k = 0; k < n; k++) {
      const chunkId = v.varint();
      const compaction = v.varint();
      const offset = v.varint();
      const len = v.varint();
      const size = v.varint();
      const z = v.u8();
      if (z > 1) throw new RecordError('bad zero flag');
      const slice: ChunkSlice = { chunkId, compaction, offset, len, size, zero: z === 1 };
      if (withSeq) {
        slice.seq = v.varint();
        // Lists are kept in append order: sequences start at 1 and only grow.
        const prev = k > 0 ? list[k - 1]!.seq! : 0;
        if (slice.seq <= prev) throw new RecordError(`chunk ${index} of inode ${ino}: slice sequence ${slice.seq} after ${prev}`);
      }
      if (this.version >= SLICE_OWNER_VERSION) {
        const owner = v.varint();
        if (owner === ino) throw new RecordError(`chunk ${index} of inode ${ino}: a slice owned by its own inode`);
        if (owner !== 0) slice.owner = owner;
      }
      list.push(slice);
    }
    if (!withSeq) list = inChunkIdOrder(list);
    const ex = page.extras?.[i] ?? InodeExtra.EMPTY;
    const chunks = new Map(ex.chunks ?? []);
    chunks.set(index, list);
    page.extras ??= [];
    page.extras[i] = ex.with({ chunks });
    p.chunkLists++;
    p.loadedChunks(ino, new Map([[index, list]]));
  }

  private loadDentry(p: Partition, buf: Uint8Array, ks: number, ke: number, v: In): void {
    const nameLen = ke - ks - 13;
    if (nameLen < 1 || nameLen > MAX_NAME_BYTES) throw new RecordError('dentry key with a bad name length');
    const parent = readU64be(buf, ks + 5);
    const name = readUtf8(buf, ks + 13, ke);
    // Order: by parent, then by name (UTF-8 byte order = compareNames).
    const sameParent = !this.orderFirst && parent === this.orderA;
    if (!this.orderFirst && (parent < this.orderA || (sameParent && !namesAscending(this.orderName, name)))) {
      throw new RecordError('keys out of order or duplicated');
    }
    if (!sameParent) {
      this.flushFill();
      if (parent < 0 || !p.owns(parent) || !p.store.exists(parent)) throw new RecordError(`dentry under missing inode ${parent}`);
      const page = p.store.page(parent)!;
      const i = p.store.index(parent);
      if (page.type[i] !== FileType.TYPE_DIRECTORY) throw new RecordError(`dentry under non-directory ${parent}`);
      page.dirs ??= [];
      let d = page.dirs[i];
      if (d === undefined) {
        d = new Directory(p.cow.epoch);
        page.dirs[i] = d;
      }
      this.fillDir = d;
    }
    this.orderFirst = false;
    this.orderA = parent;
    this.orderName = name;
    if (checkName(name) !== StatusCode.OK) throw new RecordError(`invalid dentry name under ${parent}`);
    const ino = v.varint();
    const type = v.u8();
    if (ino === 0 || ino >= MAX_INODE_ID || type < FileType.TYPE_DIRECTORY || type > FileType.TYPE_BLOCK_DEVICE) throw new RecordError(`bad dentry ${parent}/${name}`);
    this.fillNames.push(name);
    this.fillVals.push(ino * 16 + type);
    if (this.fillNames.length === LEAF_MAX) this.flushFill();
    p.dentryCount++;
  }

  private loadDeleted(p: Partition, ino: number, v: In): void {
    const dtime = v.varint();
    if (!p.owns(ino) || !p.store.exists(ino)) throw new RecordError(`deletion entry for missing inode ${ino}`);
    const page = p.store.page(ino)!;
    const i = p.store.index(ino);
    if (page.u32[i * U32_STRIDE + U_NLINK] !== 0) throw new RecordError(`deletion entry for linked inode ${ino}`);
    if ((page.extras?.[i]?.dtime ?? 0) !== dtime) throw new RecordError(`deletion entry of inode ${ino} disagrees on dtime`);
    p.deleted.set(ino, dtime);
  }

  private loadTrash(p: Partition, ino: number, v: In): void {
    const parent = v.varint();
    const type = v.varint();
    const trashedAt = v.varint();
    const name = utf8.decode(v.take(v.varint()));
    const wide = this.version >= TRASH_DIR_VERSION;
    if (FileType[type] === undefined || (!wide && type === FileType.TYPE_DIRECTORY)) throw new RecordError(`trash entry of inode ${ino}: bad type ${type}`);
    if (p.owns(ino)) {
      if (!p.store.exists(ino)) throw new RecordError(`trash entry for missing inode ${ino}`);
      const page = p.store.page(ino)!;
      const i = p.store.index(ino);
      if (page.u32[i * U32_STRIDE + U_NLINK] === 0) throw new RecordError(`trash entry for unlinked inode ${ino}`);
      if (page.type[i] !== type) throw new RecordError(`trash entry of inode ${ino}: type ${type} is not the inode's`);
    } else if (!wide || ino < 1) {
      throw new RecordError(`trash entry for missing inode ${ino}`);
    }
    if (!p.owns(parent)) throw new RecordError(`trash entry of inode ${ino}: parent ${parent} is not in this partition`);
    if (checkName(name) !== StatusCode.OK) throw new RecordError(`trash entry of inode ${ino}: bad name`);
    p.trash.set(ino, { ino, parent, name, type: type as FileType, trashedAt });
  }

  private loadRequests(pid: number, clientId: number, v: In): void {
    v.varint(); // reserved (version 1: LRU stamp)
    const floor = v.varint();
    const n = v.varint();
    const results = new Map<number, OpResult>();
    for (let k = 0; k < n; k++) {
      const seq = v.varint();
      const json = utf8.decode(v.take(v.varint()));
      const r = JSON.parse(json) as OpResult;
      if (r === null || typeof r !== 'object' || typeof r.status !== 'number') throw new RecordError(`bad stored result of client ${clientId}`);
      results.set(seq, r);
    }
    let list = this.clients.get(pid);
    if (list === undefined) this.clients.set(pid, (list = []));
    list.push([clientId, new ClientWindow(0, floor, results)]);
  }
}

/** A fresh Uint8Array (never a view: the input may be a Buffer whose slice() aliases it). */
function copyBytes(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  out.set(src);
  return out;
}

/** a < b in UTF-8 byte order (native comparison when b has no unit ≥ U+D800). */
function namesAscending(a: string, b: string): boolean {
  return isPlainName(b) ? a < b : compareNames(a, b) < 0;
}

function ns(v: In): number {
  const x = v.varint();
  if (x >= 1e9) throw new DecodeError('nanoseconds ≥ 1e9');
  return x;
}

/** The u64 id after type + partition id in a key of exactly `len` bytes. */
function keyId(buf: Uint8Array, ks: number, ke: number, len: number): number {
  if (ke - ks !== len) throw new RecordError(`key must be ${len} bytes`);
  const id = readU64be(buf, ks + 5);
  if (id < 0) throw new RecordError('id beyond 2^53');
  return id;
}

function countUnlinked(p: Partition): number {
  let n = 0;
  for (const page of p.store.pages) {
    if (page === undefined) continue;
    for (let i = 0; i < page.cap; i++) if (page.type[i] !== 0 && page.u32[i * U32_STRIDE + U_NLINK] === 0) n++;
  }
  return n;
}


// ---------------------------------------------------------------------------------------------
// description (for `curvefs inspect --dump`)

export interface RecordDescription {
  type: string;
  partition: number;
  key: Record<string, unknown>;
  value: Record<string, unknown>;
}

/**
 * A chunk list of a snapshot older than SLICE_SEQ_VERSION, in the order those versions read it
 * (higher chunk id on top, then higher compaction), stamped with sequences 1, 2, … in that order.
 */
function inChunkIdOrder(list: ChunkSlice[]): ChunkSlice[] {
  return list
    .map((s, k) => ({ s, k }))
    .sort((a, b) => a.s.chunkId - b.s.chunkId || a.s.compaction - b.s.compaction || a.k - b.k)
    .map(({ s }, k) => ({ ...s, seq: k + 1 }));
}

/**
 * Decodes one pair into plain fields without building state; throws RecordError if it cannot.
 * `version` is the snapshot's (its header's).
 */
export function describeRecord(buf: Uint8Array, ks: number, ke: number, vs: number, ve: number, version = SLICE_SEQ_VERSION): RecordDescription {
  if (ke - ks < 5) throw new RecordError('key shorter than 5 bytes');
  const type = buf[ks]!;
  const partition = readU32be(buf, ks + 1);
  const v = new In(buf, vs, ve);
  const key: Record<string, unknown> = {};
  const value: Record<string, unknown> = {};
  try {
    switch (type) {
      case RecordType.PARTITION:
        for (const k of ['fsId', 'start', 'end', 'nextId', 'status', 'reserved1', 'reserved2', 'window', 'maxLinks', 'inodes', 'dentries', 'chunkLists', 'deleted', 'clients']) {
          value[k] = v.varint();
        }
        value.status = PartitionStatus[value.status as number] ?? value.status;
        break;
      case RecordType.INODE: {
        key.ino = keyId(buf, ks, ke, 13);
        value.type = FileType[v.u8()];
        for (const k of ['mode', 'uid', 'gid', 'nlink', 'length', 'ctime', 'ctimeNs', 'mtime', 'mtimeNs', 'atime', 'atimeNs', 'rdev', 'dtime']) value[k] = v.varint();
        value.mode = '0' + (value.mode as number).toString(8);
        value.sealed = (v.u8() & FLAG_SEALED) !== 0;
        value.dirBytes = v.varint();
        const np = v.varint();
        const parents: number[] = [];
        for (let k = 0; k < np; k++) parents.push(v.varint());
        value.parent = parents;
        const sym = v.take(v.varint());
        if (sym.length > 0) value.symlink = utf8.decode(sym);
        const nx = v.varint();
        const xattrs: Record<string, string> = {};
        for (let k = 0; k < nx; k++) {
          const name = utf8.decode(v.take(v.varint()));
          xattrs[name] = Buffer.from(v.take(v.varint())).toString('base64');
        }
        if (nx > 0) value.xattrsBase64 = xattrs;
        break;
      }
      case RecordType.CHUNKS: {
        if (ke - ks !== 21) throw new RecordError('chunks key must be 21 bytes');
        key.ino = readU64be(buf, ks + 5);
        key.index = readU64be(buf, ks + 13);
        const n = v.varint();
        const slices = [];
        for (let k = 0; k < n; k++) {
          const s: Record<string, unknown> = { chunkId: v.varint(), compaction: v.varint(), offset: v.varint(), len: v.varint(), size: v.varint(), zero: v.u8() === 1 };
          if (version >= SLICE_SEQ_VERSION) s.seq = v.varint();
          if (version >= SLICE_OWNER_VERSION) s.owner = v.varint();
          slices.push(s);
        }
        value.slices = slices;
        break;
      }
      case RecordType.DENTRY:
        if (ke - ks < 14) throw new RecordError('dentry key too short');
        key.parent = readU64be(buf, ks + 5);
        key.name = utf8.decode(buf.subarray(ks + 13, ke));
        value.ino = v.varint();
        value.type = FileType[v.u8()];
        break;
      case RecordType.DELETED:
        key.ino = keyId(buf, ks, ke, 13);
        value.dtime = v.varint();
        break;
      case RecordType.TRASH:
        key.ino = keyId(buf, ks, ke, 13);
        value.parent = v.varint();
        value.type = FileType[v.varint()];
        value.trashedAt = v.varint();
        value.name = utf8.decode(v.take(v.varint()));
        break;
      case RecordType.REQUESTS: {
        key.clientId = keyId(buf, ks, ke, 13);
        value.reserved = v.varint();
        value.floor = v.varint();
        const n = v.varint();
        const results: Record<string, unknown> = {};
        for (let k = 0; k < n; k++) {
          const seq = v.varint();
          results[seq] = JSON.parse(utf8.decode(v.take(v.varint())));
        }
        value.results = results;
        break;
      }
      default:
        throw new RecordError(`unknown record type ${type}`);
    }
    v.done();
  } catch (e) {
    if (e instanceof RecordError) throw e;
    throw new RecordError(`${RECORD_NAMES[type] ?? `type ${type}`} record of partition ${partition}: ${(e as Error).message}`);
  }
  return { type: RECORD_NAMES[type]!, partition, key, value };
}
