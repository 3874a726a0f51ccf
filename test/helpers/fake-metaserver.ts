// Fake metaservers for MDS tests: real RPC servers that speak the MDS-facing half of a
// metaserver exactly as the real one must — register (RegistMetaServer), heartbeat every
// `heartbeatMs` with their copysets, answer the admin RPCs (CreateCopysetNode, CreatePartition,
// DeletePartition, CreateRootInode, GetLeader) on the copyset leader (NOT_LEADER with the
// leader's address elsewhere), and carry out the membership changes heartbeat replies ask for.
//
// Raft itself is simulated by a FakeWorld shared by the fakes of one test process: a copyset's
// state (members, epoch, leader, partitions, root inodes) is one object, its leader is the first
// member that is running (or the one a TRANSFER_LEADER named), and a CHANGE_PEER commits at
// once (epoch + 1).
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { PartitionInfoSchema, PartitionStatus, PeerSchema, type PartitionInfo, type Peer } from '../../src/gen/common_pb.ts';
import { ConfigChangeType, type CopySetConf } from '../../src/gen/heartbeat_pb.ts';
import { CopysetService, MetaServerService } from '../../src/gen/metaserver_pb.ts';
import { MdsClient } from '../../src/mds/index.ts';
import { ChannelPool, RpcServer, type ServiceImplOf } from '../../src/rpc/index.ts';
import { waitFor } from './wait.ts';

export interface FakeGroup {
  poolId: number;
  copysetId: number;
  peers: Peer[];
  epoch: number;
  term: number;
  leaderId: number;
  partitions: Map<number, PartitionInfo>;
  roots: Set<number>;
}

const key = (poolId: number, copysetId: number) => `${poolId}:${copysetId}`;

export class FakeWorld {
  readonly groups = new Map<string, FakeGroup>();
  readonly nodes = new Map<number, FakeMetaserver>();
  /** Every membership change carried out, in order. */
  readonly changes: { copyset: string; from: number[]; to: number[]; epoch: number }[] = [];

  group(poolId: number, copysetId: number): FakeGroup | undefined {
    return this.groups.get(key(poolId, copysetId));
  }

  /** The running member that leads the group (re-elected when the old one stopped). */
  leaderOf(g: FakeGroup): FakeMetaserver | undefined {
    const cur = this.nodes.get(g.leaderId);
    if (cur?.running && cur.hosts(g) && g.peers.some((p) => p.id === g.leaderId)) return cur;
    for (const p of g.peers) {
      const n = this.nodes.get(p.id);
      if (n?.running && n.hosts(g)) {
        g.leaderId = p.id;
        g.term++;
        return n;
      }
    }
    return undefined;
  }
}

export interface FakeMetaserverOptions {
  mds: string[];
  heartbeatMs?: number;
  host?: string;
  /** Token presented to the MDS (an MDS with a cluster key needs the cluster token). */
  credential?: string;
}

export class FakeMetaserver {
  id = 0;
  token = '';
  running = false;
  heartbeats = 0;
  /** Live mount sessions from the last heartbeat reply. */
  liveSessions: number[] = [];
  /** Copysets this node holds a replica of. */
  readonly replicas = new Set<string>();
  private server: RpcServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly pool: ChannelPool;
  private readonly mds: MdsClient;
  port = 0;

  constructor(
    private readonly world: FakeWorld,
    private readonly opts: FakeMetaserverOptions,
  ) {
    this.pool = new ChannelPool({ defaultTimeoutMs: 2000, credential: opts.credential });
    this.mds = new MdsClient({ addresses: opts.mds, pool: this.pool, deadlineMs: 10_000 });
  }

  get address(): string {
    return `${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  hosts(g: FakeGroup): boolean {
    return this.replicas.has(key(g.poolId, g.copysetId));
  }

  /** Listens (on the same port as before when restarted), registers once, starts heartbeats. */
  async start(): Promise<void> {
    const server = new RpcServer({ host: this.opts.host ?? '127.0.0.1', port: this.port });
    server.register(CopysetService, this.copysetService());
    server.register(MetaServerService, this.metaServerService());
    this.port = await server.listen();
    this.server = server;
    if (!this.id) {
      const r = await this.mds.topology.registMetaServer({ hostName: 'fake', internalIp: '127.0.0.1', internalPort: this.port, externalIp: '127.0.0.1', externalPort: this.port });
      this.id = r.metaserverId;
      this.token = r.token;
    }
    this.world.nodes.set(this.id, this);
    this.running = true;
    const beat = () => {
      if (!this.running) return;
      this.heartbeat()
        .catch(() => undefined)
        .finally(() => {
          if (this.running) this.timer = setTimeout(beat, this.opts.heartbeatMs ?? 100);
        });
    };
    beat();
  }

  /** Stops answering and heartbeating (a dead metaserver); its replicas stay on "disk". */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.server?.close();
    this.server = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
    this.mds.close();
    this.pool.close();
  }

  private leaderOrRedirect(poolId: number, copysetId: number): FakeGroup {
    const g = this.world.group(poolId, copysetId);
    if (!g || !this.hosts(g)) throw new CurveError(StatusCode.COPYSET_NOTEXIST, `copyset ${key(poolId, copysetId)} not here`);
    const leader = this.world.leaderOf(g);
    if (leader !== this) throw new CurveError(StatusCode.NOT_LEADER, 'not the copyset leader', leader?.address);
    return g;
  }

  private copysetService(): ServiceImplOf<typeof CopysetService> {
    const unsupported = () => {
      throw new CurveError(StatusCode.NOT_SUPPORTED, 'fake');
    };
    return {
      createCopysetNode: (req) => {
        for (const c of req.copysets) {
          const k = key(c.poolId, c.copysetId);
          if (!this.world.groups.has(k)) {
            this.world.groups.set(k, { poolId: c.poolId, copysetId: c.copysetId, peers: c.peers, epoch: 0, term: 0, leaderId: 0, partitions: new Map(), roots: new Set() });
          }
          this.replicas.add(k);
        }
        return {};
      },
      deleteCopysetNode: (req) => {
        this.replicas.delete(key(req.poolId, req.copysetId));
        return {};
      },
      createPartition: (req) => {
        const p = req.partition!;
        const g = this.leaderOrRedirect(p.poolId, p.copysetId);
        if (g.partitions.has(p.partitionId)) throw new CurveError(StatusCode.PARTITION_EXIST, `partition ${p.partitionId}`);
        g.partitions.set(p.partitionId, create(PartitionInfoSchema, { ...p, nextId: Math.max(p.start, 3) }));
        return {};
      },
      deletePartition: (req) => {
        const g = this.leaderOrRedirect(req.p!.poolId, req.p!.copysetId);
        if (!g.partitions.delete(req.p!.partitionId)) throw new CurveError(StatusCode.PARTITION_NOT_FOUND, `partition ${req.p!.partitionId}`);
        return {};
      },
      getLeader: (req) => {
        const g = this.world.group(req.poolId, req.copysetId);
        const l = g && this.world.leaderOf(g);
        if (!l) throw new CurveError(StatusCode.COPYSET_NOTEXIST, 'no leader');
        return { leader: create(PeerSchema, { id: l.id, address: `${l.address}:0` }), term: g!.term };
      },
      getCopysetStatus: unsupported,
      listCopysets: unsupported,
      changePeers: unsupported,
      transferLeader: unsupported,
    };
  }

  private metaServerService(): ServiceImplOf<typeof MetaServerService> {
    const impl: Record<string, unknown> = {
      createRootInode: (req: { p?: { poolId: number; copysetId: number; partitionId: number; fsId: number } }) => {
        const g = this.leaderOrRedirect(req.p!.poolId, req.p!.copysetId);
        const part = g.partitions.get(req.p!.partitionId);
        if (!part) throw new CurveError(StatusCode.PARTITION_NOT_FOUND, `partition ${req.p!.partitionId}`);
        if (part.start !== 0) throw new CurveError(StatusCode.ID_OUT_OF_RANGE, 'root inode 1 is outside this partition');
        if (g.roots.has(req.p!.fsId)) throw new CurveError(StatusCode.INODE_EXIST, 'root exists');
        g.roots.add(req.p!.fsId);
        return {};
      },
    };
    for (const m of MetaServerService.methods) {
      impl[m.localName] ??= () => {
        throw new CurveError(StatusCode.NOT_SUPPORTED, 'fake metaserver');
      };
    }
    return impl as ServiceImplOf<typeof MetaServerService>;
  }

  private async heartbeat(): Promise<void> {
    const infos = [];
    for (const k of this.replicas) {
      const g = this.world.groups.get(k)!;
      const leader = this.world.leaderOf(g);
      const lead = leader === this;
      infos.push({
        poolId: g.poolId,
        copysetId: g.copysetId,
        peers: g.peers,
        epoch: g.epoch,
        term: g.term,
        leaderPeer: leader ? create(PeerSchema, { id: leader.id, address: `${leader.address}:0` }) : undefined,
        partitionInfoList: lead ? [...g.partitions.values()].map((p) => create(PartitionInfoSchema, { ...p, status: p.status || PartitionStatus.READWRITE })) : [],
      });
    }
    const res = await this.mds.heartbeat.metaServerHeartbeat(
      { metaserverId: this.id, token: this.token, ip: '127.0.0.1', port: this.port, startTime: 1, copysetInfos: infos, copysetCount: infos.length },
      { deadlineMs: 2000 },
    );
    this.heartbeats++;
    this.liveSessions = res.liveSessionIds;
    for (const conf of res.needUpdateCopysets) this.apply(conf);
  }

  /** Carries out what the MDS asked for in a heartbeat reply. */
  private apply(conf: CopySetConf): void {
    const k = key(conf.poolId, conf.copysetId);
    const g = this.world.groups.get(k);
    if (conf.epoch === 0 && conf.peers.length === 0) {
      this.replicas.delete(k); // the MDS does not know this copyset
      return;
    }
    if (!g) return;
    if (conf.type === ConfigChangeType.CONFIG_CHANGE_NONE) {
      if (!conf.peers.some((p) => p.id === this.id)) this.replicas.delete(k); // not a member any more
      return;
    }
    if (this.world.leaderOf(g) !== this || conf.epoch !== g.epoch) return;
    const from = g.peers.map((p) => p.id);
    if (conf.type === ConfigChangeType.CHANGE_PEER) {
      const target = this.world.nodes.get(conf.configchangeItem!.id);
      if (!target?.hosts(g)) return; // the new replica must exist first
      g.peers = g.peers.filter((p) => p.id !== conf.oldPeer!.id).concat(conf.configchangeItem!);
    } else if (conf.type === ConfigChangeType.REMOVE_PEER) {
      g.peers = g.peers.filter((p) => p.id !== conf.configchangeItem!.id);
    } else if (conf.type === ConfigChangeType.TRANSFER_LEADER) {
      // The target leads from the next heartbeat on, if it runs and is a member (no epoch change).
      const target = this.world.nodes.get(conf.configchangeItem!.id);
      if (target?.running && target.hosts(g) && g.peers.some((p) => p.id === target.id)) {
        g.leaderId = target.id;
        g.term++;
      }
      return;
    } else {
      return;
    }
    g.epoch++;
    this.world.changes.push({ copyset: k, from, to: g.peers.map((p) => p.id), epoch: g.epoch });
  }
}

/**
 * Starts `n` fake metaservers with `opts`, one after the other; with `listedBy`, also waits until
 * that MDS client's ListMetaServer shows `n` of them (they registered).
 */
export async function startFakeMetaservers(world: FakeWorld, n: number, opts: FakeMetaserverOptions, listedBy?: MdsClient): Promise<FakeMetaserver[]> {
  const started: FakeMetaserver[] = [];
  for (let i = 0; i < n; i++) {
    const f = new FakeMetaserver(world, opts);
    await f.start();
    started.push(f);
  }
  if (listedBy) await waitFor(async () => (await listedBy.topology.listMetaServer({})).metaserverInfos.length === n, `${n} metaservers registered`);
  return started;
}
