// A real browser for tests: Debian's headless `chromium`, driven over the DevTools protocol on
// a pipe (--remote-debugging-pipe: JSON messages separated by NUL bytes, chromium reading on fd 3
// and writing on fd 4). No WebSocket client and no npm package needed; one page per browser.
//
//   const b = await Browser.launch(dir);
//   await b.goto('http://127.0.0.1:7700/');
//   const n = await b.eval<number>('document.querySelectorAll("tr").length');
//   await b.screenshot(join(dir, 'page.png'));
//   await b.close();
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { waitFor } from './wait.ts';

interface Reply {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  /** Load events of the page so far (goto waits for the next one). */
  private loads = 0;
  private session = '';
  private readonly stderr: string[] = [];

  private constructor(private readonly proc: ChildProcess, private readonly out: Writable, input: Readable) {
    let buf = Buffer.alloc(0);
    input.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let i = buf.indexOf(0); i >= 0; i = buf.indexOf(0)) {
        const msg = JSON.parse(buf.subarray(0, i).toString('utf8')) as Reply;
        buf = buf.subarray(i + 1);
        this.onMessage(msg);
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (s: string) => {
      this.stderr.push(s);
      if (this.stderr.length > 100) this.stderr.shift();
    });
    proc.once('exit', (code, sig) => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited (${code ?? sig}):\n${this.stderr.join('')}`));
      this.pending.clear();
    });
  }

  /** Starts chromium with a fresh profile under `dir` and attaches to its page. */
  static async launch(dir: string): Promise<Browser> {
    const proc = spawn('chromium', [
      '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-dev-shm-usage', '--disable-extensions', '--disable-background-networking',
      `--user-data-dir=${join(dir, 'chromium-profile')}`, '--window-size=1200,1600', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const b = new Browser(proc, proc.stdio[3] as Writable, proc.stdio[4] as Readable);
    let targetId = '';
    await waitFor(async () => {
      const { targetInfos } = (await b.send('Target.getTargets')) as { targetInfos: { type: string; targetId: string }[] };
      targetId = targetInfos.find((t) => t.type === 'page')?.targetId ?? '';
      return targetId !== '';
    }, 'a chromium page');
    const { sessionId } = (await b.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    b.session = sessionId;
    await b.send('Page.enable');
    await b.send('Runtime.enable');
    return b;
  }

  /** One DevTools command (to the page once attached); its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const msg: Record<string, unknown> = { id, method, params };
    if (this.session && !method.startsWith('Target.')) msg.sessionId = this.session;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.out.write(JSON.stringify(msg) + '\0');
    });
  }

  /** Opens `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    const before = this.loads;
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`navigate ${url}: ${String(r.errorText)}`);
    await waitFor(() => this.loads > before, `load of ${url}`);
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its value. */
  async eval<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as {
      result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Saves a PNG of the page as it is rendered now. */
  async screenshot(file: string): Promise<void> {
    const { data } = (await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
    writeFileSync(file, Buffer.from(data, 'base64'));
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.send('Browser.close').catch(() => undefined);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  private onMessage(msg: Reply): void {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result ?? {});
    } else if (msg.method === 'Page.loadEventFired') {
      this.loads++;
    }
  }
}
