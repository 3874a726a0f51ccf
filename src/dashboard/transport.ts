// HTTP or HTTPS for the status page (docs/security.md, "The status page"). The page carries the
// admin (or viewer) token in a header or cookie, so it must not cross a network in clear text:
//   - bound to loopback: plain HTTP (only root can read loopback traffic; a browser on the MDS's
//     machine needs no certificate exception); the token is still required;
//   - bound elsewhere: HTTPS with the MDS's own certificate of the cluster CA (--tls-dir), and a
//     client certificate of that CA named `admin` or `viewer` admits without a token (Prometheus'
//     tls_config); a browser logs in with a token as on loopback;
//   - bound elsewhere without a certificate: refused at start, unless the MDS runs --insecure
//     (no tokens to protect).
import { isIP } from 'node:net';
import type { TlsConfig } from '../rpc/index.ts';

export interface TransportChoice {
  /** HTTPS with this certificate; undefined = plain HTTP. */
  tls?: TlsConfig;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** How the page at `host` is served, or throws why it may not be. */
export function chooseTransport(host: string, opts: { tls?: TlsConfig; insecure?: boolean }): TransportChoice {
  if (isLoopbackHost(host)) return {};
  if (opts.tls) return { tls: opts.tls };
  if (opts.insecure) return {};
  throw new Error(
    `the status page on ${host} would carry the admin token over the network in clear text: give the MDS its certificate ` +
      '(--tls-dir/--tls-name; the page is then HTTPS), bind the page to loopback (--dashboard-host 127.0.0.1), or run --insecure',
  );
}
