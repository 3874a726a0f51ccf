// The RPC layer over real sockets: round trips, multiplexing, deadlines, cancellation, errors,
// protocol violations that close only the offending connection, and reconnect after a server
// restart (the server in its own process).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ChannelPool, RpcServer, methodIdOf } from '../../src/rpc/index.ts';
import { FLAG_ONE_WAY, FrameDecoder, FrameKind, PREFACE, decodeErrorTrailer, writeHeader, type FrameHeader } from '../../src/rpc/frame.ts';
import { create, toBinary } from '@bufbuild/protobuf';
import { EchoRequestSchema, FailRequestSchema, RpcTestService, UnservedService } from '../../src/gen/rpctest_pb.ts';
import { rpcTestImpl, type HangRecord } from '../helpers/rpc-test-service.ts';
import { waitFor } from '../helpers/wait.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startServer(opts: { maxFrameBytes?: number } = {}) {
  const hangs = new Map<string, HangRecord>();
  const server = new RpcServer(opts);
  server.register(RpcTestService, rpcTestImpl(hangs));
  const port = await server.listen();
  cleanups.push(() => server.close());
  return { server, hangs, address: `127.0.0.1:${port}`, port };
}

function newPool(opts: ConstructorParameters<typeof ChannelPool>[0] = {}) {
  const pool = new ChannelPool(opts);
  cleanups.push(() => pool.close());
  return pool;
}

async function rejectsWith(p: Promise<unknown>, status: StatusCode): Promise<CurveError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CurveError, `expected CurveError, got ${String(e)}`);
    assert.equal(StatusCode[e.status], StatusCode[status], e.message);
    return e;
  }
  assert.fail(`expected rejection with ${StatusCode[status]}`);
}

/** Starts test/helpers/rpc-test-server.ts in a child process. */
async function startServerProcess(port = 0): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/rpc-test-server.ts', String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const m = /LISTENING (\d+)/.exec(out);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error(`server process exited before listening: ${out}`);
}

/** Opens a raw TCP connection, sends `bytes`, and collects the frames the server sends until it closes. */
async function rawExchange(port: number, bytes: Buffer): Promise<{ frames: Array<FrameHeader & { payload: Buffer }>; error?: { status: StatusCode; message: string } }> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const frames: Array<FrameHeader & { payload: Buffer }> = [];
  let error: { status: StatusCode; message: string } | undefined;
  const decoder = new FrameDecoder({
    onFrame: (h, payload) => frames.push({ ...h, payload: Buffer.from(payload) }),
    onProtocolError: (status, message) => (error = { status, message }),
  });
  socket.on('data', (c: Buffer) => decoder.push(c));
  socket.on('error', () => {});
  socket.write(bytes);
  await once(socket, 'close');
  return error ? { frames, error } : { frames };
}

function header(kind: number, callId: number, methodId: number, payloadBytes: number, lengthOverride?: number): Buffer {
  const b = Buffer.alloc(20);
  writeHeader(b, 0, kind as FrameKind, 0, callId, methodId, 0, payloadBytes);
  if (lengthOverride !== undefined) b.writeUInt32LE(lengthOverride, 0);
  return b;
}

test('round trip to a server in another process, typed end to end', async () => {
  const { port } = await startServerProcess();
  const client = newPool().client(RpcTestService, `127.0.0.1:${port}`);
  const res = await client.echo({ text: 'héllo', data: new Uint8Array([1, 2, 3]), seq: 2 ** 40 });
  assert.equal(res.text, 'héllo');
  assert.deepEqual([...res.data], [1, 2, 3]);
  assert.equal(res.seq, 2 ** 40);
  assert.match(res.peer, /^127\.0\.0\.1:\d+$/);
});

test('many concurrent calls share one connection and each gets its own answer', async () => {
  const { server, address } = await startServer();
  const client = newPool().client(RpcTestService, address);
  const n = 5000;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => client.echo({ seq: i, text: `t${i}` })));
  results.forEach((r, i) => {
    assert.equal(r.seq, i);
    assert.equal(r.text, `t${i}`);
  });
  assert.equal(server.connectionCount, 1);
});

test('large payloads (several MiB) round trip intact', async () => {
  const { address } = await startServer();
  const client = newPool().client(RpcTestService, address);
  const data = new Uint8Array(5 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const [a, b] = await Promise.all([client.echo({ data }), client.echo({ text: 'small' })]);
  assert.deepEqual(Buffer.from(a.data), Buffer.from(data));
  assert.equal(b.text, 'small');
});

test('deadline: the client gets TIMEOUT and the handler sees its deadline pass', async () => {
  const { hangs, address } = await startServer();
  const client = newPool().client(RpcTestService, address);
  await rejectsWith(client.hang({ tag: 'deadline' }, { timeoutMs: 50 }), StatusCode.TIMEOUT);
  await waitFor(() => hangs.get('deadline')?.reason !== undefined, 'server-side abort');
  const rec = hangs.get('deadline')!;
  assert.ok(Number.isFinite(rec.deadline));
  assert.ok(rec.reason instanceof CurveError);
  // Either the server's own deadline timer or the client's cancel frame stopped it first.
  assert.ok([StatusCode.TIMEOUT, StatusCode.CANCELLED].includes((rec.reason as CurveError).status));
  // The connection is still good.
  assert.equal((await client.echo({ text: 'after' })).text, 'after');
});

test('cancellation: aborting the signal rejects with CANCELLED and aborts the handler', async () => {
  const { hangs, address } = await startServer();
  const client = newPool().client(RpcTestService, address);
  const ac = new AbortController();
  const p = client.hang({ tag: 'cancel' }, { signal: ac.signal, timeoutMs: 0 });
  await waitFor(() => hangs.has('cancel'), 'handler to start');
  assert.equal(hangs.get('cancel')!.deadline, Infinity);
  ac.abort();
  await rejectsWith(p, StatusCode.CANCELLED);
  await waitFor(() => hangs.get('cancel')?.reason !== undefined, 'server-side abort');
  assert.equal((hangs.get('cancel')!.reason as CurveError).status, StatusCode.CANCELLED);
  // An exhausted budget fails at once.
  await rejectsWith(client.echo({}, { timeoutMs: -1 }), StatusCode.TIMEOUT);
  // An already-aborted signal never sends.
  await rejectsWith(client.echo({}, { signal: AbortSignal.abort() }), StatusCode.CANCELLED);
});

test('unknown method gets UNKNOWN_METHOD', async () => {
  const { address } = await startServer();
  const pool = newPool();
  await rejectsWith(pool.client(UnservedService, address).nothing({}), StatusCode.UNKNOWN_METHOD);
  await rejectsWith(pool.callRaw(address, 12345, new Uint8Array()), StatusCode.UNKNOWN_METHOD);
  assert.equal((await pool.client(RpcTestService, address).echo({ text: 'ok' })).text, 'ok');
});

test('handler errors: CurveError keeps its status, message and leader hint; other throws are UNKNOWN_ERROR', async () => {
  const { address } = await startServer();
  const client = newPool().client(RpcTestService, address);
  const nf = await rejectsWith(client.fail({ status: StatusCode.NOT_FOUND, message: 'no such inode' }), StatusCode.NOT_FOUND);
  assert.equal(nf.message, 'NOT_FOUND: no such inode');
  assert.equal(nf.leaderHint, undefined);
  const nl = await rejectsWith(client.fail({ status: StatusCode.NOT_LEADER, leaderHint: '127.0.0.1:6701' }), StatusCode.NOT_LEADER);
  assert.equal(nl.leaderHint, '127.0.0.1:6701');
  const rd = await rejectsWith(client.fail({ status: StatusCode.REDIRECTED, message: 'ask', leaderHint: '10.0.0.2:6701:0' }), StatusCode.REDIRECTED);
  assert.equal(rd.leaderHint, '10.0.0.2:6701:0');
  const plain = await rejectsWith(client.fail({ status: 0, message: 'boom' }), StatusCode.UNKNOWN_ERROR);
  assert.match(plain.message, /boom/);
});

test('a request payload that does not decode gets PARSE_FROM_STRING_FAILED', async () => {
  const { address } = await startServer();
  const pool = newPool();
  await rejectsWith(pool.callRaw(address, 'curvefs.rpctest.RpcTestService/Echo', new Uint8Array([0xff, 0xff, 0xff])), StatusCode.PARSE_FROM_STRING_FAILED);
  assert.equal((await pool.client(RpcTestService, address).echo({ text: 'ok' })).text, 'ok');
});

test('an oversized frame gets FRAME_TOO_LARGE and closes only that connection', async () => {
  const { server, address, port } = await startServer({ maxFrameBytes: 1024 * 1024 });
  const bystander = newPool().client(RpcTestService, address);
  assert.equal((await bystander.echo({ text: 'before' })).text, 'before');

  // A raw peer claims a 32 MiB frame: rejected from its header, before any payload arrives.
  const raw = await rawExchange(port, Buffer.concat([PREFACE, header(FrameKind.Request, 7, 1, 32 * 1024 * 1024)]));
  assert.equal(raw.error, undefined);
  const errFrame = raw.frames.find((f) => f.kind === FrameKind.Error)!;
  assert.equal(StatusCode[errFrame.status], 'FRAME_TOO_LARGE');
  assert.equal(errFrame.callId, 7);
  assert.match(decodeErrorTrailer(errFrame.payload)!.message, /exceeds the limit/);

  // A real client whose own limit is larger: that call fails with FRAME_TOO_LARGE, its
  // connection is closed, and the pool reconnects for the next call.
  const big = newPool().client(RpcTestService, address);
  assert.equal((await big.echo({ text: 'warm' })).text, 'warm');
  await rejectsWith(big.echo({ data: new Uint8Array(2 * 1024 * 1024) }), StatusCode.FRAME_TOO_LARGE);
  await waitFor(async () => {
    try {
      return (await big.echo({ text: 'again' })).text === 'again';
    } catch {
      return false;
    }
  }, 'reconnect after FRAME_TOO_LARGE');

  // A client never sends a frame over its own limit: refused locally.
  const small = newPool({ maxFrameBytes: 1000 }).client(RpcTestService, address);
  await rejectsWith(small.echo({ data: new Uint8Array(2000) }), StatusCode.FRAME_TOO_LARGE);

  assert.equal((await bystander.echo({ text: 'after' })).text, 'after');
  await waitFor(() => server.connectionCount === 2, 'only good connections left');
});

test('garbage bytes get MALFORMED_FRAME and close only that connection', async () => {
  const { address, port } = await startServer();
  const bystander = newPool().client(RpcTestService, address);
  assert.equal((await bystander.echo({ text: 'before' })).text, 'before');

  const cases: Array<[string, Buffer, RegExp]> = [
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /preface/],
    ['a wrong protocol version', Buffer.from([0x43, 0x52, 0x50, 0x43, 0x09, 0, 0, 0]), /version 9/],
    ['an unknown frame kind', Buffer.concat([PREFACE, header(0x7f, 1, 1, 0)]), /kind/],
    ['a length shorter than a header', Buffer.concat([PREFACE, header(FrameKind.Request, 1, 1, 0, 3)]), /shorter/],
    ['call id 0', Buffer.concat([PREFACE, header(FrameKind.Request, 0, 1, 0)]), /call id 0/],
    ['a response frame from a client', Buffer.concat([PREFACE, header(FrameKind.Response, 1, 0, 0)]), /not valid from a client/],
  ];
  for (const [what, bytes, re] of cases) {
    const raw = await rawExchange(port, bytes);
    const errFrame = raw.frames.find((f) => f.kind === FrameKind.Error);
    assert.ok(errFrame, `${what}: no error frame`);
    assert.equal(StatusCode[errFrame.status], 'MALFORMED_FRAME', what);
    assert.match(decodeErrorTrailer(errFrame.payload)!.message, re, what);
  }
  assert.equal((await bystander.echo({ text: 'after' })).text, 'after');
});

test("a response over the server's frame limit fails only that call with FRAME_TOO_LARGE", async () => {
  const limit = 1024 * 1024;
  const { address } = await startServer({ maxFrameBytes: limit });
  const client = newPool().client(RpcTestService, address);
  // The request just fits; the echo adds the peer address and so does not.
  const other = client.echo({ text: 'neighbour' });
  const e = await rejectsWith(client.echo({ data: new Uint8Array(limit - 26) }), StatusCode.FRAME_TOO_LARGE);
  assert.match(e.message, /response of \d+ bytes/);
  assert.equal((await other).text, 'neighbour');
  assert.equal((await client.echo({ text: 'after' })).text, 'after');
});

test('a peer that stops answering (no FIN, no RST) is detected by ping and dropped', async () => {
  // Speaks the preface, then reads and ignores everything: a stand-in for a vanished host.
  const sockets: Socket[] = [];
  const blackhole = createServer((s) => {
    sockets.push(s);
    s.write(PREFACE);
    s.on('data', () => {});
  });
  blackhole.listen(0, '127.0.0.1');
  await once(blackhole, 'listening');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    blackhole.close();
  });
  const port = (blackhole.address() as { port: number }).port;
  const client = newPool({ pingTimeoutMs: 100 }).client(RpcTestService, `127.0.0.1:${port}`);
  const waiting = client.hang({ tag: 'forever' }, { timeoutMs: 0 });
  let settled = false;
  const outcome = rejectsWith(waiting, StatusCode.UNAVAILABLE).finally(() => (settled = true));
  // A timeout pings once the connection has been silent for the whole call (the first call may
  // overlap the connection's preface); the unanswered ping then drops the connection.
  for (let i = 0; i < 100 && !settled; i++) {
    const err = await client.echo({}, { timeoutMs: 30 }).then(() => assert.fail('a blackhole answered'), (x: CurveError) => x);
    assert.ok([StatusCode.TIMEOUT, StatusCode.UNAVAILABLE].includes(err.status), err.message);
  }
  assert.ok(settled, 'the silent connection was never dropped');
  const e = await outcome;
  assert.match(e.message, /no answer to ping/);
});

test('the client reconnects after the server process restarts; calls in flight fail with UNAVAILABLE', async () => {
  const first = await startServerProcess();
  const address = `127.0.0.1:${first.port}`;
  const pool = newPool({ backoff: { initialMs: 10, maxMs: 100 } });
  const client = pool.client(RpcTestService, address);
  assert.equal((await client.echo({ text: 'one' })).text, 'one');

  const inflight = client.hang({ tag: 'x' }, { timeoutMs: 0 });
  first.child.kill('SIGKILL');
  await rejectsWith(inflight, StatusCode.UNAVAILABLE);
  await rejectsWith(client.echo({ text: 'down' }), StatusCode.UNAVAILABLE);

  await startServerProcess(first.port);
  await waitFor(async () => {
    try {
      return (await client.echo({ text: 'two' })).text === 'two';
    } catch (e) {
      assert.equal((e as CurveError).status, StatusCode.UNAVAILABLE);
      return false;
    }
  }, 'reconnect');
});

test('closing the server fails in-flight calls with UNAVAILABLE', async () => {
  const { server, hangs, address } = await startServer();
  const client = newPool().client(RpcTestService, address);
  const p = client.hang({ tag: 'shutdown' }, { timeoutMs: 0 });
  await waitFor(() => hangs.has('shutdown'), 'handler to start');
  const rejected = rejectsWith(p, StatusCode.UNAVAILABLE);
  await server.close();
  const e = await rejected;
  assert.match(e.message, /shutting down|lost/);
  assert.equal((hangs.get('shutdown')!.reason as CurveError).status, StatusCode.SHUTTING_DOWN);
});

test('a refused connection fails fast with UNAVAILABLE, then backs off', async () => {
  const { server, port } = await startServer();
  await server.close();
  const pool = newPool({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
  const client = pool.client(RpcTestService, `127.0.0.1:${port}`);
  const first = await rejectsWith(client.echo({}), StatusCode.UNAVAILABLE);
  assert.match(first.message, /ECONNREFUSED|lost/);
  const second = await rejectsWith(client.echo({}), StatusCode.UNAVAILABLE);
  assert.match(second.message, /next attempt in/);
});

test('method ids are stable hashes of the full method name', () => {
  assert.equal(methodIdOf('curvefs.rpctest.RpcTestService/Echo'), methodIdOf('curvefs.rpctest.RpcTestService/Echo'));
  assert.notEqual(methodIdOf('curvefs.rpctest.RpcTestService/Echo'), methodIdOf('curvefs.rpctest.RpcTestService/Hang'));
  const s = new RpcServer();
  s.register(RpcTestService, rpcTestImpl());
  assert.throws(() => s.register(RpcTestService, rpcTestImpl()), /collision/);
});

test('a one-way request runs its handler and is never answered, even when it fails; the connection stays up', async () => {
  const seen: string[] = [];
  const server = new RpcServer();
  server.register(RpcTestService, {
    ...rpcTestImpl(),
    echo: (req, ctx) => {
      seen.push(req.text);
      return { text: req.text, data: req.data, seq: req.seq, peer: ctx.peer };
    },
  });
  const port = await server.listen();
  cleanups.push(() => server.close());

  // Through the pool: handed over, run, and the channel's ordinary calls still work.
  const pool = newPool();
  const address = `127.0.0.1:${port}`;
  assert.equal(pool.notify(address, RpcTestService.method.echo, { text: 'one-way' }), true);
  await waitFor(() => seen.includes('one-way'), 'the one-way echo ran');
  assert.equal(pool.notify(address, RpcTestService.method.fail, { status: StatusCode.NOT_FOUND }), true);
  assert.equal((await pool.client(RpcTestService, address).echo({ text: 'after' })).text, 'after');

  // On the wire: one-way echo, one-way fail, unknown method one-way, then a Ping. The only frame
  // back is the Pong (frames are answered in order, so nothing else is coming).
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  cleanups.push(() => socket.destroy());
  const frames: FrameHeader[] = [];
  const decoder = new FrameDecoder({ onFrame: (h) => frames.push({ ...h }), onProtocolError: (s, m) => assert.fail(`${s}: ${m}`) });
  socket.on('data', (c: Buffer) => decoder.push(c));
  const oneWay = (method: string | number, payload: Uint8Array) => {
    const b = Buffer.alloc(20 + payload.length);
    writeHeader(b, 0, FrameKind.Request, 0, 0, typeof method === 'number' ? method : methodIdOf(method), 0, payload.length, FLAG_ONE_WAY);
    b.set(payload, 20);
    return b;
  };
  const echoReq = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: 'raw' }));
  const failReq = toBinary(FailRequestSchema, create(FailRequestSchema, { status: 0, message: 'boom' }));
  socket.write(
    Buffer.concat([
      PREFACE,
      oneWay('curvefs.rpctest.RpcTestService/Echo', echoReq),
      oneWay('curvefs.rpctest.RpcTestService/Fail', failReq),
      oneWay(12345, new Uint8Array()),
      header(FrameKind.Ping, 9, 0, 0),
    ]),
  );
  await waitFor(() => frames.length > 0, 'the pong');
  assert.deepEqual(
    frames.map((f) => [f.kind, f.callId]),
    [[FrameKind.Pong, 9]],
  );
  assert.ok(seen.includes('raw'));
});

test('one-way requests flow again after the connection dropped while it was congested', async () => {
  // A peer that accepts and never reads: one-way sends pile up until the channel is congested.
  const sockets: Socket[] = [];
  const sink = createServer((s) => {
    s.pause();
    sockets.push(s);
  });
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const port = (sink.address() as { port: number }).port;
  const pool = newPool({ backoff: { initialMs: 10, maxMs: 50 } });
  const address = `127.0.0.1:${port}`;
  const big = new Uint8Array(1024 * 1024);
  await waitFor(() => !pool.notify(address, RpcTestService.method.echo, { text: 'pile', data: big }), 'the channel congested');

  // The peer goes away (the connection drops while congested) and comes back as a real server.
  for (const s of sockets) s.destroy();
  sink.close();
  await once(sink, 'close');
  const seen: string[] = [];
  const server = new RpcServer({ port });
  server.register(RpcTestService, {
    ...rpcTestImpl(),
    echo: (req, ctx) => {
      seen.push(req.text);
      return { text: req.text, data: new Uint8Array(), seq: req.seq, peer: ctx.peer };
    },
  });
  await server.listen();
  cleanups.push(() => server.close());
  await waitFor(() => {
    pool.notify(address, RpcTestService.method.echo, { text: 'back' });
    return seen.includes('back');
  }, 'a one-way echo reaching the peer that came back');
});
