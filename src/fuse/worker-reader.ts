// /dev/fuse read by worker threads blocked in read(2) (reader-worker.mjs), each request posted
// to the main thread. The fallback reader (device-reader.ts): every request pays a thread
// hand-off (a postMessage wake-up of the main thread), which the stream reader avoids.

import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { traceAt } from '../common/index.ts';
import { isEndOfSession, type DeviceReader, type ReaderParams, type RequestSink } from './device-reader.ts';

export function startWorkerReaders(p: ReaderParams, sink: RequestSink): DeviceReader {
  const url = new URL('./reader-worker.mjs', import.meta.url);
  const count = Math.max(1, p.workers);
  let endedWorkers = 0;
  let firstError: { code?: string; message: string } | undefined;
  let fdOpen = true;
  const close = () => {
    if (!fdOpen) return;
    fdOpen = false;
    try {
      closeSync(p.fd);
    } catch {
      /* already gone */
    }
  };
  const workerEnded = (error?: { code?: string; message: string }) => {
    firstError ??= error;
    if (++endedWorkers < count) return;
    close();
    sink.ended(firstError);
  };
  for (let i = 0; i < count; i++) {
    const w = new Worker(url, { workerData: { fd: p.fd, bufSize: p.bufSize } });
    w.on('message', (m: unknown) => {
      if (m instanceof Uint8Array) {
        sink.request(m, false);
      } else if (Array.isArray(m)) {
        // Tracing on: [request, when the reader's read(2) returned].
        traceAt(m[1] as bigint, 'fuse.read');
        sink.request(m[0] as Uint8Array, false);
      } else {
        const info = m as { end?: string; error?: string; code?: string };
        workerEnded(info.end || isEndOfSession(info.code) ? undefined : { code: info.code, message: info.error ?? 'reader stopped' });
      }
    });
    w.on('error', (e) => workerEnded({ message: `fuse reader crashed: ${String(e)}` }));
  }
  return { kind: 'worker', close };
}
