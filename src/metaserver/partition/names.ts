// Names: validation, UTF-8 length and UTF-8 byte order without encoding. Dentries are ordered
// by the UTF-8 bytes of their names (that is the order of the snapshot's dentry keys); JS string
// comparison orders UTF-16 code units, which differs from UTF-8/code-point order only when the
// first difference is a surrogate against a unit in U+E000..U+FFFF, so compareNames fixes up
// exactly that case.
import { MAX_NAME_BYTES, StatusCode } from './types.ts';

/**
 * UTF-8 length of `s`, or -1 when it holds a lone surrogate (such a name has no UTF-8 form and
 * would not survive a snapshot round trip).
 */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A high surrogate followed by a low one is one 4-byte code point.
      if (c > 0xdbff || i + 1 >= n) return -1;
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      bytes += 2; // 2 units → 4 bytes
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** StatusCode.OK or why `name` cannot be a dentry name. */
export function checkName(name: string): StatusCode {
  if (typeof name !== 'string' || name.length === 0 || name === '.' || name === '..') return StatusCode.INVALID_NAME;
  if (name.indexOf('/') !== -1 || name.indexOf('\0') !== -1) return StatusCode.INVALID_NAME;
  const bytes = utf8Length(name);
  if (bytes < 0) return StatusCode.INVALID_NAME;
  if (bytes > MAX_NAME_BYTES) return StatusCode.NAME_TOO_LONG;
  return StatusCode.OK;
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b` in UTF-8 byte order. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // Surrogates (code points ≥ U+10000) sort after U+E000..U+FFFF in code-point order.
        x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
        y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * True when `name` has no UTF-16 unit ≥ U+D800. Comparing such a name with any other string by
 * JS's native `<` gives UTF-8 byte order (the fix-up in compareNames needs both sides ≥ U+D800
 * at the first difference), and native comparison of flat strings is a memcmp.
 */
export function isPlainName(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) >= 0xd800) return false;
  return true;
}

/**
 * Writes the UTF-8 form of `s` (well-formed) at `buf[pos]`; returns the new position. The caller
 * has reserved 3 bytes per UTF-16 unit.
 */
export function writeUtf8(s: string, buf: Uint8Array, pos: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(++i);
      c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
      buf[pos++] = 0xf0 | (c >> 18);
      buf[pos++] = 0x80 | ((c >> 12) & 63);
      buf[pos++] = 0x80 | ((c >> 6) & 63);
      buf[pos++] = 0x80 | (c & 63);
    } else {
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 63);
      buf[pos++] = 0x80 | (c & 63);
    }
  }
  return pos;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes UTF-8 bytes [start, end) of `buf`; throws on invalid UTF-8. ASCII takes a fast path
 * (Buffer's latin1Slice when `buf` is a Buffer; snapshot readers get Buffers from fs streams).
 */
export function readUtf8(buf: Uint8Array, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const latin1 = (buf as { latin1Slice?: (s: number, e: number) => string }).latin1Slice;
    if (latin1 !== undefined) return latin1.call(buf, start, end);
    // fromCharCode.apply builds a flat string (`+=` would build a rope that keeps its parts).
    if (end - start <= 1024) return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  return strictUtf8.decode(buf.subarray(start, end));
}

/** UTF-8 byte order of two strings that are known to be well formed, for sorting. */
export function sortNames(names: string[]): string[] {
  return names.sort(compareNames);
}
