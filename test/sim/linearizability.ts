// A linearizability checker in the style of porcupine (Athalye) / Knossos (Kingsbury): the
// Wing & Gong search, with Lowe's memoization of (linearized set, model state) and
// P-compositionality — the history is split by key and each part checked alone.
//
// An operation whose outcome is unknown (the client gave up) has `ret = Infinity` and
// `output = undefined`: it may take effect at any point after its call, or never (linearizing it
// after every other operation is the same as never).

export interface Operation<I, O> {
  clientId: number;
  input: I;
  call: number;
  /** Response time; Infinity when the client never learned the outcome. */
  ret: number;
  output: O | undefined;
}

export interface Model<S, I, O> {
  /** Independent sub-histories (e.g. one per key). Default: the whole history. */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][];
  init(): S;
  /** Applies `input` to `state`; ok = the observed output is possible (undefined output: always). */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** A string that identifies the state (equal states, equal keys). */
  key(state: S): string;
}

export type CheckResult =
  | { ok: true }
  | { ok: false; part: number; ops: Operation<unknown, unknown>[] }
  | { ok: 'unknown'; part: number };

interface Node {
  /** Operation id within the part. */
  id: number;
  isCall: boolean;
  time: number;
  /** For a call: its return node. */
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

class Bitset {
  readonly words: Uint32Array;
  constructor(n: number) {
    this.words = new Uint32Array((n + 31) >>> 5);
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }
  clone(): Bitset {
    const b = new Bitset(0);
    (b as { words: Uint32Array }).words = this.words.slice();
    return b;
  }
  equals(o: Bitset): boolean {
    for (let i = 0; i < this.words.length; i++) if (this.words[i] !== o.words[i]) return false;
    return true;
  }
  hash(): string {
    return Array.from(this.words, (w) => w.toString(36)).join('.');
  }
}

/** Checks one part; returns true, false, or undefined when the step budget ran out. */
function checkPart<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], budget: number): boolean | undefined {
  const n = ops.length;
  if (n === 0) return true;
  const events: Node[] = [];
  for (let id = 0; id < n; id++) {
    const op = ops[id]!;
    if (!(op.ret >= op.call)) throw new Error(`operation ${id} returns before its call`);
    const ret: Node = { id, isCall: false, time: op.ret, match: undefined, prev: undefined, next: undefined };
    const call: Node = { id, isCall: true, time: op.call, match: ret, prev: undefined, next: undefined };
    events.push(call, ret);
  }
  // By time; at equal times calls first (treat touching operations as concurrent: never a false
  // alarm), then by id for determinism.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: Node = { id: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const lift = (c: Node) => {
    c.prev!.next = c.next;
    if (c.next) c.next.prev = c.prev;
    const r = c.match!;
    r.prev!.next = r.next;
    if (r.next) r.next.prev = r.prev;
  };
  const unlift = (c: Node) => {
    const r = c.match!;
    r.prev!.next = r;
    if (r.next) r.next.prev = r;
    c.prev!.next = c;
    if (c.next) c.next.prev = c;
  };

  const cache = new Map<string, Bitset[]>();
  const seen = (bits: Bitset, state: S): boolean => {
    const k = model.key(state) + '|' + bits.hash();
    const list = cache.get(k);
    if (list) {
      for (const b of list) if (b.equals(bits)) return true;
      list.push(bits.clone());
    } else {
      cache.set(k, [bits.clone()]);
    }
    return false;
  };

  const stack: { node: Node; state: S }[] = [];
  const linearized = new Bitset(n);
  let state = model.init();
  let entry: Node | undefined = head.next;
  let steps = 0;
  while (head.next) {
    if (++steps > budget) return undefined;
    if (!entry) return false; // cannot happen: the list always ends with a return
    if (entry.isCall) {
      const op = ops[entry.id]!;
      const r = model.step(state, op.input, op.output);
      if (r.ok) {
        linearized.set(entry.id);
        if (!seen(linearized, r.state)) {
          stack.push({ node: entry, state });
          state = r.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.id);
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: backtrack.
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      linearized.clear(top.node.id);
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return true;
}

export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: Operation<I, O>[],
  budgetPerPart = 5_000_000,
): CheckResult {
  const parts = model.partition ? model.partition(history) : [history];
  for (let i = 0; i < parts.length; i++) {
    const r = checkPart(model, parts[i]!, budgetPerPart);
    if (r === undefined) return { ok: 'unknown', part: i };
    if (!r) return { ok: false, part: i, ops: parts[i]! as Operation<unknown, unknown>[] };
  }
  return { ok: true };
}

// ---- the key-value model used by the Raft simulation ---------------------------------------

export type KvInput =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'append'; key: string; value: string }
  | { kind: 'get'; key: string };

/** put/append answer 'ok'; get answers the value ('' when absent). */
export type KvOutput = string;

export const kvModel: Model<string, KvInput, KvOutput> = {
  partition(ops) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of ops) {
      let l = byKey.get(op.input.key);
      if (!l) byKey.set(op.input.key, (l = []));
      l.push(op);
    }
    return [...byKey.values()];
  },
  init: () => '',
  step(state, input, output) {
    switch (input.kind) {
      case 'put':
        return { ok: output === undefined || output === 'ok', state: input.value };
      case 'append':
        return { ok: output === undefined || output === 'ok', state: state + input.value };
      case 'get':
        return { ok: output === undefined || output === state, state };
    }
  },
  key: (s) => s,
};

export function describeOps(ops: Operation<unknown, unknown>[]): string {
  return ops
    .slice()
    .sort((a, b) => a.call - b.call)
    .map(
      (o) =>
        `  c${o.clientId} [${o.call}, ${o.ret === Infinity ? '∞' : o.ret}] ${JSON.stringify(o.input)} -> ${
          o.output === undefined ? '?' : JSON.stringify(o.output)
        }`,
    )
    .join('\n');
}
