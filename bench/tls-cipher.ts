// CPU per round trip of mutual TLS 1.3 over loopback by cipher suite, with plain TCP as the floor:
// a client and an echo server in this process (both ends' CPU counted, process.cpuUsage) send a
// message back and forth, one in flight, as the RPC layer's small frames do. The suites run in an
// order that rotates every round (the machine's load falls on each alike); the table has the
// medians of the rounds and each suite's ratio to the AES-256-GCM default (medians of per-round ratios).
//
//   npx tsx bench/tls-cipher.ts [--trips 5000] [--rounds 5] [--bytes 300]
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { makeCerts } from '../src/cli/commands/certs.ts';
import { loadTlsConfig, skipHostnameCheck } from '../src/rpc/tls.ts';
import { numberArg } from './proc-cpu.ts';

const TRIPS = numberArg('trips', '5000');
const ROUNDS = numberArg('rounds', '5');
const BYTES = numberArg('bytes', '300');
const SUITES = ['plain', 'TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'];
const BASE = 'TLS_AES_256_GCM_SHA384';

const dir = mkdtempSync(join(tmpdir(), 'tls-cipher-'));
makeCerts(dir, ['server', 'client']);
const srv = loadTlsConfig(dir, 'server');
const cli = loadTlsConfig(dir, 'client');

/** Echoes every chunk back. */
function echo(s: Socket): void {
  s.setNoDelay(true);
  s.on('data', (d) => s.write(d));
}

/** A connected client socket and a close function, for `suite`. */
async function open(suite: string): Promise<{ socket: Socket; close: () => void }> {
  const server =
    suite === 'plain'
      ? createTcpServer(echo)
      : createTlsServer({ ca: srv.ca, cert: srv.cert, key: srv.key, requestCert: true, rejectUnauthorized: true, ciphers: suite }, echo);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const socket: Socket = await new Promise((resolve, reject) => {
    const s =
      suite === 'plain'
        ? connectTcp({ host: '127.0.0.1', port }, () => resolve(s))
        : connectTls({ host: '127.0.0.1', port, ca: cli.ca, cert: cli.cert, key: cli.key, checkServerIdentity: skipHostnameCheck, ciphers: suite }, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const got = suite === 'plain' ? 'plain' : (socket as TLSSocket).getCipher().standardName;
  if (got !== suite) throw new Error(`asked for ${suite}, negotiated ${got}`);
  return { socket, close: () => (socket.destroy(), server.close()) };
}

/** CPU µs per round trip of `trips` messages of BYTES, one in flight. */
async function run(suite: string, trips: number): Promise<number> {
  const { socket, close } = await open(suite);
  const msg = Buffer.alloc(BYTES, 7);
  const c0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    let got = 0;
    let left = trips;
    socket.on('data', (d: Buffer) => {
      got += d.length;
      if (got < BYTES) return;
      got -= BYTES;
      if (--left === 0) return resolve();
      socket.write(msg);
    });
    socket.write(msg);
  });
  const c = process.cpuUsage(c0);
  close();
  return (c.user + c.system) / trips;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const per = new Map<string, number[]>(SUITES.map((s) => [s, []]));
const ratios = new Map<string, number[]>(SUITES.map((s) => [s, []]));
for (const s of SUITES) await run(s, 1000); // warm-up: every path compiled before measuring
for (let r = 0; r < ROUNDS; r++) {
  const order = SUITES.map((_, i) => SUITES[(i + r) % SUITES.length]!);
  const got = new Map<string, number>();
  for (const s of order) got.set(s, await run(s, TRIPS));
  for (const s of SUITES) {
    per.get(s)!.push(got.get(s)!);
    ratios.get(s)!.push(got.get(s)! / got.get(BASE)!);
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(`${TRIPS} round trips of ${BYTES} bytes per round, ${ROUNDS} rounds; load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
console.log('| suite | CPU µs per round trip (both ends) | / AES-256-GCM |');
console.log('|---|---:|---:|');
for (const s of SUITES) console.log(`| ${s} | ${median(per.get(s)!).toFixed(1)} | ${median(ratios.get(s)!).toFixed(2)} |`);
