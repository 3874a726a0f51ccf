// Reading requests from /dev/fuse: what a reader hands the session, and the choice between the
// two ways of reading.
//
//  - 'stream' (default): the descriptor in a libuv stream on the main thread (stream-reader.ts).
//    A request is read and served by the same thread in the same turn of the event loop, and
//    libuv reads on while requests are queued (up to 32 per wake-up): no thread hand-off at all.
//  - 'worker': reader threads blocked in read(2), posting each request to the main thread
//    (worker-reader.ts). The fallback when the stream cannot be made (no pipe_wrap binding in
//    this node), and a way to compare the two.
//
// Either reader ends with ended() exactly once: ENODEV (unmounted, by us or by anyone) and
// ECONNABORTED (the connection was aborted through fusectl) end it cleanly; anything else ends
// it with the error.

import { createLogger } from '../common/index.ts';
import { startStreamReader } from './stream-reader.ts';
import { startWorkerReaders } from './worker-reader.ts';

export type ReaderKind = 'stream' | 'worker';

export interface RequestSink {
  /**
   * One request. borrowed: the bytes are the reader's and are overwritten by the next read, so
   * whatever outlives this call (WRITE data, xattr values) must be copied; otherwise the sink owns them.
   */
  request(msg: Uint8Array, borrowed: boolean): void;
  /** The reader stopped: undefined when the file system went away (ENODEV / ECONNABORTED). */
  ended(error?: { code?: string; message: string }): void;
}

export interface DeviceReader {
  readonly kind: ReaderKind;
  /**
   * Closes the descriptor (a stream reader owns it once started: libuv closes it with the
   * handle). Idempotent.
   */
  close(): void;
}

export interface ReaderParams {
  fd: number;
  /** Read buffer size: the kernel refuses reads into less than max_write plus the headers. */
  bufSize: number;
  /** Worker threads, for the worker reader. */
  workers: number;
}

/** The errors of read(2) on /dev/fuse that mean "the file system is gone", not a failure. */
export function isEndOfSession(code: string | undefined): boolean {
  return code === 'ENODEV' || code === 'ECONNABORTED';
}

/** Starts reading with `kind`, or with workers when the stream cannot be made here. */
export function startDeviceReader(kind: ReaderKind, p: ReaderParams, sink: RequestSink): DeviceReader {
  if (kind === 'stream') {
    const r = startStreamReader(p, sink);
    if (typeof r !== 'string') return r;
    createLogger('fuse').warn('reading /dev/fuse on worker threads', { why: r });
  }
  return startWorkerReaders(p, sink);
}
