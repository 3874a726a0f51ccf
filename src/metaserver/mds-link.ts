// The metaserver's side of the MDS: registration (id + token, kept in metaserver.dat) and the
// heartbeat loop. A heartbeat reports every copyset (epoch, leader, peers, partitions with
// nextId and counts, term) plus memory use; the answer carries membership changes for copysets
// this replica leads (executed through Raft) and the live mount sessions, from which the
// partitions learn which sessions expired (their open handles and locks are dropped).
import { create } from '@bufbuild/protobuf';
import { hostname } from 'node:os';
import { CurveError, StatusCode, createLogger, systemClock, systemTimer, type Clock, type Timer, type TimerHandle } from '../common/index.ts';
import { PeerSchema, type Peer } from '../gen/common_pb.ts';
import {
  ConfigChangeInfoSchema,
  ConfigChangeType,
  CopySetInfoSchema,
  MetaServerSpaceStatusSchema,
  type CopySetConf,
  type CopySetInfo,
  type MetaServerHeartbeatResponse,
} from '../gen/heartbeat_pb.ts';
import type { MdsClient } from '../mds/client.ts';
import type { Copyset } from './copyset/copyset.ts';
import type { CopysetStateMachine } from './copyset/state-machine.ts';
import { ExpireSessionsEntrySchema, type ExpireSessionsEntry } from '../gen/metaserver_pb.ts';
import { OpType } from './copyset/op-codec.ts';
import { loadIdentity, saveIdentity, type Identity } from './identity.ts';
import type { MetaServer } from './server.ts';

const log = createLogger('metaserver-mds');

/** Registers with the MDS unless `dataDir` already holds an identity. */
export async function registerWithMds(mds: MdsClient, dataDir: string, address: string, opts: { retries?: number; delayMs?: number; hostName?: string } = {}): Promise<Identity> {
  const saved = await loadIdentity(dataDir);
  if (saved) return saved;
  const [ip, port] = splitAddress(address);
  const retries = opts.retries ?? 100;
  let last: unknown;
  for (let i = 0; i < retries; i++) {
    try {
      const r = await mds.topology.registMetaServer({ hostName: opts.hostName ?? hostname(), internalIp: ip, internalPort: port, externalIp: ip, externalPort: port });
      const idn = { id: r.metaserverId, token: r.token };
      await saveIdentity(dataDir, idn);
      log.info('registered with the MDS', { id: idn.id, address });
      return idn;
    } catch (e) {
      last = e;
      if (e instanceof CurveError && e.status === StatusCode.TOPO_METASERVER_EXIST) throw e;
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 1000));
    }
  }
  throw last instanceof Error ? last : new CurveError(StatusCode.UNAVAILABLE, 'could not register with the MDS');
}

export function splitAddress(a: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(a);
  if (!m) throw new CurveError(StatusCode.PARAM_ERROR, `bad address ${JSON.stringify(a)}`);
  return [m[1]!, Number(m[2])];
}

export interface HeartbeatOptions {
  mds: MdsClient;
  server: MetaServer;
  identity: Identity;
  intervalMs?: number;
  clock?: Clock;
  timer?: Timer;
}

/** A config change this replica started on behalf of the MDS, reported until it finishes. */
interface ChangeInProgress {
  type: ConfigChangeType;
  peer: Peer;
  finished: boolean;
  err: string;
}

export class HeartbeatLoop {
  private handle: TimerHandle | undefined;
  private running = false;
  private readonly startTime: number;
  private readonly changes = new Map<number, ChangeInProgress>();
  private readonly clock: Clock;
  private readonly timer: Timer;
  sent = 0;
  failures = 0;

  constructor(private readonly opts: HeartbeatOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timer = opts.timer ?? systemTimer;
    this.startTime = Math.floor(this.clock.wallTime()[0]);
  }

  start(): void {
    // 2 s (CurveFS: 10 s): the reports carry each partition's used bytes and inodes, which
    // df and the clients' capacity checks should see within seconds.
    const every = this.opts.intervalMs ?? 2_000;
    this.handle = this.timer.setInterval(() => void this.beat(), every);
    void this.beat();
  }

  stop(): void {
    if (this.handle) this.timer.clear(this.handle);
    this.handle = undefined;
  }

  /** One heartbeat; returns the MDS's answer (tests call it directly). */
  async beat(): Promise<MetaServerHeartbeatResponse | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const s = this.opts.server;
      const [ip, port] = splitAddress(s.address);
      const copysets = s.copysets();
      // One replica whose group stopped must not silence the whole metaserver's heartbeat
      // (issue [H] scenario 5): it is reported broken, the others as usual.
      const infos = copysets.map((cs) => {
        try {
          return this.info(cs);
        } catch (e) {
          return create(CopySetInfoSchema, { poolId: cs.poolId, copysetId: cs.copysetId, peers: cs.peers.map((p) => create(PeerSchema, p)), broken: e instanceof Error ? e.message : String(e) });
        }
      });
      for (const b of s.manager.broken()) {
        infos.push(create(CopySetInfoSchema, { poolId: b.poolId, copysetId: b.copysetId, peers: b.peers.map((p) => create(PeerSchema, p)), broken: b.error || 'cannot open' }));
      }
      const mem = process.memoryUsage();
      const res = await this.opts.mds.heartbeat.metaServerHeartbeat(
        {
          metaserverId: this.opts.identity.id,
          token: this.opts.identity.token,
          ip,
          port,
          startTime: this.startTime,
          copysetInfos: infos,
          leaderCount: copysets.filter((c) => c.isLeader()).length,
          copysetCount: copysets.length,
          spaceStatus: create(MetaServerSpaceStatusSchema, { memoryUsedByte: mem.rss, memoryThresholdByte: 0 }),
        },
        { deadlineMs: 5000 },
      );
      this.sent++;
      await this.act(res);
      return res;
    } catch (e) {
      this.failures++;
      log.warn('heartbeat failed', { error: String(e) });
      return undefined;
    } finally {
      this.running = false;
    }
  }

  private info(cs: Copyset): CopySetInfo {
    const st = cs.group.status();
    const leader = st.peers.find((p) => p.id === st.leaderId);
    const change = this.changes.get(cs.groupId);
    return create(CopySetInfoSchema, {
      poolId: cs.poolId,
      copysetId: cs.copysetId,
      peers: st.peers.map((p) => create(PeerSchema, p)),
      epoch: cs.epoch,
      leaderPeer: leader ? create(PeerSchema, leader) : undefined,
      partitionInfoList: cs.sm.partitionInfos(),
      configChangeInfo: change ? create(ConfigChangeInfoSchema, { peer: change.peer, type: change.type, finished: change.finished, errMsg: change.err }) : undefined,
      isCopysetLoading: false,
      term: st.term,
    });
  }

  private async act(res: MetaServerHeartbeatResponse): Promise<void> {
    const s = this.opts.server;
    for (const conf of res.needUpdateCopysets) {
      const cs = s.manager.get(conf.poolId, conf.copysetId);
      if (!cs) {
        // A broken replica here that the MDS no longer counts as a member (it was replaced, or the
        // copyset is gone): its files can go.
        const me = this.opts.identity.id;
        if (!conf.peers.some((p) => p.id === me)) {
          await s.manager.dropBroken(conf.poolId, conf.copysetId).catch((e: unknown) => log.warn('could not remove a broken replica', { error: String(e) }));
        }
        continue;
      }
      if (conf.epoch === 0 && conf.peers.length === 0) {
        log.warn('the MDS does not know this copyset: removing the replica', { copyset: cs.name });
        await s.manager.remove(conf.poolId, conf.copysetId).catch((e: unknown) => log.warn('remove failed', { error: String(e) }));
        continue;
      }
      if (conf.epoch !== cs.epoch) continue;
      if (conf.type === ConfigChangeType.CONFIG_CHANGE_NONE) continue;
      if (!cs.isLeader()) continue;
      void this.execute(cs, conf);
    }
    // Sessions the MDS no longer lists have ended. When one still holds something in a copyset
    // (request windows, open handles, file locks), its leader proposes the MDS's view of sessions
    // as a log entry, so every replica drops the same state at the same point of the log and
    // refuses that session's requests from then on (docs/architecture.md §2).
    for (const cs of s.copysets()) {
      if (!cs.isLeader()) continue;
      const entry = sessionExpiryEntry(cs.sm, res.maxSessionId, res.liveSessionIds);
      if (entry) void cs.propose(OpType.ExpireSessions, entry).catch(() => undefined);
    }
  }

  private async execute(cs: Copyset, conf: CopySetConf): Promise<void> {
    if (this.changes.get(cs.groupId)?.finished === false) return;
    const item = conf.configchangeItem;
    if (!item) return;
    const change: ChangeInProgress = { type: conf.type, peer: item, finished: false, err: '' };
    this.changes.set(cs.groupId, change);
    try {
      const cur = cs.group.status().peers;
      switch (conf.type) {
        case ConfigChangeType.TRANSFER_LEADER:
          await cs.group.transferLeader(item.id);
          break;
        case ConfigChangeType.ADD_PEER:
          await cs.group.changePeers([...cur, { id: item.id, address: item.address }]);
          break;
        case ConfigChangeType.REMOVE_PEER:
          await cs.group.changePeers(cur.filter((p) => p.id !== item.id));
          this.opts.server.tellRemoved(cs.poolId, cs.copysetId, [item]);
          break;
        case ConfigChangeType.CHANGE_PEER: {
          const old = conf.oldPeer?.id ?? 0;
          await cs.group.changePeers([...cur.filter((p) => p.id !== old), { id: item.id, address: item.address }]);
          if (conf.oldPeer) this.opts.server.tellRemoved(cs.poolId, cs.copysetId, [conf.oldPeer]);
          break;
        }
        default:
          break;
      }
      change.finished = true;
      log.info('config change done', { copyset: cs.name, type: ConfigChangeType[conf.type], peer: item.id });
    } catch (e) {
      change.finished = true;
      change.err = String(e);
      log.warn('config change failed', { copyset: cs.name, type: ConfigChangeType[conf.type], error: String(e) });
    }
  }
}

/** A Router answered from the MDS's topology (partitions of an fs, members of a copyset). */
export class MdsRouter {
  private partitions = new Map<number, { start: number; end: number; poolId: number; copysetId: number; partitionId: number }[]>();
  private readonly members_ = new Map<string, string[]>();

  constructor(private readonly mds: MdsClient) {}

  invalidate(): void {
    this.partitions.clear();
    this.members_.clear();
  }

  async locate(fsId: number, ino: number): Promise<import('../gen/metaserver_pb.ts').PartitionRef> {
    for (let pass = 0; pass < 2; pass++) {
      let list = this.partitions.get(fsId);
      if (!list || pass === 1) {
        const r = await this.mds.topology.listPartition({ fsId });
        list = r.partitionInfoList.map((p) => ({ start: p.start, end: p.end, poolId: p.poolId, copysetId: p.copysetId, partitionId: p.partitionId }));
        this.partitions.set(fsId, list);
      }
      const p = list.find((x) => ino >= x.start && ino <= x.end);
      if (p) return { $typeName: 'curvefs.metaserver.PartitionRef', poolId: p.poolId, copysetId: p.copysetId, partitionId: p.partitionId, fsId };
    }
    throw new CurveError(StatusCode.PARTITION_NOT_FOUND, `no partition of fs ${fsId} holds inode ${ino}`);
  }

  async members(poolId: number, copysetId: number): Promise<string[]> {
    const key = `${poolId}:${copysetId}`;
    let m = this.members_.get(key);
    if (!m) {
      const r = await this.mds.topology.getMetaServerListInCopysets({ poolId, copysetId: [copysetId] });
      m = (r.csInfo.find((c) => c.copysetId === copysetId)?.csLocs ?? []).map((l) => `${l.externalIp || l.internalIp}:${l.externalPort || l.internalPort}`);
      this.members_.set(key, m);
    }
    return m;
  }
}

/**
 * The ExpireSessions entry a copyset's leader proposes after a heartbeat answer, or undefined
 * when no ended session holds anything there. The MDS's view (largest id handed out, live ids)
 * travels in the entry, so every replica drops the same state at the same log position.
 */
export function sessionExpiryEntry(sm: CopysetStateMachine, maxSessionId: number, liveSessionIds: readonly number[]): ExpireSessionsEntry | undefined {
  if (!(maxSessionId > 0)) return undefined;
  const live = new Set(liveSessionIds);
  const dead = [...sm.sessionsWithState()].filter((id) => id <= maxSessionId && !live.has(id));
  if (dead.length === 0) return undefined;
  return create(ExpireSessionsEntrySchema, {
    sessionIds: dead.sort((a, b) => a - b),
    maxSessionId,
    liveSessionIds: [...live].sort((a, b) => a - b),
  });
}
