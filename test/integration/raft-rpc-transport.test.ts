// RaftNodes over the real RPC transport (sockets on 127.0.0.1): a replica that was down while
// the others compacted their logs is brought back by a multi-chunk snapshot streamed over RPC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressBook, RaftNode, Role, RpcRaftTransport } from '../../src/raft/index.ts';
import { ChannelPool, RpcServer } from '../../src/rpc/index.ts';
import { StatusCode, isCurveError } from '../../src/common/index.ts';
import { KvStateMachine, encodeKv, waitFor } from '../helpers/raft-kv.ts';

interface Member {
  server: RpcServer;
  pool: ChannelPool;
  node: RaftNode;
  sm: KvStateMachine;
}

test('a replica behind the compacted log catches up through a chunked snapshot over RPC', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-rpc-'));
  const addresses = new AddressBook();
  const ports = new Map<number, number>();
  const members = new Map<number, Member>();
  const start = async (id: number): Promise<Member> => {
    const server = new RpcServer({ port: ports.get(id) ?? 0 });
    const pool = new ChannelPool({ backoff: { initialMs: 20, maxMs: 200 } });
    const transport = new RpcRaftTransport({ self: id, server, pool, addresses });
    // Big values and a small snapshot interval: the snapshot spans several 1 MiB chunks.
    const node = new RaftNode({ id, dataDir: join(dir, `n${id}`), transport, addresses, tickMs: 30, snapshotEntries: 100, snapshotKeepEntries: 0 });
    ports.set(id, await server.listen());
    addresses.set(id, `127.0.0.1:${ports.get(id)}`);
    const sm = new KvStateMachine();
    const m = { server, pool, node, sm };
    members.set(id, m);
    return m;
  };
  const stop = async (id: number) => {
    const m = members.get(id)!;
    members.delete(id);
    await m.node.stop();
    await m.server.close();
    m.pool.close();
  };
  const leader = () => [...members.entries()].find(([, m]) => m.node.status(1).role === Role.Leader)?.[0] ?? 0;
  const propose = async (data: Uint8Array) => {
    for (;;) {
      await waitFor(() => leader() !== 0, 20_000, 'a leader');
      try {
        return await members.get(leader())!.node.propose(1, data);
      } catch (e) {
        if (!isCurveError(e, StatusCode.NOT_LEADER)) throw e;
      }
    }
  };
  try {
    for (const id of [1, 2, 3]) await start(id);
    for (const id of [1, 2, 3]) await members.get(id)!.node.addGroup(1, [1, 2, 3], members.get(id)!.sm);
    await propose(encodeKv({ op: 'put', key: 'first', value: '1' }));
    const down = [1, 2, 3].find((x) => x !== leader())!;
    await stop(down);
    const big = 'x'.repeat(20_000);
    for (let i = 0; i < 300; i++) await propose(encodeKv({ op: 'put', key: `k${i}`, value: big }));
    await waitFor(() => [...members.values()].every((m) => m.node.status(1).firstIndex > 200), 20_000, 'compaction past the missing replica');

    const m = await start(down);
    await m.node.addGroup(1, [1, 2, 3], m.sm);
    await waitFor(() => m.sm.data.size === 301, 60_000, 'the restarted replica to catch up');
    assert.ok(m.sm.restores >= 1, 'caught up through a snapshot');
    assert.equal(m.sm.data.get('k299'), big);
    assert.ok(m.node.status(1).snapshotIndex >= 200);
  } finally {
    for (const id of [...members.keys()]) await stop(id);
    await rm(dir, { recursive: true, force: true });
  }
});
