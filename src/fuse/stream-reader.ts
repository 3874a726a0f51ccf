// /dev/fuse read on the main thread through a libuv stream handle.
//
// Node has no public API to poll a character device, but libuv's pipe handle accepts any
// descriptor epoll can watch, and /dev/fuse is one (the kernel's fuse_dev_poll). uv_pipe_open
// makes the descriptor non-blocking and libuv then reads whenever the kernel has a request
// queued, into the buffer we give it, calling us once per read(2) — and one read(2) on
// /dev/fuse is always exactly one request. Replies stay synchronous writes on the same
// descriptor (session.ts): a write to /dev/fuse never blocks.
//
// Errors of read(2): libuv retries EINTR and waits on EAGAIN itself; any other error destroys the
// stream (and closes the descriptor). ENODEV / ECONNABORTED are the end of the session. The
// kernel's fuse_dev_do_read fails otherwise only for reasons of our own making (EINVAL: a buffer
// too small; EFAULT); an interrupted request reaches us as an INTERRUPT request, not as a read
// error (libfuse's retry on ENOENT is for kernels older than any that speaks 7.23). So nothing
// else needs surviving; an unexpected failure ends the session with the error, as the worker
// reader does. Tested: test/integration/fuse-reader.test.ts.
//
// Buffers: the kernel refuses reads into less than max_write + headers, so each read gets a
// buffer of bufSize. Requests up to COPY_LIMIT are lent to the session (which copies the little
// it keeps) and the buffer is read into again; a larger request (a big WRITE) is handed over
// whole and the next read gets a fresh buffer, so write payloads are never copied.

import net from 'node:net';
import { trace, tracing } from '../common/index.ts';
import { isEndOfSession, type DeviceReader, type ReaderParams, type RequestSink } from './device-reader.ts';

const COPY_LIMIT = 64 * 1024;

interface PipeHandle {
  open(fd: number): number;
}
interface PipeWrapBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

/** node's internal pipe_wrap binding, or why it is not available. */
function pipeWrap(): PipeWrapBinding | string {
  const proc = process as unknown as { binding?: (name: string) => unknown; noDeprecation?: boolean };
  if (typeof proc.binding !== 'function') return 'process.binding is not available';
  // process.binding is deprecated (DEP0111, printed under --pending-deprecation): this use is
  // deliberate and has a fallback, so users are not shown the warning.
  const quiet = proc.noDeprecation;
  proc.noDeprecation = true;
  try {
    const b = proc.binding('pipe_wrap') as Partial<PipeWrapBinding> | undefined;
    if (typeof b?.Pipe !== 'function' || typeof b.constants?.SOCKET !== 'number') return 'pipe_wrap has no Pipe';
    return b as PipeWrapBinding;
  } catch (e) {
    return `pipe_wrap: ${String(e)}`;
  } finally {
    proc.noDeprecation = quiet;
  }
}

/** Starts reading `p.fd` on the main thread, or returns why it cannot (nothing was changed then). */
export function startStreamReader(p: ReaderParams, sink: RequestSink): DeviceReader | string {
  const binding = pipeWrap();
  if (typeof binding === 'string') return binding;
  const handle = new binding.Pipe(binding.constants.SOCKET);
  const rc = handle.open(p.fd);
  if (rc !== 0) return `uv_pipe_open failed (${rc})`;

  let buf = Buffer.allocUnsafeSlow(p.bufSize);
  let ended = false;
  const end = (error?: { code?: string; message: string }) => {
    if (ended) return;
    ended = true;
    sink.ended(error);
  };
  // `handle` is an undocumented (but long-standing) option of net.Socket: wrap an existing handle.
  const socketOptions = {
    handle,
    readable: true,
    writable: false,
    onread: {
      // Called after every read for the buffer of the next one.
      buffer: () => buf,
      callback: (n: number, b: Uint8Array) => {
        if (tracing) trace('fuse.read');
        if (n > COPY_LIMIT) {
          buf = Buffer.allocUnsafeSlow(p.bufSize);
          sink.request(b.subarray(0, n), false);
        } else {
          sink.request(b.subarray(0, n), true);
        }
      },
    },
  };
  const socket = new net.Socket(socketOptions as net.SocketConstructorOpts);
  socket.on('error', (e: NodeJS.ErrnoException) => {
    end(isEndOfSession(e.code) ? undefined : { code: e.code, message: e.message });
  });
  // read(2) returning 0 is not something /dev/fuse does; if it ever did, the session is over.
  socket.on('end', () => socket.destroy());
  socket.on('close', () => end());
  return {
    kind: 'stream',
    close: () => socket.destroy(),
  };
}
