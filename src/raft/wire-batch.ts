// RaftBatch (proto/raft.proto) encoded and decoded by hand: the same bytes protobuf-es writes
// and reads, without building the generated message objects. A batch is what every commit sends
// to each follower and what each follower answers, so at one proposal in flight its generic
// encode (create() + toBinary) and decode (fromBinary + fromWire) were a large share of a
// commit's CPU (docs/benchmarks.md, "Where a lone commit goes"). Nothing changes on the wire:
// either side may still run the generated code (test/unit/raft-wire-batch.test.ts checks both
// directions against protobuf-es).
//
// Field numbers, from proto/raft.proto:
//   RaftBatch        1 from (double)  2 msgs (repeated GroupMsg)
//   GroupMsg         1 group_id (double)  2 msg (RaftMsg)
//   RaftMsg          1 type (uint32)  2 from  3 to  4 term  5 index  6 log_term (double)
//                    7 entries (bytes)  8 commit (double)  9 reject (bool)  10 reject_hint (double)
//                    11 snapshot (RaftSnapshotMeta)  12 context (bytes)
//   RaftSnapshotMeta 1 index  2 term (double)  3 voters  4 learners (repeated double, packed)
// Encoding follows proto3 as protobuf-es does: fields in number order, zero/false/empty scalars
// left out. Decoding accepts any valid encoding (any order, unpacked repeated fields, unknown
// fields skipped) and checks every number as wire.ts does before the core sees it; bytes that do
// not parse are refused with the generated code's status (PARSE_FROM_STRING_FAILED).
import { CurveError, StatusCode } from '../common/index.ts';
import type { MessageType, NodeId, RaftMessage, SnapshotMeta } from './core/types.ts';
import type { GroupMessage } from './transport.ts';
import { packEntries, unpackEntries } from './wire.ts';

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;
const EMPTY = new Uint8Array(0);

function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

/** Size of a length-delimited field's tag + length prefix + body (tags here are one byte). */
const lenField = (n: number): number => 1 + varintSize(n) + n;
/** A double field when non-zero. */
const dbl = (x: number): number => (x !== 0 ? 9 : 0);

function snapshotMetaSize(s: SnapshotMeta): number {
  let n = dbl(s.index) + dbl(s.term);
  if (s.conf.voters.length > 0) n += lenField(8 * s.conf.voters.length);
  if (s.conf.learners.length > 0) n += lenField(8 * s.conf.learners.length);
  return n;
}

interface Sized {
  msg: RaftMessage;
  entries: Uint8Array;
  /** Body size of the RaftMsg. */
  msgSize: number;
  /** Body size of its GroupMsg. */
  groupSize: number;
  snapSize: number;
}

function sizeOf(groupId: number, m: RaftMessage): Sized {
  const entries = packEntries(m.entries);
  let n = 0;
  if ((m.type as number) !== 0) n += 1 + varintSize(m.type);
  n += dbl(m.from) + dbl(m.to) + dbl(m.term) + dbl(m.index) + dbl(m.logTerm);
  if (entries.length > 0) n += lenField(entries.length);
  n += dbl(m.commit);
  if (m.reject) n += 2;
  n += dbl(m.rejectHint);
  let snapSize = 0;
  if (m.snapshot) {
    snapSize = snapshotMetaSize(m.snapshot.meta);
    n += lenField(snapSize);
  }
  if (m.context && m.context.length > 0) n += lenField(m.context.length);
  return { msg: m, entries, msgSize: n, groupSize: dbl(groupId) + lenField(n), snapSize };
}

class Out {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  pos = 0;
  constructor(size: number) {
    // Every byte is written (encodeBatch checks the count): no zero fill, and a slice of Node's
    // pool rather than an ArrayBuffer of its own per batch.
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, size);
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }
  double(field: number, x: number): void {
    if (x === 0) return;
    this.byte((field << 3) | WT_I64);
    this.view.setFloat64(this.pos, x, true);
    this.pos += 8;
  }
  bytes(field: number, b: Uint8Array): void {
    this.byte((field << 3) | WT_LEN);
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  packedDoubles(field: number, xs: readonly number[]): void {
    if (xs.length === 0) return;
    this.byte((field << 3) | WT_LEN);
    this.varint(8 * xs.length);
    for (const x of xs) {
      this.view.setFloat64(this.pos, x, true);
      this.pos += 8;
    }
  }
}

/** The RaftBatch of `msgs` from node `from`, as protobuf bytes. */
export function encodeBatch(from: NodeId, msgs: readonly GroupMessage[]): Uint8Array {
  const sized = msgs.map(({ groupId, msg }) => sizeOf(groupId, msg));
  let total = dbl(from);
  for (const s of sized) total += lenField(s.groupSize);
  const o = new Out(total);
  o.double(1, from);
  for (let i = 0; i < sized.length; i++) {
    const s = sized[i]!;
    const m = s.msg;
    o.byte((2 << 3) | WT_LEN);
    o.varint(s.groupSize);
    o.double(1, msgs[i]!.groupId);
    o.byte((2 << 3) | WT_LEN);
    o.varint(s.msgSize);
    if ((m.type as number) !== 0) {
      o.byte((1 << 3) | WT_VARINT);
      o.varint(m.type);
    }
    o.double(2, m.from);
    o.double(3, m.to);
    o.double(4, m.term);
    o.double(5, m.index);
    o.double(6, m.logTerm);
    if (s.entries.length > 0) o.bytes(7, s.entries);
    o.double(8, m.commit);
    if (m.reject) {
      o.byte((9 << 3) | WT_VARINT);
      o.byte(1);
    }
    o.double(10, m.rejectHint);
    if (m.snapshot) {
      const meta = m.snapshot.meta;
      o.byte((11 << 3) | WT_LEN);
      o.varint(s.snapSize);
      o.double(1, meta.index);
      o.double(2, meta.term);
      o.packedDoubles(3, meta.conf.voters);
      o.packedDoubles(4, meta.conf.learners);
    }
    if (m.context && m.context.length > 0) o.bytes(12, m.context);
  }
  if (o.pos !== total) throw new Error(`raft batch encoder: wrote ${o.pos} of ${total} bytes`);
  return o.buf;
}

/**
 * Bytes that are not a protobuf message: PARSE_FROM_STRING_FAILED, as the RPC server answers when
 * the generated code cannot decode a request. (Numbers out of range in a well-formed message are
 * PARAM_ERROR, as wire.ts answers.)
 */
const bad = (why: string): CurveError => new CurveError(StatusCode.PARSE_FROM_STRING_FAILED, `malformed raft batch: ${why}`);

/** Reads protobuf fields of one message body, [pos, end) of `buf`. */
class In {
  private readonly view: DataView;
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get more(): boolean {
    return this.pos < this.end;
  }
  varint(): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw bad('truncated varint');
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
    throw bad('varint too long');
  }
  /** A field's number and wire type. */
  tag(): [number, number] {
    const t = this.varint();
    const f = Math.floor(t / 8);
    if (f === 0 || f > 0x1fff_ffff) throw bad(`field number ${f}`);
    return [f, t & 7];
  }
  double(): number {
    if (this.pos + 8 > this.end) throw bad('truncated double');
    const x = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return x;
  }
  /** A length-delimited field's [start, end). */
  len(): [number, number] {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw bad('truncated field');
    this.pos += n;
    return [start, start + n];
  }
  skip(wt: number): void {
    if (wt === WT_VARINT) this.varint();
    else if (wt === WT_I64) this.pos += 8;
    else if (wt === WT_LEN) this.len();
    else if (wt === WT_I32) this.pos += 4;
    else throw bad(`wire type ${wt}`);
    if (this.pos > this.end) throw bad('truncated field');
  }
  /** A repeated double, packed or not, appended to `xs`. */
  doubles(wt: number, xs: number[]): void {
    if (wt === WT_I64) {
      xs.push(this.double());
      return;
    }
    if (wt !== WT_LEN) throw bad(`wire type ${wt} for a repeated double`);
    const [s, e] = this.len();
    if ((e - s) % 8 !== 0) throw bad('packed doubles of odd length');
    for (let p = s; p < e; p += 8) xs.push(this.view.getFloat64(p, true));
  }
}

function id(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new CurveError(StatusCode.PARAM_ERROR, `raft message ${what} ${n} out of range`);
  return n;
}

function expect(wt: number, want: number, what: string): void {
  if (wt !== want) throw bad(`${what} has wire type ${wt}`);
}

function decodeSnapshotMeta(r: In): SnapshotMeta {
  let index = 0;
  let term = 0;
  const voters: number[] = [];
  const learners: number[] = [];
  while (r.more) {
    const [f, wt] = r.tag();
    if (f === 1 && wt === WT_I64) index = r.double();
    else if (f === 2 && wt === WT_I64) term = r.double();
    else if (f === 3) r.doubles(wt, voters);
    else if (f === 4) r.doubles(wt, learners);
    else r.skip(wt);
  }
  return {
    index: id(index, 'snapshot index'),
    term: id(term, 'snapshot term'),
    conf: { voters: voters.map((x) => id(x, 'voter')), learners: learners.map((x) => id(x, 'learner')) },
  };
}

function decodeMsg(r: In): RaftMessage {
  let type = 0;
  let from = 0;
  let to = 0;
  let term = 0;
  let index = 0;
  let logTerm = 0;
  let entries: Uint8Array = EMPTY;
  let commit = 0;
  let reject = false;
  let rejectHint = 0;
  let snapshot: SnapshotMeta | undefined;
  let context: Uint8Array = EMPTY;
  while (r.more) {
    const [f, wt] = r.tag();
    switch (f) {
      case 1:
        expect(wt, WT_VARINT, 'type');
        type = r.varint() % 0x1_0000_0000;
        break;
      case 2:
      case 3:
      case 4:
      case 5:
      case 6:
      case 8:
      case 10: {
        expect(wt, WT_I64, `field ${f}`);
        const x = r.double();
        if (f === 2) from = x;
        else if (f === 3) to = x;
        else if (f === 4) term = x;
        else if (f === 5) index = x;
        else if (f === 6) logTerm = x;
        else if (f === 8) commit = x;
        else rejectHint = x;
        break;
      }
      case 7: {
        expect(wt, WT_LEN, 'entries');
        const [s, e] = r.len();
        entries = r.buf.subarray(s, e);
        break;
      }
      case 9:
        expect(wt, WT_VARINT, 'reject');
        reject = r.varint() !== 0;
        break;
      case 11: {
        expect(wt, WT_LEN, 'snapshot');
        const [s, e] = r.len();
        snapshot = decodeSnapshotMeta(new In(r.buf, s, e));
        break;
      }
      case 12: {
        expect(wt, WT_LEN, 'context');
        const [s, e] = r.len();
        context = r.buf.subarray(s, e);
        break;
      }
      default:
        r.skip(wt);
    }
  }
  if (type < 1 || type > 12) throw new CurveError(StatusCode.PARAM_ERROR, `raft message type ${type}`);
  const m: RaftMessage = {
    type: type as MessageType,
    from: id(from, 'from'),
    to: id(to, 'to'),
    term: id(term, 'term'),
    index: id(index, 'index'),
    logTerm: id(logTerm, 'logTerm'),
    entries: unpackEntries(entries),
    commit: id(commit, 'commit'),
    reject,
    rejectHint: id(rejectHint, 'rejectHint'),
  };
  if (snapshot) m.snapshot = { meta: snapshot, data: EMPTY };
  if (context.length > 0) m.context = context;
  return m;
}

function decodeGroupMsg(r: In): GroupMessage {
  let groupId = 0;
  let msg: RaftMessage | undefined;
  while (r.more) {
    const [f, wt] = r.tag();
    if (f === 1 && wt === WT_I64) groupId = r.double();
    else if (f === 2 && wt === WT_LEN) {
      const [s, e] = r.len();
      msg = decodeMsg(new In(r.buf, s, e));
    } else r.skip(wt);
  }
  if (!Number.isSafeInteger(groupId) || groupId < 0) throw new CurveError(StatusCode.PARAM_ERROR, `group id ${groupId} out of range`);
  if (!msg) throw new CurveError(StatusCode.PARAM_ERROR, 'raft message missing');
  return { groupId, msg };
}

/**
 * Decodes a RaftBatch; `from` is 0 when the batch names no sender. Entry data and contexts are
 * views into `buf`: the caller passes bytes it owns (see compactPayload in src/rpc).
 */
export function decodeBatch(buf: Uint8Array): { from: number; msgs: GroupMessage[] } {
  const r = new In(buf, 0, buf.length);
  let from = 0;
  const msgs: GroupMessage[] = [];
  while (r.more) {
    const [f, wt] = r.tag();
    if (f === 1 && wt === WT_I64) from = r.double();
    else if (f === 2 && wt === WT_LEN) {
      const [s, e] = r.len();
      msgs.push(decodeGroupMsg(new In(buf, s, e)));
    } else r.skip(wt);
  }
  return { from, msgs };
}
