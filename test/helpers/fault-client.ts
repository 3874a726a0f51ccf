// A client "host" of the multi-host fault suite, run as its own process inside a network
// namespace (`ip netns exec NS node --import tsx fault-client.ts MODE JSON`):
//   setup  creates the fs and the shared directories, retrying until the cluster answers;
//   work   runs the seeded workload of one client (fault-model.ts) until "stop" arrives on stdin,
//          printing one JSON LogLine per operation as soon as its outcome is known;
//   dump   prints the whole tree (path, type, inode, nlink, size, content hash) as one JSON line.
// Every line the parent reads starts with "@" so library log lines never mix with results.
import { createInterface } from 'node:readline';
import * as fsp from 'node:fs/promises';
import { MountProc } from './curvefs-mount-proc.ts';
import { CurveError, SeededRandom, StatusCode } from '../../src/common/index.ts';
import { ChannelPool } from '../../src/rpc/index.ts';
import { connectFs, MdsAdapter, RotatingMdsConnector, type Connection } from '../../src/client/index.ts';
import { MdsService } from '../../src/gen/mds_pb.ts';
import { ClientModel, content, RACE_DIRS, RACE_ROOT, sha, SHARED_DIRS, type LogLine, type Op, type RaceLine } from './fault-model.ts';
import type { DumpEntry } from './fault-check.ts';

interface Args {
  mds: string[];
  fsName: string;
  dataDir?: string;
  client?: number;
  seed?: number;
  /** Work (or dump) through a FUSE mount at this directory, served by a `curvefs mount` child. */
  mnt?: string;
}

const [mode, json] = process.argv.slice(2);
const args = JSON.parse(json!) as Args;
const say = (o: unknown) => process.stdout.write('@' + JSON.stringify(o) + '\n');

/** Outcomes a fault can cause: the op may or may not have applied. */
const UNKNOWN = new Set(['EIO', 'ENOSPC', 'ETIMEDOUT', 'EAGAIN', 'EBUSY', 'ECANCELED', 'ESTALE', 'ECONNRESET', 'ENOTCONN']);
const codeOf = (e: unknown) => (e instanceof CurveError ? e.code : ((e as { code?: string }).code ?? 'EIO'));

async function connect(pool: ChannelPool): Promise<Connection> {
  const mds = new MdsAdapter(new RotatingMdsConnector(pool, args.mds));
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectFs({ mds, fsName: args.fsName, pool, entryTtlMs: 0, attrTtlMs: 0 });
    } catch (e) {
      // Faults come and go; the parent bounds the whole run, so keep trying.
      if (attempt % 10 === 9) process.stderr.write(`connect: ${String(e)}\n`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function setup(): Promise<void> {
  const pool = new ChannelPool();
  const mds = new RotatingMdsConnector(pool, args.mds);
  for (;;) {
    try {
      await mds.client(MdsService).createFs({ fsName: args.fsName, dataStore: { kind: { case: 'local', value: { dir: args.dataDir! } } } });
      break;
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.FS_EXIST) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const c = await connect(pool);
  for (const d of [...SHARED_DIRS, RACE_ROOT, ...Array.from({ length: RACE_DIRS }, (_, i) => `${RACE_ROOT}/r${i}`)]) {
    for (;;) {
      try {
        await c.fs.mkdir(d);
        break;
      } catch (e) {
        if (codeOf(e) === 'EEXIST') break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  await c.close();
  pool.close();
  say({ setup: true });
}

/** What the workload and the dump need of a client (the SDK; a FUSE mount could be another). */
interface Target {
  perform(op: Op): Promise<void>;
  readdir(p: string): Promise<string[]>;
  lstat(p: string): Promise<{ type: 'dir' | 'file' | 'other'; ino: number; nlink: number; size: number }>;
  readFile(p: string): Promise<Uint8Array>;
  /** After an error: a new session if the old one ended. */
  recover(e: unknown): Promise<void>;
  close(): Promise<void>;
}

async function sdkTarget(): Promise<Target> {
  let pool = new ChannelPool();
  let c = await connect(pool);
  return {
    async perform(op) {
      const fs = c.fs;
      switch (op.op) {
        case 'create': {
          const fh = await fs.open(op.path, 'wx');
          await fh.close();
          return;
        }
        case 'write': {
          // Same length every version, written at offset 0 in one slice and fsynced: the file
          // holds either the old version or the new one, never a mix.
          const fh = await fs.open(op.path, 'r+');
          try {
            await fh.write(0, content(op.file, op.version, sizeOf.get(op.file)!));
            await fh.flush();
          } finally {
            await fh.close();
          }
          return;
        }
        case 'mkdir':
          return fs.mkdir(op.path);
        case 'rename':
          return fs.rename(op.from, op.to);
        case 'link':
          return fs.link(op.from, op.to);
        case 'unlink':
          return fs.unlink(op.path);
        case 'rmdir':
          return fs.rmdir(op.path);
      }
    },
    readdir: (p) => c.fs.readdir(p),
    async lstat(p) {
      const st = await c.fs.lstat(p);
      return { type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other', ino: st.ino, nlink: st.nlink, size: st.size };
    },
    readFile: (p) => c.fs.readFile(p),
    async recover(e) {
      if (!(e instanceof CurveError && e.status === StatusCode.SESSION_EXPIRED)) return;
      // The session ended while we were cut off: its retries can no longer be told apart, so
      // start a new one (the op that saw it stays unknown).
      await c.close().catch(() => undefined);
      pool.close();
      pool = new ChannelPool();
      c = await connect(pool);
    },
    async close() {
      await c.close().catch(() => undefined);
      pool.close();
    },
  };
}

/**
 * A FUSE mount on this host: `curvefs mount` runs as this process's child, so it shares this
 * host's network namespace and the private mount namespace `ip netns exec` gave us (nobody
 * outside sees the mount; it goes with the last process of the namespace). Ops are plain
 * syscalls through node:fs; the kernel's errno is the outcome.
 */
async function fuseTarget(mnt: string): Promise<Target> {
  await fsp.mkdir(mnt, { recursive: true });
  let mount: MountProc | undefined;
  for (let attempt = 0; !mount; attempt++) {
    try {
      mount = await MountProc.start({ mdsAddrs: args.mds, fsName: args.fsName, dir: mnt, env: { CURVEFS_LOG: 'error' } });
    } catch (e) {
      // Mounting needs the MDS, which the nemesis may have taken away; the parent bounds the run.
      if (attempt % 10 === 9) process.stderr.write(`mount: ${String(e)}\n`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const at = (p: string) => mnt + p;
  // If this process dies, the mount goes with it (a mount without its process hangs callers).
  const served = mount;
  process.once('exit', () => served.proc.kill('SIGKILL'));
  return {
    async perform(op) {
      switch (op.op) {
        case 'create':
          return (await fsp.open(at(op.path), 'wx')).close();
        case 'write': {
          const fh = await fsp.open(at(op.path), 'r+');
          try {
            const data = content(op.file, op.version, sizeOf.get(op.file)!);
            await fh.write(data, 0, data.length, 0);
            await fh.sync();
          } finally {
            await fh.close();
          }
          return;
        }
        case 'mkdir':
          return fsp.mkdir(at(op.path));
        case 'rename':
          return fsp.rename(at(op.from), at(op.to));
        case 'link':
          return fsp.link(at(op.from), at(op.to));
        case 'unlink':
          return fsp.unlink(at(op.path));
        case 'rmdir':
          return fsp.rmdir(at(op.path));
      }
    },
    readdir: (p) => fsp.readdir(at(p)),
    async lstat(p) {
      const st = await fsp.lstat(at(p));
      return { type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other', ino: st.ino, nlink: st.nlink, size: st.size };
    },
    readFile: async (p) => new Uint8Array(await fsp.readFile(at(p))),
    // The mount renews its own session.
    recover: () => Promise.resolve(),
    async close() {
      const code = await served.stop();
      if (code !== 0) process.stderr.write(`curvefs mount exited with ${code}:\n${served.output.slice(-20).join('\n')}\n`);
    },
  };
}

const openTarget = (): Promise<Target> => (args.mnt ? fuseTarget(args.mnt) : sdkTarget());

const sizeOf = new Map<number, number>();

/** Where each race directory is now (r<i> → its path), read by walking the racing area. */
async function raceDirs(target: Target): Promise<Map<number, string>> {
  const at = new Map<number, string>();
  const walk = async (dir: string, depth: number) => {
    if (depth > RACE_DIRS) return;
    for (const name of await target.readdir(dir)) {
      const i = Number(name.slice(1));
      if (!name.startsWith('r') || at.has(i)) continue;
      at.set(i, `${dir}/${name}`);
      await walk(`${dir}/${name}`, depth + 1);
    }
  };
  await walk(RACE_ROOT, 0);
  return at;
}

/**
 * One side of a race round, in two steps so both sides' renames leave at the same moment:
 * `walk` finds the two directories as they are now (the parent waits for both sides' walks),
 * then `go` moves race directory `from` into `to`. The other side moves `to` into `from`, so at
 * most one may succeed; the other fails (EINVAL: a directory into its own subtree, seen by the
 * metaserver's loop check when both paths were resolved before either move; ENOENT: a path the
 * first move changed).
 */
function raceSide(target: Target, k: number, round: { race: number; from: number; to: number }): { walk: Promise<void>; go: () => Promise<RaceLine> } {
  const line = { race: round.race, c: k, from: round.from, to: round.to };
  let found: { from: string; to: string } | RaceLine;
  const walk = raceDirs(target).then(
    (at) => {
      const from = at.get(round.from);
      const to = at.get(round.to);
      // A walk that ran beside a move can miss a directory: nothing to race with then.
      found = from && to ? { from, to } : { ...line, r: 'skipped', err: 'not found by the walk' };
    },
    (e: unknown) => {
      found = { ...line, r: 'skipped', err: `walk failed (${codeOf(e)})` };
    },
  );
  const go = async (): Promise<RaceLine> => {
    if ('race' in found) return found;
    try {
      await target.perform({ op: 'rename', from: found.from, to: `${found.to}/r${round.from}` });
      return { ...line, r: 'ok' };
    } catch (e) {
      const code = codeOf(e);
      return { ...line, r: UNKNOWN.has(code) ? 'unknown' : 'error', err: `${code} ${String(e).slice(0, 120)}` };
    }
  };
  return { walk, go };
}

async function work(): Promise<void> {
  const k = args.client!;
  const r = new SeededRandom(args.seed! * 1000 + k);
  const model = new ClientModel(k);
  let stopping = false;
  const target = openTarget();
  const sides = new Map<number, ReturnType<typeof raceSide>>();
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'stop') stopping = true;
    // A race round from the parent, beside the workload: walk, say so, rename on "go".
    else if (l.startsWith('race ')) {
      const round = JSON.parse(l.slice(5)) as { race: number; from: number; to: number };
      void target.then(async (t) => {
        const side = raceSide(t, k, round);
        sides.set(round.race, side);
        await side.walk;
        say({ walked: round.race });
      });
    } else if (l.startsWith('go ')) {
      const n = Number(l.slice(3));
      const side = sides.get(n)!;
      sides.delete(n);
      void side.go().then(say);
    }
  });
  const t = await target;
  let fileSeq = 0;
  for (let n = 1; !stopping; n++) {
    const op = model.choose(r, () => k * 1_000_000 + ++fileSeq);
    if (!op) {
      n--;
      continue;
    }
    if (op.op === 'create') sizeOf.set(op.file, op.size);
    const t0 = performance.now();
    let line: LogLine;
    try {
      await t.perform(op);
      line = { c: k, n, o: op, r: 'ok' };
    } catch (e) {
      const code = codeOf(e);
      line = { c: k, n, o: op, r: UNKNOWN.has(code) ? 'unknown' : 'error', err: `${code} ${String(e).slice(0, 200)}` };
      await t.recover(e);
    }
    line.ms = Math.round(performance.now() - t0);
    line.t = Date.now();
    model.record(line);
    say(line);
  }
  await t.close();
  say({ done: true });
}

/** Retries a read until it works: the dump runs after healing, while the cluster may still settle. */
async function retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!UNKNOWN.has(codeOf(e)) || attempt > 100) throw new Error(`${what}: ${String(e)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function dump(): Promise<void> {
  const c = await openTarget();
  const entries: DumpEntry[] = [];
  const problems: string[] = [];
  const seenDirs = new Map<number, string>();
  const walk = async (dir: string, depth: number) => {
    const names = await retry(`readdir ${dir}`, () => c.readdir(dir === '' ? '/' : dir));
    const uniq = new Set(names);
    if (uniq.size !== names.length) problems.push(`duplicate names in ${dir || '/'}: ${names.filter((x, i) => names.indexOf(x) !== i).join(',')}`);
    const sorted = [...uniq].sort();
    const stats: DumpEntry[] = [];
    // Entries of one directory are read 16 at a time: a big tree dumps in seconds, not minutes.
    for (let i = 0; i < sorted.length; i += 16) {
      stats.push(
        ...(await Promise.all(
          sorted.slice(i, i + 16).map(async (name) => {
            const p = `${dir}/${name}`;
            const st = await retry(`lstat ${p}`, () => c.lstat(p));
            const e: DumpEntry = { path: p, ...st };
            if (st.type === 'file') e.sha = sha(await retry(`read ${p}`, () => c.readFile(p)));
            return e;
          }),
        )),
      );
    }
    for (const e of stats) {
      entries.push(e);
      if (e.type !== 'dir') continue;
      const prev = seenDirs.get(e.ino);
      if (prev !== undefined) {
        problems.push(`directory ${e.ino} reached as ${prev} and as ${e.path} (a loop or a duplicated directory)`);
        continue;
      }
      seenDirs.set(e.ino, e.path);
      if (depth > 64) problems.push(`${e.path}: deeper than 64 levels`);
      else await walk(e.path, depth + 1);
    }
  };
  await walk('', 0);
  await c.close();
  say({ entries, problems });
}

const run = mode === 'setup' ? setup : mode === 'work' ? work : dump;
run().then(
  // Output to a pipe is asynchronous: exit only once the last line (the dump may be megabytes)
  // has been handed to the pipe.
  () => process.stdout.write('', () => process.exit(0)),
  (e) => {
    process.stderr.write(`fault-client ${mode}: ${String(e)}\n`);
    process.exit(1);
  },
);
