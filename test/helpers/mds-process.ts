// MDS processes for integration tests and benchmarks: `node --import tsx src/mds/main.ts` on
// fixed loopback ports (chosen free by the test, kept across restarts), each appending its
// leadership intervals to its own journal file. Status comes from the dashboard's /api/status.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import type { MdsStatus } from '../../src/dashboard/index.ts';
import { readTokenFile, TOKEN_FILE_ENV } from '../../src/rpc/index.ts';
import { freePort, waitFor } from './etcd.ts';
import { insecureUnlessSecured, noBalanceUnlessAsked } from './security-args.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

export interface MdsProcessOptions {
  /** etcd URLs this MDS talks to (maybe through proxies); empty = embedded store in dataDir. */
  etcd: string[];
  dataDir?: string;
  journal: string;
  ttlSec?: number;
  /** More flags for src/mds/main.ts. */
  args?: string[];
  /** The admin token file /api/status is read with when auth is on; default CURVEFS_TOKEN_FILE. */
  adminTokenFile?: string;
  /** Log level of the child (CURVEFS_LOG); default "warn". */
  logLevel?: string;
  /** Address to listen on (default 127.0.0.1), e.g. a host's address on a TestNet. */
  host?: string;
  /** Command prefix that runs the process elsewhere, e.g. `ip netns exec NS` (TestNet.exec). */
  wrap?: string[];
}

export class MdsProcess {
  proc: ChildProcess | undefined;
  readonly log: string[] = [];
  exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly dashboardPort: number,
    private readonly opts: MdsProcessOptions,
  ) {}

  static async spawn(opts: MdsProcessOptions): Promise<MdsProcess> {
    const p = new MdsProcess(await freePort(), await freePort(), opts);
    await p.start();
    return p;
  }

  get address(): string {
    return `${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Starts the process; resolves when it listens. */
  async start(): Promise<void> {
    if (this.proc) return;
    const args = [
      '--import',
      'tsx',
      join(REPO, 'src/mds/main.ts'),
      '--listen',
      this.address,
      '--dashboard-port',
      String(this.dashboardPort),
      '--journal',
      this.opts.journal,
      '--lease-ttl',
      String(this.opts.ttlSec ?? 2),
      ...(this.opts.etcd.length > 0 ? ['--etcd', this.opts.etcd.join(',')] : ['--data-dir', this.opts.dataDir!]),
      ...(this.opts.args ?? []),
      ...insecureUnlessSecured(this.opts.args ?? []),
      ...noBalanceUnlessAsked(this.opts.args ?? []),
    ];
    const wrap = this.opts.wrap ?? [];
    const proc = spawn(wrap[0] ?? process.execPath, wrap.length > 0 ? [...wrap.slice(1), process.execPath, ...args] : args, {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CURVEFS_LOG: this.opts.logLevel ?? 'warn' },
    });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    proc.once('exit', () => {
      if (this.proc === proc) this.proc = undefined;
    });
    const keep = (c: Buffer) => {
      this.log.push(c.toString());
      if (this.log.length > 400) this.log.shift();
    };
    proc.stderr!.on('data', keep);
    await new Promise<void>((resolveReady, reject) => {
      let out = '';
      proc.stdout!.on('data', (c: Buffer) => {
        keep(c);
        out += c.toString();
        if (out.includes('MDS listening on')) resolveReady();
      });
      proc.once('exit', (code, sig) => reject(new Error(`MDS exited during start (code ${code}, signal ${sig}): ${this.log.join('').slice(-3000)}`)));
    });
  }

  /** SIGKILL; resolves when the process is gone. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill('SIGKILL');
    await this.exited;
  }

  /**
   * SIGTERM (the MDS resigns and exits); resolves when the process is gone. A paused MDS
   * (SIGSTOP by a fault test) is continued first, and one that does not exit within 15 s is killed,
   * so a test's teardown never hangs.
   */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill('SIGCONT');
    p.kill('SIGTERM');
    const escalate = setTimeout(() => p.kill('SIGKILL'), 15_000);
    try {
      await this.exited;
    } finally {
      clearTimeout(escalate);
    }
  }

  /**
   * The MDS's /api/status, or undefined when it does not answer within `timeoutMs`. With
   * authentication on the page needs the admin token: `adminTokenFile`, else CURVEFS_TOKEN_FILE.
   */
  status(timeoutMs = 1000): Promise<MdsStatus | undefined> {
    if (!this.proc) return Promise.resolve(undefined);
    const tokenFile = this.opts.adminTokenFile ?? process.env[TOKEN_FILE_ENV];
    const headers = tokenFile ? { authorization: `Bearer ${readTokenFile(tokenFile)}` } : undefined;
    return new Promise((resolveStatus) => {
      const req = request({ host: '127.0.0.1', port: this.dashboardPort, path: '/api/status', timeout: timeoutMs, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          try {
            resolveStatus(JSON.parse(body) as MdsStatus);
          } catch {
            resolveStatus(undefined);
          }
        });
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolveStatus(undefined));
      req.end();
    });
  }

  logs(): string {
    return this.log.join('');
  }
}

/** Index of an MDS of `mds` that reports itself serving (polled until one does). */
export async function servingIndex(mds: readonly MdsProcess[], timeoutMs = 30_000): Promise<number> {
  return waitFor(async () => {
    const st = await Promise.all(mds.map((m) => m.status()));
    const i = st.findIndex((s) => s?.role === 'leader');
    return i >= 0 ? i + 1 : 0;
  }, 'a serving MDS', timeoutMs).then((x) => x - 1);
}
