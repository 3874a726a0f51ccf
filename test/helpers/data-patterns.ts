// Large deterministic test data, cheap to make and to recognise: a 64 KiB pseudo-random tile
// (different per seed) repeated, with the tile number stamped into each copy.
import { pattern } from './block-store-conformance.ts';

export function bigPattern(size: number, seed: number): Uint8Array {
  const tile = pattern(65536, seed);
  const out = new Uint8Array(size);
  for (let off = 0, n = 0; off < size; off += tile.length, n++) {
    out.set(tile.subarray(0, Math.min(tile.length, size - off)), off);
    if (off + 4 <= size) new DataView(out.buffer, out.byteOffset + off, 4).setUint32(0, n);
  }
  return out;
}
