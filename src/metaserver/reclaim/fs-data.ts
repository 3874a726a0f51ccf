// Where an fs's file data lives, for deleting the blocks of reclaimed inodes: from the MDS's fs
// info (GetFsInfo: data store, chunk and block size), or configured per fs when running without
// an MDS. Block stores are opened once per fs and kept; a caller can ask for a fresh look-up
// (refresh), which the reclaimer does on each pass over a partition being deleted: `fs delete --force` makes
// the MDS answer the fs without a data store, and a metaserver that already opened the store (and
// may be failing on it for ever, the store being gone) must see that and delete no block.
import { CurveError, StatusCode, createLogger } from '../../common/index.ts';
import type { DataStore } from '../../gen/mds_pb.ts';
import { FileDataIO, blockStoreConfigOf, openBlockStore, type BlockStore } from '../../data/index.ts';
import type { MdsClient } from '../../mds/client.ts';

const log = createLogger('metaserver-fsdata');

export interface FsDataProvider {
  /** The data I/O of fs `fsId`, or undefined when it has no data store (metadata only). */
  forFs(fsId: number): Promise<FileDataIO | undefined>;
  /**
   * When a store of fs `fsId` is open, looks the fs up again (rejecting when that fails) and
   * forgets the store if the answer changed, so the next forFs follows the new answer.
   */
  refresh?(fsId: number): Promise<void>;
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

/** A store opened for an fs, with the layout it was opened from (to tell a changed answer). */
interface Opened {
  key: string;
  store: BlockStore;
  io: FileDataIO;
}

/** What identifies a layout: undefined for an fs without a data store. */
function layoutKey(l: FsLayout | undefined): string | undefined {
  const config = l?.store && blockStoreConfigOf(l.store);
  return config ? JSON.stringify({ config, chunkSize: l.chunkSize, blockSize: l.blockSize }) : undefined;
}

/** Looks fs layouts up with `lookup` (the MDS, or a static table) and caches them. */
export class CachedFsData implements FsDataProvider {
  private readonly opened = new Map<number, Promise<Opened | undefined>>();

  constructor(private readonly lookup: (fsId: number) => Promise<FsLayout | undefined>) {}

  async forFs(fsId: number): Promise<FileDataIO | undefined> {
    return (await this.cached(fsId))?.io;
  }

  async refresh(fsId: number): Promise<void> {
    const cached = this.opened.get(fsId);
    if (!cached) return;
    // A failed look-up throws here and changes nothing: without the MDS's answer the caller
    // cannot know whether the fs's blocks may be deleted.
    const layout = await this.lookup(fsId);
    const was = await cached.catch(() => undefined);
    if (this.opened.get(fsId) !== cached || was?.key === layoutKey(layout)) return;
    this.opened.delete(fsId);
    if (!was) return;
    log.info('the data store of an fs changed; forgetting the opened one', { fsId, hasStore: layout?.store !== undefined });
    await was.store.close().catch((e: unknown) => log.warn('cannot close a data store', { fsId, error: String(e) }));
  }

  /** The cached store of `fsId`, looked up and opened if none. */
  private cached(fsId: number): Promise<Opened | undefined> {
    let p = this.opened.get(fsId);
    if (!p) {
      const opening = (async (): Promise<Opened | undefined> => {
        const l = await this.lookup(fsId);
        const key = layoutKey(l);
        if (!l?.store || key === undefined) return undefined;
        const store = await openStore(l.store);
        return { key, store, io: dataIo(fsId, store, l) };
      })();
      opening.catch((e: unknown) => {
        log.warn('cannot open the data store of an fs', { fsId, error: String(e) });
        if (this.opened.get(fsId) === opening) this.opened.delete(fsId);
      });
      this.opened.set(fsId, opening);
      p = opening;
    }
    return p;
  }

  async close(): Promise<void> {
    for (const p of this.opened.values()) {
      const o = await p.catch(() => undefined);
      await o?.store.close();
    }
    this.opened.clear();
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
