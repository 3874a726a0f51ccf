// The RPC layer: protobuf-es services over a framed, multiplexed TCP protocol.
//   const server = new RpcServer({ port: 0 }); server.register(MdsService, impl); await server.listen();
//   const pool = new ChannelPool(); const mds = pool.client(MdsService, '127.0.0.1:6700');
//   const res = await mds.getFsInfo({ fsName: 'x' }, { timeoutMs: 1000 });
// Failures reject with CurveError (TIMEOUT, CANCELLED, UNAVAILABLE, or the server's status;
// NOT_LEADER / REDIRECTED carry `leaderHint`). Wire format: docs/formats.md "RPC frame".
export { RpcServer, type RpcServerOptions, type RpcServerStats } from './server.ts';
export { ChannelPool, type ChannelPoolOptions } from './pool.ts';
export { Channel, parseAddress } from './channel.ts';
export { Backoff, type BackoffOptions } from './backoff.ts';
export { AddressRotation, RotationDeadlineError, MDS_RETRY_STATUSES, type RotationCallOptions } from './address-rotation.ts';
export { methodIdOf, methodFullName, methodIdOfDesc } from './method-id.ts';
export { DEFAULT_MAX_FRAME_BYTES } from './frame.ts';
export { codecOf, type MessageCodec } from './codec.ts';
export { defaultCredential, defaultTls, readTokenFile, TOKEN_FILE_ENV, TLS_DIR_ENV, TLS_NAME_ENV } from './credential.ts';
export { loadTlsConfig, tlsOption, type TlsConfig } from './tls.ts';
export type {
  CallContext,
  CallOptions,
  Principal,
  RpcAuth,
  GenService,
  GenServiceMethods,
  RawHandler,
  RpcClient,
  RpcClientOf,
  ServiceImpl,
  ServiceImplOf,
  UnaryHandler,
} from './types.ts';
export {
  GrpcEndpoint,
  grpcServiceDefinition,
  grpcMethodDefinition,
  GRPC_STATUS_KEY,
  GRPC_LEADER_KEY,
  type GrpcEndpointOptions,
} from './grpc.ts';
