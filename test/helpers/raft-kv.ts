// A tiny key-value state machine for Raft driver tests. Commands are JSON:
//   {"op":"put","key":k,"value":v}  -> the previous value (or null)
//   {"op":"fail"}                   -> throws: a state-machine failure, which stops the group
// Every apply also appends the key to `order`, so tests can compare histories across replicas.
import type { Entry } from '../../src/raft/core/types.ts';
import type { SnapshotSink, SnapshotSource, StateMachine } from '../../src/raft/state-machine.ts';

/** Raw RPC methods of test/helpers/raft-kv-server.ts. */
export const KV_PROPOSE = 'curvefs.rafttest.Kv/Propose';
export const KV_DUMP = 'curvefs.rafttest.Kv/Dump';
export const KV_STATUS = 'curvefs.rafttest.Kv/Status';
/** Answers at once with an empty body: the RPC round trip alone (the bench's floor). */
export const KV_PING = 'curvefs.rafttest.Kv/Ping';
/** Propose to any group: body = the group id (u32 little-endian), then the KV command. */
export const KV_PROPOSE_IN = 'curvefs.rafttest.Kv/ProposeIn';

/** The body of a KV_PROPOSE_IN call. */
export function proposeInBody(group: number, cmd: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + cmd.length);
  new DataView(b.buffer).setUint32(0, group, true);
  b.set(cmd, 4);
  return b;
}

export type KvCommand = { op: 'put'; key: string; value: string } | { op: 'fail' };

// One coder each: constructing a TextDecoder per entry cost about a microsecond of every apply
// in the commit benchmark.
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export const encodeKv = (c: KvCommand): Uint8Array => utf8Encoder.encode(JSON.stringify(c));

export class KvStateMachine implements StateMachine {
  data = new Map<string, string>();
  applied = 0;
  restores = 0;

  apply(e: Entry): unknown {
    this.applied = e.index;
    const c = JSON.parse(utf8Decoder.decode(e.data)) as KvCommand;
    if (c.op === 'fail') throw new Error(`command at ${e.index} failed as asked`);
    const prev = this.data.get(c.key) ?? null;
    this.data.set(c.key, c.value);
    return prev;
  }

  snapshot(): SnapshotSource {
    // A copy taken now: apply may continue while the copy streams out.
    const image = JSON.stringify({ applied: this.applied, data: [...this.data] });
    return async (sink: SnapshotSink) => {
      const b = new TextEncoder().encode(image);
      for (let o = 0; o < b.length; o += 64 * 1024) await sink.write(b.subarray(o, o + 64 * 1024));
    };
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    const img = JSON.parse(Buffer.concat(parts).toString('utf8')) as { applied: number; data: [string, string][] };
    this.data = new Map(img.data);
    this.applied = img.applied;
    this.restores++;
  }
}

/** Polls `pred` every few milliseconds until it holds; fails after `ms`. */
export async function waitFor(pred: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Like waitFor, for an asynchronous predicate. */
export async function waitForAsync(pred: () => Promise<boolean>, ms = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
