// Load generator for bench/metaserver-bench.ts, run as a separate process so the client's CPU
// is not the servers'. Reads one JSON job from argv[2], runs it, prints one JSON result line.
//
// Systems and operations ("create" is the same pattern everywhere: a new inode record plus a new
// dentry in its parent, atomically where the system allows; "lookup" reads one dentry):
//   curvefs: create = CreateInode + CreateDentry (2 RPCs); createFile = CreateFile (1 RPC, one log
//            entry); lookup = GetDentry; getattr = BatchGetInodeAttr of one inode; list = the
//            whole ListDentry of a 10,000-entry directory; failover = createFile, recording slow ops
//   etcd:    create = one transaction: if the dentry key is absent, put it and the inode key;
//            lookup = get of a dentry key
//   redis:   create = MULTI, HSETNX dentry hash field, SET inode key, EXEC; lookup = HGET
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Etcd3 } from 'etcd3';
import { CurveError, StatusCode } from '../src/common/index.ts';
import { FileType } from '../src/gen/common_pb.ts';
import { MetaServerService, type PartitionRef } from '../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../src/rpc/index.ts';

export interface LoadJob {
  system: 'curvefs' | 'etcd' | 'redis';
  op: 'create' | 'createFile' | 'lookup' | 'getattr' | 'list' | 'failover';
  concurrency: number;
  seconds: number;
  warmupSeconds?: number;
  /** Unique per job: names and keys it creates. */
  prefix: string;
  curvefs?: { members: string[]; p: { poolId: number; copysetId: number; partitionId: number; fsId: number }; createDir: number; lookupDir: number; lookupNames: number; listDir: number; clientId: number };
  etcd?: { endpoints: string[]; lookupNames: number };
  redis?: { port: number; lookupNames: number };
}

/** Runs `job` in a separate load process (this file as a script) and returns its result line. */
export function runLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'metaserver-load.ts'), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadResult) : reject(new Error(`load exited ${code}`))));
  });
}

export interface LoadResult {
  ops: number;
  seconds: number;
  rate: number;
  p50us: number;
  p99us: number;
  maxus: number;
  errors: number;
  /** failover: [wall-clock ms at start, latency ms] of ops slower than 50 ms. */
  slow?: [number, number][];
}

const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs `op` from `concurrency` workers; measures the window after the warm-up. */
async function drive(op: (worker: number, k: number) => Promise<void>): Promise<LoadResult> {
  const warm = (job.warmupSeconds ?? 1) * 1000;
  const start = performance.now();
  const measureFrom = start + warm;
  const end = measureFrom + job.seconds * 1000;
  const lat: number[] = [];
  const slow: [number, number][] = [];
  let errors = 0;
  let counter = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async (_, w) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const wall = Date.now();
        try {
          await op(w, counter++);
        } catch (e) {
          errors++;
          if (errors < 5) process.stderr.write(`load error: ${String(e)}\n`);
          continue;
        }
        const t1 = performance.now();
        // Completions inside the window count (a long op that started before it still counts).
        if (t1 >= measureFrom && t1 <= end) lat.push(t1 - t0);
        if (job.op === 'failover' && t1 - t0 > 50) slow.push([wall, t1 - t0]);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const seconds = job.seconds;
  return {
    ops: lat.length,
    seconds,
    rate: lat.length / seconds,
    p50us: Math.round(quantile(lat, 0.5) * 1000),
    p99us: Math.round(quantile(lat, 0.99) * 1000),
    maxus: Math.round((lat[lat.length - 1] ?? 0) * 1000),
    errors,
    slow: job.op === 'failover' ? slow : undefined,
  };
}

// ---- curvefs --------------------------------------------------------------------------------

async function curvefs(): Promise<LoadResult> {
  const cfg = job.curvefs!;
  const pool = new ChannelPool({ defaultTimeoutMs: 5000 });
  const p: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', ...cfg.p };
  let leader = cfg.members[0]!;
  let seq = 0;
  const rid = () => ({ clientId: cfg.clientId, seq: ++seq });
  /** A call at the leader, following NOT_LEADER hints and trying members on failure. */
  const call = async <R>(fn: (c: ReturnType<typeof pool.client<typeof MetaServerService.method>>) => Promise<R>): Promise<R> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(pool.client(MetaServerService, leader));
      } catch (e) {
        if (!(e instanceof CurveError) || attempt > 200) throw e;
        if (![StatusCode.NOT_LEADER, StatusCode.REDIRECTED, StatusCode.UNAVAILABLE, StatusCode.TIMEOUT, StatusCode.SHUTTING_DOWN, StatusCode.CANCELLED].includes(e.status)) throw e;
        if (e.leaderHint) leader = e.leaderHint.replace(/:0$/, '');
        else {
          leader = cfg.members[(cfg.members.indexOf(leader) + 1) % cfg.members.length]!;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }
  };
  let ids: number[] = [];
  if (job.op === 'getattr') {
    const l = await call((c) => c.listDentry({ p, dirInodeId: cfg.lookupDir }));
    ids = l.dentrys.map((d) => d.inodeId);
  }
  const pick = (n: number) => Math.floor(Math.random() * n);
  const r = await drive(async (w, k) => {
    switch (job.op) {
      case 'create': {
        // One request id per request, kept across retries (idempotence).
        const r1 = rid();
        const ci = await call((c) => c.createInode({ p, rid: r1, parent: cfg.createDir, type: FileType.TYPE_S3, mode: 0o644 }));
        const r2 = rid();
        await call((c) => c.createDentry({ p, rid: r2, dentry: { fsId: p.fsId, inodeId: ci.inode!.inodeId, parentInodeId: cfg.createDir, name: `${job.prefix}-${k}`, type: FileType.TYPE_S3 } }));
        return;
      }
      case 'createFile':
      case 'failover': {
        const r1 = rid();
        await call((c) => c.createFile({ p, rid: r1, parent: cfg.createDir, name: `${job.prefix}-${k}`, type: FileType.TYPE_S3, mode: 0o644 }));
        return;
      }
      case 'lookup':
        await call((c) => c.getDentry({ p, parentInodeId: cfg.lookupDir, name: `n${pick(cfg.lookupNames)}` }));
        return;
      case 'getattr':
        await call((c) => c.batchGetInodeAttr({ p, inodeId: [ids[pick(ids.length)]!] }));
        return;
      case 'list': {
        const l = await call((c) => c.listDentry({ p, dirInodeId: cfg.listDir }));
        if (l.dentrys.length !== 10000) throw new Error(`listing returned ${l.dentrys.length} entries`);
        return;
      }
    }
    void w;
  });
  pool.close();
  return r;
}

// ---- etcd -----------------------------------------------------------------------------------

async function etcd(): Promise<LoadResult> {
  const cfg = job.etcd!;
  const client = new Etcd3({ hosts: cfg.endpoints });
  const attrs = JSON.stringify({ mode: 0o100644, uid: 0, gid: 0, nlink: 1, length: 0, ctime: Date.now(), mtime: Date.now(), atime: Date.now() });
  const pick = (n: number) => Math.floor(Math.random() * n);
  const r = await drive(async (_w, k) => {
    if (job.op === 'create') {
      const ino = `${job.prefix}-${k}`;
      const dkey = `d/1/${job.prefix}-${k}`;
      const res = await client
        .if(dkey, 'Create', '==', 0)
        .then(client.put(dkey).value(ino), client.put(`i/${ino}`).value(attrs))
        .commit();
      if (!res.succeeded) throw new Error('dentry exists');
    } else {
      await client.get(`d/lookup/n${pick(cfg.lookupNames)}`).string();
    }
  });
  client.close();
  return r;
}

// ---- redis ----------------------------------------------------------------------------------

/** A minimal RESP client: pipelined commands on one connection, replies matched in order. */
class Resp {
  private readonly waiting: ((v: unknown) => void)[] = [];
  private buf = Buffer.alloc(0);
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      for (;;) {
        const r = parse(this.buf, 0);
        if (!r) break;
        this.buf = this.buf.subarray(r[1]);
        this.waiting.shift()!(r[0]);
      }
    });
  }
  static open(port: number): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Resp(s)));
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }
  send(cmds: string[][]): Promise<unknown[]> {
    let out = '';
    for (const c of cmds) {
      out += `*${c.length}\r\n`;
      for (const a of c) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    }
    this.sock.write(out);
    return Promise.all(cmds.map(() => new Promise<unknown>((r) => this.waiting.push(r))));
  }
  close(): void {
    this.sock.destroy();
  }
}

function parse(b: Buffer, at: number): [unknown, number] | undefined {
  if (at >= b.length) return undefined;
  const nl = b.indexOf('\r\n', at);
  if (nl < 0) return undefined;
  const line = b.toString('utf8', at + 1, nl);
  switch (b[at]) {
    case 0x2b: // +
      return [line, nl + 2];
    case 0x2d: // -
      return [new Error(line), nl + 2];
    case 0x3a: // :
      return [Number(line), nl + 2];
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return [null, nl + 2];
      if (b.length < nl + 2 + n + 2) return undefined;
      return [b.toString('utf8', nl + 2, nl + 2 + n), nl + 2 + n + 2];
    }
    case 0x2a: {
      // *
      const n = Number(line);
      const out: unknown[] = [];
      let p = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parse(b, p);
        if (!r) return undefined;
        out.push(r[0]);
        p = r[1];
      }
      return [out, p];
    }
    default:
      throw new Error(`bad RESP byte ${b[at]}`);
  }
}

async function redis(): Promise<LoadResult> {
  const cfg = job.redis!;
  const conns = await Promise.all(Array.from({ length: Math.min(job.concurrency, 16) }, () => Resp.open(cfg.port)));
  const attrs = JSON.stringify({ mode: 0o100644, uid: 0, gid: 0, nlink: 1, length: 0, ctime: Date.now(), mtime: Date.now(), atime: Date.now() });
  const pick = (n: number) => Math.floor(Math.random() * n);
  const r = await drive(async (w, k) => {
    const c = conns[w % conns.length]!;
    if (job.op === 'create') {
      const ino = `${job.prefix}-${k}`;
      const res = await c.send([['MULTI'], ['HSETNX', 'd:1', ino, ino], ['SET', `i:${ino}`, attrs], ['EXEC']]);
      const exec = res[3] as unknown[];
      if (!Array.isArray(exec) || exec[0] !== 1) throw new Error(`create failed: ${JSON.stringify(res)}`);
    } else {
      await c.send([['HGET', 'd:lookup', `n${pick(cfg.lookupNames)}`]]);
    }
  });
  for (const c of conns) c.close();
  return r;
}

const run = job.system === 'curvefs' ? curvefs : job.system === 'etcd' ? etcd : redis;
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) run().then(
  (r) => {
    // Exit once the line is flushed: stdout to a pipe is asynchronous, and a failover result
    // (hundreds of KiB of slow ops at high load) was cut off by an immediate exit.
    process.stdout.write(`${JSON.stringify(r)}\n`, () => process.exit(0));
  },
  (e: unknown) => {
    process.stderr.write(`load failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);

export { Resp };
