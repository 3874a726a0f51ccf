// Small fsynced writes through the SDK against a local 3-replica cluster (`curvefs up`'s code):
// files/s of create + 4 KiB write + fsync + close with one writer, the client's CPU µs per file,
// and how many MDS calls (AllocateS3Chunk) the writes made — with chunk ids leased ahead a
// write needs none; before, each file's commit asked the MDS once.
//   npx tsx bench/small-writes.ts [--files N]
import { startCluster } from '../test/helpers/cluster.ts';
import { MdsService } from '../src/gen/mds_pb.ts';
import { ChannelPool, type GenService, type GenServiceMethods, type RpcClient } from '../src/rpc/index.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type MdsConnector } from '../src/client/index.ts';

const i = process.argv.indexOf('--files');
const FILES = i > 0 ? Number(process.argv[i + 1]) : 500;

/** Counts the AllocateS3Chunk calls that reach the MDS. */
class CountingConnector implements MdsConnector {
  allocations = 0;
  constructor(private readonly inner: MdsConnector) {}
  client<S extends GenServiceMethods>(service: GenService<S>): RpcClient<S> {
    const c = this.inner.client(service);
    if ((service as unknown) !== MdsService) return c;
    return new Proxy(c, {
      get: (target, prop, recv) => {
        const v = Reflect.get(target, prop, recv) as unknown;
        if (prop !== 'allocateS3Chunk' || typeof v !== 'function') return v;
        return (...a: unknown[]) => {
          this.allocations++;
          return (v as (...x: unknown[]) => unknown)(...a);
        };
      },
    });
  }
}

const cluster = await startCluster({ fsName: 'bench' });
// As root (the admin token), as before root squash: the VFS checks no permissions for it.
const pool = new ChannelPool({ credential: cluster.adminToken, tls: cluster.tls });
const counter = new CountingConnector(new RotatingMdsConnector(pool, cluster.mdsAddrs));
const c = await connectFs({ mds: new MdsAdapter(counter), fsName: 'bench', pool, entryTtlMs: 0, attrTtlMs: 0 });
const data = new Uint8Array(4096).fill(7);
await c.fs.mkdir('/w');
const before = counter.allocations;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let k = 0; k < FILES; k++) {
  const fh = await c.fs.open(`/w/f${k}`, 'w');
  await fh.write(0, data);
  await fh.flush();
  await fh.close();
}
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  files: FILES,
  filesPerSec: Math.round(FILES / secs),
  clientCpuUsPerFile: Math.round((cpu.user + cpu.system) / FILES),
  mdsAllocationsPerFile: (counter.allocations - before) / FILES,
}));
await c.close();
pool.close();
await cluster.stop();
