// Is a bad spot in the last segment a torn final write, or damage to records already synced?
//
// Only a torn write may be cut: the log's records up to the last fdatasync were acknowledged
// (votes, appends), and cutting them silently rolls back a vote or loses committed entries. So
// anything that is not recognisably a torn write stops the open (raft-log.ts), and the replica is
// rebuilt from its peers.
//
// What a crash leaves: the records before the last sync are intact; the last write [A, B) landed
// as an arbitrary subset of its sectors; every byte the log never wrote reads as zero (segments
// are preallocated with zeros or sparse, the log never rewrites a byte, and a cut zeroes the
// tail). A sector that did not land therefore reads as zeros. Let D be the end of the written
// data (one past the last non-zero byte of the segment). A torn record at X shows one of:
//   hole    an aligned 512-byte sector inside the record's claimed extent that is all zeros while
//           data follows it (a sector that did not land, with later ones that did);
//   runs out the record claims to extend past D (its last sectors did not land, or the file
//           ends inside it), and no valid record starts between X and D — there the record's own
//           bytes are all there is.
// Damage to synced records shows neither: a flipped bit leaves no zero sector, and a length made
// longer by a flip still has the next (valid) record after it. What cannot be told apart — as in
// etcd's WAL, whose rule this refines — is a flip in a record whose payload itself holds an aligned
// run of 512 zero bytes, or a flip that lengthens the very last record past D: both read as torn.
// The other way round, one rare torn shape is refused: a write that began within a record
// header's length of a sector's end, that sector lost and the record's other bytes landed (those
// the lost sector held being zeros anyway) — it is exactly a flipped type byte of a synced record
// (the replica is then rebuilt from its peers).
import { RecordType, parseRecord } from './format.ts';

/** The unit a disk writes atomically at the least; a torn write loses whole sectors. */
export const SECTOR_BYTES = 512;

/** What the scan found at `offset`: a bad record, one cut short by the end of the file, or a zero type byte with data after it. */
export type DamageKind = 'bad' | 'short' | 'end';

/**
 * Decides whether the bad spot at the start of `tail` is a torn final write. `tail` holds the
 * segment's bytes from the bad spot to the end of the file; `fileOffset` is where it starts in
 * the file (sectors are aligned to the file, not to the record).
 */
export function isTornWrite(tail: Uint8Array, fileOffset: number, kind: DamageKind): boolean {
  let d = tail.length;
  while (d > 0 && tail[d - 1] === 0) d--;
  if (kind === 'end') {
    // A zero type byte with data after it. If restoring the type byte gives a valid record, this
    // is one flipped byte of a written record, not a lost sector: refuse (the record may have
    // been acknowledged).
    if (typeByteFlip(tail)) return false;
    const sectorEnd = alignUp(fileOffset + 1) - fileOffset;
    return sectorEnd <= d && allZero(tail, 0, sectorEnd);
  }
  const claimedEnd = claimedSize(tail);
  if (hasHole(tail, fileOffset, claimedEnd, d)) return true;
  return claimedEnd > d && !validRecordWithin(tail, 1, d);
}

/** Size the record at the start of `tail` claims (its length field), or Infinity if unreadable. */
function claimedSize(tail: Uint8Array): number {
  if (tail.length < 5) return Infinity;
  const len = new DataView(tail.buffer, tail.byteOffset, 5).getUint32(1, true);
  return 9 + len;
}

/**
 * A whole aligned sector of zeros that starts inside the record (after its first byte, which is
 * non-zero — else the scan saw an end marker) and has written data after it (ends by `d`).
 */
function hasHole(tail: Uint8Array, fileOffset: number, claimedEnd: number, d: number): boolean {
  for (let s = alignUp(fileOffset + 1) - fileOffset; s < claimedEnd && s + SECTOR_BYTES <= d; s += SECTOR_BYTES) {
    if (allZero(tail, s, s + SECTOR_BYTES)) return true;
  }
  return false;
}

/** True when some offset in [from, to) starts a record that is complete and valid before `to`. */
function validRecordWithin(tail: Uint8Array, from: number, to: number): boolean {
  const window = tail.subarray(0, to);
  for (let p = from; p < to; p++) {
    const t = window[p]!;
    if (t < RecordType.Entry || t > RecordType.Position) continue;
    if (parseRecord(window.subarray(p)).kind === 'record') return true;
  }
  return false;
}

function typeByteFlip(tail: Uint8Array): boolean {
  if (tail.length < 9) return false;
  const probe = tail.slice(0, Math.min(tail.length, claimedSize(tail)));
  for (let t = RecordType.Entry; t <= RecordType.Position; t++) {
    probe[0] = t;
    if (parseRecord(probe).kind === 'record') return true;
  }
  return false;
}

function allZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

const alignUp = (x: number): number => Math.ceil(x / SECTOR_BYTES) * SECTOR_BYTES;
