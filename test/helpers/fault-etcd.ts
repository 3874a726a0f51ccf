// A three-member etcd cluster for the fault suite, each member on its own TestNet host (its own
// network namespace and address, so the ports are the standard ones: nothing else listens
// there). Members are killed with SIGKILL and restarted on their data directories; a member is
// up once it says "ready to serve client requests".
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestNet } from './netns.ts';

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

interface Member {
  host: string;
  dataDir: string;
  proc: ChildProcess | undefined;
  exited: Promise<void>;
  log: string[];
}

export class FaultEtcd {
  private readonly members: Member[];

  private constructor(
    private readonly net: TestNet,
    hosts: string[],
    dir: string,
  ) {
    this.members = hosts.map((host) => ({ host, dataDir: join(dir, host), proc: undefined, exited: Promise.resolve(), log: [] }));
  }

  /** Starts one member per host; resolves once every member serves clients. */
  static async start(net: TestNet, hosts: string[], dir: string): Promise<FaultEtcd> {
    const e = new FaultEtcd(net, hosts, dir);
    await Promise.all(hosts.map((h) => e.startMember(h)));
    return e;
  }

  /** The client URLs, for `curvefs mds --etcd`. */
  urls(): string[] {
    return this.members.map((m) => `http://${this.net.address(m.host)}:${CLIENT_PORT}`);
  }

  proc(host: string): ChildProcess | undefined {
    return this.member(host).proc;
  }

  private member(host: string): Member {
    const m = this.members.find((x) => x.host === host);
    if (!m) throw new Error(`no etcd member on ${host}`);
    return m;
  }

  /** Starts (or restarts, on its data directory) the member on `host`. */
  startMember(host: string): Promise<void> {
    const m = this.member(host);
    mkdirSync(m.dataDir, { recursive: true });
    const at = (port: number, h = host) => `http://${this.net.address(h)}:${port}`;
    const cluster = this.members.map((x) => `${x.host}=${at(PEER_PORT, x.host)}`).join(',');
    const args = [
      '--name', host, '--data-dir', m.dataDir,
      '--listen-client-urls', at(CLIENT_PORT), '--advertise-client-urls', at(CLIENT_PORT),
      '--listen-peer-urls', at(PEER_PORT), '--initial-advertise-peer-urls', at(PEER_PORT),
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `cfs-${this.net.tag}`,
      // A LAN's timings (the links add 0.2–2 ms per round trip).
      '--heartbeat-interval', '100', '--election-timeout', '1000',
    ];
    const exec = this.net.exec(host);
    const proc = spawn(exec[0]!, [...exec.slice(1), 'etcd', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    m.proc = proc;
    m.log = [];
    m.exited = new Promise((r) => proc.once('exit', () => r()));
    proc.once('exit', () => {
      if (m.proc === proc) m.proc = undefined;
    });
    return new Promise((resolve, reject) => {
      createInterface({ input: proc.stderr! }).on('line', (l) => {
        m.log.push(l);
        if (m.log.length > 100) m.log.shift();
        if (l.includes('ready to serve client requests')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`etcd on ${host} exited with ${code}:\n${m.log.join('\n')}`)));
    });
  }

  async kill9(host: string): Promise<void> {
    const m = this.member(host);
    if (!m.proc) return;
    m.proc.kill('SIGKILL');
    await m.exited;
  }

  /** SIGKILL of every member (teardown). */
  killAll(): void {
    for (const m of this.members) m.proc?.kill('SIGKILL');
  }
}
