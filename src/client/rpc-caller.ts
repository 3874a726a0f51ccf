// MetaCaller over the framed RPC: one typed client per metaserver address from the shared pool.
import { MetaServerService } from '../gen/metaserver_pb.ts';
import type { ChannelPool } from '../rpc/index.ts';
import type { MetaCaller, MetaMethod, MetaRequest, MetaResponse } from './meta-client.ts';

export class RpcMetaCaller implements MetaCaller {
  constructor(private readonly pool: ChannelPool) {}

  call<M extends MetaMethod>(
    address: string,
    method: M,
    req: MetaRequest<M>,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<MetaResponse<M>> {
    const client = this.pool.client(MetaServerService, address) as unknown as Record<
      string,
      (r: unknown, o: unknown) => Promise<MetaResponse<M>>
    >;
    return client[method as string]!(req, opts);
  }
}
