// Where an fs's file data lives, for deleting the blocks of reclaimed inodes: from the MDS's fs
// info (GetFsInfo: data store, chunk and block size), or configured per fs when running without
// an MDS. Block stores are opened once per fs and kept.
import { CurveError, StatusCode, createLogger } from '../../common/index.ts';
import type { DataStore } from '../../gen/mds_pb.ts';
import { FileDataIO, blockStoreConfigOf, openBlockStore, type BlockStore } from '../../data/index.ts';
import type { MdsClient } from '../../mds/client.ts';

const log = createLogger('metaserver-fsdata');

export interface FsDataProvider {
  /** The data I/O of fs `fsId`, or undefined when it has no data store (metadata only). */
  forFs(fsId: number): Promise<FileDataIO | undefined>;
  close(): Promise<void>;
}

export interface FsLayout {
  store: DataStore | undefined;
  chunkSize: number;
  blockSize: number;
}

export async function openStore(ds: DataStore): Promise<BlockStore> {
  const config = blockStoreConfigOf(ds);
  if (!config) throw new CurveError(StatusCode.PARAM_ERROR, 'fs without a data store kind');
  return openBlockStore(config);
}

/** Data I/O for reclaiming: it never writes, so chunk ids are never allocated. */
function dataIo(fsId: number, store: BlockStore, l: FsLayout): FileDataIO {
  return new FileDataIO(store, {
    fsId,
    chunkSize: l.chunkSize || undefined,
    blockSize: l.blockSize || undefined,
    allocChunkIds: () => Promise.reject(new CurveError(StatusCode.NOT_SUPPORTED, 'the reclaimer does not write')),
  });
}

/** Looks fs layouts up with `lookup` (the MDS, or a static table) and caches them. */
export class CachedFsData implements FsDataProvider {
  private readonly ios = new Map<number, Promise<FileDataIO | undefined>>();
  private readonly stores: BlockStore[] = [];

  constructor(private readonly lookup: (fsId: number) => Promise<FsLayout | undefined>) {}

  forFs(fsId: number): Promise<FileDataIO | undefined> {
    let p = this.ios.get(fsId);
    if (!p) {
      p = (async () => {
        const l = await this.lookup(fsId);
        if (!l?.store) return undefined;
        const store = await openStore(l.store);
        this.stores.push(store);
        return dataIo(fsId, store, l);
      })();
      p.catch((e: unknown) => {
        log.warn('cannot open the data store of an fs', { fsId, error: String(e) });
        this.ios.delete(fsId);
      });
      this.ios.set(fsId, p);
    }
    return p;
  }

  async close(): Promise<void> {
    for (const s of this.stores) await s.close();
  }
}

export function mdsFsData(mds: MdsClient): CachedFsData {
  return new CachedFsData(async (fsId) => {
    const r = await mds.mds.getFsInfo({ fsId });
    const fs = r.fsInfo;
    if (!fs) return undefined;
    return { store: fs.dataStore, chunkSize: fs.chunkSize, blockSize: fs.blockSize };
  });
}
