// The checker must accept every linearizable history and reject known violations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkLinearizable, kvModel, type KvInput, type KvOutput, type Operation } from './linearizability.ts';

type Op = Operation<KvInput, KvOutput>;
const put = (c: number, call: number, ret: number, key: string, value: string, output: string | undefined = 'ok'): Op => ({
  clientId: c,
  input: { kind: 'put', key, value },
  call,
  ret,
  output,
});
const app = (c: number, call: number, ret: number, key: string, value: string, output: string | undefined = 'ok'): Op => ({
  clientId: c,
  input: { kind: 'append', key, value },
  call,
  ret,
  output,
});
const get = (c: number, call: number, ret: number, key: string, output: string): Op => ({
  clientId: c,
  input: { kind: 'get', key },
  call,
  ret,
  output,
});
const ok = (h: Op[]) => checkLinearizable(kvModel, h).ok;

describe('linearizability checker: known histories', () => {
  it('accepts sequential and overlapping linearizable histories', () => {
    assert.equal(ok([]), true);
    assert.equal(ok([put(0, 0, 1, 'x', 'a'), get(1, 2, 3, 'x', 'a')]), true);
    // A read overlapping a write may see either value.
    assert.equal(ok([put(0, 0, 10, 'x', 'a'), get(1, 5, 6, 'x', '')]), true);
    assert.equal(ok([put(0, 0, 10, 'x', 'a'), get(1, 5, 6, 'x', 'a')]), true);
    // Two concurrent writes, reads agree on one order.
    assert.equal(
      ok([put(0, 0, 10, 'x', '1'), put(1, 0, 10, 'x', '2'), get(2, 11, 12, 'x', '1'), get(3, 13, 14, 'x', '1')]),
      true,
    );
    // Appends compose.
    assert.equal(ok([app(0, 0, 5, 'k', 'a'), app(1, 1, 6, 'k', 'b'), get(2, 7, 8, 'k', 'ba')]), true);
  });

  it('rejects a stale read after a completed write', () => {
    assert.equal(ok([put(0, 0, 5, 'x', 'a'), get(1, 6, 10, 'x', '')]), false);
  });

  it('rejects reads that disagree on the order of two writes', () => {
    assert.equal(
      ok([put(0, 0, 10, 'x', '1'), put(1, 0, 10, 'x', '2'), get(2, 11, 12, 'x', '2'), get(3, 13, 14, 'x', '1')]),
      false,
    );
  });

  it('rejects a value that was never written, and a lost append', () => {
    assert.equal(ok([put(0, 0, 1, 'x', 'a'), get(1, 2, 3, 'x', 'b')]), false);
    assert.equal(ok([app(0, 0, 1, 'k', 'a'), app(0, 2, 3, 'k', 'b'), get(1, 4, 5, 'k', 'b')]), false);
    assert.equal(ok([app(0, 0, 1, 'k', 'a'), app(0, 2, 3, 'k', 'b'), get(1, 4, 5, 'k', 'ba')]), false);
  });

  it('rejects a read that goes back in time (new then old, both after the write started)', () => {
    assert.equal(ok([put(0, 0, 100, 'x', 'a'), get(1, 10, 11, 'x', 'a'), get(2, 20, 21, 'x', '')]), false);
  });

  it('an unknown-outcome write may happen late or never', () => {
    assert.equal(ok([put(0, 0, Infinity, 'x', 'a', undefined), get(1, 5, 6, 'x', '')]), true);
    assert.equal(ok([put(0, 0, Infinity, 'x', 'a', undefined), get(1, 5, 6, 'x', 'a')]), true);
    assert.equal(ok([put(0, 0, Infinity, 'x', 'a', undefined), get(1, 5, 6, 'x', 'a'), get(1, 7, 8, 'x', '')]), false);
    // It cannot take effect before its call.
    assert.equal(ok([get(1, 0, 1, 'x', 'a'), put(0, 5, Infinity, 'x', 'a', undefined)]), false);
  });

  it('keys are independent', () => {
    assert.equal(ok([put(0, 0, 1, 'x', 'a'), put(0, 2, 3, 'y', 'b'), get(1, 4, 5, 'x', 'a'), get(1, 6, 7, 'y', 'b')]), true);
    assert.equal(ok([put(0, 0, 1, 'x', 'a'), put(0, 2, 3, 'y', 'b'), get(1, 4, 5, 'x', 'b')]), false);
  });

  it('reports which part failed', () => {
    const r = checkLinearizable(kvModel, [put(0, 0, 1, 'x', 'a'), put(0, 0, 1, 'y', 'a'), get(1, 4, 5, 'y', '')]);
    assert.equal(r.ok, false);
    assert.ok(r.ok === false && r.ops.every((o) => (o.input as KvInput).key === 'y'));
  });
});

describe('linearizability checker: properties', () => {
  // A real register executed at random instants inside random intervals is linearizable;
  // changing one read to a value never written makes it not so.
  const historyArb = fc.array(
    fc.record({
      client: fc.integer({ min: 0, max: 4 }),
      kind: fc.constantFrom('put', 'append', 'get'),
      key: fc.constantFrom('a', 'b'),
      before: fc.integer({ min: 0, max: 20 }),
      after: fc.integer({ min: 0, max: 20 }),
    }),
    { minLength: 1, maxLength: 40 },
  );

  function execute(spec: { client: number; kind: string; key: string; before: number; after: number }[]): Op[] {
    const kv = new Map<string, string>();
    return spec.map((s, i) => {
      const at = i * 10; // the linearization point
      const call = at - s.before;
      const ret = at + s.after;
      const v = `v${i};`;
      if (s.kind === 'put') {
        kv.set(s.key, v);
        return put(s.client, call, ret, s.key, v);
      }
      if (s.kind === 'append') {
        kv.set(s.key, (kv.get(s.key) ?? '') + v);
        return app(s.client, call, ret, s.key, v);
      }
      return get(s.client, call, ret, s.key, kv.get(s.key) ?? '');
    });
  }

  it('accepts histories produced by an atomic register', () => {
    fc.assert(fc.property(historyArb, (spec) => ok(execute(spec)) === true), { numRuns: 300 });
  });

  it('rejects them once a read returns a value never written', () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), (spec, pick) => {
        const h = execute(spec);
        const reads = h.filter((o) => o.input.kind === 'get');
        fc.pre(reads.length > 0);
        reads[pick % reads.length]!.output = 'never-written';
        return ok(h) === false;
      }),
      { numRuns: 300 },
    );
  });
});
