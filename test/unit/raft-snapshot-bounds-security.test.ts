// Bounded snapshot transfers at the Raft transport (issue [L] finding 5: fake snapshot transfers
// wrote unbounded junk to a metaserver's disk). A transfer may carry at most maxSnapshotBytes: the
// chunk that would take it past the bound is refused with a precise error and never reaches the
// node, so a peer that streams forever fills at most the bound per (group, sender), and each
// refusal is counted in the metaserver's metrics. The handler here only records what reaches it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ChannelPool, RpcServer } from '../../src/rpc/index.ts';
import { AddressBook, RpcRaftTransport } from '../../src/raft/index.ts';
import { RaftService } from '../../src/gen/raft_pb.ts';
import { MessageType } from '../../src/raft/core/types.ts';
import { toWire } from '../../src/raft/wire.ts';
import type { SnapshotChunk } from '../../src/raft/transport.ts';
import { Metrics } from '../../src/metrics/index.ts';
import { SnapshotMetrics } from '../../src/metaserver/metrics.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('a snapshot transfer past maxSnapshotBytes is refused before it reaches the node', async () => {
  const server = new RpcServer({ port: 0 });
  const pool = new ChannelPool({ tls: false, credential: undefined });
  cleanups.push(() => pool.close(), () => server.close());
  const transport = new RpcRaftTransport({ self: 1, server, pool, addresses: new AddressBook(), maxSnapshotBytes: 1000 });
  // Wired as src/metaserver/main.ts wires it.
  const metrics = new Metrics({ runtime: false });
  new SnapshotMetrics(metrics).watchRefusedChunks(() => transport.refusedSnapshotChunks);
  const received: SnapshotChunk[] = [];
  transport.listen({ onMessages: () => undefined, onSnapshotChunk: async (c) => void received.push(c) });
  const port = await server.listen();
  const raft = pool.client(RaftService, `127.0.0.1:${port}`);
  const msg = toWire({ type: MessageType.Snapshot, from: 2, to: 1, term: 5, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: { meta: { index: 10, term: 5, conf: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array() } });
  const chunk = (offset: number, n: number, done = false) => raft.installSnapshotChunk({ groupId: 7, msg, offset, data: new Uint8Array(n), done });

  await chunk(0, 400);
  await chunk(400, 400);
  await assert.rejects(chunk(800, 400), (e: unknown) => {
    assert.ok(e instanceof CurveError);
    assert.equal(StatusCode[e.status], 'PARAM_ERROR');
    assert.match(e.message, /snapshot transfer from node 2 would exceed 1000 bytes \(chunk at 800 of 400 bytes\)/);
    return true;
  });
  // Exactly up to the bound is fine, and so is a new transfer from offset 0.
  await chunk(800, 200, true);
  await chunk(0, 1000, true);
  await assert.rejects(chunk(-1, 1), /chunk offset -1/);
  assert.deepEqual(received.map((c) => [c.offset, c.data.length]), [[0, 400], [400, 400], [800, 200], [0, 1000]]);
  assert.equal(transport.refusedSnapshotChunks, 1);
  assert.match(await metrics.text(), /^curvefs_metaserver_raft_snapshot_chunks_refused_total 1$/m);
});
