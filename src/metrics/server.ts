// Serving metrics over HTTP: `GET /metrics` for Prometheus. The metaserver and the mount run this
// server on their --metrics-port; the MDS answers /metrics from its status page's server with
// `answerMetrics`, so every process serves the same way.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { METRICS_CONTENT_TYPE } from './registry.ts';

/** Anything that renders an exposition: a `Metrics`, or a component composing several. */
export interface MetricsSource {
  text(): Promise<string>;
}

export interface MetricsServer {
  /** "host:port" it listens on (the port the OS chose when asked for 0). */
  readonly address: string;
  close(): Promise<void>;
}

/** True when the request is for the metrics path (a query string is allowed and ignored). */
export function isMetricsRequest(req: IncomingMessage): boolean {
  return (req.url ?? '').split('?')[0] === '/metrics';
}

/** Writes the exposition of `metrics` as the answer (500 with the reason if sampling failed). */
export async function answerMetrics(metrics: MetricsSource, res: ServerResponse): Promise<void> {
  let body: string;
  try {
    body = await metrics.text();
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(e)}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(body);
}

export async function serveMetrics(metrics: MetricsSource, opts: { host: string; port: number }): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (isMetricsRequest(req)) void answerMetrics(metrics, res);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : opts.port;
  return {
    address: `${opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // A scraper's keep-alive connection would otherwise hold close() open.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
