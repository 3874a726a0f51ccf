// Deletes a deleted file system's file data from its block store (the last step of DeleteFs,
// after its partitions are gone): every object under the fs's key prefix, in batches.
// A failure leaves the fs record in DELETING and the reclaimer tries again on its next pass.
import { fsPrefix, openBlockStore, type BlockStoreConfig } from '../../data/index.ts';
import type { FsInfo } from '../../gen/mds_pb.ts';
import { createLogger } from '../../common/index.ts';
import type { DataReclaimer } from './fs-manager.ts';

const log = createLogger('mds/fs');
const BATCH = 1000;

export function blockStoreConfigOf(fs: FsInfo): BlockStoreConfig | undefined {
  const k = fs.dataStore?.kind;
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

export const reclaimBlocks: DataReclaimer = async (fs) => {
  const config = blockStoreConfigOf(fs);
  if (!config) return;
  const store = await openBlockStore(config);
  let deleted = 0;
  try {
    let batch: string[] = [];
    for await (const e of store.list(fsPrefix(fs.fsId))) {
      batch.push(e.key);
      if (batch.length >= BATCH) {
        await store.delete(batch);
        deleted += batch.length;
        batch = [];
      }
    }
    if (batch.length > 0) await store.delete(batch);
    deleted += batch.length;
  } finally {
    await store.close();
  }
  log.info('deleted the data of a removed fs', { fsId: fs.fsId, objects: deleted });
};
