// The page's live stream, `GET /api/events` (Server-Sent Events): one connection per open page,
// an event named `status` whenever the rendered figures change (checked every `intervalMs`),
// right away on connect, and a comment line every `keepaliveMs` so proxies and the browser keep
// an idle stream open. Work is done only while someone listens.
import type { ServerResponse } from 'node:http';

export interface StatusFeedOptions {
  /** The event's data: one line of JSON (the page's rendered fragment). */
  snapshot: () => string;
  intervalMs?: number;
  keepaliveMs?: number;
}

export class StatusFeed {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private quietTicks = 0;
  private readonly intervalMs: number;
  private readonly keepaliveTicks: number;

  constructor(private readonly opts: StatusFeedOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.keepaliveTicks = Math.max(1, Math.round((opts.keepaliveMs ?? 15_000) / this.intervalMs));
  }

  get listeners(): number {
    return this.clients.size;
  }

  /** Takes over `res` as an event stream until the client goes away or the feed closes. */
  subscribe(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // After a dropped connection the browser retries after this long.
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    });
    const data = this.take();
    if (data !== undefined) {
      this.last = data;
      res.write(event(data));
    }
    this.timer ??= setInterval(() => this.tick(), this.intervalMs);
  }

  close(): void {
    this.stopTimer();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private tick(): void {
    const data = this.take();
    if (data !== undefined && data !== this.last) {
      this.last = data;
      this.quietTicks = 0;
      for (const res of this.clients) res.write(event(data));
    } else if (++this.quietTicks >= this.keepaliveTicks) {
      this.quietTicks = 0;
      for (const res of this.clients) res.write(': keepalive\n\n');
    }
  }

  /** A snapshot, or undefined when taking one failed (the stream stays; the next tick retries). */
  private take(): string | undefined {
    try {
      return this.opts.snapshot();
    } catch {
      return undefined;
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function event(data: string): string {
  // JSON.stringify never emits a raw newline, so the data is a single `data:` line.
  return `event: status\ndata: ${data}\n\n`;
}
