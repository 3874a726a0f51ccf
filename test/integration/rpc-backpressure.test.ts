// Backpressure: a server stops reading from a connection whose responses are not being read and
// picks up again when they are; a connection running too many calls at once gets OVERLOAD.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { create, toBinary } from '@bufbuild/protobuf';
import { StatusCode } from '../../src/common/index.ts';
import { ChannelPool, RpcServer, methodIdOf } from '../../src/rpc/index.ts';
import { FrameDecoder, FrameKind, HEADER_BYTES, PREFACE, writeHeader } from '../../src/rpc/frame.ts';
import { EchoRequestSchema, RpcTestService } from '../../src/gen/rpctest_pb.ts';
import { rpcTestImpl, type HangRecord } from '../helpers/rpc-test-service.ts';
import { waitFor } from '../helpers/wait.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('a client that does not read its responses gets its reads paused, then all answers', async () => {
  const server = new RpcServer();
  server.register(RpcTestService, rpcTestImpl());
  const port = await server.listen();
  cleanups.push(() => server.close());

  const n = 1000;
  const payload = toBinary(EchoRequestSchema, create(EchoRequestSchema, { data: new Uint8Array(32 * 1024) }));
  const frame = Buffer.alloc(HEADER_BYTES + payload.length);
  frame.set(payload, HEADER_BYTES);
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.pause(); // read nothing for now
  socket.write(PREFACE);
  const echo = methodIdOf('curvefs.rpctest.RpcTestService/Echo');
  for (let i = 1; i <= n; i++) {
    writeHeader(frame, 0, FrameKind.Request, 0, i, echo, 0, payload.length);
    socket.write(Buffer.from(frame));
  }
  // 32 MB of answers cannot fit in socket buffers: the server must stop reading before the end.
  await waitFor(() => server.stats().pausedConnections === 1, 'the server to pause the connection');
  assert.ok(server.stats().calls < n, `server read all ${n} requests without backpressure`);

  let ok = 0;
  const decoder = new FrameDecoder({
    onFrame: (h) => {
      if (h.kind === FrameKind.Response && h.status === StatusCode.OK) ok++;
    },
    onProtocolError: (_s, message) => assert.fail(message),
  });
  socket.on('data', (c: Buffer) => decoder.push(c));
  socket.resume();
  await waitFor(() => ok === n, 'every answer');
  assert.equal(server.stats().calls, n);
  socket.destroy();
});

test('a connection at its limit of running calls gets OVERLOAD, and cancels still free slots', async () => {
  const hangs = new Map<string, HangRecord>();
  const server = new RpcServer({ maxInflightPerConnection: 2 });
  server.register(RpcTestService, rpcTestImpl(hangs));
  const port = await server.listen();
  cleanups.push(() => server.close());
  const pool = new ChannelPool();
  cleanups.push(() => pool.close());
  const client = pool.client(RpcTestService, `127.0.0.1:${port}`);

  const a = new AbortController();
  const first = client.hang({ tag: 'a' }, { signal: a.signal, timeoutMs: 0 }).catch((e) => e);
  const second = client.hang({ tag: 'b' }, { timeoutMs: 0 }).catch((e) => e);
  await waitFor(() => hangs.size === 2, 'two running handlers');
  await assert.rejects(client.echo({ text: 'refused' }), (e: { status: StatusCode }) => e.status === StatusCode.OVERLOAD);
  a.abort();
  assert.equal(((await first) as { status: StatusCode }).status, StatusCode.CANCELLED);
  await waitFor(() => hangs.get('a')?.reason !== undefined, 'the server to see the cancel');
  assert.equal((await client.echo({ text: 'served' })).text, 'served');
  pool.close();
  assert.equal(((await second) as { status: StatusCode }).status, StatusCode.UNAVAILABLE);
});

test('a client whose server reads too slowly queues requests instead of growing its socket buffer', async () => {
  // A peer that accepts and never reads: the client's writes back up.
  const sockets: Socket[] = [];
  const stalled = createServer((s) => {
    sockets.push(s);
    s.pause();
    s.write(PREFACE);
  });
  stalled.listen(0, '127.0.0.1');
  await once(stalled, 'listening');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    stalled.close();
  });
  const address = `127.0.0.1:${(stalled.address() as { port: number }).port}`;
  const pool = new ChannelPool({ defaultTimeoutMs: 0 });
  cleanups.push(() => pool.close());
  const client = pool.client(RpcTestService, address);
  const ac = new AbortController();
  const data = new Uint8Array(256 * 1024);
  const calls: Array<Promise<unknown>> = [];
  const channel = pool.channel(address);
  // Keep calling until the channel reports requests held back for drain (bounded as a safety net).
  for (let i = 0; i < 400 && channel.queued === 0; i++) {
    calls.push(client.echo({ data }, { signal: ac.signal }).catch((e) => e));
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(channel.queued > 0, 'no request was held back');
  ac.abort();
  for (const r of await Promise.all(calls)) assert.equal((r as { status: StatusCode }).status, StatusCode.CANCELLED);
  assert.equal(channel.inflight, 0);
});
