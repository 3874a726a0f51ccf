// A test network of "hosts" on one machine: each host is a network namespace with one veth link
// to a bridge that lives in a namespace of its own, and an address in a private subnet that
// exists only inside these namespaces (the root namespace gets no address and no route, so
// nothing here is reachable from, or leaks to, the machine's real networks). Names carry a
// random tag, so two runs side by side never collide.
//
// Faults on the links use nftables in each host's namespace (the kernels we run on lack
// sch_netem): a little random loss on every host's egress, and a partition that drops all
// traffic of a host in both directions. Packets vanish silently, as on a cut cable.
//
//   const net = await TestNet.create(['mds', 'ms0', 'c0']);
//   spawn('ip', ['netns', 'exec', net.ns('ms0'), process.execPath, ...]);
//   net.isolate('ms0'); net.heal('ms0'); net.destroy();
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function run(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

/** True when this process can create namespaces, veths, bridges and nftables rules. */
export function netnsUsable(): boolean {
  if (process.getuid?.() !== 0) return false;
  for (const tool of ['ip', 'nft']) {
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
  private readonly hosts = new Map<string, { ns: string; address: string; isolated: boolean }>();
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
  static create(hostNames: string[], opts: { lossPerMille?: number } = {}): TestNet {
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
    this.hosts.set(name, { ns, address, isolated: false });
    // Created directly inside the two namespaces, so the names never meet the root namespace's.
    run('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', this.bridgeNs]);
    run('ip', ['-n', this.bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0']);
    run('ip', ['-n', this.bridgeNs, 'link', 'set', `p${i}`, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
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

  heal(name?: string): void {
    for (const n of name ? [name] : this.hosts.keys()) {
      this.host(n).isolated = false;
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
    } else if (this.lossPerMille > 0) {
      out.push(`oifname "eth0" numgen random mod 1000 < ${this.lossPerMille} drop`);
    }
    const script = [
      'table inet fault',
      'delete table inet fault',
      'table inet fault {',
      '  chain out {',
      '    type filter hook output priority 0; policy accept;',
      ...out.map((r) => `    ${r}`),
      '  }',
      '  chain in {',
      '    type filter hook input priority 0; policy accept;',
      ...inp.map((r) => `    ${r}`),
      '  }',
      '}',
    ].join('\n');
    run('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], script + '\n');
  }

  /** Deletes every namespace of this run (the veths and the bridge go with them). */
  destroy(): void {
    if (!live.delete(this)) return;
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
