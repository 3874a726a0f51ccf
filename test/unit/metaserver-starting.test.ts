// A metaserver binds its port before it registers its services (the port is part of its identity,
// and its id may come from the MDS). A client that reaches it in that window — a mount right
// after `up` restarted everything — must be told to retry, not that the method does not exist:
// the mount turned UNKNOWN_METHOD into ENOSYS for open(2) (seen in CI after a kill -9 recovery).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { MetaServerService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { MetaServer } from '../../src/metaserver/server.ts';
import { localGroupFactory } from '../../src/metaserver/copyset/manager.ts';

const pool = new ChannelPool();
const P: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 10, fsId: 1 };
let server: MetaServer | undefined;
after(async () => {
  await server?.stop();
  pool.close();
});

test('a call that reaches a metaserver still starting is answered UNAVAILABLE (retry), and served once it has started', async () => {
  let release!: (id: number) => void;
  const idGiven = new Promise<number>((r) => (release = r));
  let address!: (a: string) => void;
  const listening = new Promise<string>((r) => (address = r));
  server = new MetaServer({
    listen: '127.0.0.1:0',
    id: (a) => {
      address(a);
      return idGiven;
    },
    groups: () => localGroupFactory,
  });
  const starting = server.start();
  const meta = pool.client(MetaServerService, await listening);
  const during = await meta.getDentry({ p: P, parentInodeId: 1, name: 'x' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(during instanceof CurveError, `expected a CurveError, got ${String(during)}`);
  assert.equal(StatusCode[during.status], 'UNAVAILABLE', during.message);
  release(1);
  await starting;
  // Started: the service answers (the partition is unknown here, which is a final answer).
  await assert.rejects(meta.getDentry({ p: P, parentInodeId: 1, name: 'x' }), (e: unknown) => e instanceof CurveError && e.status !== StatusCode.UNAVAILABLE && e.status !== StatusCode.UNKNOWN_METHOD);
});
