// A copyset's configuration file under a burst of membership changes: saves started together
// (learner added, promoted, dead member removed — applied back to back) must leave a whole file
// holding the newest peers, and every save must succeed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { PeerSchema } from '../../src/gen/common_pb.ts';
import { readConf, writeConf } from '../../src/metaserver/copyset/raft-group.ts';

test('saves started together all succeed and the file ends whole, with the last peers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-conf-'));
  try {
    // Peer lists of different lengths, so that interleaved writes could not pass the length check.
    const lists = Array.from({ length: 30 }, (_, k) =>
      Array.from({ length: 1 + (k % 5) }, (_, i) => create(PeerSchema, { id: 100 * k + i, address: `127.0.0.${1 + i}:${16700 + k}:0` })),
    );
    const results = await Promise.allSettled(lists.map((peers) => writeConf(dir, 1, 7, peers)));
    assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), []);
    const files = await readdir(dir);
    assert.equal(files.length, 1, `left behind: ${files.join(', ')}`);
    const conf = await readConf(join(dir, files[0]!));
    assert.equal(conf.copysetId, 7);
    assert.deepEqual(conf.peers.map((p) => [p.id, p.address]), lists.at(-1)!.map((p) => [p.id, p.address]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
