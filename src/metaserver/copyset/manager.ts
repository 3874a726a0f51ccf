// The copysets this metaserver hosts: creation (idempotent: the same peers again is OK),
// removal, lookup, and the consensus group behind each (from a GroupFactory: Raft in a real
// metaserver, LocalGroup in unit tests).
import { CurveError, StatusCode, createLogger, systemClock, systemTimer, type Clock, type Timer } from '../../common/index.ts';
import type { Peer } from '../../gen/common_pb.ts';
import { Copyset } from './copyset.ts';
import { copysetGroupId } from './group-id.ts';
import { LocalGroup, type ConsensusGroup } from './group.ts';

const log = createLogger('metaserver-copysets');

export interface GroupFactory {
  /** Starts (or reopens from disk) the consensus group of `cs` with `peers`. */
  open(cs: Copyset, peers: Peer[]): Promise<ConsensusGroup>;
  /** Stops the group and deletes its data. */
  destroy(cs: Copyset): Promise<void>;
  /** Copysets found on disk from an earlier run ([poolId, copysetId, peers]). */
  existing?(): Promise<Array<{ poolId: number; copysetId: number; peers: Peer[] }>>;
  /** Deletes the files of a replica that could not be opened (no group is running for it). */
  destroyBroken?(poolId: number, copysetId: number): Promise<void>;
  /** Stops the group and keeps its files (a replica that failed while running: failed()). */
  close?(cs: Copyset): Promise<void>;
}

/** A copyset replica that cannot serve: found damaged on disk, or its storage failed while running. */
export interface BrokenCopyset {
  poolId: number;
  copysetId: number;
  /** The membership it last recorded. */
  peers: Peer[];
  /** Why it could not open or stopped (names the file and offset when the Raft log is damaged). */
  error: string;
}

/** Single-replica groups that apply at once (tests, tools). */
export const localGroupFactory: GroupFactory = {
  async open(cs) {
    return new LocalGroup((i, d) => cs.apply(i, d));
  },
  async destroy() {},
};

function samePeers(a: Peer[], b: Peer[]): boolean {
  const key = (l: Peer[]): string => l.map((p) => `${p.id}@${p.address}`).sort().join(',');
  return key(a) === key(b);
}

export class CopysetManager {
  private readonly copysets = new Map<number, Copyset>();
  private readonly opening = new Map<number, Promise<Copyset>>();
  private readonly brokenReplicas = new Map<number, BrokenCopyset>();

  constructor(
    private readonly factory: GroupFactory,
    private readonly clock: Clock = systemClock,
    private readonly timer: Timer = systemTimer,
    /** Called after a copyset is opened (metrics, leader hooks). */
    private readonly onOpen?: (cs: Copyset) => void,
  ) {}

  get(poolId: number, copysetId: number): Copyset | undefined {
    if (!Number.isInteger(poolId) || !Number.isInteger(copysetId) || poolId < 0 || copysetId < 0) return undefined;
    if (poolId >= 2 ** 21 || copysetId >= 2 ** 32) return undefined;
    return this.copysets.get(copysetGroupId(poolId, copysetId));
  }

  list(): Copyset[] {
    return [...this.copysets.values()].sort((a, b) => a.groupId - b.groupId);
  }

  /** Creates a copyset, or accepts a repeat with the same peers; other peers → PARAM_ERROR. */
  async create(poolId: number, copysetId: number, peers: Peer[]): Promise<Copyset> {
    if (peers.length === 0) throw new CurveError(StatusCode.PARAM_ERROR, `copyset ${poolId}:${copysetId} without peers`);
    for (const p of peers) {
      if (!Number.isSafeInteger(p.id) || p.id <= 0 || !/^[^:\s]+:\d+(:\d+)?$/.test(p.address)) {
        throw new CurveError(StatusCode.PARAM_ERROR, `bad peer ${p.id}@${JSON.stringify(p.address)}`);
      }
    }
    const gid = copysetGroupId(poolId, copysetId);
    const broken = this.brokenReplicas.get(gid);
    if (broken) throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `copyset ${poolId}:${copysetId} has a broken replica here: ${broken.error}`);
    const pending = this.opening.get(gid);
    if (pending) await pending.catch(() => undefined);
    const old = this.copysets.get(gid);
    if (old) {
      if (samePeers(old.peers, peers)) return old;
      throw new CurveError(StatusCode.PARAM_ERROR, `copyset ${poolId}:${copysetId} exists with other peers`);
    }
    return this.open(poolId, copysetId, peers);
  }

  /**
   * Reopens every copyset found on disk. One that cannot open (damaged storage) does not stop the
   * others: it is logged at ERROR and kept in broken(), which the heartbeat reports to the MDS so
   * the replica is replaced from its peers. Its files stay until the MDS says it is no longer a
   * member (dropBroken).
   */
  async reopenExisting(): Promise<number> {
    const list = (await this.factory.existing?.()) ?? [];
    let opened = 0;
    for (const c of list) {
      try {
        await this.open(c.poolId, c.copysetId, c.peers);
        opened++;
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        this.brokenReplicas.set(copysetGroupId(c.poolId, c.copysetId), { poolId: c.poolId, copysetId: c.copysetId, peers: c.peers, error });
        log.error('copyset replica cannot open: it takes no part in its group until the MDS replaces it', { copyset: `${c.poolId}-${c.copysetId}`, error });
      }
    }
    return opened;
  }

  /**
   * A running replica stopped because its storage failed (a full disk, EIO on the Raft log) —
   * the Raft group has already stepped down. It is closed (its files stay) and handled from now
   * on like a replica that could not open: reported broken in the heartbeat, so the other two
   * elect a leader, `curvefs status` shows it and the MDS replaces it; requests for it are
   * answered COPYSET_NOTEXIST, which sends clients to another replica. A restart of the
   * metaserver (after space was freed) opens it again.
   */
  failed(groupId: number, error: string): void {
    const cs = this.copysets.get(groupId);
    if (!cs || this.brokenReplicas.has(groupId)) return;
    this.copysets.delete(groupId);
    this.brokenReplicas.set(groupId, { poolId: cs.poolId, copysetId: cs.copysetId, peers: cs.peers, error });
    log.error('copyset replica stopped: its storage failed; it takes no part in its group until restarted or replaced', { copyset: cs.name, error });
    void this.factory.close?.(cs).catch((e: unknown) => log.warn('closing a failed replica', { copyset: cs.name, error: String(e) }));
  }

  /** Replicas that could not be opened or whose storage failed. */
  broken(): BrokenCopyset[] {
    return [...this.brokenReplicas.values()];
  }

  /** Deletes a broken replica's files (the MDS no longer lists this metaserver as a member). */
  async dropBroken(poolId: number, copysetId: number): Promise<boolean> {
    const gid = copysetGroupId(poolId, copysetId);
    if (!this.brokenReplicas.has(gid)) return false;
    await this.factory.destroyBroken?.(poolId, copysetId);
    this.brokenReplicas.delete(gid);
    log.info('broken copyset replica removed', { copyset: `${poolId}-${copysetId}` });
    return true;
  }

  private open(poolId: number, copysetId: number, peers: Peer[]): Promise<Copyset> {
    const gid = copysetGroupId(poolId, copysetId);
    const p = (async () => {
      const cs = new Copyset(poolId, copysetId, this.clock, this.timer);
      cs.peers = peers;
      cs.group = await this.factory.open(cs, peers);
      this.copysets.set(gid, cs);
      this.onOpen?.(cs);
      log.info('copyset open', { copyset: cs.name, peers: peers.map((x) => x.address) });
      return cs;
    })();
    this.opening.set(gid, p);
    return p.finally(() => this.opening.delete(gid));
  }

  async remove(poolId: number, copysetId: number): Promise<boolean> {
    const cs = this.get(poolId, copysetId);
    if (!cs) return false;
    this.copysets.delete(cs.groupId);
    await this.factory.destroy(cs);
    log.info('copyset removed', { copyset: cs.name });
    return true;
  }
}
