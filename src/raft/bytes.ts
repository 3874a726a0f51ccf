// 64-bit little-endian integers as JS numbers, shared by the log and snapshot file formats.
const TWO32 = 0x1_0000_0000;

export function putU64(view: DataView, off: number, n: number): void {
  view.setUint32(off, n % TWO32, true);
  view.setUint32(off + 4, Math.floor(n / TWO32), true);
}

/** Reads a u64 that must be a safe integer; returns -1 when it is not (the caller reports). */
export function getU64(view: DataView, off: number): number {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  if (hi >= 0x20_0000) return -1;
  return hi * TWO32 + lo;
}
