// Byte-level helpers of the snapshot format: a growable output buffer that is handed out in
// chunks, big-endian fixed-width key fields (so keys sort numerically), little-endian framing
// and LEB128 varints for values.

export class Out {
  buf: Uint8Array;
  pos = 0;

  constructor(readonly chunkSize: number) {
    this.buf = new Uint8Array(chunkSize * 2);
  }

  /** True when a record of up to `bound` bytes should start a new chunk first. */
  full(bound: number): boolean {
    return this.pos > 0 && this.pos + bound > this.chunkSize;
  }

  /** Makes room for `n` more bytes (grows for an oversized record). */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  /** The bytes written so far (a copy), and a reset. */
  take(): Uint8Array {
    const chunk = this.buf.slice(0, this.pos);
    this.pos = 0;
    return chunk;
  }

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  u32le(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
    this.pos = p + 4;
  }

  u32be(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** Unsigned integer < 2^53 as 8 bytes big-endian. */
  u64be(v: number): void {
    const hi = Math.floor(v / 4294967296);
    this.u32be(hi);
    this.u32be(v >>> 0);
  }

  /** Unsigned integer < 2^53 as 8 bytes little-endian. */
  u64le(v: number): void {
    this.u32le(v >>> 0);
    this.u32le(Math.floor(v / 4294967296));
  }

  /** LEB128: 7 bits per byte, low first, high bit = more. At most 8 bytes for values < 2^53. */
  varint(v: number): void {
    const b = this.buf;
    let p = this.pos;
    if (v < 0x80) {
      b[p++] = v;
    } else {
      while (v > 0xffffffff) {
        b[p++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      while (v >= 0x80) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
    }
    this.pos = p;
  }

  bytes(src: Uint8Array): void {
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** Patches a u32 LE at `at` (a length written after its content). */
  patch32le(at: number, v: number): void {
    const b = this.buf;
    b[at] = v;
    b[at + 1] = v >>> 8;
    b[at + 2] = v >>> 16;
    b[at + 3] = v >>> 24;
  }
}

/** Thrown by In on a read past the end or a malformed number; the loader reports it. */
export class DecodeError extends Error {}

/** Reads a value's fields from buf[pos, end). */
export class In {
  constructor(
    public buf: Uint8Array,
    public pos: number,
    public end: number,
  ) {}

  u8(): number {
    if (this.pos >= this.end) throw new DecodeError('value too short');
    return this.buf[this.pos++]!;
  }

  varint(): number {
    const b = this.buf;
    let p = this.pos;
    if (p < this.end && b[p]! < 0x80) {
      this.pos = p + 1;
      return b[p]!;
    }
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 8; k++) {
      if (p >= this.end) throw new DecodeError('value too short');
      const c = b[p++]!;
      v += (c & 0x7f) * mul;
      if (c < 0x80) {
        if (!Number.isSafeInteger(v) || (c === 0 && k > 0)) throw new DecodeError('bad varint');
        this.pos = p;
        return v;
      }
      mul *= 128;
    }
    throw new DecodeError('varint longer than 8 bytes');
  }

  /** `n` raw bytes (a view into the input). */
  take(n: number): Uint8Array {
    if (n > this.end - this.pos) throw new DecodeError('value too short');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  done(): void {
    if (this.pos !== this.end) throw new DecodeError(`${this.end - this.pos} unexpected bytes at the end of the value`);
  }
}

export function readU32le(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

export function readU32be(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** 8 bytes big-endian; −1 when the value is beyond 2^53. */
export function readU64be(b: Uint8Array, p: number): number {
  const hi = readU32be(b, p);
  if (hi >= 0x200000) return -1;
  return hi * 4294967296 + readU32be(b, p + 4);
}

/** 8 bytes little-endian; −1 when the value is beyond 2^53. */
export function readU64le(b: Uint8Array, p: number): number {
  const hi = readU32le(b, p + 4);
  if (hi >= 0x200000) return -1;
  return hi * 4294967296 + readU32le(b, p);
}
