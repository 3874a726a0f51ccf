// A TCP proxy that a test can cut, for partition tests: it forwards 127.0.0.1:<port> to a
// target. `cut('blackhole')` keeps accepting connections but forwards nothing in either
// direction (what a network partition looks like: calls hang until their deadlines);
// `cut('reset')` destroys every connection and refuses new ones (a crashed link). `restore()`
// forwards again; connections blackholed during the cut are dropped at restore, as a real
// partition would have broken them.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type CutMode = 'blackhole' | 'reset';

export class TcpProxy {
  private readonly pairs = new Set<{ a: Socket; b: Socket }>();
  private readonly held = new Set<Socket>();
  private mode: CutMode | undefined;
  /** Connections accepted so far (also counts those refused or held while cut). */
  accepted = 0;
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {}

  /** Starts a proxy on an OS-chosen port forwarding to `target` ("host:port" or a URL). */
  static async start(target: string): Promise<TcpProxy> {
    const m = /^(?:\w+:\/\/)?([^:/]+):(\d+)/.exec(target);
    if (!m) throw new Error(`bad proxy target ${target}`);
    const t = { host: m[1]!, port: Number(m[2]) };
    const ref: { proxy?: TcpProxy } = {};
    const server = createServer((client) => ref.proxy!.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const addr = server.address();
    ref.proxy = new TcpProxy(server, typeof addr === 'object' && addr ? addr.port : 0, t);
    return ref.proxy;
  }

  /** "http://127.0.0.1:<port>" — what to give a client instead of the target. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isCut(): boolean {
    return this.mode !== undefined;
  }

  private accept(client: Socket): void {
    this.accepted++;
    client.on('error', () => undefined);
    if (this.mode === 'reset') {
      client.destroy();
      return;
    }
    if (this.mode === 'blackhole') {
      this.hold(client);
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair = { a: client, b: upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (d) => {
      if (!this.mode) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!this.mode) client.write(d);
    });
  }

  private hold(s: Socket): void {
    this.held.add(s);
    s.on('data', () => undefined); // swallow
    s.on('close', () => this.held.delete(s));
  }

  cut(mode: CutMode = 'blackhole'): void {
    this.mode = mode;
    for (const p of [...this.pairs]) {
      if (mode === 'reset') {
        p.a.destroy();
        p.b.destroy();
      } else {
        // Keep both sockets open but silent: data is read and dropped (see the 'data' handlers);
        // neither end learns anything until restore() breaks them.
        this.pairs.delete(p);
        this.hold(p.a);
        this.hold(p.b);
      }
    }
  }

  restore(): void {
    this.mode = undefined;
    for (const s of [...this.held]) s.destroy();
    this.held.clear();
  }

  async close(): Promise<void> {
    this.restore();
    for (const p of [...this.pairs]) {
      p.a.destroy();
      p.b.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
