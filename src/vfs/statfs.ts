// statfs(2) of the VFS (the mount's, and the SDK's in its own names) from the client's view of
// the fs's space (src/client/space.ts).
import type { SpaceGuard } from '../client/index.ts';
import type { StatFs } from './types.ts';

/** Blocks when the fs has no capacity: 1 PiB, large enough that df never calls it full. */
const UNLIMITED_BYTES = 2 ** 50;
/** Inodes when the fs has no inode limit (its id space is far larger than this). */
const INODES = 2 ** 40;

/**
 * Total, free and available blocks of `bsize` bytes, and inodes. Free is the MDS's exact figure
 * (`(blocks - bfree) * bsize` is the used bytes rounded up to a block: df's "Used"); available
 * is what this client will accept before ENOSPC — less than free while its own recent writes
 * are not yet in the MDS's figure (df's "Avail").
 */
export function statfsOf(space: SpaceGuard, bsize: number, namelen: number): StatFs {
  const total = space.capacity > 0 ? space.capacity : UNLIMITED_BYTES;
  const blocks = Math.floor(total / bsize);
  const used = Math.min(blocks, Math.ceil(space.usedBytes / bsize));
  const free = blocks - used;
  const avail = Math.min(free, Math.floor(space.free / bsize));
  const files = space.maxInodes > 0 ? space.maxInodes : INODES;
  const ffree = Math.max(0, files - space.usedInodes);
  return { blocks, bfree: free, bavail: avail, files, ffree, bsize, namelen, frsize: bsize };
}
