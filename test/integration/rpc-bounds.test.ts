// Resource bounds of the RPC server (issue [L] finding 5): connections that never complete a
// frame (or the preface) are closed after the frame timeout, the bytes held for partial frames
// across all connections stay under a budget, and one peer address gets a bounded number of
// connections. Every bound is counted in RpcServer.stats().
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { StatusCode } from '../../src/common/index.ts';
import { ChannelPool, RpcServer, methodIdOf } from '../../src/rpc/index.ts';
import { FrameDecoder, FrameKind, HEADER_BYTES, PREFACE, decodeErrorTrailer, writeHeader, type FrameHeader } from '../../src/rpc/frame.ts';
import { RpcTestService } from '../../src/gen/rpctest_pb.ts';
import { rpcTestImpl } from '../helpers/rpc-test-service.ts';
import { waitFor } from '../helpers/wait.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A raw connection that records the Error frame the server sends before closing. */
interface RawConnection {
  socket: Socket;
  /** Resolves when the server closed the connection (rejects after a safety-net deadline). */
  closed: Promise<void>;
  error: () => (FrameHeader & { message: string }) | undefined;
}

async function rawConnection(port: number): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  cleanups.push(() => socket.destroy());
  socket.on('error', () => {});
  let error: (FrameHeader & { message: string }) | undefined;
  const decoder = new FrameDecoder({
    onFrame: (h, payload) => {
      if (h.kind === FrameKind.Error) error = { ...h, message: decodeErrorTrailer(payload)?.message ?? '' };
    },
    onProtocolError: () => {},
  });
  socket.on('data', (c: Buffer) => decoder.push(c));
  let isClosed = false;
  socket.once('close', () => (isClosed = true));
  await once(socket, 'connect');
  const closed = waitFor(() => isClosed, `the server to close connection ${socket.localPort}`);
  closed.catch(() => {}); // observed by the tests that await it
  return { socket, closed, error: () => error };
}

/** The header of an Echo request with an empty payload. */
function echoHeader(): Buffer {
  const head = Buffer.alloc(HEADER_BYTES);
  writeHeader(head, 0, FrameKind.Request, StatusCode.OK, 1, methodIdOf('curvefs.rpctest.RpcTestService/Echo'), 0, 0);
  return head;
}

async function startServer(opts: ConstructorParameters<typeof RpcServer>[0]) {
  const server = new RpcServer(opts);
  server.register(RpcTestService, rpcTestImpl());
  const port = await server.listen();
  cleanups.push(() => server.close());
  return { server, port };
}

test('100 connections claiming 16 MiB frames and stalling stay within the buffer budget and are closed', async () => {
  const budget = 8 * 1024 * 1024;
  const { server, port } = await startServer({ maxBufferedBytes: budget, frameTimeoutMs: 2000, maxConnectionsPerPeer: 1000 });
  const echo = methodIdOf('curvefs.rpctest.RpcTestService/Echo');
  const claimed = 16 * 1024 * 1024 - HEADER_BYTES - 64;
  const sent = 1024 * 1024; // of the claimed payload, then nothing more
  const conns = [];
  for (let i = 0; i < 100; i++) {
    const c = await rawConnection(port);
    const head = Buffer.alloc(HEADER_BYTES);
    writeHeader(head, 0, FrameKind.Request, StatusCode.OK, 1, echo, 0, claimed);
    c.socket.write(PREFACE);
    c.socket.write(head);
    c.socket.write(Buffer.alloc(sent, 0x5a));
    conns.push(c);
  }
  // 100 MiB were sent towards frames that never complete: every connection is closed (by the
  // budget or by the frame timeout), and the server never held more than its budget.
  await Promise.all(conns.map((c) => c.closed));
  const s = server.stats();
  assert.ok(s.bufferedBytesPeak !== undefined, 'the server counts the bytes it buffers for partial frames');
  assert.ok(s.bufferedBytesPeak <= budget, `held ${s.bufferedBytesPeak} bytes of partial frames, budget ${budget}`);
  assert.ok(s.bufferedBytesPeak > 0);
  assert.equal(s.bufferedBytes, 0);
  assert.equal(s.closedOverBudget + s.closedFrameTimeout, 100, JSON.stringify(s));
  assert.ok(s.closedOverBudget > 0, JSON.stringify(s));
  const statuses = new Set(conns.map((c) => StatusCode[c.error()?.status ?? 0]));
  assert.deepEqual([...statuses].sort(), s.closedFrameTimeout > 0 ? ['OVERLOAD', 'TIMEOUT'] : ['OVERLOAD']);
  await waitFor(() => server.stats().connections === 0, 'the server to forget the closed connections');
});

test('a connection that never sends its preface, or stops inside a frame, is closed after the frame timeout', async () => {
  const { server, port } = await startServer({ frameTimeoutMs: 300 });
  const silent = await rawConnection(port); // not even a preface
  const halfPreface = await rawConnection(port);
  halfPreface.socket.write(PREFACE.subarray(0, 3));
  const halfHeader = await rawConnection(port);
  halfHeader.socket.write(PREFACE);
  halfHeader.socket.write(echoHeader().subarray(0, 3));
  await Promise.all([silent.closed, halfPreface.closed, halfHeader.closed]);
  for (const c of [silent, halfPreface, halfHeader]) {
    assert.equal(StatusCode[c.error()?.status ?? 0], 'TIMEOUT');
    assert.match(c.error()!.message, /no complete (frame|preface) within 300 ms/);
  }
  assert.equal(server.stats().closedFrameTimeout, 3);
});

test('an idle connection between complete frames is kept (the frame timeout is not an idle timeout)', async () => {
  const { server, port } = await startServer({ frameTimeoutMs: 200 });
  const pool = new ChannelPool();
  cleanups.push(() => pool.close());
  const client = pool.client(RpcTestService, `127.0.0.1:${port}`);
  assert.equal((await client.echo({ text: 'a' })).text, 'a');
  // A stalled connection opened after the idle one's last frame: once the timeout closed it, the
  // idle connection has been idle for longer than the timeout too.
  const stalled = await rawConnection(port);
  stalled.socket.write(PREFACE);
  stalled.socket.write(echoHeader().subarray(0, 3));
  await stalled.closed;
  assert.equal(server.stats().closedFrameTimeout, 1);
  assert.equal(server.stats().connections, 1);
  assert.equal((await client.echo({ text: 'b' })).text, 'b');
  assert.equal(server.stats().closedFrameTimeout, 1);
});

test('connections per peer address are capped; the extra ones get OVERLOAD and are counted', async () => {
  const { server, port } = await startServer({ maxConnectionsPerPeer: 3 });
  const keep = [];
  for (let i = 0; i < 3; i++) keep.push(await rawConnection(port));
  await waitFor(() => server.stats().connections === 3, 'three connections');
  const extra = [await rawConnection(port), await rawConnection(port)];
  await Promise.all(extra.map((c) => c.closed));
  for (const c of extra) {
    assert.equal(StatusCode[c.error()?.status ?? 0], 'OVERLOAD');
    assert.match(c.error()!.message, /3 connections from 127\.0\.0\.1/);
  }
  assert.equal(server.stats().refusedPerPeer, 2);
  assert.equal(server.stats().connections, 3);
  // Closing one frees a slot for the same address.
  keep[0]!.socket.destroy();
  await waitFor(() => server.stats().connections === 2, 'the closed connection to be forgotten');
  const again = await rawConnection(port);
  again.socket.write(PREFACE);
  await waitFor(() => server.stats().connections === 3, 'the new connection accepted');
  assert.equal(server.stats().refusedPerPeer, 2);
});
