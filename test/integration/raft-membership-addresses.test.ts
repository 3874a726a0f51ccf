// RaftNode: the address of a member added by a membership change must reach the transport when
// the change is appended (the core counts the new member from then on), not when it commits.
// Each node has its own address book, as separate processes do, and its transport reaches only
// the peers in its book (as RpcRaftTransport). With one of three voters dead, adding a fourth
// voter needs 3 of {1, 2, 4}: if the leader learned 4's address only at commit, nothing would
// ever commit again. Also: a replica restarted with a not-yet-committed change in its log knows
// the added member's address from the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { RaftNode } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { AddressBook } from '../../src/raft/address-book.ts';
import { ConfChangeType, Role, type NodeId } from '../../src/raft/index.ts';
import type { RaftTransport } from '../../src/raft/transport.ts';
import { KvStateMachine, encodeKv, waitFor } from '../helpers/raft-kv.ts';

const G = 1;
const addr = (id: NodeId) => `node-${id}.test:${7000 + id}`;
const put = (key: string, value: string) => encodeKv({ op: 'put', key, value });

/** A transport that, like the RPC one, cannot reach a peer whose address it does not know. */
function addressed(t: RaftTransport, book: AddressBook): RaftTransport {
  const known = (to: NodeId) => {
    if (!book.get(to)) throw new CurveError(StatusCode.UNAVAILABLE, `no address for node ${to}`);
  };
  return {
    listen: (h) => t.listen(h),
    send: async (to, batch) => {
      known(to);
      return t.send(to, batch);
    },
    sendSnapshot: async (to, groupId, msg, chunks) => {
      known(to);
      return t.sendSnapshot(to, groupId, msg, chunks);
    },
  };
}

class Nodes {
  readonly net = new LocalNetwork();
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly books = new Map<NodeId, AddressBook>();
  readonly sms = new Map<NodeId, KvStateMachine>();
  constructor(readonly dir: string) {}

  async start(id: NodeId, peers: NodeId[], knows: NodeId[], checkQuorum = true): Promise<RaftNode> {
    const book = new AddressBook(knows.map((k) => [k, addr(k)] as [NodeId, string]));
    const n = new RaftNode({ id, dataDir: join(this.dir, `n${id}`), transport: addressed(this.net.transport(id), book), addresses: book, tickMs: 30, raft: { checkQuorum } });
    this.nodes.set(id, n);
    this.books.set(id, book);
    const sm = new KvStateMachine();
    this.sms.set(id, sm);
    await n.addGroup(G, peers, sm);
    return n;
  }

  async stop(id: NodeId): Promise<void> {
    this.net.detach(id);
    await this.nodes.get(id)!.stop();
    this.nodes.delete(id);
  }

  leader(): NodeId {
    for (const [id, n] of this.nodes) if (n.hasGroup(G) && n.status(G).role === Role.Leader) return id;
    return 0;
  }

  async waitLeader(): Promise<RaftNode> {
    await waitFor(() => this.leader() !== 0, 60_000, 'a leader');
    return this.nodes.get(this.leader())!;
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
  }
}

test('a voter added while another is dead: the leader reaches it at once and keeps committing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-addr-'));
  const c = new Nodes(dir);
  try {
    for (const id of [1, 2, 3]) await c.start(id, [1, 2, 3], [1, 2, 3]);
    let leader = await c.waitLeader();
    await leader.propose(G, put('a', '1'), { timeoutMs: 60_000 });
    // A follower dies; the joining node starts empty and knows the current members.
    const dead = [1, 2, 3].find((id) => id !== c.leader())!;
    await c.stop(dead);
    await c.start(4, [], [1, 2, 3, 4]);
    leader = await c.waitLeader();
    const conf = await leader.changeMembership(G, { type: ConfChangeType.AddVoter, nodeId: 4, address: addr(4) }, { timeoutMs: 60_000 });
    assert.deepEqual(conf.voters, [1, 2, 3, 4]);
    await c.nodes.get(c.leader())!.propose(G, put('b', '2'), { timeoutMs: 60_000 });
    await waitFor(() => c.sms.get(4)!.data.get('b') === '2', 60_000, 'node 4 to apply');
    assert.equal(c.sms.get(4)!.data.get('a'), '1');
    for (const id of c.nodes.keys()) assert.equal(c.books.get(id)!.get(4), addr(4), `node ${id} knows node 4`);
  } finally {
    await c.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a replica restarted with an uncommitted membership change in its log knows the new member', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-addr-'));
  const c = new Nodes(dir);
  try {
    // Without check-quorum the leader stays leader after losing its followers.
    for (const id of [1, 2, 3]) await c.start(id, [1, 2, 3], [1, 2, 3], false);
    const leaderId = (await c.waitLeader()).id;
    await c.nodes.get(leaderId)!.propose(G, put('a', '1'), { timeoutMs: 60_000 });
    // Both followers die: the change can be appended on the leader but never commit.
    const followers = [1, 2, 3].filter((id) => id !== leaderId);
    for (const id of followers) await c.stop(id);
    const pending = c.nodes.get(leaderId)!.changeMembership(G, { type: ConfChangeType.AddLearner, nodeId: 4, address: addr(4) }, { timeoutMs: 600_000 });
    pending.catch(() => undefined);
    await waitFor(() => c.nodes.get(leaderId)!.status(G).conf.learners.includes(4), 60_000, 'the change to be appended');
    await waitFor(() => c.books.get(leaderId)!.get(4) === addr(4), 60_000, 'the leader to learn the address');
    assert.equal(c.nodes.get(leaderId)!.status(G).conf.learners.length, 1);
    assert.ok(c.nodes.get(leaderId)!.status(G).commit < c.nodes.get(leaderId)!.status(G).lastIndex, 'the change is not committed');
    // Restart it with a book that knows only the original members: its log tells it the rest,
    // before the group runs at all (the entry is not committed, so it is never applied).
    await c.stop(leaderId);
    await c.start(leaderId, [1, 2, 3], [1, 2, 3], false);
    assert.equal(c.books.get(leaderId)!.get(4), addr(4));
  } finally {
    await c.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
});
