// The status page an MDS serves over HTTP: `/` (HTML), `/metrics` (Prometheus text) and
// `/api/status` (JSON). Read-only; it asks its provider for a fresh status on every request.
import { createServer, type Server } from 'node:http';
import { answerMetrics } from '../metrics/index.ts';
import { MdsMetrics } from './metrics.ts';
import { renderHtml } from './render.ts';
import type { MdsStatus } from './types.ts';

export interface Dashboard {
  /** "host:port" it listens on. */
  address: string;
  close(): Promise<void>;
}

export async function startDashboard(opts: { host?: string; port: number; status: () => MdsStatus }): Promise<Dashboard> {
  const metrics = new MdsMetrics();
  const server: Server = createServer((req, res) => {
    let status: MdsStatus;
    try {
      status = opts.status();
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/api/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status));
    } else if (path === '/metrics') {
      metrics.update(status);
      void answerMetrics(metrics, res);
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(renderHtml(status));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    address: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
