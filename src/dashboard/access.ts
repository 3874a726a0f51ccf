// Who may see the status page when the cluster has authentication on (docs/security.md): the
// holder of the admin token, or of the viewer token (a read-only role that opens the page and
// nothing on any RPC port). A browser logs in once through the form (POST /login), which sets
// the token as an HttpOnly cookie, because EventSource cannot send an Authorization header;
// scripts and Prometheus send `Authorization: Bearer <token>`, or — when the page is HTTPS
// (transport.ts) — a client certificate of the cluster CA named `admin` or `viewer`. Without a
// cluster key the page is open, like the RPC port.
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../rpc/index.ts';
import { peerCertificateName } from '../rpc/tls.ts';

/** Null when the token may see the page, otherwise why not. */
export type TokenCheck = (token: string) => string | null;

export const SESSION_COOKIE = 'curvefs_dashboard';

/** Certificate names (common names, signed by the cluster CA) that open the page without a token. */
export const PAGE_CERT_NAMES: ReadonlySet<string> = new Set(['admin', 'viewer']);

/** The check of a cluster: the token must verify as the admin or the viewer token. */
export function pageAccess(pageRole: (token: string) => 'admin' | 'viewer' | { error: string }): TokenCheck {
  return (token) => {
    const r = pageRole(token);
    return typeof r === 'string' ? null : r.error;
  };
}

/** The check of a cluster: the token must verify and carry the admin role. */
export function adminOnly(verify: (token: string) => Principal | { error: string }): TokenCheck {
  return (token) => {
    const p = verify(token);
    if ('error' in p) return p.error;
    if (p.role === 'admin') return null;
    return `the status page needs the admin token; this one is ${p.role === 'fs' ? `a client of fs ${p.fsName}` : `the ${p.role} role's`}`;
  };
}

/** The token a request presents: its bearer header, else its session cookie. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/** Null when the request may see the page (or no check is configured), otherwise why not. */
export function refusal(req: IncomingMessage, check: TokenCheck | undefined): string | null {
  if (!check) return null;
  // HTTPS only: on plain HTTP there is no peer certificate.
  const cert = peerCertificateName(req.socket);
  if (cert !== undefined && PAGE_CERT_NAMES.has(cert)) return null;
  const token = presentedToken(req);
  if (token === undefined || token === '') return 'no token: log in with the admin or viewer token';
  return check(token);
}

/** The Set-Cookie value that logs a browser in (or out, with an empty token). */
export function sessionCookie(token: string, secure = false): string {
  // HttpOnly: the page's script never needs it. SameSite=Strict: no other site's page can make
  // the browser send it. Secure when the page is HTTPS, so the browser never sends it in clear.
  const flags = `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return token ? `${SESSION_COOKIE}=${encodeURIComponent(token)}; ${flags}` : `${SESSION_COOKIE}=; ${flags}; Max-Age=0`;
}
