// FUSE request reader thread (worker-reader.ts): blocked in read(2) on /dev/fuse, forwarding
// each request to the main thread. Plain JavaScript so it needs no TypeScript loader in the worker.
//
// Why a worker and not fs.read: a blocked read on /dev/fuse would hold one of libuv's four
// threadpool threads for as long as the file system is idle; four of them starve every other
// fs call in the process. Here each reader owns a thread of its own.
//
// Messages to the main thread: a Uint8Array (one request, its buffer transferred), or
// { end: 'ENODEV' } when the file system was unmounted or aborted, or { error, code } on anything else.
import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { fd, bufSize } = workerData;
// With CURVEFS_TRACE set (src/common/trace.ts) each request goes with the moment read(2) returned.
const stamp = !!process.env.CURVEFS_TRACE;
// Small requests are copied out of one reusable buffer; large ones (writes) hand over the read
// buffer itself and the worker takes a fresh one, so big payloads are never copied.
const COPY_LIMIT = 64 * 1024;
let buf = Buffer.allocUnsafeSlow(bufSize);

for (;;) {
  let n;
  try {
    n = readSync(fd, buf, 0, bufSize, null);
  } catch (e) {
    // ENOENT: the request was interrupted before we read it (old kernels); EINTR/EAGAIN: just retry.
    if (e.code === 'ENOENT' || e.code === 'EINTR' || e.code === 'EAGAIN') continue;
    if (e.code === 'ENODEV' || e.code === 'ECONNABORTED') parentPort.postMessage({ end: e.code });
    else parentPort.postMessage({ error: String(e && e.message), code: e.code });
    break;
  }
  if (n > COPY_LIMIT) {
    const msg = new Uint8Array(buf.buffer, buf.byteOffset, n);
    parentPort.postMessage(stamp ? [msg, process.hrtime.bigint()] : msg, [buf.buffer]);
    buf = Buffer.allocUnsafeSlow(bufSize);
  } else {
    const msg = new Uint8Array(n);
    msg.set(buf.subarray(0, n));
    parentPort.postMessage(stamp ? [msg, process.hrtime.bigint()] : msg, [msg.buffer]);
  }
}
