// Partition scans for operator tools (fsck, gc, dump: docs/operations.md): every inode of a
// partition, and every dentry it holds, in pages. A page is computed inside one linearizable read
// (MetaService.read), so it is one consistent state of the partition; consecutive pages are not —
// the tools re-check what they find (src/admin/recheck.ts) instead of freezing the partition.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../common/index.ts';
import { ChunkSliceListSchema, InodeSchema, type DentrySchema } from '../gen/metaserver_pb.ts';
import { FileType } from '../gen/common_pb.ts';
import type { Partition } from './partition/index.ts';
import { wireAttr, wireDentry } from './service.ts';

/** Inode slots per page of the partition's inode store (inode-store.ts PAGE_SIZE). */
const STORE_PAGE = 1024;

/** Page sizes: default and most per call (a whole inode with its block map can be large). */
export const DEFAULT_SCAN_PAGE = 512;
export const MAX_SCAN_PAGE = 4096;

function pageSize(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0) throw new CurveError(StatusCode.PARAM_ERROR, `bad page size ${count}`);
  return count === 0 ? DEFAULT_SCAN_PAGE : Math.min(count, MAX_SCAN_PAGE);
}

function cursor(x: number, what: string): number {
  if (!Number.isSafeInteger(x) || x < 0) throw new CurveError(StatusCode.PARAM_ERROR, `bad ${what} ${x}`);
  return x;
}

/** Ids of existing inodes of `part` above `after`, in order, calling `visit` until it says stop. */
function eachInodeId(part: Partition, after: number, visit: (id: number) => boolean): void {
  const store = part.store;
  const first = Math.max(after + 1, part.start);
  // Ids past the allocated pages have never been used.
  const last = Math.min(part.end, part.start + store.pages.length * STORE_PAGE - 1);
  for (let id = first; id <= last; id++) {
    if (store.page(id) === undefined) {
      // Skip the rest of an unallocated (or short) page in one step.
      const slot = id - part.start;
      id = part.start + (Math.floor(slot / STORE_PAGE) + 1) * STORE_PAGE - 1;
      continue;
    }
    if (store.exists(id) && !visit(id)) return;
  }
}

export function listInodesPage(part: Partition, after: number, count: number): { inodes: MessageInitShape<typeof InodeSchema>[]; more: boolean } {
  const limit = pageSize(count);
  cursor(after, 'inode cursor');
  const inodes: MessageInitShape<typeof InodeSchema>[] = [];
  let more = false;
  eachInodeId(part, after, (id) => {
    if (inodes.length >= limit) {
      more = true;
      return false;
    }
    const r = part.getInode(id);
    if (r.status !== StatusCode.OK) return true;
    const { xattrs, chunks, ...attr } = r.inode;
    const wire = create(InodeSchema, { attr: wireAttr(attr) });
    for (const [k, v] of chunks) wire.chunks[k] = create(ChunkSliceListSchema, { slices: v });
    for (const [k, v] of xattrs) wire.xattr[k] = v;
    inodes.push(wire);
    return true;
  });
  return { inodes, more };
}

export function listDentriesPage(
  part: Partition,
  afterParent: number,
  afterName: string,
  count: number,
): { dentrys: MessageInitShape<typeof DentrySchema>[]; more: boolean } {
  const limit = pageSize(count);
  cursor(afterParent, 'parent cursor');
  const dentrys: MessageInitShape<typeof DentrySchema>[] = [];
  let more = false;
  // The cursor's own directory first (names after afterName), then every later directory.
  eachInodeId(part, Math.max(0, afterParent - 1), (id) => {
    const d = part.dir(id);
    if (d === undefined) return true;
    const startAfter = id === afterParent && afterName !== '' ? afterName : undefined;
    let stop = false;
    d.scan(startAfter, (name, ino, type) => {
      if (dentrys.length >= limit) {
        more = true;
        stop = true;
        return false;
      }
      dentrys.push(wireDentry(part.fsId, { parent: id, name, ino, type: type as FileType }));
      return true;
    });
    return !stop;
  });
  return { dentrys, more };
}
