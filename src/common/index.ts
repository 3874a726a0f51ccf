export * from './status.ts';
export * from './time.ts';
export * from './checksum.ts';
export * from './log.ts';
export * from './process.ts';
export * from './poll.ts';
export * from './cli-args.ts';
export * from './trace.ts';
