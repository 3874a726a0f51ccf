// RaftGroup.changePeers (the metaserver's side of CHANGE_PEER) on in-process RaftNodes with real
// files: replacing a dead member runs as learner → caught up → promoted → dead member removed,
// committing writes with the dead member still in the group; an attempt resumed after it stopped
// half-way reuses the learner it already added and drops learners nobody asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftGroup } from '../../src/metaserver/copyset/raft-group.ts';
import { RaftNode } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { AddressBook } from '../../src/raft/address-book.ts';
import { ConfChangeType, Role, type ConfChangeEntry, type NodeId } from '../../src/raft/index.ts';
import { KvStateMachine, encodeKv, waitFor } from '../helpers/raft-kv.ts';

const G = 5;
const addr = (id: NodeId) => `127.0.0.1:${7100 + id}`;

/** Records the membership changes it applies. */
class ChangeLog extends KvStateMachine {
  readonly changes: string[] = [];
  onConfChange(cc: ConfChangeEntry): void {
    const kind = cc.change.type === ConfChangeType.AddLearner ? 'learner' : cc.change.type === ConfChangeType.AddVoter ? 'voter' : 'remove';
    this.changes.push(`${kind} ${cc.change.nodeId}`);
  }
}

async function cluster(dir: string) {
  const net = new LocalNetwork();
  const nodes = new Map<NodeId, RaftNode>();
  const sms = new Map<NodeId, ChangeLog>();
  const start = async (id: NodeId, peers: NodeId[]) => {
    const n = new RaftNode({ id, dataDir: join(dir, `n${id}`), transport: net.transport(id), addresses: new AddressBook([1, 2, 3, 4].map((k) => [k, addr(k)])), tickMs: 30 });
    nodes.set(id, n);
    const sm = new ChangeLog();
    sms.set(id, sm);
    await n.addGroup(G, peers, sm);
  };
  for (const id of [1, 2, 3]) await start(id, [1, 2, 3]);
  const leader = async (): Promise<RaftNode> => {
    let found: RaftNode | undefined;
    await waitFor(() => (found = [...nodes.values()].find((n) => n.hasGroup(G) && n.status(G).role === Role.Leader)) !== undefined, 60_000, 'a leader');
    return found!;
  };
  const stop = async (id: NodeId) => {
    net.detach(id);
    await nodes.get(id)!.stop();
    nodes.delete(id);
  };
  return { nodes, sms, start, leader, stop, close: async () => { for (const id of [...nodes.keys()]) await stop(id); } };
}

test('a dead member is replaced learner-first, and writes commit throughout', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'change-peers-'));
  const c = await cluster(dir);
  try {
    let leader = await c.leader();
    for (let i = 0; i < 50; i++) await leader.propose(G, encodeKv({ op: 'put', key: `k${i}`, value: 'v' }), { timeoutMs: 60_000 });
    const dead = [1, 2, 3].find((id) => id !== leader.id)!;
    await c.stop(dead);
    await c.start(4, []);
    leader = await c.leader();
    const live = [1, 2, 3].filter((id) => id !== dead);
    await new RaftGroup(leader, G).changePeers([...live, 4].map((id) => ({ id, address: `${addr(id)}:0` })));
    assert.deepEqual(leader.status(G).conf, { voters: [...live, 4].sort((a, b) => a - b), learners: [] });
    assert.deepEqual(c.sms.get(leader.id)!.changes, ['learner 4', 'voter 4', `remove ${dead}`]);
    await leader.propose(G, encodeKv({ op: 'put', key: 'after', value: 'v' }), { timeoutMs: 60_000 });
    await waitFor(() => c.sms.get(4)!.data.get('after') === 'v' && c.sms.get(4)!.data.size === 51, 60_000, 'the new member to hold everything');
  } finally {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a resumed change reuses its learner and removes a stray one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'change-peers-'));
  const c = await cluster(dir);
  try {
    let leader = await c.leader();
    await leader.propose(G, encodeKv({ op: 'put', key: 'a', value: 'v' }), { timeoutMs: 60_000 });
    const dead = [1, 2, 3].find((id) => id !== leader.id)!;
    await c.stop(dead);
    await c.start(4, []);
    leader = await c.leader();
    // An earlier attempt added 4 as a learner, and another one added 9 (which never started).
    await leader.changeMembership(G, { type: ConfChangeType.AddLearner, nodeId: 4, address: addr(4) }, { timeoutMs: 60_000 });
    await leader.changeMembership(G, { type: ConfChangeType.AddLearner, nodeId: 9, address: '127.0.0.1:1' }, { timeoutMs: 60_000 });
    const before = c.sms.get(leader.id)!.changes.length;
    const live = [1, 2, 3].filter((id) => id !== dead);
    await new RaftGroup(leader, G).changePeers([...live, 4].map((id) => ({ id, address: `${addr(id)}:0` })));
    assert.deepEqual(c.sms.get(leader.id)!.changes.slice(before), ['voter 4', `remove ${dead}`, 'remove 9']);
    assert.deepEqual(leader.status(G).conf, { voters: [...live, 4].sort((a, b) => a - b), learners: [] });
  } finally {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  }
});
