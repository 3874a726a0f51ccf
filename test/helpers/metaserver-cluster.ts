// Runs N metaserver processes (src/metaserver/main.ts) on loopback for tests of the metaserver and
// of anything built on it: copysets and partitions are created through the admin RPCs (or by a
// real MDS when `mdsAddrs` is given), replicas can be killed with SIGKILL and restarted on the
// same port with the same files, and `call` sends a MetaServerService request to a copyset's
// leader, following NOT_LEADER hints.
//
//   const c = await MetaserverCluster.start({ n: 3, dir });
//   await c.createCopyset(1, 1);                       // all members, waits for a leader
//   await c.createPartition({ fsId: 1, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: 1 << 20 });
//   await c.call(1, 1, 'createRootInode', { p, mode: 0o755 });
//   await c.kill(2); await c.restart(2);
//   await c.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import type { PartitionInfo, PartitionInfoSchema, Peer } from '../../src/gen/common_pb.ts';
import { CopysetService, MetaServerService } from '../../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import type { RpcClientOf } from '../../src/rpc/types.ts';
import { insecureUnlessSecured } from './security-args.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'src', 'metaserver', 'main.ts');

type Svc = (typeof MetaServerService)['method'];
export type MetaMethod = keyof Svc;

export interface MetaserverProcess {
  index: number;
  id: number;
  dir: string;
  /** "127.0.0.1:port" once started (kept across restarts). */
  address: string;
  metrics: string;
  proc: ChildProcess | undefined;
  exited: Promise<number | null> | undefined;
  stderr: string[];
}

export interface MetaserverClusterOptions {
  n: number;
  /** Replica i keeps its files in dir/ms<i>. */
  dir: string;
  /** Use a real MDS (registration, heartbeats) instead of fixed ids. */
  mdsAddrs?: string[];
  /** Extra command-line flags for replica i (e.g. ['--crash-at', 'after-decide']). */
  args?: (index: number) => string[];
  env?: NodeJS.ProcessEnv;
  /** Node flags before the script (e.g. ['--cpu-prof', '--cpu-prof-dir', dir]). */
  nodeArgs?: string[];
  /** First metaserver id (ids are consecutive; default 1). */
  firstId?: number;
  /** Host to listen on for replica i (default 127.0.0.1), e.g. its address on a TestNet. */
  host?: (index: number) => string;
  /** Command prefix that runs replica i elsewhere, e.g. `ip netns exec NS` (TestNet.exec). */
  wrap?: (index: number) => string[];
}

const RETRY = new Set<StatusCode>([
  StatusCode.NOT_LEADER,
  StatusCode.REDIRECTED,
  StatusCode.UNAVAILABLE,
  StatusCode.TIMEOUT,
  StatusCode.SHUTTING_DOWN,
  StatusCode.CANCELLED,
  StatusCode.TX_INPROGRESS,
  StatusCode.OVERLOAD,
]);

/** How long stop() lets a replica shut down on SIGTERM before it sends SIGKILL (a backstop, not a check). */
const STOP_GRACE_MS = 15_000;

/** Every live child of every cluster, killed when the test process exits however it exits. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of liveChildren) proc.kill('SIGKILL');
});

export class MetaserverCluster {
  readonly procs: MetaserverProcess[] = [];
  /** Set by stop(): from then on nothing is started (a restart racing with teardown would outlive it). */
  private stopped = false;
  readonly pool = new ChannelPool({ backoff: { initialMs: 20, maxMs: 200 }, connectTimeoutMs: 1000, defaultTimeoutMs: 5000 });
  private readonly leaders = new Map<string, string>();
  private readonly members = new Map<string, string[]>();

  private constructor(private readonly opts: MetaserverClusterOptions) {}

  static async start(opts: MetaserverClusterOptions): Promise<MetaserverCluster> {
    const c = new MetaserverCluster(opts);
    for (let i = 0; i < opts.n; i++) {
      c.procs.push({ index: i, id: (opts.firstId ?? 1) + i, dir: join(opts.dir, `ms${i}`), address: `${opts.host?.(i) ?? '127.0.0.1'}:0`, metrics: '', proc: undefined, exited: undefined, stderr: [] });
    }
    await Promise.all(c.procs.map((p) => c.spawn(p)));
    return c;
  }

  private spawn(p: MetaserverProcess, extra: string[] = []): Promise<void> {
    if (this.stopped) return Promise.reject(new Error(`metaserver ${p.index} not started: the cluster was stopped`));
    const args = [...(this.opts.nodeArgs ?? []), '--import', 'tsx', MAIN, '--listen', p.address, '--data-dir', p.dir, '--metrics-port', '0'];
    if (this.opts.mdsAddrs?.length) args.push('--mds', this.opts.mdsAddrs.join(','), '--heartbeat-ms', '500');
    else args.push('--id', String(p.id));
    args.push(...(this.opts.args?.(p.index) ?? []), ...extra);
    args.push(...insecureUnlessSecured(args));
    const wrap = this.opts.wrap?.(p.index) ?? [];
    const proc = spawn(wrap[0] ?? process.execPath, wrap.length > 0 ? [...wrap.slice(1), process.execPath, ...args] : args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.opts.env } });
    p.proc = proc;
    p.stderr = [];
    liveChildren.add(proc);
    p.exited = new Promise((r) =>
      proc.once('exit', (code) => {
        liveChildren.delete(proc);
        r(code);
      }),
    );
    createInterface({ input: proc.stderr! }).on('line', (l) => {
      p.stderr.push(l);
      if (p.stderr.length > 200) p.stderr.shift();
    });
    return new Promise((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout! });
      rl.on('line', (line) => {
        if (!line.startsWith('METASERVER_READY ')) return;
        const info = JSON.parse(line.slice('METASERVER_READY '.length)) as { id: number; address: string; metrics: string };
        p.id = info.id;
        p.address = info.address;
        p.metrics = info.metrics;
        resolve();
      });
      proc.once('exit', (code) => reject(new Error(`metaserver ${p.index} exited with ${code} before it was ready:\n${p.stderr.join('\n')}`)));
    });
  }

  peer(i: number): Peer {
    const p = this.procs[i]!;
    return { $typeName: 'curvefs.common.Peer', id: p.id, address: `${p.address}:0` };
  }

  alive(i: number): boolean {
    return this.procs[i]!.proc !== undefined;
  }

  /** Creates copyset (poolId, copysetId) on the given replicas (default: all) and waits for a leader. */
  async createCopyset(poolId: number, copysetId: number, members = this.procs.map((p) => p.index)): Promise<string> {
    const peers = members.map((i) => this.peer(i));
    await Promise.all(members.map((i) => this.pool.client(CopysetService, this.procs[i]!.address).createCopysetNode({ copysets: [{ poolId, copysetId, peers }] })));
    this.members.set(`${poolId}:${copysetId}`, members.map((i) => this.procs[i]!.address));
    return this.waitLeader(poolId, copysetId);
  }

  /** Tells the helper which replicas hold a copyset now (after a membership change). */
  setMembers(poolId: number, copysetId: number, members: number[]): void {
    this.members.set(`${poolId}:${copysetId}`, members.map((i) => this.procs[i]!.address));
  }

  /** The leader's address, waiting (polling GetLeader) until the live members agree on one. */
  async waitLeader(poolId: number, copysetId: number, timeoutMs = 20_000): Promise<string> {
    const key = `${poolId}:${copysetId}`;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (const addr of this.members.get(key) ?? this.procs.map((p) => p.address)) {
        const p = this.procs.find((x) => x.address === addr);
        if (!p?.proc) continue;
        try {
          const st = await this.pool.client(CopysetService, addr).getCopysetStatus({ poolId, copysetId }, { timeoutMs: 1000 });
          if (st.status?.state === 'leader') {
            this.leaders.set(key, addr);
            return addr;
          }
        } catch {
          // not up yet
        }
      }
      if (performance.now() > deadline) throw new Error(`copyset ${key}: no leader within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async createPartition(info: MessageInitShape<typeof PartitionInfoSchema>): Promise<void> {
    await this.admin(info.poolId ?? 0, info.copysetId ?? 0, (c, o) => c.createPartition({ partition: info }, o));
  }

  /** An admin call at the copyset's leader. */
  async admin<R>(poolId: number, copysetId: number, fn: (c: RpcClientOf<typeof CopysetService>, o: { timeoutMs: number }) => Promise<R>): Promise<R> {
    return this.atLeader(poolId, copysetId, (addr, o) => fn(this.pool.client(CopysetService, addr), o));
  }

  /** A MetaServerService call at the leader of (poolId, copysetId), retried across leader changes. */
  call<M extends MetaMethod>(poolId: number, copysetId: number, method: M, req: MessageInitShape<Svc[M]['input']>, timeoutMs = 30_000): Promise<MessageShape<Svc[M]['output']>> {
    return this.atLeader(
      poolId,
      copysetId,
      (addr, o) => (this.pool.client(MetaServerService, addr) as unknown as Record<string, (r: unknown, o: unknown) => Promise<MessageShape<Svc[M]['output']>>>)[method as string]!(req, o),
      timeoutMs,
    );
  }

  private async atLeader<R>(poolId: number, copysetId: number, fn: (addr: string, o: { timeoutMs: number }) => Promise<R>, timeoutMs = 30_000): Promise<R> {
    const key = `${poolId}:${copysetId}`;
    const deadline = performance.now() + timeoutMs;
    let lastError: unknown;
    for (let attempt = 0; performance.now() < deadline; attempt++) {
      let addr = this.leaders.get(key);
      if (!addr || !this.procs.some((p) => p.address === addr && p.proc)) {
        try {
          addr = await this.waitLeader(poolId, copysetId, Math.max(1, deadline - performance.now()));
        } catch (e) {
          lastError = e;
          break;
        }
      }
      try {
        // An attempt may take seconds on a loaded machine (a cross-copyset rename waits for the
        // fs rename lock behind others); a retry carries the same request id, so it is safe, but
        // retrying too early only adds load.
        return await fn(addr, { timeoutMs: Math.max(1, Math.min(10_000, deadline - performance.now())) });
      } catch (e) {
        lastError = e;
        if (!(e instanceof CurveError) || !RETRY.has(e.status)) throw e;
        if (e.leaderHint) this.leaders.set(key, e.leaderHint.replace(/:0$/, ''));
        else this.leaders.delete(key);
        await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** Math.min(attempt, 4))));
      }
    }
    throw lastError instanceof Error ? lastError : new Error(`copyset ${key}: call did not complete`);
  }

  /** kill -9 of replica i; resolves once it is gone. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs[i]!;
    const proc = p.proc;
    if (!proc) return;
    proc.kill(signal);
    await p.exited;
    // A restart may have started another process meanwhile: only forget the one we killed.
    if (p.proc === proc) p.proc = undefined;
  }

  /**
   * Graceful stop of replica i: a paused replica (SIGSTOP) is continued so it can act on SIGTERM,
   * and one that has not exited after STOP_GRACE_MS gets SIGKILL — stop always wins.
   */
  private async terminate(i: number): Promise<void> {
    const p = this.procs[i]!;
    const proc = p.proc;
    if (!proc) return;
    proc.kill('SIGCONT');
    const escalate = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await this.kill(i, 'SIGTERM');
    } finally {
      clearTimeout(escalate);
    }
  }

  /** Waits for replica i to exit on its own (crash injection), then marks it dead. */
  async waitExit(i: number): Promise<number | null> {
    const p = this.procs[i]!;
    const proc = p.proc;
    const code = await p.exited;
    if (p.proc === proc) p.proc = undefined;
    return code ?? null;
  }

  /** Restarts replica i on its old port with its old files. */
  async restart(i: number, extraArgs: string[] = []): Promise<void> {
    const p = this.procs[i]!;
    if (p.proc) throw new Error(`replica ${i} is running`);
    await this.spawn(p, extraArgs);
  }

  async metricsText(i: number): Promise<string> {
    const res = await fetch(`http://${this.procs[i]!.metrics}/metrics`);
    return res.text();
  }

  /** Stops every replica; a restart that was under way or comes later is refused. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.procs.map((p) => this.terminate(p.index)));
    this.pool.close();
  }
}

export type { PartitionInfo };
