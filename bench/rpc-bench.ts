// RPC benchmark: calls/s and latency percentiles of a small unary echo at concurrency 1, 16 and
// 128, over the framed protocol (src/rpc) and, in the same run, the same service over grpc-js.
// The server runs in this process, the client in a child process (so each side has its own core).
//   npx tsx bench/rpc-bench.ts            (RPC_BENCH_SECONDS=3 per cell by default)
//   npx tsx bench/rpc-bench.ts --tls      both transports over mutual TLS (certificates from
//                                         `curvefs certs` in a temporary directory)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type * as grpcTypes from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelPool, GrpcEndpoint, RpcServer, grpcMethodDefinition, loadTlsConfig, type ServiceImplOf } from '../src/rpc/index.ts';
import { makeCerts } from '../src/cli/commands/certs.ts';
import { CurveError, StatusCode } from '../src/common/index.ts';
import { RpcTestService, type EchoRequest } from '../src/gen/rpctest_pb.ts';

const CONCURRENCY = [1, 16, 128];
const SECONDS = Number(process.env.RPC_BENCH_SECONDS ?? 3);
const WARMUP_MS = 700;
const TIMEOUT_MS = 10_000;

interface Cell {
  transport: 'framed' | 'grpc';
  concurrency: number;
  calls: number;
  seconds: number;
  p50us: number;
  p99us: number;
  /** CPU time (user + system) per call in the client process, and in the server process. */
  clientCpuUs: number;
  serverCpuUs?: number;
}

const impl: ServiceImplOf<typeof RpcTestService> = {
  echo: (req) => ({ text: req.text, seq: req.seq }),
  hang: () => {
    throw new CurveError(StatusCode.NOT_SUPPORTED, 'not in the benchmark');
  },
  fail: () => {
    throw new CurveError(StatusCode.NOT_SUPPORTED, 'not in the benchmark');
  },
};

async function runServer(withTls: boolean): Promise<void> {
  const certDir = withTls ? mkdtempSync(join(tmpdir(), 'curvefs-rpc-bench-')) : '';
  if (withTls) makeCerts(certDir, ['server', 'client']);
  const tls = withTls ? loadTlsConfig(certDir, 'server') : undefined;
  const framed = new RpcServer({ tls }).register(RpcTestService, impl);
  const framedPort = await framed.listen();
  const grpcServer = new GrpcEndpoint({ tls }).register(RpcTestService, impl);
  const grpcPort = await grpcServer.listen();

  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'client', String(framedPort), String(grpcPort), certDir], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // The client marks each measured window; the server's CPU time over it is charged to that cell.
  const serverCpu: number[] = [];
  let cpuAtStart = process.cpuUsage();
  child.on('message', (m) => {
    if (m === 'start') cpuAtStart = process.cpuUsage();
    else if (m === 'end') {
      const d = process.cpuUsage(cpuAtStart);
      serverCpu.push(d.user + d.system);
    }
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += String(c)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await framed.close();
  await grpcServer.close();
  if (withTls) rmSync(certDir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`client process failed (${code})`);
  const cells: Cell[] = JSON.parse(out);
  cells.forEach((c, i) => (c.serverCpuUs = serverCpu[i]! / c.calls));

  const rate = (c: Cell) => c.calls / c.seconds;
  console.log(`RPC echo benchmark${withTls ? ', both transports over mutual TLS' : ''}, ${SECONDS} s per cell, client and server in separate processes (node ${process.version})`);
  console.log('CPU µs/call (user + system, per process) varies less with other load on the machine than calls/s and latency.');
  console.log('');
  console.log('| concurrency | framed calls/s | p50 µs | p99 µs | CPU µs/call client + server | grpc-js calls/s | p50 µs | p99 µs | CPU µs/call client + server | ratio calls/s | ratio CPU/call |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of CONCURRENCY) {
    const f = cells.find((x) => x.transport === 'framed' && x.concurrency === c)!;
    const g = cells.find((x) => x.transport === 'grpc' && x.concurrency === c)!;
    const cpu = (x: Cell) => x.clientCpuUs + x.serverCpuUs!;
    const cols = (x: Cell) =>
      `${Math.round(rate(x))} | ${x.p50us.toFixed(0)} | ${x.p99us.toFixed(0)} | ${x.clientCpuUs.toFixed(1)} + ${x.serverCpuUs!.toFixed(1)}`;
    console.log(`| ${c} | ${cols(f)} | ${cols(g)} | ${(rate(f) / rate(g)).toFixed(1)}× | ${(cpu(g) / cpu(f)).toFixed(1)}× |`);
  }
}

/** Runs `call` from `concurrency` loops for WARMUP_MS, then measures for SECONDS. */
async function measure(concurrency: number, call: (seq: number) => Promise<unknown>): Promise<Omit<Cell, 'transport'>> {
  let recording = false;
  let stop = false;
  const latencies: number[] = [];
  let seq = 0;
  const loop = async () => {
    while (!stop) {
      const t0 = performance.now();
      await call(seq++);
      if (recording) latencies.push(performance.now() - t0);
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  recording = true;
  process.send!('start');
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  recording = false;
  process.send!('end');
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - start) / 1000;
  const calls = latencies.length;
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! * 1000;
  return { concurrency, calls, seconds, p50us: pct(0.5), p99us: pct(0.99), clientCpuUs: (cpu.user + cpu.system) / calls };
}

async function runClient(framedPort: number, grpcPort: number, certDir: string): Promise<void> {
  const tls = certDir ? loadTlsConfig(certDir, 'client') : undefined;
  const pool = new ChannelPool({ tls });
  const framed = pool.client(RpcTestService, `127.0.0.1:${framedPort}`);
  const grpc: typeof grpcTypes = await import('@grpc/grpc-js');
  const creds = tls ? grpc.credentials.createSsl(tls.ca, tls.key, tls.cert, { checkServerIdentity: () => undefined }) : grpc.credentials.createInsecure();
  const gclient = new grpc.Client(`127.0.0.1:${grpcPort}`, creds);
  const echoDef = grpcMethodDefinition(RpcTestService.method.echo);
  const grpcEcho = (req: Partial<EchoRequest>) =>
    new Promise<unknown>((resolve, reject) =>
      gclient.makeUnaryRequest(echoDef.path, echoDef.requestSerialize, echoDef.responseDeserialize, req, { deadline: Date.now() + TIMEOUT_MS }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );

  const cells: Cell[] = [];
  for (const c of CONCURRENCY) {
    cells.push({ transport: 'framed', ...(await measure(c, (seq) => framed.echo({ text: 'hello', seq }, { timeoutMs: TIMEOUT_MS }))) });
    cells.push({ transport: 'grpc', ...(await measure(c, (seq) => grpcEcho({ text: 'hello', seq }))) });
  }
  pool.close();
  gclient.close();
  process.stdout.write(JSON.stringify(cells));
  process.disconnect();
}

if (process.argv[2] === 'client') await runClient(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] ?? '');
else await runServer(process.argv.includes('--tls'));
