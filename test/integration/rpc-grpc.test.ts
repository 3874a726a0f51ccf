// The gRPC endpoint built from the same service declarations: a grpc-js client gets the same
// answers, and failures carry the curvefs status and leader hint in trailing metadata.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { StatusCode } from '../../src/common/index.ts';
import { GRPC_LEADER_KEY, GRPC_STATUS_KEY, GrpcEndpoint, grpcMethodDefinition } from '../../src/rpc/index.ts';
import { RpcTestService, type EchoResponse, type FailRequest } from '../../src/gen/rpctest_pb.ts';
import { rpcTestImpl } from '../helpers/rpc-test-service.ts';

const endpoint = new GrpcEndpoint().register(RpcTestService, rpcTestImpl());
const port = await endpoint.listen();
const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
after(async () => {
  client.close();
  await endpoint.close();
});

function unary<Req, Res>(method: keyof typeof RpcTestService.method, req: Req): Promise<Res> {
  const def = grpcMethodDefinition(RpcTestService.method[method]);
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, (err, res) => (err ? reject(err) : resolve(res as Res))),
  );
}

test('a grpc-js client calls the same service', async () => {
  const res = await unary<object, EchoResponse>('echo', { text: 'via grpc', seq: 7 });
  assert.equal(res.text, 'via grpc');
  assert.equal(res.seq, 7);
  assert.match(res.peer, /127\.0\.0\.1/);
});

test('failures carry the curvefs status and leader hint', async () => {
  const err = await unary<Partial<FailRequest>, unknown>('fail', { status: StatusCode.NOT_LEADER, message: 'elsewhere', leaderHint: '127.0.0.1:6701' }).then(
    () => assert.fail('expected an error'),
    (e: grpc.ServiceError) => e,
  );
  assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(err.metadata.get(GRPC_STATUS_KEY)[0], String(StatusCode.NOT_LEADER));
  assert.equal(err.metadata.get(GRPC_LEADER_KEY)[0], '127.0.0.1:6701');
  assert.match(err.details, /NOT_LEADER: elsewhere/);
});
