// What fsck, gc, dump and load share: a connection to one named fs as an AdminContext (its
// metadata client, block store and layout, replica status for fsck's agreement check).
import { CurveError, StatusCode } from '../../common/index.ts';
import { CopysetService } from '../../gen/metaserver_pb.ts';
import { connectFs, type Connection } from '../../client/index.ts';
import type { AdminContext } from '../../admin/index.ts';
import { openMds, type GlobalOptions, type MdsSession } from '../context.ts';

export async function withAdmin<T>(g: GlobalOptions, fsName: string, fn: (ctx: AdminContext, conn: Connection, mds: MdsSession) => Promise<T>): Promise<T> {
  const mds = await openMds(g);
  try {
    return await withAdminOn(mds, fsName, fn);
  } finally {
    mds.close();
  }
}

export async function withAdminOn<T>(mds: MdsSession, fsName: string, fn: (ctx: AdminContext, conn: Connection, mds: MdsSession) => Promise<T>): Promise<T> {
  const conn = await connectFs({ mds: mds.adapter, fsName, pool: mds.pool, entryTtlMs: 0, attrTtlMs: 0 });
  try {
    const ctx: AdminContext = {
      meta: conn.meta,
      core: conn.core,
      store: conn.store,
      fsId: conn.view.fsId,
      layout: { chunkSize: conn.view.chunkSize, blockSize: conn.view.blockSize },
      now: () => Date.now(),
      copysetStatus: async (address, poolId, copysetId) => {
        try {
          return (await mds.pool.client(CopysetService, address).getCopysetStatus({ poolId, copysetId }, { timeoutMs: 3000 })).status;
        } catch (e) {
          if (e instanceof CurveError && e.status === StatusCode.COPYSET_NOTEXIST) return undefined;
          throw e;
        }
      },
    };
    return await fn(ctx, conn, mds);
  } finally {
    await conn.close();
  }
}
