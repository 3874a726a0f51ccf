// Where replicas go. Pure: candidates in, metaserver ids out.
//
// Replicas of a copyset go to distinct zones when enough zones have eligible metaservers, else to
// distinct servers (hosts), else to distinct metaserver processes (one machine). Within that
// rule the least loaded metaservers (fewest copysets) win; ties are broken at random so that
// equal nodes share new copysets.
import type { Random } from '../../common/index.ts';

export interface PlacementCandidate {
  id: number;
  serverId: number;
  zoneId: number;
  /** Copysets this metaserver already holds (its load). */
  copysets: number;
}

export type Spread = 'zone' | 'server' | 'metaserver';

/**
 * Picks `n` of `candidates` to join `existing` members. Returns the ids and the spread achieved,
 * or undefined when fewer than `n` distinct metaservers are available.
 */
export function chooseReplicas(
  candidates: readonly PlacementCandidate[],
  n: number,
  random: Random,
  existing: readonly PlacementCandidate[] = [],
): { ids: number[]; spread: Spread } | undefined {
  const taken = new Set(existing.map((e) => e.id));
  const pool = candidates.filter((c) => !taken.has(c.id));
  // Least loaded first; random order among equals (decorate-sort so the comparator is consistent).
  const order = pool.map((c) => ({ c, r: random.next() })).sort((a, b) => a.c.copysets - b.c.copysets || a.r - b.r).map((x) => x.c);
  for (const spread of ['zone', 'server', 'metaserver'] as const) {
    const attr = (c: PlacementCandidate) => (spread === 'zone' ? c.zoneId : spread === 'server' ? c.serverId : c.id);
    const used = new Set(existing.map(attr));
    const ids: number[] = [];
    for (const c of order) {
      if (ids.length === n) break;
      if (used.has(attr(c))) continue;
      used.add(attr(c));
      ids.push(c.id);
    }
    if (ids.length === n) return { ids, spread };
  }
  return undefined;
}

/**
 * Orders copysets that have room for more partitions: fewest partitions first (the digest's
 * "by free capacity"), copyset id as the tie-break so the choice is deterministic.
 */
export function copysetsByLoad<T extends { copysetId: number; partitions: number }>(copysets: readonly T[], maxPartitions: number): T[] {
  return copysets.filter((c) => c.partitions < maxPartitions).sort((a, b) => a.partitions - b.partitions || a.copysetId - b.copysetId);
}
