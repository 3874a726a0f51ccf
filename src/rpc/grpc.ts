// A gRPC endpoint for outside tools (grpcurl, other languages), built from the same protobuf-es
// service declarations and implementations as RpcServer. Internal traffic uses the framed
// protocol (grpc-js costs ~10× more CPU per call); this exists for reach, not speed.
// @grpc/grpc-js is loaded on first use, so processes that never open a gRPC port don't need it.
import type * as grpc from '@grpc/grpc-js';
import type { TlsConfig } from './tls.ts';
import { create, fromBinary, toBinary, type DescMethod } from '@bufbuild/protobuf';
import { CurveError, StatusCode, statusName, systemClock } from '../common/index.ts';
import type { CallContext, GenService, GenServiceMethods, ServiceImpl } from './types.ts';

/** Trailing-metadata keys that carry the curvefs status and leader hint of a failed call. */
export const GRPC_STATUS_KEY = 'curve-status';
export const GRPC_LEADER_KEY = 'curve-leader-hint';

/** grpc-js method definitions (path + protobuf-es serializers) for every unary method of `service`. */
export function grpcServiceDefinition(service: GenService<GenServiceMethods>): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    if (method.methodKind !== 'unary') continue;
    def[method.localName] = grpcMethodDefinition(method);
  }
  return def as grpc.ServiceDefinition;
}

export function grpcMethodDefinition(method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  const input = method.input;
  const output = method.output;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: unknown) => Buffer.from(toBinary(input, create(input, m as never))),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: unknown) => Buffer.from(toBinary(output, create(output, m as never))),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
    originalName: method.localName,
  };
}

const TO_GRPC_CODE: Partial<Record<StatusCode, number>> = {
  [StatusCode.NOT_FOUND]: 5,
  [StatusCode.TIMEOUT]: 4,
  [StatusCode.CANCELLED]: 1,
  [StatusCode.UNKNOWN_METHOD]: 12,
  [StatusCode.UNAVAILABLE]: 14,
  [StatusCode.SHUTTING_DOWN]: 14,
  [StatusCode.PARAM_ERROR]: 3,
  [StatusCode.PERMISSION_DENIED]: 7,
  [StatusCode.NOT_LEADER]: 9,
  [StatusCode.REDIRECTED]: 9,
  [StatusCode.OVERLOAD]: 8,
};

export interface GrpcEndpointOptions {
  host?: string;
  port?: number;
  /** Mutual TLS with the cluster CA (the same certificates as RpcServer's; tls.ts). */
  tls?: TlsConfig;
}

/** A gRPC server over the same services as RpcServer. Binds to 127.0.0.1 unless configured. */
export class GrpcEndpoint {
  private readonly host: string;
  private readonly port: number;
  private readonly services: Array<[GenService<GenServiceMethods>, Record<string, (req: unknown, ctx: CallContext) => unknown>]> = [];
  private server: grpc.Server | undefined;
  private readonly tls: TlsConfig | undefined;

  constructor(opts: GrpcEndpointOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.tls = opts.tls;
  }

  register<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): this {
    this.services.push([service as unknown as GenService<GenServiceMethods>, impl as never]);
    return this;
  }

  /** Loads grpc-js, binds, and resolves with the bound port. */
  async listen(): Promise<number> {
    const g = await import('@grpc/grpc-js');
    const server = new g.Server();
    for (const [service, impl] of this.services) {
      const handlers: grpc.UntypedServiceImplementation = {};
      for (const method of service.methods) {
        if (method.methodKind !== 'unary') continue;
        const fn = impl[method.localName]!;
        handlers[method.localName] = unaryHandler(g, fn.bind(impl));
      }
      server.addService(grpcServiceDefinition(service), handlers);
    }
    const t = this.tls;
    const creds = t ? g.ServerCredentials.createSsl(t.ca, [{ cert_chain: t.cert, private_key: t.key }], true) : g.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.host}:${this.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
}

function unaryHandler(g: typeof grpc, fn: (req: unknown, ctx: CallContext) => unknown): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    let controller: AbortController | undefined;
    const d = call.getDeadline();
    const deadlineMs = d instanceof Date ? d.getTime() : d;
    const ctx: CallContext = {
      // Created on first access, like RpcServer's: most handlers never look.
      get signal() {
        if (!controller) {
          const c = (controller = new AbortController());
          if (call.cancelled) c.abort(new CurveError(StatusCode.CANCELLED, 'cancelled by the client'));
          else call.once('cancelled', () => c.abort(new CurveError(StatusCode.CANCELLED, 'cancelled by the client')));
        }
        return controller.signal;
      },
      deadline: Number.isFinite(deadlineMs) ? systemClock.now() + (deadlineMs - Date.now()) : Infinity,
      peer: call.getPeer(),
    };
    const fail = (e: unknown) => {
      const status = e instanceof CurveError ? e.status : StatusCode.UNKNOWN_ERROR;
      const metadata = new g.Metadata();
      metadata.set(GRPC_STATUS_KEY, String(status));
      if (e instanceof CurveError && e.leaderHint) metadata.set(GRPC_LEADER_KEY, e.leaderHint);
      const details = e instanceof CurveError ? e.message : `${statusName(status)}: ${e instanceof Error ? e.message : String(e)}`;
      callback({ code: TO_GRPC_CODE[status] ?? 2, details, metadata });
    };
    try {
      Promise.resolve(fn(call.request, ctx)).then((res) => callback(null, res), fail);
    } catch (e) {
      fail(e);
    }
  };
}
