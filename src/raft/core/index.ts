// Public face of the pure Raft core. See docs/raft.md.
export * from './types.ts';
export * from './config.ts';
export * from './confchange.ts';
export { RaftInvariantError } from './log.ts';
export { NotLeaderError, CAMPAIGN_TRANSFER } from './raft.ts';
export * from './rawnode.ts';
