// A copyset's identity is (poolId, copysetId), both u32. Its Raft group id is CurveFS's
// `(poolId << 32) | copysetId`, kept as a JS number: exact while poolId < 2^21, which the MDS
// never approaches (pool ids are small counters).
import { CurveError, StatusCode } from '../../common/index.ts';

const SHIFT = 2 ** 32;
const MAX_POOL = 2 ** 21;

export interface CopysetKey {
  poolId: number;
  copysetId: number;
}

export function copysetGroupId(poolId: number, copysetId: number): number {
  if (!Number.isInteger(poolId) || poolId < 0 || poolId >= MAX_POOL)
    throw new CurveError(StatusCode.PARAM_ERROR, `pool id ${poolId} out of range [0, ${MAX_POOL})`);
  if (!Number.isInteger(copysetId) || copysetId < 0 || copysetId >= SHIFT)
    throw new CurveError(StatusCode.PARAM_ERROR, `copyset id ${copysetId} is not a u32`);
  return poolId * SHIFT + copysetId;
}

export function copysetOfGroup(groupId: number): CopysetKey {
  return { poolId: Math.floor(groupId / SHIFT), copysetId: groupId % SHIFT };
}

/** "pool:copyset", for logs, metrics labels and directory names. */
export function copysetName(poolId: number, copysetId: number): string {
  return `${poolId}-${copysetId}`;
}
