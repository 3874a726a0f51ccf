// One entry point from configuration to a block store, so callers (CLI, `curvefs up`, the
// client) need not know the implementations.
import { LocalBlockStore, type LocalBlockStoreOptions } from './local-block-store.ts';
import { S3BlockStore, type S3BlockStoreOptions } from './s3-block-store.ts';
import type { BlockStore } from './block-store.ts';

export type BlockStoreConfig =
  | ({ kind: 'local'; dir: string } & LocalBlockStoreOptions)
  | ({ kind: 's3' } & S3BlockStoreOptions);

export async function openBlockStore(config: BlockStoreConfig): Promise<BlockStore> {
  if (config.kind === 'local') return LocalBlockStore.open(config.dir, config);
  return S3BlockStore.open(config);
}
