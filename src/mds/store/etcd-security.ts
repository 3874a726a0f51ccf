// How the MDS proves itself to etcd and checks etcd (issue [L] finding 6, docs/security.md):
// TLS with a CA for etcd's server certificate and, for etcd's --client-cert-auth, a client
// certificate; and etcd's own user/password authentication. Everything is checked when the MDS
// starts, so wrong material stops it with a message that names the file and the problem instead
// of an MDS that retries an etcd it can never reach.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';

export interface EtcdSecurity {
  /** TLS towards etcd: the CA that signed etcd's server certificates, and maybe a client
   *  certificate (both cert and key) for etcd's --client-cert-auth. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  /** etcd's user/password authentication (`etcdctl auth enable`). */
  auth?: { username: string; password: string };
}

/** The `--etcd-*` flags, as file names (secrets never on the command line). */
export interface EtcdSecurityFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  user?: string;
  /** File holding the password (one line, mode 0600). */
  passwordFile?: string;
}

/** Environment variable that may hold the etcd password instead of a file. */
export const ETCD_PASSWORD_ENV = 'CURVEFS_ETCD_PASSWORD';

function read(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`etcd ${what} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

function certificate(what: string, file: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new Error(`etcd ${what} ${file}: not a PEM certificate (${(e as Error).message})`);
  }
}

function privateKey(file: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new Error(`etcd client key ${file}: not a PEM private key (${(e as Error).message})`);
  }
}

function secretFile(what: string, file: string): string {
  const mode = statSync(file, { throwIfNoEntry: false })?.mode;
  if (mode === undefined) throw new Error(`etcd ${what} ${file}: no such file`);
  if (mode & 0o077) throw new Error(`etcd ${what} ${file}: mode ${(mode & 0o777).toString(8)} lets other users read it; chmod 600 ${file}`);
  return read(what, file).toString('utf8');
}

/**
 * Loads and checks the TLS material and credentials the flags name; undefined when none are
 * given. Throws a precise Error for: a file that cannot be read or parsed, a client certificate
 * without its key (or the reverse), a key that does not belong to the certificate, a client
 * certificate the CA did not sign or that has expired, a user without a password (or the
 * reverse), a key or password file other users can read, and endpoints whose scheme disagrees
 * with the TLS setting (https:// needs a CA; a CA needs https://).
 */
export function loadEtcdSecurity(f: EtcdSecurityFiles, endpoints: readonly string[], now = Date.now()): EtcdSecurity | undefined {
  const sec: EtcdSecurity = {};
  if ((f.certFile === undefined) !== (f.keyFile === undefined)) throw new Error('give both --etcd-cert and --etcd-key (a client certificate and its key), or neither');
  if (f.certFile && !f.caFile) throw new Error('--etcd-cert needs --etcd-ca (the CA of etcd\'s server certificates)');
  if (f.caFile) {
    const ca = read('CA', f.caFile);
    const caCert = certificate('CA', f.caFile, ca);
    if (!caCert.ca) throw new Error(`etcd CA ${f.caFile}: the certificate "${caCert.subject}" is not a CA certificate`);
    sec.tls = { ca };
    if (f.certFile && f.keyFile) {
      const cert = read('client certificate', f.certFile);
      const x = certificate('client certificate', f.certFile, cert);
      secretFile('client key', f.keyFile);
      const key = read('client key', f.keyFile);
      if (!x.checkPrivateKey(privateKey(f.keyFile, key))) throw new Error(`etcd client key ${f.keyFile} does not belong to the certificate ${f.certFile}`);
      if (!x.verify(caCert.publicKey)) throw new Error(`etcd client certificate ${f.certFile} is not signed by the CA ${f.caFile} (issuer "${x.issuer}")`);
      if (Date.parse(x.validTo) < now) throw new Error(`etcd client certificate ${f.certFile} expired on ${x.validTo}`);
      if (Date.parse(x.validFrom) > now) throw new Error(`etcd client certificate ${f.certFile} is not valid before ${x.validFrom}`);
      sec.tls.cert = cert;
      sec.tls.key = key;
    }
  }
  const password = f.passwordFile !== undefined ? secretFile('password file', f.passwordFile).replace(/\r?\n$/, '') : process.env[ETCD_PASSWORD_ENV];
  if (f.user !== undefined) {
    if (!f.user) throw new Error('--etcd-user is empty');
    if (!password) throw new Error(`--etcd-user ${f.user} needs a password: --etcd-password-file <file> or $${ETCD_PASSWORD_ENV}`);
    sec.auth = { username: f.user, password };
  } else if (f.passwordFile !== undefined) throw new Error('--etcd-password-file needs --etcd-user');
  for (const e of endpoints) {
    const https = /^https:\/\//i.test(e);
    if (https && !sec.tls) throw new Error(`etcd endpoint ${e} is https: give --etcd-ca (the CA of etcd's server certificates)`);
    if (!https && sec.tls) throw new Error(`etcd endpoint ${e} is not https:// but TLS towards etcd is configured (--etcd-ca); write https://${e.replace(/^http:\/\//i, '')}`);
  }
  return sec.tls || sec.auth ? sec : undefined;
}

/**
 * When a first call to etcd failed: a message that says what is wrong when the failure is one of
 * TLS or authentication (which retrying cannot cure), undefined otherwise (etcd may be down or
 * still starting; the MDS waits for it as before).
 */
export function etcdSecurityFailure(err: unknown, endpoints: readonly string[]): string | undefined {
  const msg = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.constructor.name : '';
  if (/AuthenticationFailed|InvalidAuth|PermissionDenied|UserNotFound|AuthNotEnabled/i.test(name) || /authentication failed|invalid auth token|user name not found|permission denied|auth: /i.test(msg)) {
    return `etcd at ${endpoints.join(',')} refused the credentials: ${msg} (check --etcd-user and the password)`;
  }
  if (/certificate|ssl|tls|handshake|wrong version number|alert/i.test(msg)) {
    return `TLS with etcd at ${endpoints.join(',')} failed: ${msg} (check --etcd-ca, --etcd-cert, --etcd-key and that the endpoints are https://)`;
  }
  return undefined;
}

/** The client preface and an empty SETTINGS frame of HTTP/2 (what gRPC sends first). */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/**
 * A TLS handshake with each endpoint, as gRPC would make it (the CA, the client certificate, the
 * host name checked against the server certificate), followed by the HTTP/2 preface so that a
 * server refusing our certificate (which TLS 1.3 tells only after the handshake) answers with its
 * alert. Resolves with a precise message for the first refusal, or undefined when every endpoint
 * either accepted or could not be reached (etcd down: the MDS waits for it as without TLS). gRPC
 * itself would only report an UNAVAILABLE or a deadline, often without the reason.
 */
export async function probeEtcdTls(endpoints: readonly string[], tls: NonNullable<EtcdSecurity['tls']>, timeoutMs: number): Promise<string | undefined> {
  for (const e of endpoints) {
    const u = new URL(e);
    const failure = await new Promise<string | undefined>((resolve) => {
      const socket = tlsConnect({ host: u.hostname, port: Number(u.port || 2379), ca: tls.ca, cert: tls.cert, key: tls.key, ALPNProtocols: ['h2'] });
      const done = (v: string | undefined) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(v);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      socket.once('secureConnect', () => socket.write(H2_PREFACE));
      socket.once('data', () => done(undefined));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const unreachable = ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code ?? '');
        done(unreachable ? undefined : `TLS with etcd at ${e} failed: ${err.message}${err.code ? ` (${err.code})` : ''} (check --etcd-ca, --etcd-cert, --etcd-key and etcd's --trusted-ca-file)`);
      });
    });
    if (failure) return failure;
  }
  return undefined;
}
