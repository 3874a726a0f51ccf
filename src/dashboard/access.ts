// Who may see the status page when the cluster has authentication on (docs/security.md): the
// holder of the admin token. A browser logs in once through the form (POST /login), which sets
// the token as an HttpOnly cookie, because EventSource cannot send an Authorization header;
// scripts and Prometheus send `Authorization: Bearer <token>`. Without a cluster key the page is
// open, like the RPC port.
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../rpc/index.ts';

/** Null when the token may see the page, otherwise why not. */
export type TokenCheck = (token: string) => string | null;

export const SESSION_COOKIE = 'curvefs_dashboard';

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
  const token = presentedToken(req);
  if (token === undefined || token === '') return 'no token: log in with the admin token';
  return check(token);
}

/** The Set-Cookie value that logs a browser in (or out, with an empty token). */
export function sessionCookie(token: string): string {
  // HttpOnly: the page's script never needs it. SameSite=Strict: no other site's page can make
  // the browser send it. Not Secure: the page is served over plain HTTP (docs/operations.md).
  return token
    ? `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`
    : `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}
