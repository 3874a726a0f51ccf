// A copyset's snapshot image: a small header section with the copyset's own replicated state
// (transactions, open handles, file locks), then the CURVEFS stream of all its partitions.
//
//   "CURVECS" (7) | version u32 LE (2) | length u32 LE | CopysetSnapshotExtras (protobuf)
//   | CRC-32C u32 LE of every preceding byte | CURVEFS snapshot (docs/formats.md)
//
// The CURVEFS part carries its own CRC-64 and EOF marker; Raft's snapshot file adds its meta.
// Taking a snapshot freezes the partitions (copy-on-write views) and encodes the extras
// synchronously, so the image is the state at that instant while apply continues.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { crc32c } from '../../common/index.ts';
import { PeerSchema } from '../../gen/common_pb.ts';
import {
  CopysetSnapshotExtrasSchema,
  FileLockRecordSchema,
  OpenHandleRecordSchema,
  ReclaimRecordSchema,
  TxOutcomeRecordSchema,
  TxPreparedAtSchema,
  TxTombstoneSchema,
  TxFloorSchema,
} from '../../gen/metaserver_pb.ts';
import { loadSnapshot, writeSnapshotViews, type Partition, type SnapshotSummary } from '../partition/index.ts';
import { CopysetStateMachine } from './state-machine.ts';

export const COPYSET_SNAPSHOT_MAGIC = 'CURVECS';
// Version 2 adds the session view and the coordinators' tx floors to the extras (issue [H]);
// a version-1 image still loads (it knew neither: an empty view, no floors).
export const COPYSET_SNAPSHOT_VERSION = 2;
const OLDEST_COPYSET_SNAPSHOT_VERSION = 1;
const MAGIC = new TextEncoder().encode(COPYSET_SNAPSHOT_MAGIC);
const PREAMBLE = MAGIC.length + 8;
/**
 * Bytes encoded between two yields to the event loop while a snapshot streams: small enough that
 * requests interleave with the encoder (a chunk costs well under a millisecond).
 */
export const SNAPSHOT_CHUNK_BYTES = 64 * 1024;
/** Largest extras section a reader accepts. */
export const MAX_EXTRAS_BYTES = 512 * 1024 * 1024;

export class CopysetSnapshotError extends Error {
  constructor(detail: string) {
    super(`copyset snapshot: ${detail}`);
    this.name = 'CopysetSnapshotError';
  }
}

export interface SnapshotSinkLike {
  write(chunk: Uint8Array): void | Promise<void>;
}

/** A Raft member's id and "ip:port", as kept in an image. */
export interface MemberAddress {
  id: number;
  address: string;
}

/** Encodes the extras section (header included) of `sm` as it is now, with the members' addresses. */
export function encodeExtras(sm: CopysetStateMachine, members: readonly MemberAddress[] = []): Uint8Array {
  const tx = sm.tx;
  const extras = create(CopysetSnapshotExtrasSchema, {
    poolId: sm.poolId,
    copysetId: sm.copysetId,
    records: [...tx.records.values()],
    prepared: [...tx.prepared.values()].map((p) => create(TxPreparedAtSchema, { partitionId: p.part?.p?.partitionId ?? 0, tx: p })),
    tombstones: [...tx.tombstones.values()].map((t) => create(TxTombstoneSchema, t)),
    outcomes: [...tx.outcomes.values()].map((o) => create(TxOutcomeRecordSchema, o)),
    handles: [],
    fileLocks: [],
    memberAddresses: members.map((m) => create(PeerSchema, { id: m.id, address: m.address })),
    sessionMax: sm.sessions.max,
    liveSessions: [...sm.sessions.live].sort((a, b) => a - b),
    txFloors: [...tx.floors].sort((a, b) => a[0] - b[0]).map(([coordinatorPartitionId, index]) => create(TxFloorSchema, { coordinatorPartitionId, index })),
  });
  for (const [pid, table] of [...sm.handles].sort((a, b) => a[0] - b[0])) {
    for (const [inode, sessionId, count] of table.entries()) {
      extras.handles.push(create(OpenHandleRecordSchema, { partitionId: pid, inode, sessionId, count }));
    }
  }
  for (const [pid, set] of [...sm.reclaiming].sort((a, b) => a[0] - b[0])) {
    for (const inode of [...set].sort((a, b) => a - b)) extras.reclaiming.push(create(ReclaimRecordSchema, { partitionId: pid, inode }));
  }
  for (const [pid, table] of [...sm.fileLocks].sort((a, b) => a[0] - b[0])) {
    for (const [inode, locks] of table.entries()) {
      extras.fileLocks.push(create(FileLockRecordSchema, { partitionId: pid, inode, locks: [...locks] }));
    }
  }
  const body = toBinary(CopysetSnapshotExtrasSchema, extras);
  const out = new Uint8Array(PREAMBLE + body.length + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(MAGIC.length, COPYSET_SNAPSHOT_VERSION, true);
  view.setUint32(MAGIC.length + 4, body.length, true);
  out.set(body, PREAMBLE);
  view.setUint32(PREAMBLE + body.length, crc32c(out.subarray(0, PREAMBLE + body.length)), true);
  return out;
}

/**
 * Captures `sm` now and returns a function that streams the image into a sink (the partitions
 * are frozen views, released when streaming ends or fails).
 */
export function captureSnapshot(sm: CopysetStateMachine, members: readonly MemberAddress[] = []): (sink: SnapshotSinkLike) => Promise<SnapshotSummary & { extrasBytes: number }> {
  const extras = encodeExtras(sm, members);
  const views = [...sm.partitions.values()].map((p) => p.freeze());
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    for (const v of views) v.release();
  };
  return async (sink) => {
    try {
      await sink.write(extras);
      const summary = await writeSnapshotViews(views, sink, SNAPSHOT_CHUNK_BYTES);
      return { ...summary, extrasBytes: extras.length };
    } finally {
      release();
    }
  };
}

/**
 * Reads an image into a fresh state machine for (poolId, copysetId). Throws
 * CopysetSnapshotError / SnapshotFormatError on any problem; nothing half-loaded escapes.
 * `onMembers` receives the members' addresses the image carries (checked before anything loads).
 */
export async function loadCopysetSnapshot(
  poolId: number,
  copysetId: number,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onMembers?: (members: MemberAddress[]) => void,
): Promise<CopysetStateMachine> {
  const it = toAsyncIterator(source);
  let buf: Uint8Array = new Uint8Array(0);
  const fill = async (n: number): Promise<void> => {
    while (buf.length < n) {
      const r = await it.next();
      if (r.done) throw new CopysetSnapshotError(`truncated: ${buf.length} bytes, needed ${n}`);
      buf = concat(buf, r.value);
    }
  };
  await fill(PREAMBLE);
  for (let k = 0; k < MAGIC.length; k++) {
    if (buf[k] !== MAGIC[k]) throw new CopysetSnapshotError(`bad magic (not a ${COPYSET_SNAPSHOT_MAGIC} image)`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = view.getUint32(MAGIC.length, true);
  if (version < OLDEST_COPYSET_SNAPSHOT_VERSION || version > COPYSET_SNAPSHOT_VERSION) throw new CopysetSnapshotError(`unsupported version ${version}`);
  const len = view.getUint32(MAGIC.length + 4, true);
  if (len > MAX_EXTRAS_BYTES) throw new CopysetSnapshotError(`extras section of ${len} bytes is too large`);
  await fill(PREAMBLE + len + 4);
  const crc = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(PREAMBLE + len, true);
  if (crc32c(buf.subarray(0, PREAMBLE + len)) !== crc) throw new CopysetSnapshotError('extras checksum mismatch');
  let extras;
  try {
    extras = fromBinary(CopysetSnapshotExtrasSchema, buf.subarray(PREAMBLE, PREAMBLE + len));
  } catch (e) {
    throw new CopysetSnapshotError(`extras do not decode: ${(e as Error).message}`);
  }
  if (extras.poolId !== poolId || extras.copysetId !== copysetId) {
    throw new CopysetSnapshotError(`image of copyset ${extras.poolId}:${extras.copysetId}, expected ${poolId}:${copysetId}`);
  }
  const members = extras.memberAddresses.map((m) => ({ id: m.id, address: m.address }));
  for (const m of members) {
    if (!Number.isSafeInteger(m.id) || m.id <= 0 || !/^[^:\s]+:\d+$/.test(m.address)) throw new CopysetSnapshotError(`bad member address ${m.id}@${JSON.stringify(m.address)}`);
  }
  const u = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;
  if (!u(extras.sessionMax) || !extras.liveSessions.every(u)) throw new CopysetSnapshotError('bad session id in the session view');
  for (const f of extras.txFloors) if (!u(f.index)) throw new CopysetSnapshotError(`bad tx floor ${f.index} of coordinator ${f.coordinatorPartitionId}`);
  const rest = buf.subarray(PREAMBLE + len + 4);
  const partitions = await loadSnapshot(
    (async function* () {
      if (rest.length > 0) yield rest;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    })(),
  );
  const sm = new CopysetStateMachine(poolId, copysetId);
  sm.sessions.update(extras.sessionMax, extras.liveSessions);
  for (const [, p] of partitions) sm.addPartition(p);
  const tx = sm.tx;
  for (const rec of extras.records) tx.addRecord(rec);
  for (const p of extras.prepared) if (p.tx) tx.addPrepared(p.partitionId, p.tx);
  for (const f of extras.txFloors) tx.floors.set(f.coordinatorPartitionId, f.index);
  for (const t of extras.tombstones) tx.addTombstone(t.partitionId, t.id);
  for (const o of extras.outcomes) tx.remember(o.clientId, o.seq, { status: o.status, movedInode: o.movedInode, replacedInode: o.replacedInode });
  tx.relock((pid) => sm.partitions.get(pid)?.fsId);
  for (const h of extras.handles) sm.handlesOf(h.partitionId).load(h.inode, h.sessionId, h.count);
  for (const l of extras.fileLocks) sm.locksOf(l.partitionId).load(l.inode, l.locks);
  for (const r of extras.reclaiming) {
    let set = sm.reclaiming.get(r.partitionId);
    if (!set) sm.reclaiming.set(r.partitionId, (set = new Set()));
    set.add(r.inode);
  }
  onMembers?.(members);
  return sm;
}

/** A digest of everything a replica holds, for comparing replicas in tests. */
export function stateDigest(sm: CopysetStateMachine, partitionDigest: (p: Partition) => bigint): string {
  const parts = [...sm.partitions.values()].sort((a, b) => a.partitionId - b.partitionId).map((p) => `${p.partitionId}:${partitionDigest(p)}`);
  return `${parts.join(',')}|${crc32c(encodeExtras(sm).subarray(PREAMBLE))}`;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function toAsyncIterator(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterator<Uint8Array> {
  if (Symbol.asyncIterator in source) return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const sync = (source as Iterable<Uint8Array>)[Symbol.iterator]();
  return { next: async () => sync.next() };
}
