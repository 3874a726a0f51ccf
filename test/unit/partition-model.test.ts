// Property tests: random operation sequences applied to the Partition and to the reference model
// of test/helpers/partition-model.ts must agree on every result and on the whole observable state
// after every step; the states they reach must survive a snapshot round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeSnapshot, FileType, loadSnapshot, partitionDigest } from '../../src/metaserver/partition/index.ts';
import { observe, run, seedArb } from '../helpers/partition-model.ts';

const FS = 1;
const REG = FileType.TYPE_S3;

test('random op sequences: partition and reference model agree on every result and state', () => {
  fc.assert(
    fc.property(fc.array(seedArb, { minLength: 20, maxLength: 200 }), (seeds) => {
      run(seeds);
    }),
    { numRuns: 300, seed: 20261124 },
  );
});

test('random states survive a snapshot round trip (equal state, equal listings, equal digest)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(seedArb, { minLength: 10, maxLength: 150 }), fc.integer({ min: 1, max: 300 }), async (seeds, chunk) => {
      const { p, m } = run(seeds);
      const v = p.freeze();
      const bytes = Buffer.concat([...encodeSnapshot([v], chunk)]);
      v.release();
      const pieces: Uint8Array[] = [];
      for (let o = 0; o < bytes.length; o += chunk) pieces.push(bytes.subarray(o, o + chunk));
      const q = (await loadSnapshot(pieces)).get(1)!;
      const ids = new Set([...m.inodes.keys(), 1, 2, 3]);
      assert.deepEqual(observe(q, ids), observe(p, ids));
      assert.equal(partitionDigest(q), partitionDigest(p));
      // And the loaded partition keeps behaving like the original.
      const more = { kind: 'createFile' as const, fsId: FS, parent: 1, name: 'after', type: REG, mode: 0o644, uid: 0, gid: 0, time: { sec: 1, nsec: 0 } };
      assert.deepEqual(q.apply(more), p.apply(more));
    }),
    { numRuns: 60, seed: 7 },
  );
});
