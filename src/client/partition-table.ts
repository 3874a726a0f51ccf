// Routing table of one fs: inode id -> partition -> copyset -> members/leader.
// Pure data structure; the MetaClient refreshes it from the MDS.
import { PartitionStatus, type PartitionInfo } from '../gen/common_pb.ts';

export interface CopysetRoute {
  poolId: number;
  copysetId: number;
  /** Member addresses ("host:port"), in MDS order. */
  peers: string[];
  /** Cached leader address, when known. */
  leader: string | undefined;
}

export function copysetKey(poolId: number, copysetId: number): string {
  return `${poolId}:${copysetId}`;
}

export class PartitionTable {
  /** Sorted by start. */
  private parts: PartitionInfo[] = [];
  private readonly copysets = new Map<string, CopysetRoute>();

  setPartitions(list: PartitionInfo[]): void {
    this.parts = [...list].sort((a, b) => a.start - b.start);
  }

  partitions(): readonly PartitionInfo[] {
    return this.parts;
  }

  /** The partition whose [start, end] holds `inodeId`, by binary search. */
  find(inodeId: number): PartitionInfo | undefined {
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = this.parts[mid]!;
      if (inodeId < p.start) hi = mid - 1;
      else if (inodeId > p.end) lo = mid + 1;
      else return p;
    }
    return undefined;
  }

  byId(partitionId: number): PartitionInfo | undefined {
    return this.parts.find((p) => p.partitionId === partitionId);
  }

  markReadonly(partitionId: number): void {
    const p = this.byId(partitionId);
    if (p) p.status = PartitionStatus.READONLY;
  }

  /** Read-write partitions, the least loaded first (new directories go there). */
  writable(): PartitionInfo[] {
    return this.parts
      .filter((p) => p.status === PartitionStatus.READWRITE)
      .sort((a, b) => a.inodeNum - b.inodeNum || a.partitionId - b.partitionId);
  }

  setCopyset(route: CopysetRoute): void {
    const key = copysetKey(route.poolId, route.copysetId);
    const old = this.copysets.get(key);
    // Keep a known leader if it is still a member.
    if (!route.leader && old?.leader && route.peers.includes(old.leader)) route.leader = old.leader;
    this.copysets.set(key, route);
  }

  copyset(poolId: number, copysetId: number): CopysetRoute | undefined {
    return this.copysets.get(copysetKey(poolId, copysetId));
  }

  missingCopysets(): Array<{ poolId: number; copysetId: number }> {
    const out = new Map<string, { poolId: number; copysetId: number }>();
    for (const p of this.parts) {
      const k = copysetKey(p.poolId, p.copysetId);
      if (!this.copysets.has(k)) out.set(k, { poolId: p.poolId, copysetId: p.copysetId });
    }
    return [...out.values()];
  }
}
