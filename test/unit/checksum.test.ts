import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, crc32cBytewise, crc32cNative, crc32cSliced } from '../../src/common/index.ts';

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

test('crc32c matches the standard check value', () => {
  const check = new TextEncoder().encode('123456789');
  assert.equal(crc32cBytewise(check), 0xe3069283);
  assert.equal(crc32c(check), 0xe3069283);
});

test('the native package loads on this platform (linux x64 ships a prebuilt binary)', () => {
  // A silent fallback would leave every data read 4x slower: a missing binary must show here.
  assert.ok(crc32cNative, '@node-rs/crc32 did not load');
});

test('sliced, native and chosen crc32c equal the bytewise reference on every length and alignment', () => {
  const data = bytes(70_000, 77);
  const impls = { sliced: crc32cSliced, chosen: crc32c, ...(crc32cNative ? { native: crc32cNative } : {}) };
  for (let start = 0; start < 9; start++) {
    for (const len of [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096, 65_536]) {
      const part = data.subarray(start, start + len);
      const want = crc32cBytewise(part);
      for (const [name, f] of Object.entries(impls)) assert.equal(f(part), want, `${name} start ${start} len ${len}`);
    }
  }
  // Continuing over several buffers equals one pass, from any implementation's partial result.
  const want = crc32cBytewise(data);
  for (const [name, f] of Object.entries(impls)) {
    assert.equal(f(data.subarray(1000), f(data.subarray(0, 1000))), want, `${name} continued`);
    assert.equal(crc32cSliced(data.subarray(1000), f(data.subarray(0, 1000))), want, `${name} then sliced`);
  }
  // A plain Uint8Array over a larger ArrayBuffer (not a Buffer) is read at its own offset.
  const view = new Uint8Array(data.buffer, 3, 5000);
  for (const [name, f] of Object.entries(impls)) assert.equal(f(view), crc32cBytewise(view), `${name} view`);
});
