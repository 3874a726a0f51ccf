// Sample protobuf messages for codec tests: deterministic pseudo-random init objects of any
// message type (every field set or not, nested to a depth), for comparing a codec with protobuf-es.
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';

/** A deterministic pseudo-random source (xorshift32), so failures reproduce. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const STRINGS = ['', 'a', 'f12345', 'ünïcødé ✓', 'x'.repeat(200), '名前'];

function scalarValue(t: ScalarType, r: () => number): unknown {
  const pick = r();
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return pick < 0.2 ? 0 : pick < 0.4 ? 2 ** 40 + 3 : pick < 0.5 ? -1.5 : Math.floor(r() * 1e6);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick < 0.2 ? 0 : pick < 0.4 ? -1 : pick < 0.5 ? -0x80000000 : pick < 0.6 ? 0x7fffffff : Math.floor(r() * 1000) - 500;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick < 0.2 ? 0 : pick < 0.4 ? 0xffffffff : pick < 0.5 ? 127 : pick < 0.6 ? 128 : Math.floor(r() * 2 ** 32);
    case ScalarType.BOOL:
      return pick < 0.5;
    case ScalarType.STRING:
      return STRINGS[Math.floor(r() * STRINGS.length)];
    case ScalarType.BYTES:
      return pick < 0.3 ? new Uint8Array(0) : Uint8Array.from({ length: Math.floor(r() * 300) }, (_, i) => (i * 7) & 0xff);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick < 0.3 ? 0n : BigInt(Math.floor(r() * 1e9)) - 500_000_000n;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick < 0.3 ? 0n : BigInt(Math.floor(r() * 1e12));
  }
}

function enumValue(f: DescField, r: () => number): number {
  const values = f.enum!.values;
  return values[Math.floor(r() * values.length)]!.number;
}

/** A sample init object of `desc`: each field set or not, nested to `depth`. */
export function sample(desc: DescMessage, r: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of desc.fields) {
    if (r() < 0.25) continue;
    if (f.oneof) continue; // oneof groups are protobuf-es's (the fallback); left at their zero
    switch (f.fieldKind) {
      case 'scalar':
        out[f.localName] = scalarValue(f.scalar, r);
        break;
      case 'enum':
        out[f.localName] = enumValue(f, r);
        break;
      case 'message':
        if (depth > 0) out[f.localName] = sample(f.message, r, depth - 1);
        break;
      case 'list': {
        const n = Math.floor(r() * 4);
        out[f.localName] = Array.from({ length: n }, () =>
          f.listKind === 'message' ? (depth > 0 ? sample(f.message, r, depth - 1) : {}) : f.listKind === 'enum' ? enumValue(f, r) : scalarValue(f.scalar, r),
        );
        break;
      }
      case 'map': {
        const m: Record<string, unknown> = {};
        const n = Math.floor(r() * 3);
        for (let i = 0; i < n; i++) {
          const key = String(f.mapKey === ScalarType.STRING ? STRINGS[i] : f.mapKey === ScalarType.BOOL ? i === 0 : i * 1000 + 7);
          m[key] = f.mapKind === 'message' ? (depth > 0 ? sample(f.message, r, depth - 1) : {}) : f.mapKind === 'enum' ? 0 : scalarValue(f.scalar, r);
        }
        out[f.localName] = m;
        break;
      }
    }
  }
  return out;
}

