// The Auth frame of the RPC layer (docs/formats.md): at most one, before any request, at most
// 4096 bytes, else MALFORMED_FRAME; a server without RpcAuth serves callers with or without a
// credential; a server with one passes each call's principal to its handler.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { ChannelPool, RpcServer, methodIdOf, type RpcAuth } from '../../src/rpc/index.ts';
import { FrameDecoder, FrameKind, HEADER_BYTES, PREFACE, decodeErrorTrailer, writeHeader } from '../../src/rpc/frame.ts';
import { RpcTestService } from '../../src/gen/rpctest_pb.ts';
import { rpcTestImpl } from '../helpers/rpc-test-service.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const auth: RpcAuth = {
  authenticate: (c) => (c === 'good' ? { role: 'admin' } : { error: 'unknown' }),
  authorize(method, principal, failure) {
    if (!principal) throw new CurveError(StatusCode.UNAUTHENTICATED, failure ?? 'none');
  },
};

async function start(withAuth: boolean): Promise<number> {
  const server = new RpcServer({ auth: withAuth ? auth : undefined });
  const impl = rpcTestImpl();
  // The handler sees who called.
  server.register(RpcTestService, { ...impl, echo: (req, ctx) => ({ text: `${req.text}:${ctx.principal?.role ?? 'nobody'}` }) });
  const port = await server.listen();
  cleanups.push(() => server.close());
  return port;
}

function frame(kind: FrameKind, callId: number, methodId: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + payload.length);
  writeHeader(b, 0, kind, StatusCode.OK, callId, methodId, 0, payload.length);
  payload.copy(b, HEADER_BYTES);
  return b;
}

/** Sends `bytes` after the preface; resolves with the Error frame's status and message. */
async function errorFor(port: number, bytes: Buffer[]): Promise<{ status: string; message: string }> {
  const socket = connect({ host: '127.0.0.1', port });
  cleanups.push(() => socket.destroy());
  let error: { status: string; message: string } | undefined;
  const decoder = new FrameDecoder({
    onFrame: (h, payload) => {
      if (h.kind === FrameKind.Error) error = { status: StatusCode[h.status]!, message: decodeErrorTrailer(payload)?.message ?? '' };
    },
    onProtocolError: () => {},
  });
  socket.on('data', (c: Buffer) => decoder.push(c));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(Buffer.concat([PREFACE, ...bytes]));
  await once(socket, 'close');
  assert.ok(error, 'an Error frame before the close');
  return error;
}

test('a second Auth frame, an Auth frame after a request, or an oversized credential is MALFORMED_FRAME', async () => {
  const port = await start(true);
  const a = frame(FrameKind.Auth, 0, 0, Buffer.from('good'));
  const echo = frame(FrameKind.Request, 1, methodIdOf('curvefs.rpctest.RpcTestService/Echo'), Buffer.alloc(0));
  assert.deepEqual(await errorFor(port, [a, a]), { status: 'MALFORMED_FRAME', message: 'an Auth frame may come only once, before any request' });
  assert.deepEqual(await errorFor(port, [echo, a]), { status: 'MALFORMED_FRAME', message: 'an Auth frame may come only once, before any request' });
  const big = await errorFor(port, [frame(FrameKind.Auth, 0, 0, Buffer.alloc(4097, 0x61))]);
  assert.equal(big.status, 'MALFORMED_FRAME');
  assert.match(big.message, /credential of 4097 bytes exceeds 4096/);
});

test('handlers see the principal; a refused credential gets UNAUTHENTICATED with the reason', async () => {
  const port = await start(true);
  const good = new ChannelPool({ credential: 'good' });
  const bad = new ChannelPool({ credential: 'bad' });
  cleanups.push(() => good.close(), () => bad.close());
  assert.equal((await good.client(RpcTestService, `127.0.0.1:${port}`).echo({ text: 'hi' })).text, 'hi:admin');
  await assert.rejects(bad.client(RpcTestService, `127.0.0.1:${port}`).echo({ text: 'hi' }), (e: CurveError) => e.status === StatusCode.UNAUTHENTICATED && /unknown/.test(e.message));
});

test('a server without RpcAuth serves callers with and without a credential', async () => {
  const port = await start(false);
  for (const credential of ['anything', '']) {
    const pool = new ChannelPool({ credential });
    cleanups.push(() => pool.close());
    assert.equal((await pool.client(RpcTestService, `127.0.0.1:${port}`).echo({ text: 'x' })).text, 'x:nobody');
  }
});
