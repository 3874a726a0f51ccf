// Membership changes: one voter or learner added or removed per log entry (single-server
// changes, Raft dissertation §4.1). A ConfChange entry carries the change and the complete
// configuration that results from it, so any replica (even one that joined with an empty
// configuration) learns the membership from the latest ConfChange entry in its log alone.
import { CurveError, StatusCode } from '../../common/index.ts';
import type { ConfState, NodeId } from './types.ts';

export const enum ConfChangeType {
  /** Add a voter, or promote an existing learner to voter. */
  AddVoter = 0,
  /** Add a non-voting member that receives the log (catch-up before promotion). */
  AddLearner = 1,
  /** Remove a voter or a learner (the leader itself included: it steps down once committed). */
  RemoveNode = 2,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque bytes for the driver (e.g. the new member's address); Raft only carries them. */
  context?: Uint8Array;
}

/** The payload of an EntryType.ConfChange entry. */
export interface ConfChangeEntry {
  change: ConfChange;
  /** Membership after the change; takes effect as soon as the entry is in a replica's log. */
  conf: ConfState;
}

const VERSION = 1;

function checkNodeId(id: unknown): asserts id is number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw new CurveError(StatusCode.PARAM_ERROR, `invalid node id ${String(id)}`);
  }
}

/** The configuration that results from applying `cc` to `conf`; throws PARAM_ERROR if invalid. */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  checkNodeId(cc.nodeId);
  const id = cc.nodeId;
  const isVoter = conf.voters.includes(id);
  const isLearner = conf.learners.includes(id);
  let voters = conf.voters.slice();
  let learners = conf.learners.slice();
  switch (cc.type) {
    case ConfChangeType.AddVoter:
      if (isVoter) throw new CurveError(StatusCode.PARAM_ERROR, `node ${id} is already a voter`);
      learners = learners.filter((x) => x !== id);
      voters.push(id);
      break;
    case ConfChangeType.AddLearner:
      if (isVoter) throw new CurveError(StatusCode.PARAM_ERROR, `node ${id} is a voter; demotion is not supported`);
      if (isLearner) throw new CurveError(StatusCode.PARAM_ERROR, `node ${id} is already a learner`);
      learners.push(id);
      break;
    case ConfChangeType.RemoveNode:
      if (!isVoter && !isLearner) throw new CurveError(StatusCode.PARAM_ERROR, `node ${id} is not a member`);
      if (isVoter && conf.voters.length === 1) {
        throw new CurveError(StatusCode.PARAM_ERROR, `cannot remove the last voter ${id}`);
      }
      voters = voters.filter((x) => x !== id);
      learners = learners.filter((x) => x !== id);
      break;
    default:
      throw new CurveError(StatusCode.PARAM_ERROR, `unknown conf change type ${String(cc.type)}`);
  }
  voters.sort((a, b) => a - b);
  learners.sort((a, b) => a - b);
  return { voters, learners };
}

// Layout (little-endian): u8 version, u8 type, u64 nodeId, u32 nVoters, u64 × n,
// u32 nLearners, u64 × n, u32 contextLength, context bytes.
export function encodeConfChangeEntry(e: ConfChangeEntry): Uint8Array {
  const ctx = e.change.context ?? new Uint8Array(0);
  const size = 2 + 8 + 4 + 8 * e.conf.voters.length + 4 + 8 * e.conf.learners.length + 4 + ctx.length;
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  let o = 0;
  const u64 = (v: number) => {
    dv.setBigUint64(o, BigInt(v), true);
    o += 8;
  };
  const u32 = (v: number) => {
    dv.setUint32(o, v, true);
    o += 4;
  };
  dv.setUint8(o++, VERSION);
  dv.setUint8(o++, e.change.type);
  u64(e.change.nodeId);
  u32(e.conf.voters.length);
  e.conf.voters.forEach(u64);
  u32(e.conf.learners.length);
  e.conf.learners.forEach(u64);
  u32(ctx.length);
  buf.set(ctx, o);
  return buf;
}

/** Decodes a ConfChange entry payload; throws PARAM_ERROR on any malformed byte. */
export function decodeConfChangeEntry(data: Uint8Array): ConfChangeEntry {
  const bad = (why: string) => new CurveError(StatusCode.PARAM_ERROR, `malformed conf change entry: ${why}`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > data.length) throw bad('truncated');
  };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(o, true);
    o += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('id out of range');
    return Number(v);
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(o, true);
    o += 4;
    return v;
  };
  need(2);
  const version = dv.getUint8(o++);
  if (version !== VERSION) throw bad(`version ${version}`);
  const type = dv.getUint8(o++);
  if (type > ConfChangeType.RemoveNode) throw bad(`type ${type}`);
  const nodeId = u64();
  const ids = () => {
    const n = u32();
    need(8 * n);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(u64());
    return out;
  };
  const voters = ids();
  const learners = ids();
  const clen = u32();
  need(clen);
  const context = data.slice(o, o + clen);
  o += clen;
  if (o !== data.length) throw bad('trailing bytes');
  const change: ConfChange = { type: type as ConfChangeType, nodeId };
  if (clen > 0) change.context = context;
  return { change, conf: { voters, learners } };
}
