// Public face of src/raft: the pure core, and (added by the driver) storage, transport, node.
export * from './core/index.ts';
