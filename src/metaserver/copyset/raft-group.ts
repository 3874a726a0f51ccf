// Copysets on the multi-group RaftNode (src/raft): one Raft group per copyset, group id
// (poolId << 32 | copysetId). The copyset's state machine is applied in log order; snapshots
// stream its image (copyset/snapshot.ts) while apply continues; restart = newest valid
// snapshot, then the log after it (RaftNode.addGroup). Which copysets exist is kept in a small
// file per copyset (<dir>/<pool>-<copyset>.conf: magic, version, CRC-32C), so a restart reopens
// them before the MDS is reachable.
import { mkdir, readdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CurveError, StatusCode, createLogger, crc32c, systemClock, systemTimer, type Clock, type Timer } from '../../common/index.ts';
import type { Peer } from '../../gen/common_pb.ts';
import { CopysetConfSchema } from '../../gen/metaserver_pb.ts';
import { ConfChangeType, Role, type RaftNode } from '../../raft/index.ts';
import type { StateMachine } from '../../raft/index.ts';
import { dialAddress } from '../cluster.ts';
import type { SnapshotMetrics } from '../metrics.ts';
import type { Copyset } from './copyset.ts';
import { copysetGroupId } from './group-id.ts';
import type { ConsensusGroup, GroupStatus } from './group.ts';
import type { GroupFactory } from './manager.ts';
import { captureSnapshot, loadCopysetSnapshot } from './snapshot.ts';
import type { SmResult } from './state-machine.ts';

const log = createLogger('metaserver-raft');

const CONF_MAGIC = new TextEncoder().encode('CSCONF01');
const CONF_VERSION = 1;

export interface MembershipOptions {
  /** How long a new member may take to catch up as a learner before the change fails (default 10 min). */
  catchUpTimeoutMs: number;
  /** How often the leader looks at the learner's progress while it catches up (default 100 ms). */
  catchUpPollMs: number;
}

export const DEFAULT_MEMBERSHIP_OPTIONS: MembershipOptions = { catchUpTimeoutMs: 600_000, catchUpPollMs: 100 };

export class RaftGroup implements ConsensusGroup {
  /** Tracked from role changes, so the hot path never builds a status object. */
  leader = false;

  constructor(
    readonly node: RaftNode,
    readonly groupId: number,
    private readonly opts: MembershipOptions = DEFAULT_MEMBERSHIP_OPTIONS,
    private readonly clock: Clock = systemClock,
    private readonly timer: Timer = systemTimer,
  ) {}

  async propose(data: Uint8Array, timeoutMs?: number): Promise<SmResult> {
    return (await this.node.propose(this.groupId, data, { timeoutMs })) as SmResult;
  }

  readBarrier(timeoutMs?: number): Promise<void> {
    return this.node.read(this.groupId, { timeoutMs });
  }

  isLeader(): boolean {
    return this.leader;
  }

  status(): GroupStatus {
    const s = this.node.status(this.groupId);
    return {
      role: s.role === Role.Leader ? 'leader' : s.role === Role.Follower ? 'follower' : 'candidate',
      term: s.term,
      leaderId: s.leader,
      leaderAddress: s.leaderAddress,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      firstIndex: s.firstIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      logEntries: Math.max(0, s.lastIndex - s.snapshotIndex),
      peers: s.conf.voters.map((id) => ({ id, address: `${this.node.addresses.get(id) ?? ''}:0` })),
    };
  }

  /**
   * Moves the voters to `peers`, one single-server change at a time, never giving up the quorum
   * the group has now (one of its members may be dead — that is why it is being replaced):
   *   1. each new member joins as a learner — it does not count for commits — and the leader
   *      replicates to it (a snapshot install, then the log) until it has caught up;
   *   2. then it is promoted to voter: with the dead member still in the configuration the
   *      quorum grows by one, but the promoted member acknowledges at once, since it is current;
   *   3. then the members that leave are removed; last, learners nobody asked for (left by an
   *      interrupted earlier attempt) are removed too.
   * Adding the new member straight as a voter instead would count a member that is still empty
   * (and, with one of three dead, make the group wait for it before committing anything).
   * Each step is committed before the next; an attempt that stops half-way is resumed by
   * calling again (a member that is already a learner is not added twice).
   */
  async changePeers(peers: { id: number; address: string }[]): Promise<void> {
    const want = new Set(peers.map((p) => p.id));
    for (const p of peers) {
      const conf = this.node.status(this.groupId).conf;
      if (conf.voters.includes(p.id)) continue;
      const t0 = this.clock.now();
      if (!conf.learners.includes(p.id)) {
        await this.node.changeMembership(this.groupId, { type: ConfChangeType.AddLearner, nodeId: p.id, address: dialAddress(p.address) });
      }
      const t1 = this.clock.now();
      await this.waitCaughtUp(p.id);
      const t2 = this.clock.now();
      await this.node.changeMembership(this.groupId, { type: ConfChangeType.AddVoter, nodeId: p.id, address: dialAddress(p.address) });
      log.info('new member caught up as a learner and promoted', {
        group: this.groupId,
        node: p.id,
        learnerMs: Math.round(t1 - t0),
        catchUpMs: Math.round(t2 - t1),
        promoteMs: Math.round(this.clock.now() - t2),
        index: this.node.status(this.groupId).lastIndex,
      });
    }
    const conf = this.node.status(this.groupId).conf;
    for (const id of [...conf.voters, ...conf.learners]) {
      if (!want.has(id)) await this.node.changeMembership(this.groupId, { type: ConfChangeType.RemoveNode, nodeId: id });
    }
  }

  /**
   * Resolves once learner `id` has what the leader had: first everything up to the leader's last
   * index when the wait starts (the bulk: a snapshot install and the log after it), then
   * everything up to the last index when that first round ended (what arrived meanwhile). Writes
   * keep arriving, so "equal to the leader's log right now" may never hold; two rounds leave only
   * the lag of one round trip. Fails with NOT_LEADER when this replica stops leading, and with
   * TIMEOUT after `catchUpTimeoutMs`.
   */
  private async waitCaughtUp(id: number): Promise<void> {
    const deadline = this.clock.now() + this.opts.catchUpTimeoutMs;
    for (let round = 0; round < 2; round++) {
      const target = this.node.status(this.groupId).lastIndex;
      for (;;) {
        const st = this.node.status(this.groupId);
        if (st.role !== Role.Leader || !st.progress) throw new CurveError(StatusCode.NOT_LEADER, `copyset group ${this.groupId}: leadership lost while learner ${id} caught up`, st.leaderAddress);
        const pr = st.progress.find((x) => x.id === id);
        if (!pr) throw new CurveError(StatusCode.PARAM_ERROR, `node ${id} left copyset group ${this.groupId} while catching up`);
        if (pr.match >= target) break;
        if (this.clock.now() > deadline) {
          throw new CurveError(StatusCode.TIMEOUT, `learner ${id} of copyset group ${this.groupId} is at ${pr.match}, leader at ${target}: not caught up in ${this.opts.catchUpTimeoutMs} ms`);
        }
        await new Promise<void>((resolve) => this.timer.setTimeout(resolve, this.opts.catchUpPollMs));
      }
    }
  }

  async transferLeader(to: number): Promise<void> {
    this.node.transferLeader(this.groupId, to);
  }
}

export interface RaftGroupFactoryOptions {
  node: RaftNode;
  /** Directory of the copyset configuration files. */
  confDir: string;
  /**
   * The RaftNode's dataDir: a broken replica (one whose group could not open) is deleted from
   * there, as <raftDataDir>/group-<id> (RaftNode's layout, docs/raft.md), when the MDS drops it.
   */
  raftDataDir?: string;
  snapshotMetrics?: SnapshotMetrics;
  clock?: Clock;
  timer?: Timer;
  /** How membership changes wait for a new member to catch up. */
  membership?: MembershipOptions;
  /** Called when this replica becomes leader of a copyset (recovery of its transactions). */
  onLeader?: (cs: Copyset) => void;
  /** Called when a membership change removed this replica from a copyset. */
  onRemoved?: (cs: Copyset) => void;
}

function confPath(dir: string, poolId: number, copysetId: number): string {
  return join(dir, `${poolId}-${copysetId}.conf`);
}

/** Conf writes in progress, by path: each waits for the one before (see writeConf). */
const confWrites = new Map<string, Promise<void>>();

/**
 * Saves a copyset's configuration (temp file, fsync, rename). Writes to one path run one after
 * another in call order, so the file ends with the newest peers: membership changes applied in a
 * burst (learner, promotion, removal) used to write the same temp file at once, and a restart
 * then found a torn file and skipped the copyset.
 */
export function writeConf(dir: string, poolId: number, copysetId: number, peers: Peer[]): Promise<void> {
  const path = confPath(dir, poolId, copysetId);
  const body = toBinary(CopysetConfSchema, create(CopysetConfSchema, { poolId, copysetId, peers }));
  const out = new Uint8Array(CONF_MAGIC.length + 8 + body.length + 4);
  const v = new DataView(out.buffer);
  out.set(CONF_MAGIC, 0);
  v.setUint32(CONF_MAGIC.length, CONF_VERSION, true);
  v.setUint32(CONF_MAGIC.length + 4, body.length, true);
  out.set(body, CONF_MAGIC.length + 8);
  v.setUint32(out.length - 4, crc32c(out.subarray(0, out.length - 4)), true);
  const before = confWrites.get(path) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(async () => {
    await writeFile(`${path}.tmp`, out);
    const fh = await open(`${path}.tmp`, 'r');
    await fh.sync();
    await fh.close();
    await rename(`${path}.tmp`, path);
  });
  confWrites.set(path, run);
  const forget = (): void => {
    if (confWrites.get(path) === run) confWrites.delete(path);
  };
  run.then(forget, forget);
  return run;
}

/** Reads a copyset configuration file; throws on a torn or foreign file. */
export async function readConf(path: string): Promise<{ poolId: number; copysetId: number; peers: Peer[] }> {
  const b = await readFile(path);
  const bad = (why: string): CurveError => new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${path}: ${why}`);
  if (b.length < CONF_MAGIC.length + 12) throw bad('too short');
  for (let i = 0; i < CONF_MAGIC.length; i++) if (b[i] !== CONF_MAGIC[i]) throw bad('bad magic');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const version = v.getUint32(CONF_MAGIC.length, true);
  if (version !== CONF_VERSION) throw bad(`unsupported version ${version}`);
  const len = v.getUint32(CONF_MAGIC.length + 4, true);
  if (CONF_MAGIC.length + 8 + len + 4 !== b.length) throw bad('length mismatch');
  if (crc32c(b.subarray(0, b.length - 4)) !== v.getUint32(b.length - 4, true)) throw bad('checksum mismatch');
  const c = fromBinary(CopysetConfSchema, b.subarray(CONF_MAGIC.length + 8, b.length - 4));
  return { poolId: c.poolId, copysetId: c.copysetId, peers: c.peers };
}

export function raftGroupFactory(opts: RaftGroupFactoryOptions): GroupFactory {
  const clock = opts.clock ?? systemClock;
  const node = opts.node;
  return {
    async open(cs, peers) {
      await mkdir(opts.confDir, { recursive: true });
      for (const p of peers) if (p.id !== node.id || !node.addresses.get(p.id)) node.addresses.set(p.id, dialAddress(p.address));
      const group = new RaftGroup(node, cs.groupId, opts.membership, clock, opts.timer);
      const sm: StateMachine = {
        apply: (e) => cs.apply(e.index, e.data),
        snapshot: () => {
          const conf = node.status(cs.groupId).conf;
          const members = [...conf.voters, ...conf.learners].flatMap((id) => {
            const address = node.addresses.get(id);
            return address ? [{ id, address }] : [];
          });
          const write = captureSnapshot(cs.sm, members);
          return async (sink) => {
            const t0 = clock.now();
            const s = await write(sink);
            opts.snapshotMetrics?.record(cs.name, (clock.now() - t0) / 1000, s.bytes + s.extrasBytes);
            log.info('snapshot written', { copyset: cs.name, bytes: s.bytes + s.extrasBytes, pairs: s.pairs, ms: Math.round(clock.now() - t0) });
          };
        },
        restore: async (data) => {
          // The image's members may include some added in the log it replaced: learn their addresses
          // (this replica's own stays as it is).
          cs.replaceState(
            await loadCopysetSnapshot(cs.poolId, cs.copysetId, data, (members) => {
              for (const m of members) if (m.id !== node.id) node.addresses.set(m.id, m.address);
            }),
          );
        },
        onConfChange: (cc) => {
          cs.epoch++;
          // Only the entry that removes this replica means it left: a replica that joined late
          // replays older changes whose membership does not list it yet.
          const members = [...cc.conf.voters, ...cc.conf.learners];
          if (cc.change.type === ConfChangeType.RemoveNode && cc.change.nodeId === node.id) opts.onRemoved?.(cs);
          else if (members.includes(node.id)) {
            cs.peers = cc.conf.voters.map((id) => ({ $typeName: 'curvefs.common.Peer', id, address: `${node.addresses.get(id) ?? ''}:0` }));
            void writeConf(opts.confDir, cs.poolId, cs.copysetId, cs.peers).catch((e: unknown) => log.warn('cannot save copyset conf', { copyset: cs.name, error: String(e) }));
          }
        },
        onRoleChange: (role) => {
          const was = group.leader;
          group.leader = role === Role.Leader;
          if (group.leader && !was) opts.onLeader?.(cs);
        },
      };
      // The configuration file first: a crash after it reopens the group; before it, the MDS
      // creates it again.
      await writeConf(opts.confDir, cs.poolId, cs.copysetId, peers);
      await node.addGroup(cs.groupId, peers.map((p) => p.id), sm);
      return group;
    },
    async destroy(cs) {
      if (node.hasGroup(cs.groupId)) await node.removeGroup(cs.groupId, { destroy: true });
      await rm(confPath(opts.confDir, cs.poolId, cs.copysetId), { force: true });
    },
    async close(cs) {
      if (node.hasGroup(cs.groupId)) await node.removeGroup(cs.groupId);
    },
    async destroyBroken(poolId, copysetId) {
      // The configuration first: a crash in between leaves group files no copyset names, never
      // a configuration whose group would be opened (and found broken) again.
      await rm(confPath(opts.confDir, poolId, copysetId), { force: true });
      if (opts.raftDataDir) await rm(join(opts.raftDataDir, `group-${copysetGroupId(poolId, copysetId)}`), { recursive: true, force: true });
    },
    async existing() {
      let names: string[] = [];
      try {
        names = await readdir(opts.confDir);
      } catch {
        return [];
      }
      const out = [];
      for (const n of names.filter((x) => x.endsWith('.conf')).sort()) {
        try {
          out.push(await readConf(join(opts.confDir, n)));
        } catch (e) {
          log.error('skipping an unreadable copyset configuration', { file: n, error: String(e) });
        }
      }
      return out;
    },
  };
}
