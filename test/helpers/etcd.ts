// Starts a real etcd cluster (Debian's `etcd` binary from PATH) for tests: 1 or 3 members on
// loopback ports chosen by the test, data directories in a temp dir. Members can be killed with
// SIGKILL and restarted on the same data dir. Health is awaited by polling each member's
// /health endpoint, never by sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  proc: ChildProcess | undefined;
  /** stderr of the current process, kept for diagnostics when a start fails. */
  log: string[];
}

export interface EtcdClusterOptions {
  members?: 1 | 3;
  /** Raft heartbeat and election timeout (ms). Small values let tests use 1–2 s leases. */
  heartbeatMs?: number;
  electionMs?: number;
  /** Parent for the temp dir (default: os.tmpdir()). */
  baseDir?: string;
}

export { freePort } from './free-port.ts';
import { freePort } from './free-port.ts';

/** Polls `pred` every `intervalMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  pred: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await pred();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function httpGet(port: number, path: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export class EtcdCluster {
  readonly dir: string;
  readonly members: EtcdMember[];
  private readonly opts: Required<Omit<EtcdClusterOptions, 'baseDir'>>;

  private constructor(dir: string, members: EtcdMember[], opts: Required<Omit<EtcdClusterOptions, 'baseDir'>>) {
    this.dir = dir;
    this.members = members;
    this.opts = opts;
  }

  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const opts = {
      members: options.members ?? 1,
      heartbeatMs: options.heartbeatMs ?? 50,
      electionMs: options.electionMs ?? 500,
    };
    const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'curvefs-etcd-'));
    const members: EtcdMember[] = [];
    for (let i = 0; i < opts.members; i++) {
      const dataDir = join(dir, `m${i}`);
      mkdirSync(dataDir, { recursive: true });
      members.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir, proc: undefined, log: [] });
    }
    const cluster = new EtcdCluster(dir, members, opts);
    for (let i = 0; i < members.length; i++) cluster.spawnMember(i);
    await cluster.waitHealthy();
    return cluster;
  }

  /** Client URLs of all members ("http://127.0.0.1:port"). */
  endpoints(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  }

  endpoint(i: number): string {
    return `http://127.0.0.1:${this.members[i]!.clientPort}`;
  }

  private spawnMember(i: number): void {
    const m = this.members[i]!;
    const initialCluster = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', 'curvefs-test',
      '--heartbeat-interval', String(this.opts.heartbeatMs),
      '--election-timeout', String(this.opts.electionMs),
      '--grpc-keepalive-min-time', '200ms',
      '--logger', 'zap',
      '--log-level', 'error',
    ];
    m.log = [];
    const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (c: string) => {
      m.log.push(c);
      if (m.log.length > 200) m.log.shift();
    });
    proc.on('error', (e) => m.log.push(String(e)));
    m.proc = proc;
  }

  async memberHealthy(i: number): Promise<boolean> {
    try {
      const body = await httpGet(this.members[i]!.clientPort, '/health');
      return JSON.parse(body).health === 'true';
    } catch {
      return false;
    }
  }

  /** Waits until every running member reports healthy (the cluster has a leader). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const running = this.members.map((m, i) => (m.proc ? i : -1)).filter((i) => i >= 0);
    try {
      await waitFor(async () => {
        for (const i of running) if (!(await this.memberHealthy(i))) return false;
        return true;
      }, 'etcd healthy', timeoutMs);
    } catch (e) {
      const logs = running.map((i) => `${this.members[i]!.name}: ${this.members[i]!.log.join('').slice(-2000)}`).join('\n');
      throw new Error(`${(e as Error).message}\n${logs}`);
    }
  }

  /** Index of the member that is the Raft leader, from each member's /v3 status. */
  async leaderIndex(): Promise<number> {
    return waitFor(async () => {
      for (let i = 0; i < this.members.length; i++) {
        if (!this.members[i]!.proc) continue;
        const st = await this.status(i).catch(() => undefined);
        if (st && st.leader && st.leader === st.header?.member_id) return i + 1;
      }
      return 0;
    }, 'etcd leader').then((x) => x - 1);
  }

  private status(i: number): Promise<{ leader?: string; header?: { member_id?: string } }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: this.members[i]!.clientPort, path: '/v3/maintenance/status', method: 'POST', timeout: 500 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            try {
              resolve(JSON.parse(body));
            } catch (e) {
              reject(e);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end('{}');
    });
  }

  /** SIGKILL one member and wait for it to exit. */
  async kill(i: number): Promise<void> {
    const m = this.members[i]!;
    const p = m.proc;
    if (!p) return;
    m.proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  /** Restart a killed member on its data dir; waits until it is healthy. */
  async restart(i: number, waitHealthy = true): Promise<void> {
    if (this.members[i]!.proc) return;
    this.spawnMember(i);
    if (waitHealthy) await waitFor(() => this.memberHealthy(i), `etcd member ${i} healthy`, 30_000);
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
