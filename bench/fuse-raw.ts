// The raw FUSE transport: what one kernel request costs our server, with the in-memory MemFs
// behind it (so the file system itself costs next to nothing), read from /dev/fuse on the main
// thread ('stream') vs by worker threads ('worker', the former way), with bindfs (libfuse in C,
// single-threaded, passing through to a tmpfs) as the floor. All three are measured in the same
// run, interleaved round by round, so the machine's load falls on each alike.
//
// Kernel entry and attribute timeouts are 0 on every mount, so each system call reaches the
// server: getattr = stat(2) of the mount's root (one GETATTR each), create = open(O_CREAT|O_EXCL)
// + close, stat = stat(2) of each created file, unlink = unlink(2) of each.
// One client process runs each loop (synchronous node:fs calls); it times the loop itself.
//
// Printed per phase and target: ops/s, kernel requests per op (our servers count them), and
// the server's CPU µs per request (user + system of the serving process over the phase; the
// load-independent figure), with the ratios stream/worker and stream/bindfs. Medians of the rounds.
//   npx tsx bench/fuse-raw.ts [--files 2000] [--rounds 3]
// On mounts of another server (e.g. two `curvefs mount`s of one cluster, one started with
// CURVEFS_FUSE_READER=worker), instead of the MemFs servers: their own timeouts apply, and the
// CPU is that of the process given (requests are not counted):
//   npx tsx bench/fuse-raw.ts --worker DIR@PID --stream DIR@PID
import { mkdtemp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procCpuMicros, runLoopClient } from './fs-loop-client.ts';
import { unmountDir } from '../src/fuse/index.ts';
import { sh, startMemFsServer, type ServedMount } from '../test/helpers/fuse.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const FILES = Number(arg('files', '2000'));
const ROUNDS = Number(arg('rounds', '3'));
const PHASES = ['getattr', 'create', 'stat', 'unlink'] as const;
type Phase = (typeof PHASES)[number];

function runClient(dir: string, phase: Phase): Promise<number> {
  return runLoopClient(dir, phase, FILES);
}

async function findBindfs(mountpoint: string): Promise<number> {
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('bindfs\0') && cmd.includes(mountpoint)) return Number(d);
  }
  throw new Error(`no bindfs serving ${mountpoint}`);
}

interface Target {
  label: string;
  root: string;
  /** Server counters: CPU µs so far, and requests so far (NaN when the server does not count). */
  probe(): Promise<{ cpu: number; requests: number }>;
}
interface Sample {
  opsPerSec: number;
  requestsPerOp: number;
  cpuPerRequest: number;
  cpuPerOp: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const base = await mkdtemp(join(tmpdir(), 'curvefs-fuse-raw-'));
const tmpfs = join(base, 'tmpfs');
const bind = join(base, 'bindfs');
await mkdir(tmpfs);
await mkdir(bind);
await sh(`mount -t tmpfs -o size=1g raw-tmpfs ${tmpfs}`);
await sh(`bindfs -o entry_timeout=0,attr_timeout=0,negative_timeout=0 ${tmpfs} ${bind}`);
const bindPid = await findBindfs(bind);
const zero = { entryTimeoutSec: 0, attrTimeoutSec: 0 };
const servers: ServedMount[] = [];
try {
  const external = (label: string): Target | undefined => {
    const a = arg(label, '');
    if (!a) return undefined;
    const [root, pid] = a.split('@');
    return { label, root: root!, probe: async () => ({ cpu: await procCpuMicros(Number(pid)), requests: NaN }) };
  };
  const memfs = async (reader: 'stream' | 'worker'): Promise<Target> => {
    const m = await startMemFsServer({ ...zero, reader });
    servers.push(m);
    return { label: reader, root: m.dir, probe: async () => {
      const s = await m.stats();
      return { cpu: s.cpuMicros, requests: s.requests };
    } };
  };
  const targets: Target[] = [
    { label: 'bindfs', root: bind, probe: async () => ({ cpu: await procCpuMicros(bindPid), requests: NaN }) },
    external('worker') ?? (await memfs('worker')),
    external('stream') ?? (await memfs('stream')),
  ];
  const minor = servers[0] ? `FUSE 7.${servers[0].negotiated.minor}` : `mounts ${targets.map((t) => t.root).join(' ')}`;
  console.log(`fuse-raw: ${FILES} ops per phase, ${ROUNDS} rounds, ${minor}, node ${process.version}, load ${(await sh('cat /proc/loadavg')).trim()}`);
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order, so no target always runs first (or last) in a round.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const dir = join(t.root, `r${round}`);
      await mkdir(dir);
      for (const phase of PHASES) {
        const before = await t.probe();
        const ms = await runClient(dir, phase);
        const after = await t.probe();
        const requests = after.requests - before.requests;
        const cpu = after.cpu - before.cpu;
        const key = `${t.label}/${phase}`;
        const list = samples.get(key) ?? [];
        list.push({
          opsPerSec: FILES / (ms / 1000),
          requestsPerOp: requests / FILES,
          cpuPerRequest: Number.isNaN(requests) ? NaN : cpu / requests,
          cpuPerOp: cpu / FILES,
        });
        samples.set(key, list);
      }
      await rm(dir, { recursive: true, force: true });
    }
  }
  const m = (label: string, phase: Phase, f: keyof Sample) => median(samples.get(`${label}/${phase}`)!.map((s) => s[f]));
  const r0 = (x: number) => (Number.isNaN(x) ? '—' : Math.round(x).toString());
  const r1 = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(1));
  console.log(
    '| op | bindfs ops/s | worker ops/s | stream ops/s | stream / worker | stream / bindfs | requests/op | server CPU µs/op bindfs · worker · stream | server CPU µs/request worker · stream |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|---|');
  for (const p of PHASES) {
    const [b, w, s] = ['bindfs', 'worker', 'stream'].map((l) => m(l, p, 'opsPerSec')) as [number, number, number];
    console.log(
      `| ${p} | ${r0(b)} | ${r0(w)} | ${r0(s)} | ${(s / w).toFixed(2)} | ${(s / b).toFixed(2)} | ${r1(m('stream', p, 'requestsPerOp'))} | ${r0(m('bindfs', p, 'cpuPerOp'))} · ${r0(m('worker', p, 'cpuPerOp'))} · ${r0(m('stream', p, 'cpuPerOp'))} | ${r0(m('worker', p, 'cpuPerRequest'))} · ${r0(m('stream', p, 'cpuPerRequest'))} |`,
    );
  }
  console.log(`load after: ${(await sh('cat /proc/loadavg')).trim()}`);
} finally {
  for (const s of servers) await s.stop();
  await unmountDir(bind).catch(() => unmountDir(bind, { lazy: true }));
  await unmountDir(tmpfs).catch(() => unmountDir(tmpfs, { lazy: true }));
  await rm(base, { recursive: true, force: true });
}
