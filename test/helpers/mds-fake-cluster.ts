// Three MDS processes on a one-member etcd with fake metaservers (test/helpers/fake-metaserver.ts)
// registered with them: the MDS's high-availability and scheduling tests without real Raft.
//
//   const c = await MdsFakeCluster.start({ name: 'mds-cluster', args: [...], metaservers: 4 });
//   ... c.client, c.mds[c.leaderIndex()], c.fakes, c.world ...
//   await c.stop();
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsClient } from '../../src/mds/index.ts';
import { EtcdCluster } from './etcd.ts';
import { FakeWorld, startFakeMetaservers, type FakeMetaserver } from './fake-metaserver.ts';
import { MdsProcess, servingIndex } from './mds-process.ts';

export class MdsFakeCluster {
  readonly world = new FakeWorld();
  readonly fakes: FakeMetaserver[] = [];
  readonly mds: MdsProcess[] = [];
  /** Each MDS's leadership journal (test/helpers/leader-checker.ts). */
  readonly journals: string[] = [];
  client!: MdsClient;
  private etcd: EtcdCluster | undefined;

  private constructor(readonly dir: string) {}

  /** Starts etcd, the MDSes (lease TTL 2 s, flags `args`) and `metaservers` fakes, all registered. */
  static async start(opts: { name: string; args: string[]; metaservers: number }): Promise<MdsFakeCluster> {
    const c = new MdsFakeCluster(mkdtempSync(join(tmpdir(), `curvefs-${opts.name}-`)));
    try {
      c.etcd = await EtcdCluster.start({ members: 1, baseDir: c.dir });
      for (let i = 0; i < 3; i++) c.journals.push(join(c.dir, `mds-${i}.jsonl`));
      c.mds.push(...(await Promise.all(c.journals.map((journal) => MdsProcess.spawn({ etcd: c.etcd!.endpoints(), journal, ttlSec: 2, args: opts.args })))));
      const addresses = c.mds.map((m) => m.address);
      c.client = new MdsClient({ addresses, deadlineMs: 30_000 });
      c.fakes.push(...(await startFakeMetaservers(c.world, opts.metaservers, { mds: addresses, heartbeatMs: 100 }, c.client)));
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** Index in `mds` of the MDS that serves (polled until one does). */
  leaderIndex(): Promise<number> {
    return servingIndex(this.mds);
  }

  async stop(): Promise<void> {
    for (const f of this.fakes) await f.close();
    this.client?.close();
    await Promise.all(this.mds.map((m) => m.kill9()));
    await this.etcd?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
