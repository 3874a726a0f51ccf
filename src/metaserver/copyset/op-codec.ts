// The payload of a copyset's Raft log entries: one logical operation, applied deterministically
// by every replica. Layout (CurveFS's `[u32 BE opType][u32 BE len][protobuf]` plus a version
// byte in front, so the format can change without guessing):
//
//   u8 version (1) | u32 BE opType | u32 BE payloadLength | payload (protobuf of the op's message)
//
// The payload is encoded and decoded by the generated codecs of src/rpc/codec.ts (protobuf-es's
// bytes; protobuf-es's own encode and decode were ~4 % of a metaserver's CPU per create:
// docs/benchmarks.md). The Raft log record around it carries its own length and CRC-32C. Op types are never
// renumbered; a replica that meets an unknown op type or version stops applying (it must not
// guess), which `decodeOp` reports as PARSE_FROM_STRING_FAILED.
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../common/index.ts';
import { codecOf, type MessageCodec } from '../../rpc/index.ts';
import {
  AppendAndUpdateInodeRequestSchema,
  AppendChunksRequestSchema,
  CreateDentryRequestSchema,
  CreateFileRequestSchema,
  CloneInodeRequestSchema,
  CreateInodeRequestSchema,
  CreatePartitionRequestSchema,
  CreateRootInodeRequestSchema,
  DeleteDentryRequestSchema,
  DeleteInodeRequestSchema,
  DeletePartitionRequestSchema,
  ExpireSessionsEntrySchema,
  LinkInodeRequestSchema,
  LockRequestSchema,
  OpenHandleRequestSchema,
  RemoveXAttrRequestSchema,
  RenameEntrySchema,
  ReplaceChunksRequestSchema,
  RmdirRequestSchema,
  SetXAttrRequestSchema,
  TxDecideEntrySchema,
  TxFinishRequestSchema,
  TxForgetEntrySchema,
  TxPrepareRequestSchema,
  TxRecordSchema,
  TrashEntryRequestSchema,
  UnlinkInodeRequestSchema,
  UnlinkRequestSchema,
  UpdateInodeRequestSchema,
} from '../../gen/metaserver_pb.ts';

export const OP_CODEC_VERSION = 1;
export const OP_HEADER_BYTES = 9;

/** Operation types of the copyset log. Append only; never reorder or reuse a number. */
export const enum OpType {
  // client mutations: the payload is the request as the client sent it (with the leader's time)
  CreateInode = 1,
  CreateFile = 2,
  CreateRootInode = 3,
  CreateDentry = 4,
  DeleteDentry = 5,
  Unlink = 6,
  Rmdir = 7,
  LinkInode = 8,
  UnlinkInode = 9,
  UpdateInode = 10,
  DeleteInode = 11,
  SetXAttr = 12,
  RemoveXAttr = 13,
  AppendChunks = 14,
  ReplaceChunks = 15,
  Rename = 16,
  OpenHandle = 17,
  Lock = 18,
  /** Puts a trashed name back (TrashEntryRequest; architecture.md §6c). */
  TrashRestore = 19,
  /** Empties one trash entry: `trash purge`, or the leader's expiry pass (TrashEntryRequest). */
  TrashPurge = 20,
  /** A file's buffered writes and the setattr after them, in one entry (AppendAndUpdateInodeRequest). */
  AppendAndUpdateInode = 21,
  /** A metadata-only copy of a file sharing its objects (CloneInodeRequest; architecture.md §6d). */
  CloneInode = 25,
  // admin
  CreatePartition = 30,
  DeletePartition = 31,
  // multi-partition transactions (docs/rename.md)
  TxBegin = 40,
  TxPrepare = 41,
  TxDecide = 42,
  TxFinish = 43,
  TxForget = 44,
  // housekeeping proposed by the leader
  ExpireSessions = 50,
  /** The reclaimer claims an nlink-0 inode: no handle may open it any more (DeleteInodeRequest). */
  MarkReclaim = 51,
  /** Drops a DELETING partition whose data was deleted (DeletePartitionRequest). */
  DropPartition = 52,
}

const SCHEMAS = {
  [OpType.CreateInode]: CreateInodeRequestSchema,
  [OpType.CreateFile]: CreateFileRequestSchema,
  [OpType.CreateRootInode]: CreateRootInodeRequestSchema,
  [OpType.CreateDentry]: CreateDentryRequestSchema,
  [OpType.DeleteDentry]: DeleteDentryRequestSchema,
  [OpType.Unlink]: UnlinkRequestSchema,
  [OpType.Rmdir]: RmdirRequestSchema,
  [OpType.LinkInode]: LinkInodeRequestSchema,
  [OpType.UnlinkInode]: UnlinkInodeRequestSchema,
  [OpType.UpdateInode]: UpdateInodeRequestSchema,
  [OpType.DeleteInode]: DeleteInodeRequestSchema,
  [OpType.SetXAttr]: SetXAttrRequestSchema,
  [OpType.RemoveXAttr]: RemoveXAttrRequestSchema,
  [OpType.AppendChunks]: AppendChunksRequestSchema,
  [OpType.ReplaceChunks]: ReplaceChunksRequestSchema,
  [OpType.Rename]: RenameEntrySchema,
  [OpType.OpenHandle]: OpenHandleRequestSchema,
  [OpType.Lock]: LockRequestSchema,
  [OpType.TrashRestore]: TrashEntryRequestSchema,
  [OpType.TrashPurge]: TrashEntryRequestSchema,
  [OpType.AppendAndUpdateInode]: AppendAndUpdateInodeRequestSchema,
  [OpType.CloneInode]: CloneInodeRequestSchema,
  [OpType.CreatePartition]: CreatePartitionRequestSchema,
  [OpType.DeletePartition]: DeletePartitionRequestSchema,
  [OpType.TxBegin]: TxRecordSchema,
  [OpType.TxPrepare]: TxPrepareRequestSchema,
  [OpType.TxDecide]: TxDecideEntrySchema,
  [OpType.TxFinish]: TxFinishRequestSchema,
  [OpType.TxForget]: TxForgetEntrySchema,
  [OpType.ExpireSessions]: ExpireSessionsEntrySchema,
  [OpType.MarkReclaim]: DeleteInodeRequestSchema,
  [OpType.DropPartition]: DeletePartitionRequestSchema,
} as const satisfies Record<OpType, DescMessage>;

type Schemas = typeof SCHEMAS;

/** A decoded log operation: its type and its message, typed together. */
export type Op = { [T in OpType]: { type: T; msg: MessageShape<Schemas[T]> } }[OpType];
export type OpOf<T extends OpType> = Extract<Op, { type: T }>;
/** The message an op of type T carries. */
export type OpMsg<T extends OpType> = MessageShape<Schemas[T]>;

export function opName(type: number): string {
  return OP_NAMES.get(type) ?? `op#${type}`;
}
const OP_NAMES = new Map<number, string>([
  [OpType.CreateInode, 'CreateInode'],
  [OpType.CreateFile, 'CreateFile'],
  [OpType.CreateRootInode, 'CreateRootInode'],
  [OpType.CreateDentry, 'CreateDentry'],
  [OpType.DeleteDentry, 'DeleteDentry'],
  [OpType.Unlink, 'Unlink'],
  [OpType.Rmdir, 'Rmdir'],
  [OpType.LinkInode, 'LinkInode'],
  [OpType.UnlinkInode, 'UnlinkInode'],
  [OpType.UpdateInode, 'UpdateInode'],
  [OpType.DeleteInode, 'DeleteInode'],
  [OpType.SetXAttr, 'SetXAttr'],
  [OpType.RemoveXAttr, 'RemoveXAttr'],
  [OpType.AppendChunks, 'AppendChunks'],
  [OpType.ReplaceChunks, 'ReplaceChunks'],
  [OpType.Rename, 'Rename'],
  [OpType.OpenHandle, 'OpenHandle'],
  [OpType.Lock, 'Lock'],
  [OpType.TrashRestore, 'TrashRestore'],
  [OpType.TrashPurge, 'TrashPurge'],
  [OpType.AppendAndUpdateInode, 'AppendAndUpdateInode'],
  [OpType.CloneInode, 'CloneInode'],
  [OpType.CreatePartition, 'CreatePartition'],
  [OpType.DeletePartition, 'DeletePartition'],
  [OpType.TxBegin, 'TxBegin'],
  [OpType.TxPrepare, 'TxPrepare'],
  [OpType.TxDecide, 'TxDecide'],
  [OpType.TxFinish, 'TxFinish'],
  [OpType.TxForget, 'TxForget'],
  [OpType.ExpireSessions, 'ExpireSessions'],
  [OpType.MarkReclaim, 'MarkReclaim'],
  [OpType.DropPartition, 'DropPartition'],
]);

/** The message type of an op's payload (undefined for an unknown op type). */
export function opSchema(type: number): DescMessage | undefined {
  return (SCHEMAS as Record<number, DescMessage | undefined>)[type];
}

/** Codecs by op type, made on first use. */
const CODECS = new Map<number, MessageCodec>();

function opCodec(type: number): MessageCodec | undefined {
  let c = CODECS.get(type);
  if (c === undefined) {
    const schema = opSchema(type);
    if (!schema) return undefined;
    CODECS.set(type, (c = codecOf(schema)));
  }
  return c;
}

export function encodeOp<T extends OpType>(type: T, msg: MessageShape<Schemas[T]>): Uint8Array {
  // The payload is written after room for the header: one buffer, no copy. A plain Uint8Array
  // view of it, not the codec's Buffer, whose slice() would share memory where callers expect a copy.
  const enc = opCodec(type)!.encode(msg, OP_HEADER_BYTES);
  const out = new Uint8Array(enc.buffer, enc.byteOffset, enc.length);
  const payloadLength = out.length - OP_HEADER_BYTES;
  out[0] = OP_CODEC_VERSION;
  out[1] = type >>> 24;
  out[2] = (type >>> 16) & 0xff;
  out[3] = (type >>> 8) & 0xff;
  out[4] = type & 0xff;
  out[5] = payloadLength >>> 24;
  out[6] = (payloadLength >>> 16) & 0xff;
  out[7] = (payloadLength >>> 8) & 0xff;
  out[8] = payloadLength & 0xff;
  return out;
}

/** Decodes a log entry payload; throws PARSE_FROM_STRING_FAILED with the reason. */
export function decodeOp(bytes: Uint8Array): Op {
  if (bytes.length < OP_HEADER_BYTES) throw bad(`entry of ${bytes.length} bytes is shorter than the ${OP_HEADER_BYTES}-byte header`);
  if (bytes[0] !== OP_CODEC_VERSION) throw bad(`op codec version ${bytes[0]} is not ${OP_CODEC_VERSION}`);
  const type = u32be(bytes, 1);
  const len = u32be(bytes, 5);
  if (len !== bytes.length - OP_HEADER_BYTES)
    throw bad(`${opName(type)}: payload length ${len} but ${bytes.length - OP_HEADER_BYTES} bytes follow the header`);
  const codec = opCodec(type);
  if (!codec) throw bad(`unknown op type ${type}`);
  let msg: unknown;
  try {
    msg = codec.decode(bytes.subarray(OP_HEADER_BYTES));
  } catch (e) {
    throw bad(`${opName(type)}: bad protobuf payload: ${(e as Error).message}`);
  }
  return { type, msg } as Op;
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Reads only the op type (for metrics and routing without a full decode). */
export function peekOpType(bytes: Uint8Array): number {
  if (bytes.length < OP_HEADER_BYTES || bytes[0] !== OP_CODEC_VERSION) return -1;
  return u32be(bytes, 1);
}

function bad(message: string): CurveError {
  return new CurveError(StatusCode.PARSE_FROM_STRING_FAILED, message);
}
