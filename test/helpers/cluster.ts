// A whole cluster for end-to-end tests: `curvefs up`'s own code (an MDS and N metaserver child
// processes on loopback, the embedded store, authentication and mutual TLS on) in a temporary
// directory, plus
// SDK connections (acting as root with the admin token, or with the fs token) and CLI runs (with
// the admin token).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { up, type RunningCluster } from '../../src/cli/commands/up.ts';
import { CURVEFS_BIN } from '../../src/cli/supervisor.ts';
import { ChannelPool, loadTlsConfig, readTokenFile, type TlsConfig } from '../../src/rpc/index.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';

export interface TestCluster {
  dir: string;
  running: RunningCluster;
  mdsAddrs: string[];
  fsName: string;
  /** The fs token `curvefs up` wrote: what an SDK client of the fs presents. */
  fsToken: string;
  /** The admin token `curvefs up` wrote: what trusted code acting as root presents. */
  adminToken: string;
  /** A client certificate of the cluster's CA (mutual TLS), when `curvefs up` made them. */
  tls: TlsConfig | undefined;
  /**
   * An SDK connection. `as: 'root'` (default) presents the admin token, so its path API acts as
   * root; `as: 'fs-client'` presents the fs token, so uid 0 is squashed to nobody
   * (docs/security.md, "Root squash").
   */
  connect(opts?: { entryTtlMs?: number; attrTtlMs?: number; as?: 'root' | 'fs-client' }): Promise<Connection>;
  /** Runs the `curvefs` CLI against this cluster. */
  cli(args: string[], input?: string): { status: number; stdout: string; stderr: string };
  /** SIGKILL one metaserver (1-based). */
  killMetaserver(n: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(opts: { metaservers?: number; fsName?: string } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-e2e-'));
  const fsName = opts.fsName ?? 'e2e';
  // No restarts: killMetaserver means the metaserver stays down.
  const running = await up({ dir, metaservers: opts.metaservers ?? 3, fsName, log: () => undefined, fresh: true, restart: false });
  const pools: ChannelPool[] = [];
  const conns: Connection[] = [];
  const mdsAddrs = running.file.mdsAddrs;
  const fsToken = readTokenFile(running.file.auth!.fsTokenFile);
  const adminToken = readTokenFile(running.file.auth!.adminTokenFile);
  const tlsDir = running.file.tls?.dir;
  const tls = tlsDir ? loadTlsConfig(tlsDir, 'mount') : undefined;
  return {
    dir,
    running,
    mdsAddrs,
    fsName,
    fsToken,
    adminToken,
    tls,
    async connect(o = {}) {
      // Tests act as root (they chown, read others' files): root is root only with the admin token.
      const pool = new ChannelPool({ credential: o.as === 'fs-client' ? fsToken : adminToken, tls });
      pools.push(pool);
      const mds = new MdsAdapter(new RotatingMdsConnector(pool, mdsAddrs));
      const c = await connectFs({ mds, fsName, pool, entryTtlMs: o.entryTtlMs ?? 0, attrTtlMs: o.attrTtlMs ?? 0 });
      conns.push(c);
      return c;
    },
    cli(args, input) {
      const r = spawnSync(process.execPath, [CURVEFS_BIN, '--mds', mdsAddrs.join(','), '--fs', fsName, '--token-file', running.file.auth!.adminTokenFile, ...args], {
        input,
        encoding: 'utf8',
        env: { ...process.env, CURVEFS_LOG: 'warn', ...(tlsDir ? { CURVEFS_TLS_DIR: tlsDir, CURVEFS_TLS_NAME: 'admin' } : {}) },
      });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    async killMetaserver(n) {
      const p = running.supervisor.processes().find((x) => x.name === `metaserver${n}`);
      if (!p) throw new Error(`no metaserver${n}`);
      p.child.kill('SIGKILL');
      await p.exited;
    },
    async stop() {
      for (const c of conns) await c.close().catch(() => undefined);
      for (const p of pools) p.close();
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
