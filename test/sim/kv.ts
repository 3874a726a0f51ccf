// The tiny key-value state machine replicated by the simulation, and its command codec.
import type { KvInput } from './linearizability.ts';

export interface KvCommand {
  opId: number;
  input: KvInput;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeCommand(b: Uint8Array): KvCommand {
  return JSON.parse(dec.decode(b)) as KvCommand;
}

export class KvStore {
  private map = new Map<string, string>();

  apply(input: KvInput): string {
    switch (input.kind) {
      case 'put':
        this.map.set(input.key, input.value);
        return 'ok';
      case 'append':
        this.map.set(input.key, (this.map.get(input.key) ?? '') + input.value);
        return 'ok';
      case 'get':
        return this.get(input.key);
    }
  }

  get(key: string): string {
    return this.map.get(key) ?? '';
  }

  encode(): Uint8Array {
    const pairs = [...this.map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return enc.encode(JSON.stringify(pairs));
  }

  static decode(b: Uint8Array): KvStore {
    const kv = new KvStore();
    if (b.length > 0) for (const [k, v] of JSON.parse(dec.decode(b)) as [string, string][]) kv.map.set(k, v);
    return kv;
  }

  /** A canonical string of the whole state (for end-of-run comparison). */
  digest(): string {
    return dec.decode(this.encode());
  }
}
