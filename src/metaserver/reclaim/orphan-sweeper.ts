// The orphan sweeper (issue [H] scenario 4), run by the leader of each copyset: finds inodes that
// are linked (nlink > 0) but that no directory entry names, and unlinks them, so the reclaimer
// (reclaimer.ts) deletes them like any removed inode.
//
// How they arise: a directory (or a file whose parent's partition was full) is made in two client
// steps — CreateInode in one partition, then CreateDentry in the parent's partition, often
// another copyset (docs/architecture.md §3). A client that crashes in between leaves an inode
// whose one parent has no entry for it.
//
// What is a candidate: an inode with nlink > 0, exactly one parent, that parent in ANOTHER
// partition (an inode made together with its entry, by CreateFile, cannot be orphaned this way),
// not locked by a transaction, and — a directory — without entries. For each, the leader asks the
// parent's partition whether the parent lists it (ListDentry pages, at that copyset's leader) or
// its trash keeps its name (a removed directory, or a file whose parent's partition was full, in
// the fs's trash: architecture.md §6c).
//
// When is it an orphan: unnamed at two looks at least `ageMs` apart (10 min by default), with the
// inode unchanged in between (same parent, same ctime). Two looks on this leader's own clock, so
// a client's clock never decides. Why that is safe:
//  - a client between its two steps: its CreateDentry follows CreateInode at once; only a client
//    stopped for longer than `ageMs` between the two calls could name an inode already swept
//    (set `ageMs` far above any pause a client survives: its session ends after 20 s);
//  - a rename that moved the inode's entry to another directory: the moved inode's parent list
//    is updated by the rename's follow-up, which the coordinator resends until acknowledged; the
//    look succeeded, so the coordinator's copyset answers, and its follow-up reaches this leader
//    long before `ageMs`; a changed parent list starts the wait again;
//  - open files are not affected: the sweeper only takes the last link away; the reclaimer still
//    waits for open handles and the grace period before it deletes anything.
// Cost: one pass over each partition's inode ids per interval (1 min), and one ListDentry scan of
// the parent per candidate, remembered once it is found named (per leader, in memory).
import { create } from '@bufbuild/protobuf';
import { StatusCode, createLogger, systemClock, systemTimer, type Clock, type Timer } from '../../common/index.ts';
import { FileType } from '../../gen/common_pb.ts';
import { PartitionRefSchema, UnlinkInodeRequestSchema } from '../../gen/metaserver_pb.ts';
import type { Partition } from '../partition/index.ts';
import type { Copyset } from '../copyset/copyset.ts';
import { OpType } from '../copyset/op-codec.ts';
import { LeaderPass } from './leader-pass.ts';
import type { Cluster } from '../cluster.ts';

const log = createLogger('metaserver-orphans');

export interface OrphanSweeperOptions {
  copysets: () => Iterable<Copyset>;
  cluster: Pick<Cluster, 'locate' | 'namesInode'>;
  clock?: Clock;
  timer?: Timer;
  /** Pass period (default 60 s). */
  intervalMs?: number;
  /** Looks at an unnamed inode must be this far apart before it is swept (default 10 min). */
  ageMs?: number;
  /** Parent lookups per copyset per pass (default 256). */
  lookups?: number;
  /** Deadline of one parent lookup (default 5 s). */
  lookupTimeoutMs?: number;
}

export interface OrphanStats {
  passes: number;
  /** Orphans unlinked (handed to the reclaimer). */
  swept: number;
  lookupFailures: number;
}

interface Suspect {
  since: number;
  parent: number;
  ctime: number;
  ctimeNs: number;
}

export class OrphanSweeper extends LeaderPass {
  private readonly clock: Clock;
  private readonly ageMs: number;
  /** Per partition: inodes seen unnamed, and inodes found named (with the parent they were found in). */
  private readonly suspects = new Map<number, Map<number, Suspect>>();
  private readonly named = new Map<number, Map<number, number>>();
  readonly stats: OrphanStats = { passes: 0, swept: 0, lookupFailures: 0 };

  constructor(private readonly opts: OrphanSweeperOptions) {
    super(opts.timer ?? systemTimer, opts.intervalMs ?? 60_000, opts.copysets);
    this.clock = opts.clock ?? systemClock;
    this.ageMs = opts.ageMs ?? 600_000;
  }

  protected passFailed(cs: Copyset, e: unknown): void {
    log.warn('orphan sweep failed', { copyset: cs.name, error: String(e) });
  }

  protected override passDone(): void {
    this.stats.passes++;
  }

  protected async passCopyset(cs: Copyset): Promise<void> {
    let lookups = this.opts.lookups ?? 256;
    for (const part of [...cs.sm.partitions.values()]) {
      const suspects = mapOf(this.suspects, part.partitionId);
      const named = mapOf(this.named, part.partitionId);
      const end = Math.min(part.nextId, part.end + 1);
      for (let ino = part.start; ino < end; ino++) {
        // A partition holds up to 2^20 ids: let requests in between.
        if ((ino & 2047) === 0) await new Promise<void>((r) => setImmediate(r));
        if (!cs.isLeader()) return;
        const c = candidate(cs, part, ino);
        if (!c) {
          suspects.delete(ino);
          continue;
        }
        if (named.get(ino) === c.parent) continue;
        if (lookups-- <= 0) return;
        let isNamed: boolean;
        try {
          const ref = await this.opts.cluster.locate(part.fsId, c.parent);
          isNamed = await this.opts.cluster.namesInode!(ref, c.parent, ino, this.clock.now() + (this.opts.lookupTimeoutMs ?? 5000));
        } catch (e) {
          this.stats.lookupFailures++;
          log.debug('orphan check: parent lookup failed', { copyset: cs.name, ino, parent: c.parent, error: String(e) });
          continue;
        }
        if (isNamed) {
          named.set(ino, c.parent);
          suspects.delete(ino);
          continue;
        }
        const now = this.clock.now();
        const s = suspects.get(ino);
        if (!s || s.parent !== c.parent || s.ctime !== c.ctime || s.ctimeNs !== c.ctimeNs) {
          suspects.set(ino, { since: now, parent: c.parent, ctime: c.ctime, ctimeNs: c.ctimeNs });
          continue;
        }
        if (now - s.since < this.ageMs) continue;
        // Still the same inode, unnamed at both looks: take its link away (the reclaimer does the rest).
        const again = candidate(cs, part, ino);
        if (!again || again.parent !== s.parent || again.ctime !== s.ctime || again.ctimeNs !== s.ctimeNs) continue;
        const [sec, nsec] = this.clock.wallTime();
        const r = await cs.propose(
          OpType.UnlinkInode,
          create(UnlinkInodeRequestSchema, {
            p: create(PartitionRefSchema, { poolId: cs.poolId, copysetId: cs.copysetId, partitionId: part.partitionId, fsId: part.fsId }),
            inodeId: ino,
            parent: s.parent,
            time: { sec, nsec },
          }),
        );
        suspects.delete(ino);
        if (r.status === StatusCode.OK) {
          this.stats.swept++;
          log.warn('orphan inode unlinked: no directory entry named it', { copyset: cs.name, partition: part.partitionId, ino, parent: s.parent, type: FileType[c.type] });
        } else {
          log.warn('orphan inode unlink refused', { copyset: cs.name, ino, status: StatusCode[r.status], message: r.message });
        }
      }
    }
  }
}

/** The inode's one parent and ctime when it has the shape of a two-step create's orphan. */
function candidate(cs: Copyset, part: Partition, ino: number): { parent: number; ctime: number; ctimeNs: number; type: FileType } | undefined {
  const a = part.getInodeAttr(ino);
  if (a.status !== StatusCode.OK) return undefined;
  const inode = a.inode;
  if (inode.nlink === 0 || inode.parent.length !== 1) return undefined;
  const parent = inode.parent[0]!;
  if (part.owns(parent)) return undefined;
  if (inode.type === FileType.TYPE_DIRECTORY) {
    const entries = part.listDentry(ino, { limit: 1 });
    if (entries.status === StatusCode.OK && entries.entries.length > 0) return undefined;
  }
  if (cs.sm.tx.inodeLock(part.fsId, ino)) return undefined;
  return { parent, ctime: inode.ctime, ctimeNs: inode.ctimeNs, type: inode.type };
}

function mapOf<V>(m: Map<number, Map<number, V>>, k: number): Map<number, V> {
  let v = m.get(k);
  if (!v) m.set(k, (v = new Map()));
  return v;
}
