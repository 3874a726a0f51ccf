// File data: block stores (local directory, S3), the object key layout, and the mapping of file
// byte ranges onto chunks, slices and objects.
export * from './block-store.ts';
export { LocalBlockStore, type LocalBlockStoreOptions } from './local-block-store.ts';
export { MemoryBlockStore } from './memory-block-store.ts';
export { S3BlockStore, type S3BlockStoreOptions } from './s3-block-store.ts';
export { openBlockStore, type BlockStoreConfig } from './open-store.ts';
export * from './layout.ts';
export * from './overlay.ts';
export * from './read-plan.ts';
export * from './truncate.ts';
export * from './compaction.ts';
export * from './object-key.ts';
export * from './block-cache.ts';
export * from './file-io.ts';
export { WriteBuffer, type WriteBufferOptions } from './write-buffer.ts';
export { blockStoreConfigOf } from './fs-store-config.ts';
