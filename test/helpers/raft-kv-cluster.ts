// Runs a 3-replica Raft KV group as 3 real processes (test/helpers/raft-kv-server.ts) on
// loopback, with kill -9 and restart, and a client that follows the leader.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ChannelPool, loadTlsConfig } from '../../src/rpc/index.ts';
import { StatusCode, isCurveError } from '../../src/common/index.ts';
import { KV_DUMP, KV_PROPOSE, KV_STATUS } from './raft-kv.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'test', 'helpers', 'raft-kv-server.ts');

export interface ReplicaStatus {
  role: 'leader' | 'other';
  leader: number;
  term: number;
  commit: number;
  applied: number;
  /** CPU time the replica process has used (user + system, µs). */
  cpuUs: number;
  /** The replica process id (bench/raft-profile.ts maps profiles to roles by it). */
  pid?: number;
  /** Over all the process's groups: how many it leads, how many know no leader, how many are quiesced. */
  leads: number;
  leaderless: number;
  quiesced: number;
  /** The groups this replica leads (when the process hosts ≤ 256). */
  ledGroups?: number[];
  /** Durable log writes of the process so far, and how many of them were on its main thread. */
  syncs?: number;
  inlineSyncs?: number;
}

interface Replica {
  id: number;
  dir: string;
  port: number;
  proc: ChildProcess | undefined;
  exited: Promise<unknown> | undefined;
}

export interface KvClusterOptions {
  /** Default: RaftNode's (50 ms × 10 ticks). */
  tickMs?: number;
  electionTick?: number;
  snapshotEntries?: number;
  /** How log segments are preallocated (RaftLogOptions.preallocate). */
  prealloc?: 'truncate' | 'zeros';
  /** How the log makes writes durable (RaftLogOptions.syncMode). */
  logSync?: 'dsync' | 'fdatasync';
  /** RaftLogOptions.inlineBytes (default: RaftLog's). */
  inlineBytes?: number;
  /** Where replica i keeps its files: dataDir/r<i>. */
  dataDir: string;
  /** Extra node flags for the replica processes (e.g. --cpu-prof for profiling). */
  nodeArgs?: string[];
  /** Groups per process (default 1; the KV service serves group 1). */
  groups?: number;
  /** Turn quiescence off (RaftNodeOptions.quiesce). */
  noQuiesce?: boolean;
  /** A leader's write behind the rounds (RaftNodeOptions.asyncWrites; off by default). */
  asyncWrites?: boolean;
  /**
   * Mutual TLS: a `curvefs certs` directory with `metaserver1..3` (the replicas) and `client`
   * (this side's pool). Default: plain TCP.
   */
  tlsDir?: string;
}

export class KvProcessCluster {
  readonly ids = [1, 2, 3];
  readonly pool: ChannelPool;
  private readonly replicas = new Map<number, Replica>();
  private leaderGuess = 1;
  private readonly dec = new TextDecoder();

  constructor(private readonly opts: KvClusterOptions) {
    const tls = opts.tlsDir ? loadTlsConfig(opts.tlsDir, 'client') : undefined;
    this.pool = new ChannelPool({ backoff: { initialMs: 20, maxMs: 200 }, connectTimeoutMs: 1000, defaultTimeoutMs: 5000, tls });
    for (const id of this.ids) this.replicas.set(id, { id, dir: join(opts.dataDir, `r${id}`), port: 0, proc: undefined, exited: undefined });
  }

  address(id: number): string {
    return `127.0.0.1:${this.replicas.get(id)!.port}`;
  }

  private peers(): string {
    return this.ids.map((id) => `${id}=${this.address(id)}`).join(',');
  }

  /** Starts all replicas on OS-chosen ports, then tells each the others' addresses. */
  async start(): Promise<void> {
    const started = this.ids.map((id) => this.spawn(id, false));
    const lines = await Promise.all(started.map((s) => s.ready));
    this.ids.forEach((id, i) => (this.replicas.get(id)!.port = lines[i]!));
    for (const id of this.ids) this.replicas.get(id)!.proc!.stdin!.write(`PEERS ${this.peers()}\n`);
    await Promise.all(started.map((s) => s.started));
  }

  /** kill -9 */
  async kill(id: number): Promise<void> {
    const r = this.replicas.get(id)!;
    if (!r.proc) return;
    r.proc.kill('SIGKILL');
    await r.exited;
    r.proc = undefined;
  }

  /** Restarts a killed replica on its old port with its old files. */
  async restart(id: number): Promise<void> {
    const s = this.spawn(id, true);
    await s.ready;
    await s.started;
  }

  private spawn(id: number, withPeers: boolean): { ready: Promise<number>; started: Promise<void> } {
    const r = this.replicas.get(id)!;
    const args = [...(this.opts.nodeArgs ?? []), '--import', 'tsx', SERVER, '--id', String(id), '--dir', r.dir, '--port', String(r.port)];
    if (this.opts.tickMs !== undefined) args.push('--tick-ms', String(this.opts.tickMs));
    if (this.opts.electionTick !== undefined) args.push('--election-tick', String(this.opts.electionTick));
    args.push('--snapshot-entries', String(this.opts.snapshotEntries ?? 100_000), '--prealloc', this.opts.prealloc ?? 'truncate', '--log-sync', this.opts.logSync ?? 'dsync');
    if (this.opts.inlineBytes !== undefined) args.push('--inline-bytes', String(this.opts.inlineBytes));
    if (this.opts.groups !== undefined) args.push('--groups', String(this.opts.groups));
    if (this.opts.noQuiesce) args.push('--no-quiesce');
    if (this.opts.asyncWrites) args.push('--async-writes');
    if (this.opts.tlsDir !== undefined) args.push('--tls-dir', this.opts.tlsDir);
    if (withPeers) args.push('--peers', this.peers());
    const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, CURVEFS_LOG: process.env.CURVEFS_LOG ?? 'warn' } });
    r.proc = proc;
    r.exited = once(proc, 'exit');
    const rl = createInterface({ input: proc.stdout! });
    let onReady: (p: number) => void;
    let onStarted: () => void;
    const ready = new Promise<number>((res) => (onReady = res));
    const started = new Promise<void>((res) => (onStarted = res));
    const failed = r.exited.then(() => {
      throw new Error(`replica ${id} exited during start`);
    });
    rl.on('line', (l) => {
      if (l.startsWith('READY ')) onReady(Number(l.slice(6)));
      else if (l === 'STARTED') onStarted();
    });
    const guard = <T>(p: Promise<T>) => Promise.race([p, failed]) as Promise<T>;
    failed.catch(() => undefined);
    return { ready: guard(ready), started: guard(started) };
  }

  isUp(id: number): boolean {
    return this.replicas.get(id)!.proc !== undefined;
  }

  async status(id: number): Promise<ReplicaStatus> {
    const b = await this.pool.callRaw(this.address(id), KV_STATUS, new Uint8Array(0), { timeoutMs: 2000 });
    return JSON.parse(this.dec.decode(b)) as ReplicaStatus;
  }

  async dump(id: number): Promise<{ applied: number; data: Map<string, string> }> {
    const b = await this.pool.callRaw(this.address(id), KV_DUMP, new Uint8Array(0), { timeoutMs: 10_000 });
    const j = JSON.parse(this.dec.decode(b)) as { applied: number; data: [string, string][] };
    return { applied: j.applied, data: new Map(j.data) };
  }

  /** The replica that says it leads with the highest term, or 0. */
  async findLeader(): Promise<number> {
    let best = 0;
    let bestTerm = -1;
    for (const id of this.ids) {
      if (!this.isUp(id)) continue;
      try {
        const s = await this.status(id);
        if (s.role === 'leader' && s.term > bestTerm) {
          best = id;
          bestTerm = s.term;
        }
      } catch {
        /* down or busy */
      }
    }
    return best;
  }

  /**
   * Proposes through the leader, following NOT_LEADER hints and trying other replicas when one
   * is unreachable, until `deadline` (ms, Date.now()). Resolves once the leader applied it.
   */
  async propose(cmd: Uint8Array, deadline = Date.now() + 30_000): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const id = this.leaderGuess;
      try {
        const b = await this.pool.callRaw(this.address(id), KV_PROPOSE, cmd, { timeoutMs: 5000 });
        return (JSON.parse(this.dec.decode(b)) as { prev: unknown }).prev;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        const hinted = isCurveError(e, StatusCode.NOT_LEADER) && e.leaderHint ? this.idOf(e.leaderHint) : 0;
        if (hinted && hinted !== id && this.isUp(hinted)) this.leaderGuess = hinted;
        else this.leaderGuess = this.ids[(this.ids.indexOf(id) + 1) % this.ids.length]!;
        // No leader known (election running): pause briefly before going round again.
        if (!hinted && attempt % this.ids.length === this.ids.length - 1) await new Promise((r) => setTimeout(r, 20));
        if (!isCurveError(e)) throw e;
      }
    }
  }

  private idOf(address: string): number {
    for (const id of this.ids) if (this.address(id) === address) return id;
    return 0;
  }

  /** SIGTERM: a clean stop (the replica closes its storage and exits). */
  async terminate(id: number): Promise<void> {
    const r = this.replicas.get(id)!;
    if (!r.proc) return;
    r.proc.kill('SIGTERM');
    await r.exited;
    r.proc = undefined;
  }

  async stopAll(): Promise<void> {
    for (const id of this.ids) await this.kill(id);
    this.pool.close();
  }
}
