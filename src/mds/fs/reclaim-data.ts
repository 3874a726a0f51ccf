// Deletes a deleted file system's file data from its block store (the last step of DeleteFs,
// after its partitions are gone): every object under the fs's key prefix, in batches.
// A failure leaves the fs record in DELETING and the reclaimer tries again on its next pass.
import { blockStoreConfigOf, fsPrefix, openBlockStore } from '../../data/index.ts';
import { createLogger } from '../../common/index.ts';
import type { DataReclaimer } from './fs-manager.ts';

const log = createLogger('mds/fs');
const BATCH = 1000;

export const reclaimBlocks: DataReclaimer = async (fs) => {
  const config = blockStoreConfigOf(fs.dataStore);
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
