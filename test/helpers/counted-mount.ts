// A 3-replica test cluster with one SDK connection whose metaserver calls are counted by method,
// and a FUSE mount served in this process over that connection (kernel entry/attribute timeouts
// and the mount's own directory caches all 600 s, so nothing expires between two calls of a
// test). For the tests that pin how many round trips a system call costs.
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from '../../src/client/index.ts';
import { FileDataIO } from '../../src/data/index.ts';
import { CurvefsOps } from '../../src/mount/index.ts';
import { startCluster, type TestCluster } from './cluster.ts';
import { countMetaCalls } from './count-calls.ts';
import { mountForTest, type TestMount } from './fuse.ts';

export interface CountedMount {
  cluster: TestCluster;
  conn: Connection;
  m: TestMount & { ops: CurvefsOps };
  /** Metaserver calls by method since the last clear(). */
  counts: Map<string, number>;
  /** `counts`, sorted, for assertion messages. */
  counted(): Record<string, number>;
  stop(): Promise<void>;
}

/**
 * Starts it; the mount has a directory `d`, made by the SDK (not by the mount: a name missing
 * in it is looked up at the metaserver) and known to the kernel. `allocChunkIds` gives the mount's writer chunk ids
 * (a range no other writer of the fs uses); by default writing through the mount is an error.
 */
export async function startCountedMount(fsName: string, allocChunkIds?: (n: number) => Promise<number>): Promise<CountedMount> {
  const cluster = await startCluster({ fsName });
  const conn = await cluster.connect();
  const counts = countMetaCalls(conn);
  const v = conn.view;
  const alloc = allocChunkIds ?? (async () => { throw new Error('no data is written in this test'); });
  const data = new FileDataIO(conn.store, { fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize, allocChunkIds: alloc });
  const ops = new CurvefsOps({ core: conn.core, data, sessionId: conn.sessionId, view: v }, { dirInfoTtlMs: 600_000, newDirTtlMs: 600_000 });
  const m = await mountForTest(ops, { entryTimeoutSec: 600, attrTimeoutSec: 600 });
  await conn.fs.mkdir('/d');
  await fsp.stat(join(m.dir, 'd'));
  return {
    cluster,
    conn,
    m,
    counts,
    counted: () => Object.fromEntries([...counts].sort()),
    async stop() {
      await m.cleanup();
      await conn.close();
      await cluster.stop();
    },
  };
}
