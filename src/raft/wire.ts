// RaftMessage <-> protobuf (proto/raft.proto). Entries travel packed in one bytes field; every
// number from the wire is checked (safe integer, known message type) before the core sees it.
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../common/index.ts';
import { RaftMsgSchema, type RaftMsg, type RaftSnapshotMeta } from '../gen/raft_pb.ts';
import type { Entry, EntryType, MessageType, RaftMessage, SnapshotMeta } from './core/types.ts';
import { getU64, putU64 } from './bytes.ts';

const EMPTY = new Uint8Array(0);
const ENTRY_HEADER = 8 + 1 + 4;

export function packEntries(entries: readonly Entry[]): Uint8Array {
  if (entries.length === 0) return EMPTY;
  let size = 8;
  for (const e of entries) size += ENTRY_HEADER + e.data.length;
  // Every byte is written below: no zero fill, and a slice of Node's pool rather than an
  // ArrayBuffer of its own (allocating one costs more than packing a 100-byte entry).
  const b = Buffer.allocUnsafe(size);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  putU64(v, 0, entries[0]!.index);
  let o = 8;
  for (const e of entries) {
    putU64(v, o, e.term);
    b[o + 8] = e.type;
    v.setUint32(o + 9, e.data.length, true);
    b.set(e.data, o + ENTRY_HEADER);
    o += ENTRY_HEADER + e.data.length;
  }
  return b;
}

/** Unpacks entries; their data are views into `b` (the caller owns `b`). */
export function unpackEntries(b: Uint8Array): Entry[] {
  if (b.length === 0) return [];
  const bad = (why: string) => new CurveError(StatusCode.PARAM_ERROR, `malformed raft entries: ${why}`);
  if (b.length < 8) throw bad('truncated');
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  let index = getU64(v, 0);
  if (index < 1) throw bad('first index out of range');
  const out: Entry[] = [];
  let o = 8;
  while (o < b.length) {
    if (o + ENTRY_HEADER > b.length) throw bad('truncated entry header');
    const term = getU64(v, o);
    const type = b[o + 8]!;
    const len = v.getUint32(o + 9, true);
    if (term < 0) throw bad('term out of range');
    if (type > 1) throw bad(`entry type ${type}`);
    o += ENTRY_HEADER;
    if (o + len > b.length) throw bad('truncated entry data');
    out.push({ index: index++, term, type: type as EntryType, data: b.subarray(o, o + len) });
    o += len;
  }
  if (out.length === 0) throw bad('a first index but no entry');
  if (!Number.isSafeInteger(index)) throw bad('index out of range');
  return out;
}

export function toWire(m: RaftMessage): RaftMsg {
  const w = create(RaftMsgSchema, {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    index: m.index,
    logTerm: m.logTerm,
    entries: packEntries(m.entries),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
  });
  if (m.snapshot) {
    const s = m.snapshot.meta;
    w.snapshot = { $typeName: 'curvefs.raft.RaftSnapshotMeta', index: s.index, term: s.term, voters: s.conf.voters, learners: s.conf.learners };
  }
  if (m.context) w.context = m.context;
  return w;
}

function checkId(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new CurveError(StatusCode.PARAM_ERROR, `raft message ${what} ${n} out of range`);
  return n;
}

function metaFromWire(s: RaftSnapshotMeta): SnapshotMeta {
  const ids = (xs: number[], what: string) => xs.map((x) => checkId(x, what));
  return {
    index: checkId(s.index, 'snapshot index'),
    term: checkId(s.term, 'snapshot term'),
    conf: { voters: ids(s.voters, 'voter'), learners: ids(s.learners, 'learner') },
  };
}

export function fromWire(w: RaftMsg): RaftMessage {
  if (w.type < 1 || w.type > 12) throw new CurveError(StatusCode.PARAM_ERROR, `raft message type ${w.type}`);
  const m: RaftMessage = {
    type: w.type as MessageType,
    from: checkId(w.from, 'from'),
    to: checkId(w.to, 'to'),
    term: checkId(w.term, 'term'),
    index: checkId(w.index, 'index'),
    logTerm: checkId(w.logTerm, 'logTerm'),
    entries: unpackEntries(w.entries),
    commit: checkId(w.commit, 'commit'),
    reject: w.reject,
    rejectHint: checkId(w.rejectHint, 'rejectHint'),
  };
  if (w.snapshot) m.snapshot = { meta: metaFromWire(w.snapshot), data: EMPTY };
  if (w.context.length > 0) m.context = w.context;
  return m;
}
