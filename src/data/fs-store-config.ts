// The one mapping from an fs's data-store settings (MdsService FsInfo.data_store) to a block
// store configuration: used by clients to read and write, by metaservers to reclaim the blocks of
// deleted inodes, and by the MDS to reclaim a deleted fs.
import type { DataStore } from '../gen/mds_pb.ts';
import type { BlockStoreConfig } from './open-store.ts';

/** undefined when the fs has no data store (metadata only). */
export function blockStoreConfigOf(ds: DataStore | undefined): BlockStoreConfig | undefined {
  const k = ds?.kind;
  if (k?.case === 'local') return { kind: 'local', dir: k.value.dir };
  if (k?.case === 's3') {
    const s = k.value;
    return {
      kind: 's3',
      bucket: s.bucketName,
      endpoint: s.endpoint || undefined,
      region: s.region || undefined,
      forcePathStyle: s.pathStyle,
      credentials: s.ak ? { accessKeyId: s.ak, secretAccessKey: s.sk } : undefined,
      keyPrefix: s.prefix || undefined,
    };
  }
  return undefined;
}
