// Listening ports for servers that tests start in other processes (etcd, MDS, dashboards).
//
// Why not "listen on port 0, close, hand the number over": the kernel picks port-0 ports from the
// ephemeral range (ip_local_port_range, 32768–60999 here), the same range every outgoing connection
// takes its source port from. Between our close and the child's listen, any connection made by a
// test running in parallel can take that port, and the child dies with EADDRINUSE (seen in CI).
//
// So ports come from below the ephemeral range, where the kernel never assigns source ports, and
// each one is reserved across the concurrent test processes by an exclusive-create file named after
// it. A reservation whose owner process is gone is taken over. The port must also bind now (nothing
// outside the tests holds it).
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOW = 10_000;
const HIGH = 20_000; // below the ephemeral range, and apart from `up --fresh-ports` (20000–32767)
const RESERVATIONS = join(tmpdir(), 'curvefs-test-ports');

let next = LOW + ((process.pid * 97) % (HIGH - LOW));

function ownerAlive(file: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims `port` for this process; false when another live test process holds it. */
function reserve(port: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true, mode: 0o777 });
  const file = join(RESERVATIONS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o666);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (ownerAlive(file)) return false;
      rmSync(file, { force: true }); // its owner has exited: take it over
    }
  }
  return false;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A loopback TCP port no other test process will be handed, free at the time of the call. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < HIGH - LOW; tries++) {
    const port = next;
    next = next + 1 >= HIGH ? LOW : next + 1;
    if (!reserve(port)) continue;
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${LOW}–${HIGH - 1}`);
}
