// A whole curvefs cluster on loopback for end-to-end tests of the mount: one MDS process
// (src/mds/main.ts, embedded store) and N metaserver processes registered with it, plus file
// systems created through the MDS. Metaservers can be killed (SIGKILL) and restarted through
// `metaservers` (test/helpers/metaserver-cluster.ts).
//
//   const c = await CurvefsCluster.start({ dir });
//   await c.createFs('f1');
//   ... mountCurvefs({ mdsAddrs: c.mdsAddrs, fsName: 'f1', mountpoint }) ...
//   await c.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '../../src/common/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { RotatingMdsConnector } from '../../src/client/index.ts';
import { MdsService } from '../../src/gen/mds_pb.ts';
import { OnlineState, TopologyService } from '../../src/gen/topology_pb.ts';
import { MetaserverCluster } from './metaserver-cluster.ts';
import { insecureUnlessSecured, noBalanceUnlessAsked } from './security-args.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MDS_MAIN = join(ROOT, 'src', 'mds', 'main.ts');

export interface CurvefsClusterOptions {
  dir: string;
  metaservers?: number;
  /** Extra flags for the MDS. */
  mdsArgs?: string[];
  /** Extra flags for metaserver i. */
  metaserverArgs?: (index: number) => string[];
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return pollUntil(what, timeoutMs, probe);
}

export class CurvefsCluster {
  readonly pool = new ChannelPool({ connectTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 200 } });
  readonly mds: RotatingMdsConnector;
  /** The MDS's last 200 stderr lines, kept up to date. */
  mdsLog: readonly string[] = [];

  private constructor(
    readonly dir: string,
    private readonly mdsProc: ChildProcess,
    readonly mdsAddrs: string[],
    readonly metaservers: MetaserverCluster,
    /** The MDS's status page ("host:port"), when started with --dashboard-port. */
    readonly mdsDashboard: string | undefined,
  ) {
    this.mds = new RotatingMdsConnector(this.pool, mdsAddrs, { callTimeoutMs: 20_000, attemptTimeoutMs: 2000 });
  }

  static async start(opts: CurvefsClusterOptions): Promise<CurvefsCluster> {
    const n = opts.metaservers ?? 3;
    const mdsLog: string[] = [];
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', MDS_MAIN, '--listen', '127.0.0.1:0', '--data-dir', join(opts.dir, 'mds'), ...(opts.mdsArgs ?? []), ...insecureUnlessSecured(opts.mdsArgs ?? []), ...noBalanceUnlessAsked(opts.mdsArgs ?? [])],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    createInterface({ input: proc.stderr! }).on('line', (l) => {
      mdsLog.push(l);
      if (mdsLog.length > 200) mdsLog.shift();
    });
    const [addr, dashboard] = await new Promise<[string, string | undefined]>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        const m = /MDS listening on (\S+)(?: dashboard (\S+))?/.exec(l);
        if (m) resolve([m[1]!, m[2]]);
      });
      proc.once('exit', (code) => reject(new Error(`MDS exited with ${code} before it was ready:\n${mdsLog.join('\n')}`)));
    });
    let ms: MetaserverCluster;
    try {
      ms = await MetaserverCluster.start({ n, dir: opts.dir, mdsAddrs: [addr], args: opts.metaserverArgs });
    } catch (e) {
      proc.kill('SIGKILL');
      throw e;
    }
    const c = new CurvefsCluster(opts.dir, proc, [addr], ms, dashboard);
    c.mdsLog = mdsLog;
    try {
      await waitUntil(`${n} metaservers online`, 60_000, async () => {
        const res = await c.mds.client(TopologyService).listMetaServer({});
        return res.metaserverInfos.filter((m) => m.onlineState === OnlineState.ONLINE).length >= n ? true : undefined;
      });
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** Creates a file system whose blocks live in a local directory under the cluster's dir. */
  async createFs(fsName: string, opts: { capacity?: number; maxInodes?: number; trashHours?: number } = {}): Promise<number> {
    const res = await this.mds.client(MdsService).createFs({
      fsName,
      capacity: opts.capacity ?? 0,
      maxInodes: opts.maxInodes ?? 0,
      recycleTimeHour: opts.trashHours ?? 0,
      dataStore: { kind: { case: 'local', value: { dir: join(this.dir, `data-${fsName}`) } } },
    });
    return res.fsInfo!.fsId;
  }

  async stop(): Promise<void> {
    await this.metaservers.stop().catch(() => undefined);
    if (this.mdsProc.exitCode === null && this.mdsProc.signalCode === null) {
      const exited = new Promise((r) => this.mdsProc.once('exit', r));
      this.mdsProc.kill('SIGTERM');
      await exited;
    }
    this.pool.close();
  }
}
