// A test network of "hosts" on one machine: each host is a network namespace with one veth link
// to a bridge that lives in a namespace of its own, and an address in a private subnet that
// exists only inside these namespaces (the root namespace gets no address and no route, so
// nothing here is reachable from, or leaks to, the machine's real networks). Names carry a
// random tag, so two runs side by side never collide.
//
// Faults on the links use nftables in each host's namespace, because the kernels we run on lack
// sch_netem (`tc qdisc add … netem` says "Specified qdisc kind is unknown"): a little random
// loss on every host's egress, a partition that drops all traffic of a host in both directions
// (packets vanish silently, as on a cut cable), and delay with jitter: every outgoing packet goes
// to NFQUEUE, where nfq-delay.c (one per host, in its namespace) gives it back after its delay.
//
//   const net = await TestNet.create(['mds', 'ms0', 'c0'], { workDir, delay: () => ({ us: 300, jitterUs: 100 }) });
//   spawn('ip', ['netns', 'exec', net.ns('ms0'), process.execPath, ...]);
//   net.isolate('ms0'); net.heal('ms0'); net.destroy();
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface TestNetOptions {
  /** Random loss on every host's egress, per thousand packets. */
  lossPerMille?: number;
  /** One-way delay of a host's outgoing packets (undefined: none). Needs `workDir`. */
  delay?: (host: string, index: number) => { us: number; jitterUs: number } | undefined;
  /** Where nfq-delay is compiled. */
  workDir?: string;
}

/** Compiles nfq-delay.c (libnetfilter-queue) into `dir`; returns the binary. */
function buildDelay(dir: string): string {
  const src = fileURLToPath(new URL('./nfq-delay.c', import.meta.url));
  const bin = join(dir, 'nfq-delay');
  run('cc', ['-O2', '-Wall', '-o', bin, src, '-lnetfilter_queue', '-lnfnetlink']);
  return bin;
}

function run(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

/** True when this process can create namespaces, veths, bridges and nftables/iptables rules. */
export function netnsUsable(): boolean {
  if (process.getuid?.() !== 0) return false;
  for (const tool of ['ip', 'nft', 'iptables']) {
    if (spawnSync(tool, ['-V'], { encoding: 'utf8' }).status !== 0) return false;
  }
  return true;
}

/** Every TestNet not yet destroyed: torn down if the process exits without doing it. */
const live = new Set<TestNet>();
process.once('exit', () => {
  for (const n of live) n.destroy();
});

export class TestNet {
  private readonly hosts = new Map<string, { ns: string; address: string; isolated: boolean; cutFrom: Set<string>; delay?: ChildProcess; delayDesc?: string }>();
  private readonly bridgeNs: string;
  private lossPerMille = 0;

  private constructor(
    readonly tag: string,
    /** The first three octets of the test subnet, e.g. "10.199.7". */
    readonly subnet: string,
  ) {
    this.bridgeNs = `cfs-${tag}-br`;
  }

  /** Creates the bridge and one namespace per host name (addresses .11, .12, … in order). */
  static async create(hostNames: string[], opts: TestNetOptions = {}): Promise<TestNet> {
    // 10.199.0.0/16 is private; which /24 does not matter (each run has its own bridge), but a
    // random one makes a leaked route, should one ever appear, easy to tell apart.
    const tag = randomBytes(3).toString('hex');
    const net = new TestNet(tag, `10.199.${randomBytes(1)[0]! % 250}`);
    live.add(net);
    try {
      run('ip', ['netns', 'add', net.bridgeNs]);
      run('ip', ['-n', net.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
      run('ip', ['-n', net.bridgeNs, 'link', 'set', 'br0', 'up']);
      hostNames.forEach((h, i) => net.addHost(h, i));
      if (opts.delay) {
        const bin = buildDelay(opts.workDir!);
        for (const [i, h] of hostNames.entries()) {
          const d = opts.delay(h, i);
          if (d) await net.startDelay(h, bin, d.us, d.jitterUs, i + 1);
        }
      }
      net.setLoss(opts.lossPerMille ?? 0);
    } catch (e) {
      net.destroy();
      throw e;
    }
    return net;
  }

  private addHost(name: string, i: number): void {
    const ns = `cfs-${this.tag}-${name}`;
    const address = `${this.subnet}.${11 + i}`;
    run('ip', ['netns', 'add', ns]);
    this.hosts.set(name, { ns, address, isolated: false, cutFrom: new Set() });
    // Created directly inside the two namespaces, so the names never meet the root namespace's.
    run('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', this.bridgeNs]);
    run('ip', ['-n', this.bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0']);
    run('ip', ['-n', this.bridgeNs, 'link', 'set', `p${i}`, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** Starts the host's delay process and waits until it listens on its queue. */
  private async startDelay(name: string, bin: string, us: number, jitterUs: number, seed: number): Promise<void> {
    const h = this.host(name);
    const p = spawn('ip', ['netns', 'exec', h.ns, bin, String(us), String(jitterUs), String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    h.delay = p;
    h.delayDesc = `${us}±${jitterUs} µs`;
    let err = '';
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: p.stdout! }).on('line', (l) => {
        if (l === 'ready') resolve();
      });
      p.once('exit', (code) => reject(new Error(`nfq-delay on ${name} exited with ${code}: ${err}`)));
    });
    // This kernel has no nft "queue" expression (CONFIG_NFT_QUEUE), but iptables' NFQUEUE target
    // works through nft_compat. It runs after the fault chain (priority -10), so dropped packets
    // are never delayed first; "bypass" lets packets through undelayed should the delay process
    // be gone, rather than cutting the host off.
    run('ip', ['netns', 'exec', h.ns, 'iptables', '-A', 'OUTPUT', '-o', 'eth0', '-j', 'NFQUEUE', '--queue-num', '0', '--queue-bypass']);
  }

  /** Each host's egress delay, for reports. */
  delays(): Record<string, string> {
    return Object.fromEntries([...this.hosts].filter(([, h]) => h.delayDesc).map(([n, h]) => [n, h.delayDesc!]));
  }

  private host(name: string) {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  names(): string[] {
    return [...this.hosts.keys()];
  }

  /** The namespace of a host (for `ip netns exec`). */
  ns(name: string): string {
    return this.host(name).ns;
  }

  address(name: string): string {
    return this.host(name).address;
  }

  /** The command prefix that runs a program on a host. */
  exec(name: string): string[] {
    return ['ip', 'netns', 'exec', this.ns(name)];
  }

  /** Random loss on every host's egress, in packets per thousand (0 = none). */
  setLoss(perMille: number): void {
    this.lossPerMille = perMille;
    for (const name of this.hosts.keys()) this.applyRules(name);
  }

  /** Drops every packet to and from the host (a cut link); heal() restores it. */
  isolate(name: string): void {
    this.host(name).isolated = true;
    this.applyRules(name);
  }

  /**
   * Cuts the links between pairs of hosts (both directions), leaving each host's other links up:
   * the partitions where hosts disagree about who is reachable (a bridge, a ring). heal() restores.
   */
  cut(pairs: readonly (readonly [string, string])[]): void {
    const touched = new Set<string>();
    for (const [a, b] of pairs) {
      this.host(a).cutFrom.add(b);
      this.host(b).cutFrom.add(a);
      touched.add(a).add(b);
    }
    for (const n of touched) this.applyRules(n);
  }

  heal(name?: string): void {
    for (const n of name ? [name] : this.hosts.keys()) {
      this.host(n).isolated = false;
      this.host(n).cutFrom.clear();
      this.applyRules(n);
    }
  }

  isolated(name: string): boolean {
    return this.host(name).isolated;
  }

  /** Rewrites the host's whole ruleset in one nft transaction (atomic: no half-applied state). */
  private applyRules(name: string): void {
    const h = this.host(name);
    const out: string[] = [];
    const inp: string[] = [];
    if (h.isolated) {
      out.push('oifname "eth0" drop');
      inp.push('iifname "eth0" drop');
    } else {
      for (const peer of h.cutFrom) {
        out.push(`oifname "eth0" ip daddr ${this.host(peer).address} drop`);
        inp.push(`iifname "eth0" ip saddr ${this.host(peer).address} drop`);
      }
      if (this.lossPerMille > 0) out.push(`oifname "eth0" numgen random mod 1000 < ${this.lossPerMille} drop`);
    }
    const script = [
      'table inet fault',
      'delete table inet fault',
      'table inet fault {',
      '  chain out {',
      '    type filter hook output priority -10; policy accept;',
      ...out.map((r) => `    ${r}`),
      '  }',
      '  chain in {',
      '    type filter hook input priority -10; policy accept;',
      ...inp.map((r) => `    ${r}`),
      '  }',
      '}',
    ].join('\n');
    run('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], script + '\n');
  }

  /** Deletes every namespace of this run (the veths and the bridge go with them). */
  destroy(): void {
    if (!live.delete(this)) return;
    for (const h of this.hosts.values()) h.delay?.kill('SIGKILL');
    for (const ns of [...[...this.hosts.values()].map((h) => h.ns), this.bridgeNs]) {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  }

  /** Namespaces of this run still present (for tests of the teardown). */
  leftovers(): string[] {
    const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    return list
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`cfs-${this.tag}-`));
  }
}
